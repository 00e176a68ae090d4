"""Streaming ingress (issue 7, ``[services.streaming]``).

- ``StreamIngress``: a **Kinesis Data Stream** (on-demand or provisioned, KMS with the
  environment's key) read by a **Firehose** stream that delivers into the landing bucket under
  ``<dataset>/firehose/<yyyy>/<MM>/<dd>/`` with the ``.jsonl`` extension (``.jsonl.gz`` with GZIP),
  SSE-KMS with the key, so validate picks each delivered object up like any producer's file
  (``keys.dataset_for_key``: the first segment is the dataset). Producers put one JSON object per
  record, **ending in a newline** (Firehose concatenates records as they are). Failed deliveries
  go under ``_errors/firehose/<name>/…``: validate quarantines them as an unknown dataset, so they
  surface in the quarantine reports. Firehose logs to an encrypted log group; its role may read
  this stream and write these two prefixes only.
- ``StreamingCluster`` (optional, ``msk_enabled``): a **provisioned MSK** cluster in the private
  subnets. Provisioned rather than serverless because serverless MSK encrypts at rest with an
  AWS-owned key only and has no broker logs; here: encryption at rest with the environment key,
  TLS only (client-broker and in-cluster), **IAM (SASL/IAM) authentication only** (no password
  anywhere, unauthenticated access off), broker logs to an encrypted log group, no public
  access, its own security group admitting port 9098 (SASL/IAM over TLS) from the client groups.
- ``StreamCatalogTable`` + ``StreamingEtlJob``: a Glue catalog table over the stream whose schema
  is the dataset's schema in the registry (``schema_reference``), and a **Glue streaming job**
  (``gluestreaming``) running ``glue/stream_events.py`` (release artifact ``glue-stream-script``,
  with the ``glue-library`` zip) that writes typed, PII-tokenised Parquet to
  ``s3://<clean>/streaming/dataset=<name>/date=…/``, with its Spark checkpoints under
  ``s3://<clean>/_checkpoints/<job>/``. The job is created, not started (a streaming job runs
  until stopped: ``aws glue start-job-run --job-name …`` when wanted).

Emulator: Kinesis streams apply (their tags drift once, the second apply converges);
``ignore_tag_drift`` ignores tag changes there. See the module tests and the probe notes.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from cdktf import TerraformOutput, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.cloudwatch_log_stream import CloudwatchLogStream
from cdktf_cdktf_provider_aws.glue_catalog_table import (
    GlueCatalogTable,
    GlueCatalogTableStorageDescriptor,
    GlueCatalogTableStorageDescriptorSchemaReference,
    GlueCatalogTableStorageDescriptorSchemaReferenceSchemaId,
    GlueCatalogTableStorageDescriptorSerDeInfo,
)
from cdktf_cdktf_provider_aws.glue_job import GlueJob, GlueJobCommand, GlueJobExecutionProperty
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.kinesis_firehose_delivery_stream import (
    KinesisFirehoseDeliveryStream,
    KinesisFirehoseDeliveryStreamExtendedS3Configuration,
    KinesisFirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptions,
    KinesisFirehoseDeliveryStreamKinesisSourceConfiguration,
)
from cdktf_cdktf_provider_aws.kinesis_stream import KinesisStream, KinesisStreamStreamModeDetails
from cdktf_cdktf_provider_aws.msk_cluster import (
    MskCluster,
    MskClusterBrokerNodeGroupInfo,
    MskClusterBrokerNodeGroupInfoConnectivityInfo,
    MskClusterBrokerNodeGroupInfoConnectivityInfoPublicAccess,
    MskClusterBrokerNodeGroupInfoStorageInfo,
    MskClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfo,
    MskClusterClientAuthentication,
    MskClusterClientAuthenticationSasl,
    MskClusterEncryptionInfo,
    MskClusterEncryptionInfoEncryptionInTransit,
    MskClusterLoggingInfo,
    MskClusterLoggingInfoBrokerLogs,
    MskClusterLoggingInfoBrokerLogsCloudwatchLogs,
)
from constructs import Construct

from environments.sections.ingest import StreamingConfig
from glue.specs import DatasetSpec, specs_json

from ..catalog import (
    OPENX_JSON_SERDE,
    GlueServiceRole,
    catalog_arns,
    glue_database_name,
    glue_runtime_statements,
    tf_literal,
)
from ..kms import key_use_via
from ..lifecycle import destroy_guard
from ..logs import LogGroup
from ..policy import Statement, policy_json
from . import ServiceContext
from .common import ServiceSecurityGroup, require_network, tags_with

__all__ = [
    "GLUE_STREAM_SCRIPT", "MSK_IAM_PORT", "StreamCatalogTable", "StreamIngress", "StreamingCluster",
    "StreamingEtlJob", "firehose_statements", "stream_job_arguments", "stream_job_statements", "wire_streaming",
]

#: The release artifact name of the streaming job's script (``kit/release.py``).
GLUE_STREAM_SCRIPT = "glue-stream-script"
GLUE_LIBRARY = "glue-library"
MSK_IAM_PORT = 9098
STREAM_WORKER_TYPES = ("G.025X", "G.1X", "G.2X")
GLUE_VERSION = "4.0"
DEFAULT_OUTPUT_PREFIX = "streaming"
CHECKPOINT_PREFIX = "_checkpoints"
ERROR_PREFIX = "_errors/firehose"
TOKENISATION_PARAMETER = "tokenisation-key"


# ---------------------------------------------------------------------------------------------
# Kinesis → Firehose → landing
# ---------------------------------------------------------------------------------------------


def firehose_statements(*, stream_arn: str, bucket_arn: str, data_prefix: str, error_prefix: str,
                        kms_key_arn: str, log_group_arn: str, region: str) -> list[Statement]:
    """Least privilege for the Firehose role: read the one stream, write the two prefixes; the
    environment key only through Kinesis (the encrypted stream) and S3 (SSE-KMS objects)."""
    return [
        Statement(sid="ReadSourceStream", effect="Allow",
                  actions=["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator",
                           "kinesis:GetRecords", "kinesis:ListShards"],
                  resources=[stream_arn]),
        Statement(sid="LocateLandingBucket", effect="Allow",
                  actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                  resources=[bucket_arn]),
        Statement(sid="DeliverToLanding", effect="Allow",
                  actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                  resources=[f"{bucket_arn}/{data_prefix}*", f"{bucket_arn}/{error_prefix}*"]),
        key_use_via(sid="UseEnvironmentKeyThroughKinesisAndS3", key_arn=kms_key_arn, region=region,
                    services=["kinesis", "s3"]),
        Statement(sid="WriteDeliveryLogs", effect="Allow", actions=["logs:PutLogEvents"],
                  resources=[f"{log_group_arn}:log-stream:*"]),
    ]


class StreamIngress(Construct):
    """Kinesis stream (``.stream``) → Firehose (``.firehose``, role ``.role``, logs
    ``.log_group``) → ``s3://<landing>/<dataset>/firehose/…`` (see the module doc).
    ``.data_prefix`` and ``.error_prefix`` are the delivery prefixes (Firehose expressions)."""

    stream: KinesisStream
    firehose: KinesisFirehoseDeliveryStream
    role: IamRole
    log_group: LogGroup
    data_prefix: str
    error_prefix: str

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        landing_bucket_arn: str,
        dataset: str,
        log_retention_days: int,
        stream_mode: str = "ON_DEMAND",
        shard_count: int = 1,
        retention_hours: int = 24,
        buffering_size_mib: int = 64,
        buffering_interval_seconds: int = 300,
        compression: str = "UNCOMPRESSED",
        ignore_tag_drift: bool = False,
        region: str,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        if stream_mode not in ("ON_DEMAND", "PROVISIONED"):
            raise ValueError(f"stream {name}: stream_mode must be ON_DEMAND or PROVISIONED, got {stream_mode!r}")
        if compression not in ("UNCOMPRESSED", "GZIP"):
            raise ValueError(f"stream {name}: compression must be UNCOMPRESSED or GZIP (validate reads both), "
                             f"got {compression!r}")
        if not dataset or "/" in dataset:
            raise ValueError(f"stream {name}: dataset must be a dataset name, got {dataset!r}")
        self.stream = KinesisStream(
            self, "stream",
            name=name,
            encryption_type="KMS",
            kms_key_id=kms_key_arn,
            retention_period=retention_hours,
            stream_mode_details=KinesisStreamStreamModeDetails(stream_mode=stream_mode),
            shard_count=shard_count if stream_mode == "PROVISIONED" else None,
            tags=tags_with(tags),
            lifecycle=TerraformResourceLifecycle(ignore_changes=["tags", "tags_all"]) if ignore_tag_drift else None,
        )
        self.log_group = LogGroup(self, "logs", name=f"/aws/kinesisfirehose/{name}", retention_days=log_retention_days,
                                  kms_key_arn=kms_key_arn)
        log_stream = CloudwatchLogStream(self, "log-stream", name="S3Delivery",
                                         log_group_name=self.log_group.log_group.name)
        self.data_prefix = f"{dataset}/firehose/"
        self.error_prefix = f"{ERROR_PREFIX}/{name}/"
        self.role = IamRole(self, "role", name=f"{name}-firehose", tags=tags_with(tags), assume_role_policy=policy_json([
            Statement(sid="FirehoseAssumeRole", effect="Allow", principals={"Service": "firehose.amazonaws.com"},
                      actions=["sts:AssumeRole"])]))
        policy = IamRolePolicy(self, "policy", name=f"{name}-firehose", role=self.role.id, policy=policy_json(
            firehose_statements(stream_arn=self.stream.arn, bucket_arn=landing_bucket_arn,
                                data_prefix=self.data_prefix, error_prefix=self.error_prefix,
                                kms_key_arn=kms_key_arn, log_group_arn=self.log_group.log_group.arn,
                                region=region)))
        extension = ".jsonl.gz" if compression == "GZIP" else ".jsonl"
        self.firehose = KinesisFirehoseDeliveryStream(
            self, "firehose",
            name=name,
            destination="extended_s3",
            kinesis_source_configuration=KinesisFirehoseDeliveryStreamKinesisSourceConfiguration(
                kinesis_stream_arn=self.stream.arn, role_arn=self.role.arn),
            extended_s3_configuration=KinesisFirehoseDeliveryStreamExtendedS3Configuration(
                bucket_arn=landing_bucket_arn,
                role_arn=self.role.arn,
                # "!{...}" are Firehose expressions; Terraform leaves "!{" alone
                prefix=f"{self.data_prefix}!{{timestamp:yyyy/MM/dd}}/",
                error_output_prefix=f"{self.error_prefix}!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/",
                file_extension=extension,
                buffering_size=buffering_size_mib,
                buffering_interval=buffering_interval_seconds,
                compression_format=compression,
                kms_key_arn=kms_key_arn,
                cloudwatch_logging_options=KinesisFirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptions(
                    enabled=True, log_group_name=self.log_group.log_group.name, log_stream_name=log_stream.name),
            ),
            tags=tags_with(tags),
            depends_on=[policy],
        )


# ---------------------------------------------------------------------------------------------
# MSK
# ---------------------------------------------------------------------------------------------


class StreamingCluster(Construct):
    """A provisioned MSK cluster (``.cluster``) in ``subnet_ids``: SASL/IAM only, TLS only,
    encrypted at rest with ``kms_key_arn``, broker logs in ``.log_group`` (encrypted), no public
    access, security group ``.security_group`` admitting ``MSK_IAM_PORT`` from
    ``client_security_group_ids`` only. ``prevent_destroy`` guards the cluster (MSK has no
    deletion protection of its own). ``rule_descriptions=False``: the emulator's workaround."""

    cluster: MskCluster
    security_group: ServiceSecurityGroup
    log_group: LogGroup

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
        log_retention_days: int,
        kafka_version: str = "3.6.0",
        instance_type: str = "kafka.t3.small",
        broker_count: int = 2,
        volume_gib: int = 10,
        prevent_destroy: bool = False,
        tags: Mapping[str, str] | None = None,
        rule_descriptions: bool = True,
    ) -> None:
        super().__init__(scope, id)
        if len(subnet_ids) < 2:
            raise ValueError(f"msk {name}: needs at least 2 subnets, got {len(subnet_ids)}")
        if broker_count % len(subnet_ids):
            raise ValueError(f"msk {name}: broker_count ({broker_count}) must be a multiple of the "
                             f"{len(subnet_ids)} subnets")
        if not client_security_group_ids:
            raise ValueError(f"msk {name}: client_security_group_ids is empty: nothing could reach the brokers")
        self.security_group = ServiceSecurityGroup(
            self, "sg", name=f"{name}-msk", description="MSK brokers: SASL/IAM over TLS from the client groups only",
            vpc_id=vpc_id, port=MSK_IAM_PORT, client_security_group_ids=client_security_group_ids, tags=tags,
            rule_descriptions=rule_descriptions)
        self.log_group = LogGroup(self, "broker-logs", name=f"/aws/msk/{name}", retention_days=log_retention_days,
                                  kms_key_arn=kms_key_arn)
        self.cluster = MskCluster(
            self, "cluster",
            cluster_name=name,
            kafka_version=kafka_version,
            number_of_broker_nodes=broker_count,
            broker_node_group_info=MskClusterBrokerNodeGroupInfo(
                client_subnets=list(subnet_ids),
                instance_type=instance_type,
                security_groups=[self.security_group.group.id],
                storage_info=MskClusterBrokerNodeGroupInfoStorageInfo(
                    ebs_storage_info=MskClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfo(volume_size=volume_gib)),
                connectivity_info=MskClusterBrokerNodeGroupInfoConnectivityInfo(
                    public_access=MskClusterBrokerNodeGroupInfoConnectivityInfoPublicAccess(type="DISABLED")),
            ),
            client_authentication=MskClusterClientAuthentication(
                sasl=MskClusterClientAuthenticationSasl(iam=True, scram=False), unauthenticated=False),
            encryption_info=MskClusterEncryptionInfo(
                encryption_at_rest_kms_key_arn=kms_key_arn,
                encryption_in_transit=MskClusterEncryptionInfoEncryptionInTransit(client_broker="TLS",
                                                                                  in_cluster=True)),
            logging_info=MskClusterLoggingInfo(broker_logs=MskClusterLoggingInfoBrokerLogs(
                cloudwatch_logs=MskClusterLoggingInfoBrokerLogsCloudwatchLogs(
                    enabled=True, log_group=self.log_group.log_group.name))),
            tags=tags_with(tags),
            lifecycle=destroy_guard(prevent_destroy),
        )


# ---------------------------------------------------------------------------------------------
# Glue: catalog table over the stream, streaming job
# ---------------------------------------------------------------------------------------------


class StreamCatalogTable(Construct):
    """A Glue table (``.table``) over a Kinesis stream: JSON records, schema = the registry's
    ``schema_name`` version ``schema_version`` in ``registry_name``."""

    table: GlueCatalogTable

    def __init__(self, scope: Construct, id: str, *, database_name: str, name: str, stream_name: str,
                 stream_arn: str, region: str, registry_name: str, schema_name: str, schema_version: int = 1) -> None:
        super().__init__(scope, id)
        if schema_version < 1:
            raise ValueError(f"table {name}: schema_version must be at least 1, got {schema_version}")
        kinesis = {"typeOfData": "kinesis", "streamARN": stream_arn, "streamName": stream_name,
                   "endpointUrl": f"https://kinesis.{region}.amazonaws.com"}
        self.table = GlueCatalogTable(
            self, "table",
            database_name=database_name,
            name=name,
            description=f"Kinesis stream {stream_name}: records of dataset {schema_name} (schema from the registry)",
            table_type="EXTERNAL_TABLE",
            parameters={"classification": "json", **kinesis},
            storage_descriptor=GlueCatalogTableStorageDescriptor(
                location=stream_name,
                parameters=dict(kinesis),
                ser_de_info=GlueCatalogTableStorageDescriptorSerDeInfo(serialization_library=OPENX_JSON_SERDE),
                schema_reference=GlueCatalogTableStorageDescriptorSchemaReference(
                    schema_id=GlueCatalogTableStorageDescriptorSchemaReferenceSchemaId(
                        registry_name=registry_name, schema_name=schema_name),
                    schema_version_number=schema_version),
            ),
        )


def stream_job_arguments(*, dataset: Any, database: str, table: str, clean_bucket: str, script_bucket: str,
                         library_key: str, tokenisation_parameter: str, checkpoint_location: str,
                         window_seconds: int, starting_position: str,
                         output_prefix: str = DEFAULT_OUTPUT_PREFIX) -> dict[str, str]:
    """The streaming job's default arguments (what ``glue/stream_events.py`` parses)."""
    spec = DatasetSpec.of(dataset)
    return {
        "--job-language": "python",
        "--enable-metrics": "true",
        "--enable-continuous-cloudwatch-log": "true",
        "--extra-py-files": f"s3://{script_bucket}/{library_key}",
        "--dataset": spec.name,
        "--dataset-specs": tf_literal(specs_json([spec])),
        "--database": database,
        "--table": table,
        "--clean-bucket": clean_bucket,
        "--output-prefix": output_prefix.strip("/"),
        "--checkpoint-location": checkpoint_location,
        "--tokenisation-parameter": tokenisation_parameter,
        "--window-seconds": str(window_seconds),
        "--starting-position": starting_position,
    }


def stream_job_statements(*, stream_arn: str, clean_bucket_arn: str, output_prefix: str, checkpoint_prefix: str,
                          artifacts_bucket_arn: str, artifact_keys: Sequence[str], kms_key_arn: str,
                          tokenisation_parameter_arn: str, registry_arn: str, schema_arn: str, region: str,
                          account_id: str, database: str, table: str, security_configuration: str | None,
                          partition: str = "aws") -> list[Statement]:
    """Least privilege for the streaming job: read the stream, its catalog table and its registry
    schema, write Parquet and checkpoints under their prefixes, read its artifacts and the
    tokenisation key; the environment key only through Kinesis, S3 and SSM; its own logs and
    ``Glue`` metrics (no bookmarks: the Spark checkpoints hold the position)."""
    out, ckpt = output_prefix.strip("/"), checkpoint_prefix.strip("/")
    return [
        Statement(sid="ReadStream", effect="Allow",
                  actions=["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator",
                           "kinesis:GetRecords", "kinesis:ListShards"],
                  resources=[stream_arn]),
        Statement(sid="ReadStreamTable", effect="Allow", actions=["glue:GetDatabase", "glue:GetTable"],
                  resources=catalog_arns(region=region, account_id=account_id, database=database, tables=table,
                                         partition=partition)),
        Statement(sid="ReadDatasetSchema", effect="Allow",
                  actions=["glue:GetSchema", "glue:GetSchemaVersion", "glue:GetSchemaByDefinition"],
                  resources=[registry_arn, schema_arn]),
        Statement(sid="ListCleanBucket", effect="Allow", actions=["s3:ListBucket"], resources=[clean_bucket_arn],
                  conditions={"StringLike": {"s3:prefix": [f"{out}/*", f"{ckpt}/*"]}}),
        Statement(sid="WriteParquetAndCheckpoints", effect="Allow",
                  actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                  resources=[f"{clean_bucket_arn}/{out}/*", f"{clean_bucket_arn}/{ckpt}/*"]),
        Statement(sid="ReadJobArtifacts", effect="Allow", actions=["s3:GetObject"],
                  resources=[f"{artifacts_bucket_arn}/{key}" for key in artifact_keys]),
        Statement(sid="ReadTokenisationKey", effect="Allow", actions=["ssm:GetParameter"],
                  resources=[tokenisation_parameter_arn]),
        key_use_via(sid="UseEnvironmentKeyThroughServices", key_arn=kms_key_arn, region=region,
                    services=["kinesis", "s3", "ssm"]),
        *glue_runtime_statements(region=region, account_id=account_id, security_configuration=security_configuration,
                                 metrics=True, partition=partition),
    ]


class StreamingEtlJob(Construct):
    """A Glue streaming job (``.job``, ``gluestreaming``, Glue 4.0, one concurrent run, no
    timeout so it keeps running) with ``default_arguments`` (``.default_arguments``), run as
    ``role_arn``, with the Glue ``security_configuration`` (by name) when given. Not started here."""

    job: GlueJob
    default_arguments: dict[str, str]

    def __init__(self, scope: Construct, id: str, *, name: str, role_arn: str, script_bucket: str, script_key: str,
                 default_arguments: Mapping[str, str], worker_type: str = "G.025X", number_of_workers: int = 2,
                 glue_version: str = GLUE_VERSION, security_configuration: str | None = None) -> None:
        super().__init__(scope, id)
        if worker_type not in STREAM_WORKER_TYPES:
            raise ValueError(f"job {name}: worker type {worker_type!r} cannot run a Glue streaming job "
                             f"(allowed: {', '.join(STREAM_WORKER_TYPES)})")
        if number_of_workers < 2:
            raise ValueError(f"job {name}: a streaming job needs at least 2 workers, got {number_of_workers}")
        self.default_arguments = dict(default_arguments)
        self.job = GlueJob(
            self, "job",
            name=name,
            description="Streams one dataset from Kinesis into tokenised Parquet (Spark checkpoints in S3)",
            role_arn=role_arn,
            glue_version=glue_version,
            execution_class="STANDARD",
            worker_type=worker_type,
            number_of_workers=number_of_workers,
            max_retries=0,
            execution_property=GlueJobExecutionProperty(max_concurrent_runs=1),
            command=GlueJobCommand(name="gluestreaming", python_version="3",
                                   script_location=f"s3://{script_bucket}/{script_key}"),
            default_arguments=self.default_arguments,
            security_configuration=security_configuration,
        )


# ---------------------------------------------------------------------------------------------
# wiring
# ---------------------------------------------------------------------------------------------


class StreamingServices(Construct):
    """What ``wire_streaming`` builds: ``.ingress``, ``.cluster`` (or None), ``.table``,
    ``.job_role`` and ``.job`` (or None when the Glue job is off)."""

    ingress: StreamIngress
    cluster: StreamingCluster | None
    table: StreamCatalogTable | None
    job_role: GlueServiceRole | None
    job: StreamingEtlJob | None


def _spec(dataset: str, specs: Sequence[Any] | None) -> DatasetSpec:
    if specs is None:
        from glue.specs import shipped_specs

        specs = shipped_specs()
    by_name = {s.name: s for s in (DatasetSpec.of(x) for x in specs)}
    if dataset not in by_name:
        raise ValueError(f"streaming: dataset {dataset!r} has no contract (known: {', '.join(sorted(by_name))})")
    spec = by_name[dataset]
    if spec.format != "jsonl":
        raise ValueError(f"streaming: dataset {dataset!r} is {spec.format}; a stream carries JSON Lines datasets only")
    return spec


def wire_streaming(scope: Construct, section: StreamingConfig, ctx: ServiceContext,
                   *, specs: Sequence[Any] | None = None) -> StreamingServices:
    """``[services.streaming]`` → stream, Firehose into landing, the Glue table and streaming job
    (``glue_job_enabled``), MSK (``msk_enabled``), and outputs (stream name/ARN, Firehose name,
    Glue job name, MSK cluster ARN). ``specs`` defaults to the shipped contracts."""
    spec = _spec(section.dataset, specs)
    if spec.name not in ctx.datasets:
        raise ValueError(f"streaming: dataset {spec.name!r} is not one of the environment's datasets")
    landing, clean = ctx.buckets.get("landing"), ctx.buckets.get("clean")
    if landing is None or clean is None:
        raise ValueError("streaming: the context needs the 'landing' and 'clean' buckets")
    out = StreamingServices(scope, "streaming")
    name = ctx.resource_name("stream", spec.name)
    out.ingress = StreamIngress(
        out, "ingress", name=name, kms_key_arn=ctx.kms_key_arn, landing_bucket_arn=landing.arn, dataset=spec.name,
        log_retention_days=ctx.log_retention_days, stream_mode=section.stream_mode, shard_count=section.shard_count,
        retention_hours=section.retention_hours, buffering_size_mib=section.buffering_size_mib,
        buffering_interval_seconds=section.buffering_interval_seconds, compression=section.compression,
        ignore_tag_drift=ctx.on_emulator, region=ctx.region)
    TerraformOutput(scope, "stream_name", value=out.ingress.stream.name,
                    description="Kinesis data stream producers put the dataset's JSON records on")
    TerraformOutput(scope, "stream_arn", value=out.ingress.stream.arn,
                    description="ARN of the Kinesis data stream (for producers' IAM grants)")
    TerraformOutput(scope, "firehose_name", value=out.ingress.firehose.name,
                    description="Firehose delivery stream from the data stream into the landing bucket")

    out.cluster = None
    if section.msk_enabled:
        network = require_network(ctx, "MSK (streaming: msk_enabled)")
        out.cluster = StreamingCluster(
            out, "msk", name=ctx.resource_name("msk"), kms_key_arn=ctx.kms_key_arn, vpc_id=network.vpc_id,
            subnet_ids=list(network.private_subnet_ids),
            client_security_group_ids=list(network.client_security_group_ids),
            log_retention_days=ctx.log_retention_days, kafka_version=section.msk_kafka_version,
            instance_type=section.msk_instance_type, broker_count=section.msk_broker_count,
            volume_gib=section.msk_volume_gib, prevent_destroy=ctx.prevent_destroy,
            rule_descriptions=not ctx.on_emulator)
        TerraformOutput(scope, "msk_cluster_arn", value=out.cluster.cluster.arn,
                        description="ARN of the MSK (Kafka) cluster")
        TerraformOutput(scope, "msk_bootstrap_brokers_iam", value=out.cluster.cluster.bootstrap_brokers_sasl_iam,
                        description="MSK bootstrap brokers for IAM (SASL/IAM, TLS) clients")

    out.table = out.job_role = out.job = None
    if not section.glue_job_enabled:
        return out
    script_key, library_key = ctx.artifact_keys.get(GLUE_STREAM_SCRIPT), ctx.artifact_keys.get(GLUE_LIBRARY)
    if not script_key or not library_key:
        raise ValueError(f"streaming: the release has no {GLUE_STREAM_SCRIPT!r}/{GLUE_LIBRARY!r} artifact "
                         "(rebuild it with `make package`), or set glue_job_enabled = false")
    table_name = f"{spec.table_name}_stream"
    out.table = StreamCatalogTable(
        out, "table", database_name=ctx.glue_raw_database, name=table_name, stream_name=out.ingress.stream.name,
        stream_arn=out.ingress.stream.arn, region=ctx.region, registry_name=ctx.schema_registry_name,
        schema_name=spec.name, schema_version=section.schema_version)
    job_name = ctx.resource_name("stream", spec.name, "etl")
    checkpoint = f"{CHECKPOINT_PREFIX}/{job_name}"
    parameter = f"/{ctx.name_prefix}/{TOKENISATION_PARAMETER}"
    artifacts_arn = f"arn:aws:s3:::{ctx.artifacts_bucket}"
    out.job_role = GlueServiceRole(out, "job-role", name=f"{job_name}-role", statements=stream_job_statements(
        stream_arn=out.ingress.stream.arn, clean_bucket_arn=clean.arn, output_prefix=DEFAULT_OUTPUT_PREFIX,
        checkpoint_prefix=checkpoint, artifacts_bucket_arn=artifacts_arn, artifact_keys=[script_key, library_key],
        kms_key_arn=ctx.kms_key_arn,
        tokenisation_parameter_arn=f"arn:aws:ssm:{ctx.region}:{ctx.account_id}:parameter{parameter}",
        registry_arn=f"arn:aws:glue:{ctx.region}:{ctx.account_id}:registry/{ctx.schema_registry_name}",
        schema_arn=f"arn:aws:glue:{ctx.region}:{ctx.account_id}:schema/{ctx.schema_registry_name}/{spec.name}",
        # the literal name (ctx.glue_raw_database is a reference that orders the table after the database)
        region=ctx.region, account_id=ctx.account_id, database=glue_database_name(ctx.name_prefix, "raw"),
        table=table_name,
        security_configuration=ctx.glue_security_configuration))
    out.job = StreamingEtlJob(
        out, "job", name=job_name, role_arn=out.job_role.role.arn, script_bucket=ctx.artifacts_bucket,
        script_key=script_key, worker_type=section.glue_worker_type, number_of_workers=section.glue_workers,
        default_arguments=stream_job_arguments(
            dataset=spec, database=ctx.glue_raw_database, table=table_name, clean_bucket=clean.name,
            script_bucket=ctx.artifacts_bucket, library_key=library_key, tokenisation_parameter=parameter,
            checkpoint_location=f"s3://{clean.name}/{checkpoint}/", window_seconds=section.glue_window_seconds,
            starting_position=section.glue_starting_position),
        security_configuration=ctx.glue_security_configuration)
    TerraformOutput(scope, "stream_etl_job", value=out.job.job.name,
                    description="start it with: aws glue start-job-run --job-name <this>")
    return out
