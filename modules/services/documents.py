"""Document and graph databases (issue 7): Amazon DocumentDB and Amazon Neptune clusters.

Both live in the environment's private subnets behind a security group of their own (the
database port from the client security groups only), are never publicly accessible, encrypt
storage with the environment's key, keep automated backups ``backup_retention_days``, follow the
environment's deletion protection (with a final snapshot when it is on) and export their audit
and slow-operation logs to log groups the construct creates beforehand, encrypted with the key
and kept the environment's retention (the services would otherwise create them unencrypted and
kept forever).

Secrets: DocumentDB's master password is generated and kept by Secrets Manager
(``manage_master_user_password``): Terraform never sees it, the state only holds the secret's
ARN. The provider (5.100) has no argument for that secret's KMS key, so Secrets Manager encrypts
it with its AWS-managed key ``aws/secretsmanager``. Neptune has no password at all: IAM database
authentication (SigV4-signed requests, action ``neptune-db:*``).
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.docdb_cluster import DocdbCluster
from cdktf_cdktf_provider_aws.docdb_cluster_instance import DocdbClusterInstance
from cdktf_cdktf_provider_aws.docdb_cluster_parameter_group import (
    DocdbClusterParameterGroup,
    DocdbClusterParameterGroupParameter,
)
from cdktf_cdktf_provider_aws.docdb_subnet_group import DocdbSubnetGroup
from cdktf_cdktf_provider_aws.neptune_cluster import NeptuneCluster
from cdktf_cdktf_provider_aws.neptune_cluster_instance import NeptuneClusterInstance
from cdktf_cdktf_provider_aws.neptune_cluster_parameter_group import (
    NeptuneClusterParameterGroup,
    NeptuneClusterParameterGroupParameter,
)
from cdktf_cdktf_provider_aws.neptune_subnet_group import NeptuneSubnetGroup
from constructs import Construct

from environments.sections.stores import DocumentDbConfig, NeptuneConfig

from ..lifecycle import destroy_guard
from ..logs import LogGroup
from ..policy import Statement
from . import ServiceContext
from .common import ServiceSecurityGroup, require_network, tags_with

DOCDB_PORT = 27017
NEPTUNE_PORT = 8182
#: What DocumentDB and Neptune export to CloudWatch Logs (the log types of each service).
DOCDB_LOG_EXPORTS = ("audit", "profiler")
NEPTUNE_LOG_EXPORTS = ("audit", "slowquery")

_CLUSTER_ID_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def _check_cluster(what: str, name: str, subnet_ids: Sequence[str], instance_count: int,
                   backup_retention_days: int) -> None:
    if not _CLUSTER_ID_RE.match(name) or name.endswith("-") or "--" in name:
        raise ValueError(f"{what} {name!r}: use 1-63 lower-case letters, digits or single '-', starting with a letter")
    if len(subnet_ids) < 2:
        raise ValueError(f"{what} {name}: needs private subnets in at least two availability zones, "
                         f"got {len(subnet_ids)}")
    if not 1 <= instance_count <= 16:
        raise ValueError(f"{what} {name}: instance_count must be between 1 and 16, got {instance_count}")
    if not 1 <= backup_retention_days <= 35:
        raise ValueError(f"{what} {name}: backup_retention_days must be between 1 and 35, got {backup_retention_days}")


def _family(prefix: str, engine_version: str) -> str:
    """``docdb5.0`` for 5.0.0, ``neptune1.3`` for 1.3.2.1."""
    major, minor = engine_version.split(".")[:2]
    return f"{prefix}{major}.{minor}"


class DocumentDb(Construct):
    """A DocumentDB cluster (``.cluster``) with ``instance_count`` instances (``.instances``,
    ``<name>-1`` ...; the first is the writer) of ``instance_class``.

    * TLS required: the cluster parameter group (``.parameter_group``) sets ``tls`` (default
      ``enabled``), plus ``audit_logs = enabled`` and the profiler (operations slower than
      ``profiler_threshold_ms``), exported to ``/aws/docdb/<name>/{audit,profiler}``
      (``.log_groups``, encrypted with the key).
    * Storage encrypted with ``kms_key_arn``; backups kept ``backup_retention_days``.
    * Master user ``master_username`` with the password managed by Secrets Manager (see the
      module's notes): ``.cluster.master_user_secret`` holds the secret's ARN.
    * ``deletion_protection`` on the cluster; a final snapshot ``<name>-final`` unless it is off
      (``skip_final_snapshot = not deletion_protection``); ``prevent_destroy`` for Terraform.
    """

    cluster: DocdbCluster
    instances: list[DocdbClusterInstance]
    parameter_group: DocdbClusterParameterGroup
    subnet_group: DocdbSubnetGroup
    security_group: ServiceSecurityGroup
    log_groups: dict[str, LogGroup]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        vpc_id: str,
        subnet_ids: Sequence[str],
        client_security_group_ids: Sequence[str],
        instance_class: str = "db.t4g.medium",
        instance_count: int = 1,
        engine_version: str = "5.0.0",
        master_username: str = "docdbadmin",
        backup_retention_days: int = 7,
        profiler_threshold_ms: int = 100,
        log_retention_days: int = 30,
        tls: str = "enabled",
        deletion_protection: bool = True,
        prevent_destroy: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        _check_cluster("documentdb", name, subnet_ids, instance_count, backup_retention_days)
        if tls == "disabled":
            raise ValueError(f"documentdb {name}: tls must not be 'disabled'")
        self.security_group = ServiceSecurityGroup(
            self, "security-group", name=f"{name}-docdb", description=f"{name}: DocumentDB",
            vpc_id=vpc_id, port=DOCDB_PORT, client_security_group_ids=client_security_group_ids, tags=tags)
        self.subnet_group = DocdbSubnetGroup(self, "subnet-group", name=name, description=f"{name}: private subnets",
                                             subnet_ids=list(subnet_ids), tags=tags_with(tags))
        self.parameter_group = DocdbClusterParameterGroup(
            self, "parameter-group",
            name=name,
            family=_family("docdb", engine_version),
            description=f"{name}: TLS required, audit and profiler logs",
            parameter=[
                DocdbClusterParameterGroupParameter(name="tls", value=tls, apply_method="pending-reboot"),
                DocdbClusterParameterGroupParameter(name="audit_logs", value="enabled"),
                DocdbClusterParameterGroupParameter(name="profiler", value="enabled"),
                DocdbClusterParameterGroupParameter(name="profiler_threshold_ms", value=str(profiler_threshold_ms)),
            ],
            tags=tags_with(tags),
        )
        self.log_groups = {
            kind: LogGroup(self, f"log-{kind}", name=f"/aws/docdb/{name}/{kind}",
                           retention_days=log_retention_days, kms_key_arn=kms_key_arn)
            for kind in DOCDB_LOG_EXPORTS
        }
        self.cluster = DocdbCluster(
            self, "cluster",
            cluster_identifier=name,
            engine="docdb",
            engine_version=engine_version,
            master_username=master_username,
            manage_master_user_password=True,
            db_subnet_group_name=self.subnet_group.name,
            vpc_security_group_ids=[self.security_group.group.id],
            db_cluster_parameter_group_name=self.parameter_group.name,
            storage_encrypted=True,
            kms_key_id=kms_key_arn,
            backup_retention_period=backup_retention_days,
            deletion_protection=deletion_protection,
            skip_final_snapshot=not deletion_protection,
            final_snapshot_identifier=f"{name}-final" if deletion_protection else None,
            enabled_cloudwatch_logs_exports=list(DOCDB_LOG_EXPORTS),
            tags=tags_with(tags),
            lifecycle=destroy_guard(prevent_destroy),
            # the service must find the encrypted log groups, not create its own
            depends_on=[g.log_group for g in self.log_groups.values()],
        )
        self.instances = [
            DocdbClusterInstance(
                self, f"instance-{i}",
                identifier=f"{name}-{i}",
                cluster_identifier=self.cluster.id,
                instance_class=instance_class,
                promotion_tier=i - 1,
                auto_minor_version_upgrade=True,
                tags=tags_with(tags),
            )
            for i in range(1, instance_count + 1)
        ]


class NeptuneGraph(Construct):
    """A Neptune cluster (``.cluster``) with ``instance_count`` instances (``.instances``,
    ``<name>-1`` ...; none publicly accessible) of ``instance_class``.

    * TLS: Neptune accepts HTTPS/WSS (TLS 1.2+) only from engine 1.0.4.0 on, whatever the
      parameters say; the old ``neptune_enforce_ssl`` cluster parameter no longer exists in the
      current families, so the parameter group does not set it.
    * IAM database authentication on (``iam_database_authentication_enabled``): clients sign
      their requests; a client role needs :meth:`connect_statement`.
    * Storage encrypted with ``kms_key_arn``; backups kept ``backup_retention_days``.
    * The cluster parameter group (``.parameter_group``) switches on the audit log and the
      slow-query log (engine 1.2.1.0+), exported to ``/aws/neptune/<name>/{audit,slowquery}``
      (``.log_groups``, encrypted with the key).
    * ``deletion_protection``, final snapshot and ``prevent_destroy`` as for DocumentDB.

    ``iam_database_authentication=False`` is an emulator workaround only: moto refuses IAM
    authentication on any non-Aurora cluster ("not supported by Multi-AZ DB clusters");
    ``rule_descriptions=False`` too (it drops security group rule descriptions).
    """

    cluster: NeptuneCluster
    instances: list[NeptuneClusterInstance]
    parameter_group: NeptuneClusterParameterGroup
    subnet_group: NeptuneSubnetGroup
    security_group: ServiceSecurityGroup
    log_groups: dict[str, LogGroup]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        vpc_id: str,
        subnet_ids: Sequence[str],
        client_security_group_ids: Sequence[str],
        instance_class: str = "db.t4g.medium",
        instance_count: int = 1,
        engine_version: str = "1.3.2.1",
        backup_retention_days: int = 7,
        slow_query_threshold_ms: int = 5000,
        log_retention_days: int = 30,
        iam_database_authentication: bool = True,
        deletion_protection: bool = True,
        prevent_destroy: bool = False,
        tags: Mapping[str, str] | None = None,
        rule_descriptions: bool = True,
    ) -> None:
        super().__init__(scope, id)
        _check_cluster("neptune", name, subnet_ids, instance_count, backup_retention_days)
        self.security_group = ServiceSecurityGroup(
            self, "security-group", name=f"{name}-neptune", description=f"{name}: Neptune",
            vpc_id=vpc_id, port=NEPTUNE_PORT, client_security_group_ids=client_security_group_ids, tags=tags,
            rule_descriptions=rule_descriptions)
        self.subnet_group = NeptuneSubnetGroup(self, "subnet-group", name=name,
                                               description=f"{name}: private subnets",
                                               subnet_ids=list(subnet_ids), tags=tags_with(tags))
        self.parameter_group = NeptuneClusterParameterGroup(
            self, "parameter-group",
            name=name,
            family=_family("neptune", engine_version),
            description=f"{name}: audit and slow-query logs",
            parameter=[
                NeptuneClusterParameterGroupParameter(name="neptune_enable_audit_log", value="1",
                                                      apply_method="pending-reboot"),
                NeptuneClusterParameterGroupParameter(name="neptune_enable_slow_query_log", value="info"),
                NeptuneClusterParameterGroupParameter(name="neptune_slow_query_log_threshold",
                                                      value=str(slow_query_threshold_ms)),
            ],
            tags=tags_with(tags),
        )
        self.log_groups = {
            kind: LogGroup(self, f"log-{kind}", name=f"/aws/neptune/{name}/{kind}",
                           retention_days=log_retention_days, kms_key_arn=kms_key_arn)
            for kind in NEPTUNE_LOG_EXPORTS
        }
        self.cluster = NeptuneCluster(
            self, "cluster",
            cluster_identifier=name,
            engine="neptune",
            engine_version=engine_version,
            neptune_subnet_group_name=self.subnet_group.name,
            vpc_security_group_ids=[self.security_group.group.id],
            neptune_cluster_parameter_group_name=self.parameter_group.name,
            iam_database_authentication_enabled=iam_database_authentication,
            storage_encrypted=True,
            kms_key_arn=kms_key_arn,
            backup_retention_period=backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=deletion_protection,
            skip_final_snapshot=not deletion_protection,
            final_snapshot_identifier=f"{name}-final" if deletion_protection else None,
            enable_cloudwatch_logs_exports=list(NEPTUNE_LOG_EXPORTS),
            tags=tags_with(tags),
            lifecycle=destroy_guard(prevent_destroy),
            depends_on=[g.log_group for g in self.log_groups.values()],
        )
        self.instances = [
            NeptuneClusterInstance(
                self, f"instance-{i}",
                identifier=f"{name}-{i}",
                cluster_identifier=self.cluster.id,
                instance_class=instance_class,
                engine="neptune",
                engine_version=engine_version,
                publicly_accessible=False,
                promotion_tier=i - 1,
                auto_minor_version_upgrade=True,
                tags=tags_with(tags),
            )
            for i in range(1, instance_count + 1)
        ]

    def connect_statement(self, *, region: str, account_id: str, partition: str = "aws",
                          actions: Sequence[str] = ("neptune-db:connect", "neptune-db:ReadDataViaQuery"),
                          sid: str = "NeptuneIamConnect") -> Statement:
        """IAM database access to this cluster (``neptune-db:*`` actions are scoped to the
        cluster's resource id). Default: connect and read; add ``neptune-db:WriteDataViaQuery``
        and friends for writers."""
        resource = f"arn:{partition}:neptune-db:{region}:{account_id}:{self.cluster.cluster_resource_id}/*"
        return Statement(sid=sid, effect="Allow", actions=list(actions), resources=[resource])


# ======================================================================================
# wiring
# ======================================================================================


def wire_documentdb(scope: Construct, section: DocumentDbConfig, ctx: ServiceContext) -> DocumentDb:
    """The environment's DocumentDB cluster from ``[services.documentdb]`` (under the backup
    plan when backup is on); outputs: endpoint, reader endpoint, the master secret's ARN."""
    network = require_network(ctx, "DocumentDB")
    docdb = DocumentDb(
        scope, "documentdb",
        name=ctx.resource_name("docdb"),
        kms_key_arn=ctx.kms_key_arn,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        client_security_group_ids=network.client_security_group_ids,
        instance_class=section.instance_class,
        instance_count=section.instance_count,
        engine_version=section.engine_version,
        master_username=section.master_username,
        backup_retention_days=section.backup_retention_days,
        profiler_threshold_ms=section.profiler_threshold_ms,
        log_retention_days=ctx.log_retention_days,
        deletion_protection=ctx.deletion_protection,
        prevent_destroy=ctx.prevent_destroy,
        tags=ctx.backup_tags,
    )
    TerraformOutput(scope, "documentdb_endpoint", value=docdb.cluster.endpoint,
                    description="DocumentDB cluster (writer) endpoint, TLS required")
    TerraformOutput(scope, "documentdb_reader_endpoint", value=docdb.cluster.reader_endpoint,
                    description="DocumentDB reader endpoint (load-balanced over the replicas)")
    TerraformOutput(scope, "documentdb_master_secret_arn", value=docdb.cluster.master_user_secret.get(0).secret_arn,
                    description="Secrets Manager secret holding the DocumentDB master credentials")
    return docdb


def wire_neptune(scope: Construct, section: NeptuneConfig, ctx: ServiceContext) -> NeptuneGraph:
    """The environment's Neptune cluster from ``[services.neptune]`` (under the backup plan when
    backup is on); outputs: endpoint, reader endpoint, the cluster resource id (for IAM
    policies)."""
    network = require_network(ctx, "Neptune")
    neptune = NeptuneGraph(
        scope, "neptune",
        name=ctx.resource_name("neptune"),
        kms_key_arn=ctx.kms_key_arn,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        client_security_group_ids=network.client_security_group_ids,
        instance_class=section.instance_class,
        instance_count=section.instance_count,
        engine_version=section.engine_version,
        backup_retention_days=section.backup_retention_days,
        log_retention_days=ctx.log_retention_days,
        # the emulator refuses IAM auth on Neptune and drops rule descriptions; on AWS both are on
        iam_database_authentication=not ctx.on_emulator,
        rule_descriptions=not ctx.on_emulator,
        deletion_protection=ctx.deletion_protection,
        prevent_destroy=ctx.prevent_destroy,
        tags=ctx.backup_tags,
    )
    TerraformOutput(scope, "neptune_endpoint", value=neptune.cluster.endpoint,
                    description="Neptune cluster (writer) endpoint, HTTPS with IAM authentication")
    TerraformOutput(scope, "neptune_reader_endpoint", value=neptune.cluster.reader_endpoint,
                    description="Neptune reader endpoint (load-balanced over the replicas)")
    TerraformOutput(scope, "neptune_cluster_resource_id", value=neptune.cluster.cluster_resource_id,
                    description="Neptune cluster resource id (the resource of neptune-db:* IAM grants)")
    return neptune
