"""DMS: full load + CDC of one source table into the landing bucket (issue 7, ``[services.dms]``).

``DatabaseMigration`` holds:

- a replication **subnet group** over the private subnets and a replication **instance**
  (class/storage/multi-AZ from the config, storage encrypted with the environment's key, never
  publicly accessible) in its own security group: **no ingress** (DMS opens every connection
  itself), egress to the source's port in ``source_cidr`` and HTTPS to the S3 prefix list. The
  instance also carries the network's client groups, which the interface endpoints (Secrets
  Manager, KMS, Logs) admit;
- the **source endpoint**: engine and database name from the config; host, port, user name and
  password come only from an operator-created Secrets Manager secret (``source_secret_arn``)
  that DMS reads with its own role (``.secret_role``). The DMS API refuses ``ServerName``,
  ``Port``, ``Username`` and ``Password`` next to a secret, so the secret's JSON holds them
  (``{"host":…, "port":…, "username":…, "password":…}``); the secret value never appears in code,
  config or state. TLS to the source (``ssl_mode`` ``require`` or stricter);
- the **S3 target endpoint** writing CSV **with a header** under ``<dataset>/`` of the landing
  bucket (``<dataset>/<schema>/<table>/LOAD00000001.csv``, then CDC files), SSE-KMS with the key,
  through its own role (``.s3_role``). The pipeline's contracts accept ``csv`` and ``jsonl`` only
  (``pipeline_shared/contracts.py``), and validate reads the dataset from the first key segment
  (``keys.py``), so these files are validated like any producer's. With ``cdc_inserts_only`` CDC
  files carry inserted rows without DMS's leading ``Op`` column, so they match the contract too;
- a **full-load-and-cdc replication task** with a selection rule for ``schema.table``, logging
  into an encrypted log group ``dms-tasks-<instance id>`` created beforehand (DMS would create it
  unencrypted, without retention). The task is created stopped (``start_task``): start it once the
  source is reachable.

``create_service_roles`` also creates the two account-wide roles DMS insists on by name,
``dms-vpc-role`` (subnet groups) and ``dms-cloudwatch-logs-role`` (task logs); leave it off in an
account that already has them.

Emulator: the replication instance cannot be created there (a timestamp serialised as a string
breaks the provider), so DMS is proven with ``terraform validate`` and synth only.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from cdktf import TerraformOutput, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.data_aws_prefix_list import DataAwsPrefixList
from cdktf_cdktf_provider_aws.dms_endpoint import DmsEndpoint
from cdktf_cdktf_provider_aws.dms_replication_instance import DmsReplicationInstance
from cdktf_cdktf_provider_aws.dms_replication_subnet_group import DmsReplicationSubnetGroup
from cdktf_cdktf_provider_aws.dms_replication_task import DmsReplicationTask
from cdktf_cdktf_provider_aws.dms_s3_endpoint import DmsS3Endpoint
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from constructs import Construct

from environments.sections.ingest import DmsConfig

from ..kms import key_use_via
from ..lifecycle import destroy_guard
from ..logs import LogGroup
from ..policy import Statement, policy_json
from . import ServiceContext
from .common import require_network

__all__ = [
    "DatabaseMigration", "DmsServiceRoles", "dms_s3_statements", "dms_secret_statements", "dms_table_mappings",
    "dms_task_settings", "dms_trust_policy", "wire_dms",
]

VPC_ROLE_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"
LOGS_ROLE_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole"
SECURE_SSL_MODES = ("require", "verify-ca", "verify-full")


def dms_trust_policy(region: str | None = None) -> str:
    """DMS may assume the role; with ``region``, the regional principal
    (``dms.<region>.amazonaws.com``) as well, which Secrets Manager access requires."""
    services = ["dms.amazonaws.com"] + ([f"dms.{region}.amazonaws.com"] if region else [])
    return policy_json([Statement(sid="DmsAssumeRole", effect="Allow", principals={"Service": services},
                                  actions=["sts:AssumeRole"])])


def dms_s3_statements(*, bucket_arn: str, prefix: str, kms_key_arn: str, region: str) -> list[Statement]:
    """What the S3 target needs: write (and replace) objects under ``<prefix>/`` only."""
    return [
        Statement(sid="ListLandingPrefix", effect="Allow", actions=["s3:ListBucket"], resources=[bucket_arn],
                  conditions={"StringLike": {"s3:prefix": [f"{prefix}/*"]}}),
        Statement(sid="WriteDatasetPrefix", effect="Allow",
                  actions=["s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"],
                  resources=[f"{bucket_arn}/{prefix}/*"]),
        key_use_via(sid="EncryptThroughS3", key_arn=kms_key_arn, region=region, services=["s3"],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"]),
    ]


def dms_secret_statements(*, secret_arn: str, kms_key_arn: str, region: str) -> list[Statement]:
    """What reading the source's connection secret needs (the secret encrypted with the
    environment key, decrypted only through Secrets Manager)."""
    return [
        Statement(sid="ReadSourceSecret", effect="Allow",
                  actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                  resources=[secret_arn]),
        Statement(sid="DecryptSecretViaSecretsManager", effect="Allow", actions=["kms:Decrypt"],
                  resources=[kms_key_arn],
                  conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}),
    ]


def dms_table_mappings(schema_name: str, table_name: str) -> str:
    """One selection rule including ``schema_name.table_name`` (``%`` is DMS's wildcard)."""
    if not schema_name or not table_name:
        raise ValueError("dms: a table mapping needs a schema and a table name")
    return json.dumps({"rules": [{
        "rule-type": "selection", "rule-id": "1", "rule-name": "include-source-table",
        "object-locator": {"schema-name": schema_name, "table-name": table_name}, "rule-action": "include",
    }]}, separators=(",", ":"))


def dms_task_settings() -> str:
    """Task settings: logging on (into ``dms-tasks-<instance id>``), tables dropped nowhere
    (an S3 target keeps what it wrote), validation off (S3 targets do not support it)."""
    return json.dumps({
        "TargetMetadata": {"SupportLobs": True, "LimitedSizeLobMode": True, "LobMaxSize": 32},
        "FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"},
        "Logging": {"EnableLogging": True},
    }, separators=(",", ":"))


class DmsServiceRoles(Construct):
    """The account-wide roles DMS requires by name: ``dms-vpc-role`` (``.vpc_role``) and
    ``dms-cloudwatch-logs-role`` (``.logs_role``), with their AWS-managed policies."""

    vpc_role: IamRole
    logs_role: IamRole
    attachments: list[IamRolePolicyAttachment]

    def __init__(self, scope: Construct, id: str, *, partition: str = "aws") -> None:
        super().__init__(scope, id)
        self.vpc_role = IamRole(self, "vpc-role", name="dms-vpc-role", assume_role_policy=dms_trust_policy())
        self.logs_role = IamRole(self, "logs-role", name="dms-cloudwatch-logs-role",
                                 assume_role_policy=dms_trust_policy())
        self.attachments = [
            IamRolePolicyAttachment(self, "vpc-policy", role=self.vpc_role.name,
                                    policy_arn=VPC_ROLE_POLICY.format(partition=partition)),
            IamRolePolicyAttachment(self, "logs-policy", role=self.logs_role.name,
                                    policy_arn=LOGS_ROLE_POLICY.format(partition=partition)),
        ]


class DatabaseMigration(Construct):
    """DMS full load + CDC of ``schema_name.table_name`` into ``s3://<landing_bucket>/<dataset>/``
    (see the module doc). Exposes ``.security_group``, ``.subnet_group``, ``.instance``,
    ``.source``, ``.target``, ``.task``, ``.s3_role``, ``.secret_role``, ``.log_group`` and
    ``.service_roles`` (None unless ``create_service_roles``).

    ``prevent_destroy`` guards the instance and the task with Terraform's ``prevent_destroy``
    (DMS has no deletion protection of its own; ``deletion_protection`` is accepted for the same
    meaning and combined with it)."""

    security_group: SecurityGroup
    subnet_group: DmsReplicationSubnetGroup
    instance: DmsReplicationInstance
    source: DmsEndpoint
    target: DmsS3Endpoint
    task: DmsReplicationTask
    s3_role: IamRole
    secret_role: IamRole
    log_group: LogGroup
    service_roles: DmsServiceRoles | None

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        region: str,
        kms_key_arn: str,
        vpc_id: str,
        subnet_ids: Sequence[str],
        client_security_group_ids: Sequence[str],
        source_cidr: str,
        instance_class: str,
        allocated_storage_gib: int,
        multi_az: bool,
        engine: str,
        port: int,
        database_name: str,
        source_secret_arn: str,
        schema_name: str,
        table_name: str,
        landing_bucket: str,
        landing_bucket_arn: str,
        dataset: str,
        log_retention_days: int,
        ssl_mode: str = "require",
        cdc_inserts_only: bool = True,
        create_service_roles: bool = False,
        start_task: bool = False,
        deletion_protection: bool = False,
        prevent_destroy: bool = False,
        partition: str = "aws",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        if len(subnet_ids) < 2:
            raise ValueError(f"dms {name}: a replication subnet group needs at least 2 subnets, got {len(subnet_ids)}")
        if ssl_mode not in SECURE_SSL_MODES:
            raise ValueError(f"dms {name}: ssl_mode must be one of {', '.join(SECURE_SSL_MODES)} (TLS to the "
                             f"source), got {ssl_mode!r}")
        if not source_secret_arn:
            raise ValueError(f"dms {name}: source_secret_arn is required (the source's credentials live "
                             "only in Secrets Manager)")
        if not dataset or "/" in dataset:
            raise ValueError(f"dms {name}: dataset must be a dataset name (the first landing key segment), "
                             f"got {dataset!r}")
        tag_map = dict(tags) if tags else None
        guard = destroy_guard(prevent_destroy or deletion_protection)

        self.service_roles = DmsServiceRoles(self, "service-roles", partition=partition) if create_service_roles else None
        role_deps = list(self.service_roles.attachments) if self.service_roles else None

        # -- network -------------------------------------------------------------------------
        self.security_group = SecurityGroup(
            self, "sg", name=f"{name}-dms", vpc_id=vpc_id, tags=tag_map,
            description="DMS replication instance: no ingress; egress to the source port and HTTPS to S3")
        VpcSecurityGroupEgressRule(self, "to-source", security_group_id=self.security_group.id,
                                   ip_protocol="tcp", from_port=port, to_port=port, cidr_ipv4=source_cidr,
                                   description="the source database")
        s3_prefixes = DataAwsPrefixList(self, "s3-prefix-list", name=f"com.amazonaws.{region}.s3")
        VpcSecurityGroupEgressRule(self, "to-s3", security_group_id=self.security_group.id, ip_protocol="tcp",
                                   from_port=443, to_port=443, prefix_list_id=s3_prefixes.id,
                                   description="S3 through the gateway endpoint")
        self.subnet_group = DmsReplicationSubnetGroup(
            self, "subnet-group", replication_subnet_group_id=name,
            replication_subnet_group_description=f"{name}: private subnets", subnet_ids=list(subnet_ids),
            tags=tag_map, depends_on=role_deps)

        # -- instance and its task log group ----------------------------------------------------
        self.log_group = LogGroup(self, "task-logs", name=f"dms-tasks-{name}", retention_days=log_retention_days,
                                  kms_key_arn=kms_key_arn)
        self.instance = DmsReplicationInstance(
            self, "instance",
            replication_instance_id=name,
            replication_instance_class=instance_class,
            allocated_storage=allocated_storage_gib,
            multi_az=multi_az,
            kms_key_arn=kms_key_arn,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            replication_subnet_group_id=self.subnet_group.replication_subnet_group_id,
            vpc_security_group_ids=[self.security_group.id, *client_security_group_ids],
            tags=tag_map,
            lifecycle=guard,
            depends_on=[self.log_group.log_group],
        )

        # -- endpoints -------------------------------------------------------------------------
        self.secret_role = IamRole(self, "secret-role", name=f"{name}-dms-secret",
                                   assume_role_policy=dms_trust_policy(region), tags=tag_map)
        secret_policy = IamRolePolicy(self, "secret-policy", name=f"{name}-dms-secret", role=self.secret_role.id,
                                      policy=policy_json(dms_secret_statements(
                                          secret_arn=source_secret_arn, kms_key_arn=kms_key_arn, region=region)))
        self.source = DmsEndpoint(
            self, "source",
            endpoint_id=f"{name}-source",
            endpoint_type="source",
            engine_name=engine,
            database_name=database_name,
            secrets_manager_arn=source_secret_arn,
            secrets_manager_access_role_arn=self.secret_role.arn,
            ssl_mode=ssl_mode,
            kms_key_arn=kms_key_arn,
            tags=tag_map,
            depends_on=[secret_policy],
        )
        self.s3_role = IamRole(self, "s3-role", name=f"{name}-dms-s3", assume_role_policy=dms_trust_policy(),
                               tags=tag_map)
        s3_policy = IamRolePolicy(self, "s3-policy", name=f"{name}-dms-s3", role=self.s3_role.id,
                                  policy=policy_json(dms_s3_statements(bucket_arn=landing_bucket_arn, prefix=dataset,
                                                                       kms_key_arn=kms_key_arn, region=region)))
        self.target = DmsS3Endpoint(
            self, "target",
            endpoint_id=f"{name}-landing",
            endpoint_type="target",
            bucket_name=landing_bucket,
            bucket_folder=dataset,
            service_access_role_arn=self.s3_role.arn,
            data_format="csv",
            add_column_name=True,
            csv_delimiter=",",
            csv_row_delimiter="\\n",
            rfc4180=True,
            compression_type="NONE",
            cdc_inserts_only=cdc_inserts_only,
            include_op_for_full_load=False,
            encryption_mode="SSE_KMS",
            server_side_encryption_kms_key_id=kms_key_arn,
            kms_key_arn=kms_key_arn,
            tags=tag_map,
            depends_on=[s3_policy],
        )

        # -- task ------------------------------------------------------------------------------
        self.task = DmsReplicationTask(
            self, "task",
            replication_task_id=f"{name}-full-load-cdc",
            migration_type="full-load-and-cdc",
            replication_instance_arn=self.instance.replication_instance_arn,
            source_endpoint_arn=self.source.endpoint_arn,
            target_endpoint_arn=self.target.endpoint_arn,
            table_mappings=dms_table_mappings(schema_name, table_name),
            replication_task_settings=dms_task_settings(),
            start_replication_task=start_task,
            tags=tag_map,
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=bool(guard),
                # DMS adds its defaults to the settings it returns
                ignore_changes=["replication_task_settings"]),
        )


def wire_dms(scope: Construct, section: DmsConfig, ctx: ServiceContext) -> DatabaseMigration:
    """``[services.dms]`` → a ``DatabaseMigration`` into the landing bucket, and outputs: the
    replication instance and task ARNs."""
    network = require_network(ctx, "DMS")
    landing = ctx.buckets.get("landing")
    if landing is None:
        raise ValueError("dms: the context has no 'landing' bucket")
    if section.dataset not in ctx.datasets:
        raise ValueError(f"dms: dataset {section.dataset!r} has no contract (known: {', '.join(ctx.datasets)})")
    dms = DatabaseMigration(
        scope, "dms",
        name=ctx.resource_name("dms"),
        region=ctx.region,
        kms_key_arn=ctx.kms_key_arn,
        vpc_id=network.vpc_id,
        subnet_ids=list(network.private_subnet_ids),
        client_security_group_ids=list(network.client_security_group_ids),
        source_cidr=section.source_cidr or ctx.network.vpc_cidr,
        instance_class=section.instance_class,
        allocated_storage_gib=section.allocated_storage_gib,
        multi_az=section.multi_az,
        engine=section.engine,
        port=section.port,
        database_name=section.database_name,
        source_secret_arn=section.source_secret_arn,
        schema_name=section.schema_name,
        table_name=section.table_name,
        landing_bucket=landing.name,
        landing_bucket_arn=landing.arn,
        dataset=section.dataset,
        log_retention_days=ctx.log_retention_days,
        ssl_mode=section.ssl_mode,
        cdc_inserts_only=section.cdc_inserts_only,
        create_service_roles=section.create_service_roles,
        deletion_protection=ctx.deletion_protection,
        prevent_destroy=ctx.prevent_destroy,
    )
    TerraformOutput(scope, "dms_replication_instance_arn", value=dms.instance.replication_instance_arn,
                    description="ARN of the DMS replication instance")
    TerraformOutput(scope, "dms_replication_task_arn", value=dms.task.replication_task_arn,
                    description="start it once the source is reachable (aws dms start-replication-task)")
    return dms
