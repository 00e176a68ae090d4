"""A plug-in's Lambda function, wired from its manifest: role, function, event source, alarms.

The IAM policy is derived from what the manifest declares (``policy_statements``): each named
bucket, topic, table, parameter and queue becomes a statement on exactly that resource's ARN with
exactly the actions the declaration implies; the environment key only through the services the
plug-in uses it by (``kms:ViaService``). No wildcard actions; the only ``*`` characters are the
object and log-stream suffixes inside a named bucket or log group. The function role adds:

* tracing (``tracing_statements``): X-Ray's write and sampling actions, which AWS authorises on
  ``"*"`` only (Service Authorization Reference, AWS X-Ray: no resource types), alone in their
  statement — instead of the AWS-managed ``AWSXRayDaemonWriteAccess`` policy;
* in the private network (``FunctionNetwork``), what Lambda needs to attach the function
  (``network_interface_statements``): network interfaces of this account and region, in the
  environment's VPC; the two describe actions that accept ``"*"`` only; and a deny of all of them
  to the function's own code (``lambda:SourceFunctionArn``), as the Lambda developer guide advises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingScalingConfig,
)
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionEnvironment,
    LambdaFunctionLoggingConfig,
    LambdaFunctionTracingConfig,
    LambdaFunctionVpcConfig,
)
from constructs import Construct

from .kms import key_use_via
from .plugins import PluginManifest
from .policy import Statement, policy_json

RUNTIME = "python3.12"

#: What active tracing and the X-Ray SDK call (the Lambda-run X-Ray daemon sends the segments):
#: AWS authorises these on "*" only (Service Authorization Reference, "Actions, resources, and
#: condition keys for AWS X-Ray": no resource type for any of them).
XRAY_ACTIONS = ("xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords",
                "xray:PutTraceSegments")
#: What Lambda does with the function role to attach a function to the VPC (Lambda developer
#: guide, "Giving Lambda functions access to resources in an Amazon VPC"; the content of the
#: AWS-managed AWSLambdaVPCAccessExecutionRole, without its logs actions).
NETWORK_INTERFACE_ACTIONS = ("ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface",
                             "ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses")
#: ... of which these two take no resource ("*" only: Service Authorization Reference, Amazon EC2;
#: the Lambda guide: DescribeNetworkInterfaces "only works if it's allowed on all resources").
NETWORK_DESCRIBE_ACTIONS = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")


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
    #: The region of the services that use the key on the plug-in's behalf (``kms:ViaService``);
    #: None: the region of ``kms_key`` (which must then be a literal ARN).
    region: str | None = None

    def key_region(self) -> str:
        if self.region:
            return self.region
        match = re.match(r"^arn:[a-z-]+:kms:([a-z0-9-]+):", self.kms_key)
        if match is None:
            raise ValueError("ResourceArns.region is required when kms_key is not a literal KMS key ARN "
                             f"(kms:ViaService names the region's services), got {self.kms_key!r}")
        return match.group(1)


@dataclass(frozen=True)
class FunctionNetwork:
    """Where a function runs in the private network: subnets, security groups, and the VPC id (a
    reference is fine) that bounds the network interfaces Lambda may manage for it."""

    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]
    vpc_id: str

    def __post_init__(self) -> None:
        if not self.subnet_ids or not self.security_group_ids:
            raise ValueError("a function in the VPC needs at least one subnet and one security group")


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


def key_services(manifest: PluginManifest, *, consumes_queue: bool) -> list[str]:
    """The services that use the environment key on the plug-in's behalf (each encrypts what the
    plug-in touches there with it): S3 (objects it reads or writes), SQS (its input queue, the
    queues it sends to), SNS (topics it publishes to), DynamoDB (its tables), SSM (SecureString
    parameters). Deleting an object needs no key; CloudWatch Logs encrypts as itself."""
    perms = manifest.permissions
    wanted = {
        "s3": bool(perms.read_buckets or perms.write_buckets),
        "sqs": consumes_queue or bool(manifest.produces),
        "sns": bool(perms.publish_topics),
        "dynamodb": bool(perms.tables),
        "ssm": bool(perms.parameters),
    }
    return [service for service, used in wanted.items() if used]


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
    s.append(Statement(sid="WriteOwnLogs", effect="Allow", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                       resources=[f"{log_group_arn}:log-stream:*"]))
    via = key_services(manifest, consumes_queue=input_queue_arn is not None)
    if via:
        s.append(key_use_via(sid="UseEnvironmentKey", key_arn=arns.kms_key, region=arns.key_region(), services=via))

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


def tracing_statements() -> list[Statement]:
    """Active tracing's writes and sampling reads: X-Ray authorises them on "*" only."""
    return [Statement(sid="WriteTraces", effect="Allow", actions=list(XRAY_ACTIONS), resources=["*"])]


def network_interface_statements(*, function_arn: str, vpc_id: str, region: str, account_id: str,
                                 partition: str = "aws") -> list[Statement]:
    """What Lambda needs, with the function role, to attach the function to the VPC: manage
    network interfaces of this account and region — in the VPC ``vpc_id`` whenever the request
    names one (``ec2:Vpc``; "IfExists" because Lambda's permission check before creating the
    function carries no VPC yet) — and describe interfaces and subnets ("*" only). The function's
    own code may do none of it: Lambda's calls carry no ``lambda:SourceFunctionArn``, calls from the
    code with the function's credentials do (Lambda developer guide, "Working with Lambda execution
    environment credentials")."""
    ec2 = f"arn:{partition}:ec2:{region}:{account_id}"
    return [
        Statement(sid="AttachToTheVpc", effect="Allow", actions=list(NETWORK_INTERFACE_ACTIONS),
                  resources=[f"{ec2}:network-interface/*", f"{ec2}:subnet/*", f"{ec2}:security-group/*"],
                  conditions={"ArnEqualsIfExists": {"ec2:Vpc": f"{ec2}:vpc/{vpc_id}"}}),
        Statement(sid="DescribeNetworkInterfacesAndSubnets", effect="Allow", actions=list(NETWORK_DESCRIBE_ACTIONS),
                  resources=["*"]),
        Statement(sid="NotFromTheFunctionsOwnCode", effect="Deny",
                  actions=[*NETWORK_INTERFACE_ACTIONS, *NETWORK_DESCRIBE_ACTIONS], resources=["*"],
                  conditions={"ArnEquals": {"lambda:SourceFunctionArn": function_arn}}),
    ]


def interface_services_for(manifest: PluginManifest, *, batch_enabled: bool) -> list[str]:
    """The interface endpoints a plug-in's function in the private network calls (S3 and DynamoDB
    go through the gateway endpoints; logs and traces leave through Lambda itself, not the VPC):
    SQS (the stages it produces for), SNS (topics it publishes to), SSM (its parameters), Athena
    (``athena``), Batch (a batch-capable plug-in submits large objects as jobs)."""
    perms = manifest.permissions
    wanted = {
        "sqs": bool(manifest.produces),
        "sns": bool(perms.publish_topics),
        "ssm": bool(perms.parameters),
        "athena": bool(perms.athena),
        "batch": batch_enabled and bool(getattr(manifest.runtime, "batch", False)),
    }
    return [service for service, used in wanted.items() if used]


class PluginFunction(Construct):
    """One plug-in: ``.role``, ``.function``, ``.mapping`` (its input queue → function with
    ``ReportBatchItemFailures``) and ``.alarms`` (errors, throttles, DLQ depth, age of oldest
    message → the alarms topic). With ``network`` the function runs in those subnets and security
    groups (``region`` and ``account_id`` then bound the network interfaces it may use)."""

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
        network: FunctionNetwork | None = None,
        region: str | None = None,
        account_id: str | None = None,
        partition: str = "aws",
    ) -> None:
        super().__init__(scope, id)
        if network is not None and not (region and account_id):
            raise ValueError(f"function {name}: a function in the VPC needs region and account_id "
                             "(they bound the network interfaces Lambda manages for it)")
        self.role = IamRole(
            self, "role",
            name=f"{name}-role",
            assume_role_policy=policy_json([Statement(
                sid="LambdaAssumeRole", effect="Allow", principals={"Service": "lambda.amazonaws.com"},
                actions=["sts:AssumeRole"])]),
        )
        statements = [*policy_statements(manifest, arns, input_queue_arn=input_queue.arn if input_queue else None,
                                         log_group_arn=log_group_arn),
                      *tracing_statements()]
        if network is not None:
            statements += network_interface_statements(
                function_arn=f"arn:{partition}:lambda:{region}:{account_id}:function:{name}", vpc_id=network.vpc_id,
                region=str(region), account_id=str(account_id), partition=partition)
        self.policy = IamRolePolicy(
            self, "policy",
            name=f"{name}-least-privilege",
            role=self.role.id,
            policy=policy_json(statements),
        )
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
            vpc_config=LambdaFunctionVpcConfig(subnet_ids=list(network.subnet_ids),
                                               security_group_ids=list(network.security_group_ids))
            if network is not None else None,
            # Lambda checks at creation that the role may manage the VPC's network interfaces,
            # and needs it until the function is gone: the policy comes first, goes last.
            depends_on=[self.policy],
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
