"""Glue ETL: the compaction job (clean CSV/JSON Lines → Parquet partitions) and its role.

The job runs ``glue/compact_clean.py`` from a content-addressed artifact
(``artifacts/glue/<sha256>.py``, ``script_artifact``) with the pure transform in a library zip
(``artifacts/glue/<sha256>.zip``, ``library_artifact``, passed in ``--extra-py-files``); the release
uploads both (``glue.artifacts.glue_artifacts()`` gives keys, hashes and bytes). Job bookmarks
are on, so each run reads only the clean objects added since the last successful run. The job
runs with the environment's Glue security configuration (``catalog.GlueEncryption``: Parquet
SSE-KMS, its logs encrypted, bookmarks CSE-KMS with their own key) as ``GlueJobRole``, whose
inline policy is all it holds (no ``AWSGlueServiceRole``).

Emulator: a Glue job applies only with ``execution_class = "STANDARD"`` set explicitly (also what
AWS uses by default), and the emulator implements no UpdateJob: a changed script, library or
dataset list after the first apply would be an in-place update it answers with HTTP 500, so
there ``CompactionJob(replace_on_change=True)`` replaces the job instead.
"""

from __future__ import annotations

from typing import Any, Sequence

from cdktf import TerraformResource, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.glue_job import GlueJob, GlueJobCommand, GlueJobExecutionProperty
from cdktf_cdktf_provider_aws.glue_trigger import GlueTrigger, GlueTriggerActions
from constructs import Construct

from glue.artifacts import GLUE_DIR, SCRIPT, Artifact, glue_artifacts, library_artifact, script_artifact
from glue.specs import DatasetSpec, specs_json

from .catalog import GlueServiceRole, glue_runtime_statements, tf_literal, validate_schedule
from .kms import key_use_via
from .policy import Statement

__all__ = [
    "Artifact", "CompactionJob", "GLUE_DIR", "GlueJobRole", "SCRIPT", "glue_artifacts", "job_arguments",
    "job_role_statements", "library_artifact", "script_artifact",
]

GLUE_VERSION = "4.0"
#: Spark ETL worker types for Glue 4.0 (G.025X is for streaming jobs only).
ETL_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
DEFAULT_PARQUET_PREFIX = "parquet"


def job_arguments(
    *,
    datasets: Sequence[Any],
    clean_bucket: str,
    script_bucket: str,
    library_key: str,
    parquet_prefix: str = DEFAULT_PARQUET_PREFIX,
) -> dict[str, str]:
    """The job's default arguments (``clean_bucket``/``script_bucket`` may be tokens)."""
    specs = sorted((DatasetSpec.of(d) for d in datasets), key=lambda s: s.name)
    if not specs:
        raise ValueError("the compaction job needs at least one dataset")
    return {
        "--job-language": "python",
        "--job-bookmark-option": "job-bookmark-enable",
        "--enable-metrics": "true",
        "--enable-continuous-cloudwatch-log": "true",
        "--extra-py-files": f"s3://{script_bucket}/{library_key}",
        "--datasets": ",".join(s.name for s in specs),
        "--dataset-specs": tf_literal(specs_json(specs)),
        "--clean-bucket": clean_bucket,
        "--parquet-prefix": parquet_prefix.strip("/"),
    }


def job_role_statements(
    *,
    clean_bucket_arn: str,
    artifacts_bucket_arn: str,
    artifact_keys: Sequence[str],
    kms_key_arns: Sequence[str],
    region: str,
    account_id: str,
    security_configuration: str | None,
    bookmarks_kms_key_arn: str | None = None,
    parquet_prefix: str = DEFAULT_PARQUET_PREFIX,
    partition: str = "aws",
) -> list[Statement]:
    """Least privilege for the compaction job: read the clean datasets (and the Parquet it
    rewrites), write only under the Parquet prefix, read exactly the job's artifacts, use the
    bucket keys through S3 only, encrypt its bookmarks with their own key (client-side: the job
    calls KMS itself), write its own logs and ``Glue`` metrics. No catalog access: the job reads
    and writes S3 paths (``from_options``), never the catalog."""
    if not artifact_keys:
        raise ValueError("the job role needs the artifact keys it reads (script, library)")
    if not kms_key_arns:
        raise ValueError("the job role needs the KMS key(s) of the clean and artifacts buckets")
    prefix = parquet_prefix.strip("/")
    statements = [
        Statement(sid="ListCleanBucket", effect="Allow", actions=["s3:ListBucket"], resources=[clean_bucket_arn]),
        Statement(sid="ReadCleanDatasets", effect="Allow", actions=["s3:GetObject"],
                  resources=[f"{clean_bucket_arn}/dataset=*", f"{clean_bucket_arn}/{prefix}/*"]),
        Statement(sid="WriteCompactedParquet", effect="Allow",
                  actions=["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                  resources=[f"{clean_bucket_arn}/{prefix}/*"]),
        Statement(sid="ReadJobArtifacts", effect="Allow", actions=["s3:GetObject"],
                  resources=[f"{artifacts_bucket_arn}/{key}" for key in artifact_keys]),
        *[key_use_via(sid=f"UseBucketKeyThroughS3{i}" if i else "UseBucketKeyThroughS3", key_arn=arn, region=region,
                      services=["s3"])
          for i, arn in enumerate(dict.fromkeys(kms_key_arns))],
    ]
    if bookmarks_kms_key_arn:
        statements.append(Statement(sid="EncryptJobBookmarks", effect="Allow",
                                    actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                                    resources=[bookmarks_kms_key_arn]))
    statements += glue_runtime_statements(region=region, account_id=account_id,
                                          security_configuration=security_configuration, metrics=True,
                                          partition=partition)
    return statements


class GlueJobRole(GlueServiceRole):
    """The IAM role of the compaction job (``.role``, ``.policy``): ``job_role_statements`` only
    (no AWS-managed policy). ``security_configuration``: the name of the Glue security
    configuration the job runs with (its log groups), ``bookmarks_kms_key_arn`` its bookmark key."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        clean_bucket_arn: str,
        artifacts_bucket_arn: str,
        artifact_keys: Sequence[str],
        kms_key_arns: Sequence[str],
        region: str,
        account_id: str,
        security_configuration: str | None,
        bookmarks_kms_key_arn: str | None = None,
        parquet_prefix: str = DEFAULT_PARQUET_PREFIX,
        partition: str = "aws",
    ) -> None:
        super().__init__(scope, id, name=name, statements=job_role_statements(
            clean_bucket_arn=clean_bucket_arn, artifacts_bucket_arn=artifacts_bucket_arn,
            artifact_keys=artifact_keys, kms_key_arns=kms_key_arns, region=region, account_id=account_id,
            security_configuration=security_configuration, bookmarks_kms_key_arn=bookmarks_kms_key_arn,
            parquet_prefix=parquet_prefix, partition=partition))


class CompactionJob(Construct):
    """The Glue Spark job that compacts the clean zone into Parquet (``.job``), and its
    ``SCHEDULED`` trigger when ``schedule`` is a ``cron(...)`` (``.trigger``; None otherwise).

    ``script_key``/``library_key`` are the content-addressed keys in ``script_bucket``
    (``script_artifact``/``library_artifact``). Glue 4.0, ``execution_class = "STANDARD"``
    (explicit: the emulator needs it), one concurrent run (bookmarks assume it), no automatic
    retry (the next run resumes from the bookmark). ``.default_arguments`` holds what the job gets.

    ``replace_on_change`` exists for the emulator only, which implements no UpdateJob: any change
    to the job (a new script or library key, another dataset list, …) then replaces it (a
    ``terraform_data`` of its definition, ``.definition``, in ``replace_triggered_by``). Never on
    AWS: a replaced job loses its bookmark, and the next run would compact every clean object again."""

    job: GlueJob
    trigger: GlueTrigger | None
    default_arguments: dict[str, str]
    definition: TerraformResource | None

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        role_arn: str,
        script_bucket: str,
        script_key: str,
        library_key: str,
        datasets: Sequence[Any],
        clean_bucket: str,
        worker_type: str,
        number_of_workers: int,
        timeout_minutes: int,
        schedule: str | None = None,
        parquet_prefix: str = DEFAULT_PARQUET_PREFIX,
        security_configuration: str | None = None,
        glue_version: str = GLUE_VERSION,
        replace_on_change: bool = False,
    ) -> None:
        super().__init__(scope, id)
        if worker_type not in ETL_WORKER_TYPES:
            raise ValueError(
                f"job {name}: worker type {worker_type!r} cannot run a Glue {glue_version} Spark ETL job "
                f"(allowed: {', '.join(ETL_WORKER_TYPES)}; G.025X is for streaming jobs only)"
            )
        if number_of_workers < 2:
            raise ValueError(f"job {name}: a Spark job needs at least 2 workers, got {number_of_workers}")
        if not 1 <= timeout_minutes <= 2880:
            raise ValueError(f"job {name}: timeout_minutes must be 1-2880, got {timeout_minutes}")
        cron = validate_schedule(schedule, f"job {name}")
        self.default_arguments = job_arguments(datasets=datasets, clean_bucket=clean_bucket,
                                               script_bucket=script_bucket, library_key=library_key,
                                               parquet_prefix=parquet_prefix)
        script_location = f"s3://{script_bucket}/{script_key}"
        self.definition = None
        lifecycle = None
        if replace_on_change:
            # terraform_data (built into Terraform >= 1.4) holds what the job is made of; when it
            # changes, the job is replaced (delete + create) instead of updated.
            self.definition = TerraformResource(self, "definition", terraform_resource_type="terraform_data")
            self.definition.add_override("input", {
                "script_location": script_location, "default_arguments": dict(self.default_arguments),
                "role_arn": role_arn, "worker_type": worker_type, "number_of_workers": number_of_workers,
                "timeout": timeout_minutes, "glue_version": glue_version,
                "security_configuration": security_configuration or "",
            })
            # a plain reference: Terraform refuses "${...}" in lifecycle arguments
            lifecycle = TerraformResourceLifecycle(
                replace_triggered_by=[f"terraform_data.{self.definition.friendly_unique_id}"])
        self.job = GlueJob(
            self, "job",
            name=name,
            description="Compacts the clean zone into Parquet partitions (job bookmarks)",
            role_arn=role_arn,
            glue_version=glue_version,
            execution_class="STANDARD",
            worker_type=worker_type,
            number_of_workers=number_of_workers,
            timeout=timeout_minutes,
            max_retries=0,
            execution_property=GlueJobExecutionProperty(max_concurrent_runs=1),
            command=GlueJobCommand(name="glueetl", python_version="3", script_location=script_location),
            default_arguments=dict(self.default_arguments),
            security_configuration=security_configuration,
            lifecycle=lifecycle,
        )
        self.trigger = None
        if cron is not None:
            self.trigger = GlueTrigger(
                self, "trigger",
                name=f"{name}-schedule",
                type="SCHEDULED",
                schedule=cron,
                start_on_creation=True,
                actions=[GlueTriggerActions(job_name=self.job.name)],
            )
