"""Timestream (LiveAnalytics) for the pipeline's metrics (issue 7, ``[services.timestream]``).

- ``MetricsTimeseries``: a database encrypted with the environment's key and one table
  (``pipeline_metrics``) with memory-store and magnetic-store retention from the config. Magnetic
  store writes are on (late-arriving points older than the memory-store window are accepted), and
  the records the magnetic store rejects are reported as objects under a prefix of the
  **quarantine** bucket, SSE-KMS with the same key: that bucket is where the pipeline already puts
  everything it rejects, with its retention, protection and the people who triage it; the audit
  bucket is reserved for CloudTrail (append-only evidence no service should write into).
- ``timestream_writer_statements``: what a writer (a Lambda publishing metrics, ...) needs.

Timestream is a regional API outside any VPC: no network, no secret (IAM authentication only).

Emulator: the provider discovers Timestream's endpoint (``DescribeEndpoints``) and is then sent
to the real AWS host, whatever ``endpoints`` says; the provider-level workaround is
``http_proxy`` = the emulator and ``no_proxy`` = ``localhost,127.0.0.1`` (see EMULATOR.md). The
construct itself needs no workaround.
"""

from __future__ import annotations

from typing import Mapping

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.timestreamwrite_database import TimestreamwriteDatabase
from cdktf_cdktf_provider_aws.timestreamwrite_table import (
    TimestreamwriteTable,
    TimestreamwriteTableMagneticStoreWriteProperties,
    TimestreamwriteTableMagneticStoreWritePropertiesMagneticStoreRejectedDataLocation,
    TimestreamwriteTableMagneticStoreWritePropertiesMagneticStoreRejectedDataLocationS3Configuration,
    TimestreamwriteTableRetentionProperties,
)
from constructs import Construct

from environments.sections.ingest import TimestreamConfig

from ..kms import key_use_via
from ..lifecycle import destroy_guard
from ..policy import Statement
from . import ServiceContext

__all__ = ["MetricsTimeseries", "REJECTED_PREFIX", "TABLE_NAME", "timestream_writer_statements", "wire_timestream"]

TABLE_NAME = "pipeline_metrics"
#: Where rejected magnetic-store records go in the quarantine bucket (``<prefix><table>/``).
REJECTED_PREFIX = "_timestream-rejected/"


class MetricsTimeseries(Construct):
    """A Timestream database (``.database``, KMS ``kms_key_arn``) and its metrics table
    (``.table``): memory store ``memory_retention_hours``, magnetic store
    ``magnetic_retention_days``, magnetic-store writes enabled with rejected records reported to
    ``s3://<rejected_bucket>/<rejected_prefix>`` (SSE-KMS, ``kms_key_arn``).

    ``prevent_destroy`` puts Terraform's ``prevent_destroy`` on both (Timestream has no
    deletion-protection flag of its own)."""

    database: TimestreamwriteDatabase
    table: TimestreamwriteTable
    rejected_prefix: str

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        database_name: str,
        kms_key_arn: str,
        memory_retention_hours: int,
        magnetic_retention_days: int,
        rejected_bucket: str,
        table_name: str = TABLE_NAME,
        rejected_prefix: str | None = None,
        prevent_destroy: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not 1 <= memory_retention_hours <= 8766:
            raise ValueError(f"timestream {database_name}: memory_retention_hours must be 1-8766, "
                             f"got {memory_retention_hours}")
        if not 1 <= magnetic_retention_days <= 73000:
            raise ValueError(f"timestream {database_name}: magnetic_retention_days must be 1-73000, "
                             f"got {magnetic_retention_days}")
        if not kms_key_arn:
            raise ValueError(f"timestream {database_name}: kms_key_arn is required (encryption at rest)")
        self.rejected_prefix = rejected_prefix if rejected_prefix is not None else f"{REJECTED_PREFIX}{table_name}/"
        lifecycle = destroy_guard(prevent_destroy)
        self.database = TimestreamwriteDatabase(
            self, "database", database_name=database_name, kms_key_id=kms_key_arn,
            tags=dict(tags) if tags else None, lifecycle=lifecycle)
        self.table = TimestreamwriteTable(
            self, "table",
            database_name=self.database.database_name,
            table_name=table_name,
            retention_properties=TimestreamwriteTableRetentionProperties(
                memory_store_retention_period_in_hours=memory_retention_hours,
                magnetic_store_retention_period_in_days=magnetic_retention_days),
            magnetic_store_write_properties=TimestreamwriteTableMagneticStoreWriteProperties(
                enable_magnetic_store_writes=True,
                magnetic_store_rejected_data_location=(
                    TimestreamwriteTableMagneticStoreWritePropertiesMagneticStoreRejectedDataLocation(
                        s3_configuration=(
                            TimestreamwriteTableMagneticStoreWritePropertiesMagneticStoreRejectedDataLocationS3Configuration(
                                bucket_name=rejected_bucket, object_key_prefix=self.rejected_prefix,
                                encryption_option="SSE_KMS", kms_key_id=kms_key_arn))))),
            tags=dict(tags) if tags else None,
            lifecycle=lifecycle,
        )


def timestream_writer_statements(*, table_arn: str, kms_key_arn: str, rejected_bucket_arn: str,
                                 rejected_prefix: str, region: str) -> list[Statement]:
    """Least privilege to write points into the table (and have rejected magnetic-store records
    reported under the prefix); the environment key only through Timestream and S3."""
    return [
        # DescribeEndpoints has no resource-level permissions: the AWS API only accepts "*".
        Statement(sid="DiscoverTimestreamEndpoint", effect="Allow", actions=["timestream:DescribeEndpoints"],
                  resources=["*"]),
        Statement(sid="WriteMetrics", effect="Allow", actions=["timestream:WriteRecords"], resources=[table_arn]),
        Statement(sid="ReportRejectedRecords", effect="Allow", actions=["s3:PutObject"],
                  resources=[f"{rejected_bucket_arn}/{rejected_prefix}*"]),
        key_use_via(sid="UseEnvironmentKeyThroughTimestreamAndS3", key_arn=kms_key_arn, region=region,
                    services=["timestream", "s3"]),
    ]


def wire_timestream(scope: Construct, section: TimestreamConfig, ctx: ServiceContext) -> MetricsTimeseries:
    """``[services.timestream]`` → a ``MetricsTimeseries`` (rejected records in quarantine) and
    outputs: the database and table names, the table ARN."""
    quarantine = ctx.buckets.get("quarantine")
    if quarantine is None:
        raise ValueError("timestream: the context has no 'quarantine' bucket for rejected records")
    ts = MetricsTimeseries(
        scope, "timestream",
        database_name=ctx.resource_name("metrics"),
        kms_key_arn=ctx.kms_key_arn,
        memory_retention_hours=section.memory_retention_hours,
        magnetic_retention_days=section.magnetic_retention_days,
        rejected_bucket=quarantine.name,
        prevent_destroy=ctx.prevent_destroy,
        tags=dict(ctx.backup_tags) or None,
    )
    TerraformOutput(scope, "timestream_database", value=ts.database.database_name,
                    description="Timestream database of the pipeline metrics")
    TerraformOutput(scope, "timestream_table", value=ts.table.table_name,
                    description="Timestream table of the pipeline metrics")
    TerraformOutput(scope, "timestream_table_arn", value=ts.table.arn,
                    description="ARN of the Timestream table (for IAM grants)")
    return ts
