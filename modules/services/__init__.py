"""Optional data services an environment can switch on (issue 7): caches, document/graph/search/
time-series stores, migration, streaming ingress, GraphQL, governance. None is on by default.

Each sub-module holds typed constructs (plain keyword props, no environment logic) and one
``wire(scope, section, ctx)`` function that maps its config section to construct props. The stack
calls ``wire`` only for enabled sections and hands it a :class:`ServiceContext`: the values of the
core pipeline the service attaches to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence


@dataclass(frozen=True)
class NetworkRefs:
    """The environment's private network (``modules.network.PrivateNetwork``)."""

    vpc_id: str
    vpc_cidr: str
    #: Private subnets, one per availability zone (at least two).
    private_subnet_ids: Sequence[str]
    #: Security groups of the pipeline's own private workloads (Batch jobs, ...) and the
    #: ``data-clients`` group an operator attaches to anything that should reach the data stores.
    #: A data store admits its port from these groups only.
    client_security_group_ids: Sequence[str]


@dataclass(frozen=True)
class BucketRef:
    name: str
    arn: str
    #: The Terraform resource's ``id`` (the bucket's name, referenced through ``id``: what bucket
    #: sub-resources such as notifications name).
    id: str | None = None


@dataclass(frozen=True)
class TableRef:
    name: str
    arn: str
    stream_arn: str | None = None


@dataclass(frozen=True)
class ServiceContext:
    """What a service may attach to. Names are built with :meth:`resource_name`."""

    name_prefix: str
    region: str
    account_id: str
    #: The environment's customer-managed KMS key (every service encrypts with it).
    kms_key_arn: str
    log_retention_days: int
    #: Data-store protection (``[protection]``): deletion protection / final snapshots, and
    #: Terraform ``prevent_destroy``.
    deletion_protection: bool
    prevent_destroy: bool
    #: True when deploying onto the emulator (moto server): apply the emulator workarounds.
    on_emulator: bool
    #: ``landing``, ``clean``, ``quarantine``, ``archive``, ``athena-results``, ``audit``.
    buckets: Mapping[str, BucketRef]
    #: ``status`` (with its stream ARN) and ``idempotency``.
    tables: Mapping[str, TableRef]
    #: Glue: the clean database's name, the schema registry's name, and the roles that read the
    #: catalog (crawler, ETL job, plug-ins querying Athena): Lake Formation grants them access.
    glue_clean_database: str
    glue_raw_database: str
    schema_registry_name: str
    catalog_reader_role_arns: Sequence[str]
    #: Dataset names (from the contracts).
    datasets: Sequence[str]
    #: The kit's artifacts bucket and the release's content-addressed keys (``glue-script``, ...).
    artifacts_bucket: str
    artifact_keys: Mapping[str, str]
    #: The SNS topic alarms go to.
    alarm_topic_arn: str
    #: None when the environment has no private network (``[network] enabled = false``).
    network: NetworkRefs | None = None
    #: Tags that put a resource under the AWS Backup plan (empty when backup is off).
    backup_tags: Mapping[str, str] = field(default_factory=dict)
    #: Roles that create and alter catalog tables (crawler, ETL job): Lake Formation grants them more.
    catalog_writer_role_arns: Sequence[str] = ()
    #: The environment's Glue security configuration (its name), attached to every Glue job
    #: (None: none, e.g. a stand-in pipeline in a test).
    glue_security_configuration: str | None = None

    def resource_name(self, *parts: str) -> str:
        return "-".join((self.name_prefix, *parts))
