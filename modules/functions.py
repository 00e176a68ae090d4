"""A plug-in's Lambda function, wired from its manifest: role, function, event source, alarms.

The IAM policy is derived from what the manifest declares (``policy_statements``): each named
bucket, topic, table, parameter and queue becomes a statement on exactly that resource's ARN with
exactly the actions the declaration implies. No wildcard actions and no ``"*"`` resources; the
only ``*`` characters are the object and log-stream suffixes inside a named bucket or log group.
X-Ray accepts no resource-level permissions, so tracing comes from the AWS-managed
``AWSXRayDaemonWriteAccess`` policy rather than a ``"*"`` statement of our own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingScalingConfig,
)
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionEnvironment,
    LambdaFunctionLoggingConfig,
    LambdaFunctionTracingConfig,
)
from constructs import Construct

from .plugins import PluginManifest
from .policy import Statement, policy_json

RUNTIME = "python3.12"
XRAY_MANAGED_POLICY = "arn:{partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"


@dataclass(frozen=True)
class FunctionCode:
    """Where the function's zip comes from: a local file (``filename``) or an S3 object."""

    sha256_b64: str
    filename: str | None = None
    s3_bucket: str | None = None
    s3_key: str | None = None

    def __post_init__(self) -> None:
        if (self.filename is None) == (self.s3_bucket is None or self.s3_key is None):
            raise ValueError("FunctionCode needs either filename, or s3_bucket and s3_key")


@dataclass(frozen=True)
class BatchRefs:
    """The environment's Batch job queue and the job definition of each batch-capable plug-in
    (keyed by plug-in name; ARNs *without* the ``:<revision>`` suffix)."""

    job_queue_arn: str
    job_definition_arns: Mapping[str, str]


@dataclass(frozen=True)
class ResourceArns:
    """ARNs (and names) of what a manifest may name, keyed by the manifest's names."""

    buckets: Mapping[str, str]
    topics: Mapping[str, str]
    tables: Mapping[str, str]
    parameters: Mapping[str, str]
    queues: Mapping[str, str]
    kms_key: str
    #: For ``athena = true``: the workgroup ARN and the Glue catalog/database/table ARNs it reads.
    athena_workgroup: str | None = None
    glue_catalog: tuple[str, ...] = ()
    #: When Batch is enabled: what a batch-capable plug-in (``runtime.batch``) may submit jobs to.
    batch: BatchRefs | None = None


@dataclass(frozen=True)
class AlarmSettings:
    topic_arn: str
    errors_threshold: int
    throttles_threshold: int
    dlq_depth_threshold: int
    oldest_message_age_seconds: int
    period_seconds: int = 300
    evaluation_periods: int = 1


@dataclass(frozen=True)
class QueueRefs:
    arn: str
    name: str
    dlq_name: str


def policy_statements(manifest: PluginManifest, arns: ResourceArns, *, input_queue_arn: str | None,
                      log_group_arn: str) -> list[Statement]:
    """The least-privilege statements for ``manifest``: one per declared resource group."""
    perms = manifest.permissions
    s: list[Statement] = []
    if input_queue_arn is not None:
        s.append(Statement(sid="ConsumeInputQueue", effect="Allow",
                           actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                    "sqs:GetQueueAttributes"],
                           resources=[input_queue_arn]))
    s += [
        Statement(sid="WriteOwnLogs", effect="Allow", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                  resources=[f"{log_group_arn}:log-stream:*"]),
        Statement(sid="UseEnvironmentKey", effect="Allow", actions=["kms:Decrypt", "kms:GenerateDataKey"],
                  resources=[arns.kms_key]),
    ]

    def bucket_arns(names: Sequence[str], objects: bool) -> list[str]:
        return [f"{arns.buckets[n]}/*" if objects else arns.buckets[n] for n in names]

    if perms.read_buckets:
        s.append(Statement(sid="ReadObjects", effect="Allow", actions=["s3:GetObject", "s3:GetObjectVersion"],
                           resources=bucket_arns(perms.read_buckets, True)))
        s.append(Statement(sid="ListReadBuckets", effect="Allow", actions=["s3:ListBucket", "s3:ListBucketVersions"],
                           resources=bucket_arns(perms.read_buckets, False)))
    if perms.write_buckets:
        s.append(Statement(sid="WriteObjects", effect="Allow", actions=["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"],
                           resources=bucket_arns(perms.write_buckets, True)))
    if perms.delete_buckets:
        # DeleteObject with a VersionId (a stage removes exactly the version it handled) needs
        # s3:DeleteObjectVersion as well.
        s.append(Statement(sid="DeleteObjects", effect="Allow", actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
                           resources=bucket_arns(perms.delete_buckets, True)))
    if perms.publish_topics:
        s.append(Statement(sid="PublishTopics", effect="Allow", actions=["sns:Publish"],
                           resources=[arns.topics[t] for t in perms.publish_topics]))
    if perms.tables:
        s.append(Statement(sid="UseTables", effect="Allow",
                           actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                    "dynamodb:DeleteItem", "dynamodb:Query"],
                           resources=[a for t in perms.tables for a in (arns.tables[t], f"{arns.tables[t]}/index/*")]))
    if perms.parameters:
        s.append(Statement(sid="ReadParameters", effect="Allow", actions=["ssm:GetParameter"],
                           resources=[arns.parameters[p] for p in perms.parameters]))
    if perms.athena:
        if not arns.athena_workgroup or not arns.glue_catalog:
            raise ValueError(f"plug-in {manifest.name} asks for athena, but the environment has no workgroup/catalog")
        s.append(Statement(sid="RunQueriesInWorkgroup", effect="Allow",
                           actions=["athena:StartQueryExecution", "athena:GetQueryExecution",
                                    "athena:GetQueryResults", "athena:StopQueryExecution"],
                           resources=[arns.athena_workgroup]))
        s.append(Statement(sid="ReadCatalog", effect="Allow",
                           actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
                                    "glue:GetPartitions", "glue:BatchGetPartition"],
                           resources=list(arns.glue_catalog)))
    if manifest.runtime.batch and arns.batch is not None:
        definition = arns.batch.job_definition_arns.get(manifest.name)
        if not definition:
            raise ValueError(f"plug-in {manifest.name} is batch-capable (runtime.batch), but BatchRefs has no job "
                             "definition for it")
        if re.search(r":[0-9]+$", definition):
            raise ValueError(f"BatchRefs.job_definition_arns[{manifest.name!r}] must be the ARN without its revision "
                             f"(the job definition's arn_prefix), got {definition!r}")
        # SubmitJob is authorised on the queue and on the definition (any revision: "<arn>:*").
        s.append(Statement(sid="SubmitBatchJobs", effect="Allow", actions=["batch:SubmitJob"],
                           resources=[arns.batch.job_queue_arn, definition, f"{definition}:*"]))
    if manifest.produces:
        s.append(Statement(sid="SendToNextStages", effect="Allow", actions=["sqs:SendMessage"],
                           resources=[arns.queues[q] for q in manifest.produces]))
    return s


class PluginFunction(Construct):
    """One plug-in: ``.role``, ``.function``, ``.mapping`` (its input queue → function with
    ``ReportBatchItemFailures``) and ``.alarms`` (errors, throttles, DLQ depth, age of oldest
    message → the alarms topic)."""

    role: IamRole
    function: LambdaFunction
    mapping: LambdaEventSourceMapping | None
    alarms: list[CloudwatchMetricAlarm]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        manifest: PluginManifest,
        code: FunctionCode,
        architecture: str,
        memory_mb: int,
        timeout_seconds: int,
        layers: Sequence[str],
        log_group_name: str,
        log_group_arn: str,
        input_queue: QueueRefs | None,
        arns: ResourceArns,
        environment: Mapping[str, str],
        alarms: AlarmSettings,
        mapping_enabled: bool = True,
        advanced_logging: bool = True,
        reserved_concurrency: int = -1,
        partition: str = "aws",
    ) -> None:
        super().__init__(scope, id)
        self.role = IamRole(
            self, "role",
            name=f"{name}-role",
            assume_role_policy=policy_json([Statement(
                sid="LambdaAssumeRole", effect="Allow", principals={"Service": "lambda.amazonaws.com"},
                actions=["sts:AssumeRole"])]),
        )
        IamRolePolicy(
            self, "policy",
            name=f"{name}-least-privilege",
            role=self.role.id,
            policy=policy_json(policy_statements(manifest, arns,
                                                 input_queue_arn=input_queue.arn if input_queue else None,
                                                 log_group_arn=log_group_arn)),
        )
        IamRolePolicyAttachment(self, "xray", role=self.role.name,
                                policy_arn=XRAY_MANAGED_POLICY.format(partition=partition))
        self.function = LambdaFunction(
            self, "function",
            function_name=name,
            description=manifest.description[:256],
            role=self.role.arn,
            runtime=RUNTIME,
            architectures=[architecture],
            handler=manifest.handler,
            memory_size=memory_mb,
            timeout=timeout_seconds,
            filename=code.filename,
            s3_bucket=code.s3_bucket,
            s3_key=code.s3_key,
            source_code_hash=code.sha256_b64,
            layers=list(layers),
            reserved_concurrent_executions=reserved_concurrency,
            tracing_config=LambdaFunctionTracingConfig(mode="Active"),
            # JSON system logs into the plug-in's own log group. Switchable only because the
            # emulator does not report logging settings back (a perpetual diff there).
            logging_config=LambdaFunctionLoggingConfig(
                log_format="JSON", log_group=log_group_name, application_log_level="INFO",
                system_log_level="WARN") if advanced_logging else None,
            environment=LambdaFunctionEnvironment(variables=dict(environment)),
        )
        self.mapping = None if input_queue is None else LambdaEventSourceMapping(
            self, "mapping",
            event_source_arn=input_queue.arn,
            function_name=self.function.arn,
            batch_size=manifest.runtime.batch_size,
            maximum_batching_window_in_seconds=1 if manifest.runtime.batch_size > 10 else None,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=LambdaEventSourceMappingScalingConfig(maximum_concurrency=manifest.runtime.max_concurrency),
            enabled=mapping_enabled,
        )
        self.alarms = []

        def alarm(suffix: str, namespace: str, metric: str, dimensions: Mapping[str, str], statistic: str,
                  threshold: int, description: str) -> None:
            self.alarms.append(CloudwatchMetricAlarm(
                self, f"alarm-{suffix}",
                alarm_name=f"{name}-{suffix}",
                alarm_description=description,
                namespace=namespace, metric_name=metric, dimensions=dict(dimensions), statistic=statistic,
                period=alarms.period_seconds, evaluation_periods=alarms.evaluation_periods,
                threshold=threshold, comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[alarms.topic_arn], ok_actions=[alarms.topic_arn],
            ))

        fn = {"FunctionName": name}
        alarm("errors", "AWS/Lambda", "Errors", fn, "Sum", alarms.errors_threshold,
              f"{manifest.name}: invocation errors")
        alarm("throttles", "AWS/Lambda", "Throttles", fn, "Sum", alarms.throttles_threshold,
              f"{manifest.name}: throttled invocations")
        if input_queue is not None:
            alarm("dlq-depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": input_queue.dlq_name},
                  "Maximum", alarms.dlq_depth_threshold, f"{manifest.name}: messages in the dead-letter queue")
            alarm("oldest-message", "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": input_queue.name},
                  "Maximum", alarms.oldest_message_age_seconds, f"{manifest.name}: input queue falling behind")
