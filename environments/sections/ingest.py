"""Config sections of the ingest services (issue 7): ``[services.timestream]``,
``[services.dms]`` and ``[services.streaming]``. Every service is off by default and every size
has a small, cheap default, so an environment switches a service on with ``enabled = true`` (DMS
also needs the source database it replicates: see ``cross_checks``).

``cross_checks(section, *, env_name, network_enabled, az_count)`` returns ``(field, problem)``
pairs for what a single field cannot say (needs the private network, needs a source, ...)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from environments._fields import _at_least, _between, _matches, _one_of

__all__ = ["DmsConfig", "StreamingConfig", "TimestreamConfig", "cross_checks"]

_DATASET_RE = re.compile(r"^([a-z][a-z0-9_-]{0,62})?$")
_SECRET_ARN_RE = re.compile(r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+)?$")
_CIDR_RE = re.compile(r"^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])/([0-9]|[12][0-9]|3[0-2])$|^$")
_DB_IDENT_RE = re.compile(r"^[A-Za-z0-9_$%.-]{0,128}$")
_DMS_CLASS_RE = re.compile(r"^dms\.[a-z0-9]+\.[a-z0-9]+$")
_MSK_TYPE_RE = re.compile(r"^kafka\.[a-z0-9]+\.[a-z0-9]+$")
_KAFKA_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(\.x)?(\.tiered)?$")

#: DMS source engines whose endpoint can take its connection details from a Secrets Manager secret.
DMS_SOURCE_ENGINES = ("aurora", "aurora-postgresql", "mariadb", "mysql", "oracle", "postgres", "sqlserver")


@dataclass(frozen=True)
class TimestreamConfig:
    """``[services.timestream]``: a Timestream (LiveAnalytics) database for pipeline metrics."""

    #: Create the database and its table.
    enabled: bool = False
    #: Memory store: recent data, fast queries (hours, 1..8766).
    memory_retention_hours: int = field(default=24, metadata=_between(1, 8766))
    #: Magnetic store: history (days, 1..73000).
    magnetic_retention_days: int = field(default=365, metadata=_between(1, 73000))


@dataclass(frozen=True)
class DmsConfig:
    """``[services.dms]``: DMS full load + CDC of one source table into the landing bucket
    (``<dataset>/`` prefix, CSV with a header) where validate picks it up like any producer."""

    #: Create the replication instance, endpoints and task (needs [network] and the source settings
    #: below).
    enabled: bool = False
    #: Instance class of the replication instance.
    instance_class: str = field(default="dms.t3.micro", metadata=_matches(_DMS_CLASS_RE, "a DMS instance class "
                                                                                          "such as 'dms.t3.micro'"))
    #: Storage of the replication instance (GiB).
    allocated_storage_gib: int = field(default=20, metadata=_between(5, 6144))
    #: A standby replication instance in a second availability zone.
    multi_az: bool = False
    #: The source database's engine.
    engine: str = field(default="postgres", metadata=_one_of(*DMS_SOURCE_ENGINES))
    #: The source's port: the replication instance may open connections to it (egress), nothing else.
    port: int = field(default=5432, metadata=_between(1, 65535))
    #: Where the source lives (egress rule); empty: the environment's VPC.
    source_cidr: str = field(default="", metadata=_matches(_CIDR_RE, "an IPv4 CIDR block such as '10.0.0.0/16'"))
    #: The source database (required when enabled).
    database_name: str = field(default="", metadata=_matches(_DB_IDENT_RE, "a database name"))
    #: The operator-created secret holding host, port, username and password (never the value).
    source_secret_arn: str = field(default="", metadata=_matches(_SECRET_ARN_RE, "a Secrets Manager secret ARN"))
    #: TLS to the source: required, or verified against the CA (and the host name).
    ssl_mode: str = field(default="require", metadata=_one_of("require", "verify-ca", "verify-full"))
    #: The source table's schema.
    schema_name: str = field(default="public", metadata=_matches(_DB_IDENT_RE, "a schema name"))
    #: The source table to replicate (required when enabled).
    table_name: str = field(default="", metadata=_matches(_DB_IDENT_RE, "a table name"))
    #: The dataset (contract) the table's rows are: the first segment of the landing keys.
    dataset: str = field(default="", metadata=_matches(_DATASET_RE, "a dataset name"))
    #: CDC files carry inserts only and no ``Op`` column, so they match the dataset's contract;
    #: false also writes updates and deletes with a leading ``Op`` column (the contract must declare it).
    cdc_inserts_only: bool = True
    #: Create the account-wide ``dms-vpc-role`` and ``dms-cloudwatch-logs-role`` DMS requires
    #: (false when the account already has them).
    create_service_roles: bool = True


@dataclass(frozen=True)
class StreamingConfig:
    """``[services.streaming]``: Kinesis Data Stream → Firehose → landing (``<dataset>/``,
    ``.jsonl``); a Glue streaming job (stream → Parquet in the clean bucket); optional MSK."""

    #: Create the data stream, the Firehose delivery stream and (glue_job_enabled) the streaming
    #: job.
    enabled: bool = False
    #: The JSON Lines dataset the stream carries.
    dataset: str = field(default="events", metadata=_matches(_DATASET_RE, "a dataset name"))
    #: Kinesis capacity mode: ON_DEMAND, or PROVISIONED with shard_count shards.
    stream_mode: str = field(default="ON_DEMAND", metadata=_one_of("ON_DEMAND", "PROVISIONED"))
    #: PROVISIONED only.
    shard_count: int = field(default=1, metadata=_between(1, 500))
    #: Hours the data stream keeps records.
    retention_hours: int = field(default=24, metadata=_between(24, 8760))
    #: Firehose writes an object to landing when this much has arrived (MiB) ...
    buffering_size_mib: int = field(default=64, metadata=_between(1, 128))
    #: ... or when this many seconds have passed, whichever comes first.
    buffering_interval_seconds: int = field(default=300, metadata=_between(0, 900))
    #: Compression of the objects Firehose writes.
    compression: str = field(default="UNCOMPRESSED", metadata=_one_of("UNCOMPRESSED", "GZIP"))
    #: The Glue streaming job (created, not started: it costs nothing until an operator starts it).
    glue_job_enabled: bool = True
    #: Glue worker type of the streaming job.
    glue_worker_type: str = field(default="G.025X", metadata=_one_of("G.025X", "G.1X", "G.2X"))
    #: Workers of the streaming job.
    glue_workers: int = field(default=2, metadata=_between(2, 100))
    #: The streaming job writes a micro-batch to the clean bucket every this many seconds.
    glue_window_seconds: int = field(default=60, metadata=_between(10, 3600))
    #: Where a new streaming job starts reading: the oldest record kept (TRIM_HORIZON) or new ones
    #: only (LATEST).
    glue_starting_position: str = field(default="TRIM_HORIZON", metadata=_one_of("TRIM_HORIZON", "LATEST"))
    #: The registry schema version of the dataset the Glue table reads with (1 = first).
    schema_version: int = field(default=1, metadata=_at_least(1))
    #: Also create an MSK (Kafka) cluster with IAM authentication (needs [network]).
    msk_enabled: bool = False
    #: Kafka version of the MSK cluster.
    msk_kafka_version: str = field(default="3.6.0", metadata=_matches(_KAFKA_VERSION_RE, "a Kafka version "
                                                                                          "such as '3.6.0'"))
    #: Broker instance type.
    msk_instance_type: str = field(default="kafka.t3.small", metadata=_matches(_MSK_TYPE_RE, "an MSK broker type "
                                                                                             "such as 'kafka.t3.small'"))
    #: A multiple of the number of availability zones.
    msk_broker_count: int = field(default=2, metadata=_between(2, 30))
    #: EBS storage per broker (GiB).
    msk_volume_gib: int = field(default=10, metadata=_between(1, 16384))


_NEEDS_NETWORK = "needs [network] enabled = true (the service lives in the private subnets)"


def cross_checks(
    section: TimestreamConfig | DmsConfig | StreamingConfig,
    *,
    env_name: str,
    network_enabled: bool,
    az_count: int,
) -> list[tuple[str, str]]:
    """Problems across fields (and with the environment) of an enabled section."""
    problems: list[tuple[str, str]] = []
    if not section.enabled:
        return problems
    if isinstance(section, DmsConfig):
        if not network_enabled:
            problems.append(("enabled", _NEEDS_NETWORK))
        for name, what in (("source_secret_arn", "the ARN of the secret holding the source's host, port, "
                                                 "username and password"),
                           ("database_name", "the source database"),
                           ("table_name", "the source table to replicate"),
                           ("dataset", "the dataset the rows land as")):
            if not getattr(section, name):
                problems.append((name, f"is required with enabled = true ({what})"))
        if section.multi_az and az_count < 2:
            problems.append(("multi_az", f"needs at least 2 availability zones, the network has {az_count}"))
    elif isinstance(section, StreamingConfig):
        if section.stream_mode == "ON_DEMAND" and section.shard_count != 1:
            problems.append(("shard_count", "only applies to stream_mode = 'PROVISIONED'"))
        if section.msk_enabled:
            if not network_enabled:
                problems.append(("msk_enabled", _NEEDS_NETWORK))
            elif az_count and section.msk_broker_count % az_count:
                problems.append(("msk_broker_count", f"must be a multiple of the {az_count} availability zones, "
                                                     f"got {section.msk_broker_count}"))
    return problems
