"""AWS Batch on Fargate for work that outgrows Lambda: the container image repository, the
compute environment, the job queue and one job definition per batch-capable plug-in.

The container runs the **same plug-in code** Lambda runs: the image (``lambdas/Dockerfile``) holds
the release's plug-in zips unpacked under ``/opt/pipeline/<plugin>/`` and is tagged with the release
id. A job definition names ``<repository>:<release id>``, so a release deploys its own image, and the
repository's tags are immutable: a tag, once pushed, always means the same image digest — the image
is promoted unchanged exactly like the zips.

* ECR repository: immutable tags, scan on push, KMS encryption with the environment's key, a
  lifecycle policy keeping the newest ``keep_images`` images, and (optionally) pull access for the
  next stage's deploy role (``reader_role_arns``, the same roles that may read the releases).
* Compute environment: managed Fargate (or Fargate Spot) in the private subnets, the workloads
  security group, ``max_vcpus`` in all.
* Job definition: Fargate platform, no public IP, the plug-in's least-privilege role as the job
  role (the statements the Lambda function gets), an execution role that may pull from this
  repository and write this log group only, logs into an encrypted log group, a timeout, and
  retries on infrastructure failures (not on the job's own non-zero exit: the plug-in already
  retried what it could, a failed file must surface).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Sequence

from cdktf_cdktf_provider_aws.batch_compute_environment import (
    BatchComputeEnvironment,
    BatchComputeEnvironmentComputeResources,
)
from cdktf_cdktf_provider_aws.batch_job_definition import (
    BatchJobDefinition,
    BatchJobDefinitionRetryStrategy,
    BatchJobDefinitionRetryStrategyEvaluateOnExit,
    BatchJobDefinitionTimeout,
)
from cdktf_cdktf_provider_aws.batch_job_queue import BatchJobQueue, BatchJobQueueComputeEnvironmentOrder
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
)
from cdktf_cdktf_provider_aws.ecr_repository_policy import EcrRepositoryPolicy
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct
from pipeline_shared.wiring import env as wiring

from .kms import key_use_via
from .lifecycle import destroy_guard
from .policy import Statement, policy_json
from .topics import ServicePublisher, Topic

#: The module's entrypoint inside the image (``lambdas/_shared/pipeline_shared/batch_job.py``).
ENTRYPOINT = ("python", "-m", "pipeline_shared.batch_job")
#: Where the image unpacks each plug-in's zip.
PLUGIN_ROOT = "/opt/pipeline"
#: Lambda-only variables a job does not get (it must never route to itself).
ROUTING_VARIABLES = wiring.BATCH_ROUTING
#: Batch retries a job whose container failed to start or whose host went away (e.g. a Spot
#: reclaim); a job that ran and exited non-zero is not retried here.
RETRY_ON_STATUS_REASONS = ("Host EC2*", "CannotPullContainerError*", "ResourceInitializationError*",
                           "Task failed to start*")


#: Lambda's architecture names → Fargate's (the image is built for the functions' architecture).
CPU_ARCHITECTURES = {"arm64": "ARM64", "x86_64": "X86_64"}


def job_command(plugin: str) -> list[str]:
    return [*ENTRYPOINT, "--plugin", plugin, "--payload", "Ref::payload"]


def job_environment(plugin: str, function_environment: Mapping[str, str], *,
                    attempt_timeout_seconds: int | None = None) -> dict[str, str]:
    """The Lambda function's environment, minus routing, plus what marks the run as a Batch job
    (and, with ``attempt_timeout_seconds``, how long an attempt's in-progress idempotency record
    may block a duplicate job: the definition's attempt timeout)."""
    env = {k: v for k, v in function_environment.items() if k not in ROUTING_VARIABLES}
    env.update({wiring.RUNS_ON: "batch", wiring.POWERTOOLS_TRACE_DISABLED: "true",
                "PYTHONPATH": f"{PLUGIN_ROOT}/{plugin}"})
    if attempt_timeout_seconds is not None:
        env[wiring.BATCH_ATTEMPT_TIMEOUT_SECONDS] = str(attempt_timeout_seconds)
    return env


@dataclass(frozen=True)
class JobSizing:
    vcpus: float
    memory_mb: int
    timeout_minutes: int
    attempts: int


class ImageRepository(Construct):
    """The environment's container image repository (``.repository``)."""

    repository: EcrRepository

    def __init__(self, scope: Construct, id: str, *, name: str, kms_key_arn: str, keep_images: int,
                 force_delete: bool, prevent_destroy: bool, reader_role_arns: Sequence[str] = ()) -> None:
        super().__init__(scope, id)
        if keep_images < 1:
            raise ValueError(f"repository {name}: keep_images must be at least 1, got {keep_images}")
        self.repository = EcrRepository(
            self, "repository", name=name, image_tag_mutability="IMMUTABLE", force_delete=force_delete,
            image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
            encryption_configuration=[EcrRepositoryEncryptionConfiguration(encryption_type="KMS", kms_key=kms_key_arn)],
            lifecycle=destroy_guard(prevent_destroy),
        )
        EcrLifecyclePolicy(self, "lifecycle", repository=self.repository.name, policy=json.dumps({"rules": [{
            "rulePriority": 1, "description": f"keep the newest {keep_images} images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_images},
            "action": {"type": "expire"},
        }]}, separators=(",", ":")))
        self.policy = None
        if reader_role_arns:
            self.policy = EcrRepositoryPolicy(self, "promotion-readers", repository=self.repository.name,
                                              policy=policy_json([Statement(
                                                  sid="NextStagePullsReleases", effect="Allow",
                                                  principals={"AWS": sorted(reader_role_arns)},
                                                  actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                                           "ecr:BatchCheckLayerAvailability", "ecr:DescribeImages"])]))


class FargateBatch(Construct):
    """A Fargate compute environment (``.compute_environment``) in ``subnet_ids`` with
    ``security_group_ids``, and a job queue (``.job_queue``) in front of it.

    By default AWS Batch uses its service-linked role (created on first use: nothing to manage).
    ``own_service_role`` creates a service role (``.service_role``, the AWS-managed
    ``AWSBatchServiceRole`` policy) instead: the emulator insists on an existing role."""

    compute_environment: BatchComputeEnvironment
    job_queue: BatchJobQueue

    def __init__(self, scope: Construct, id: str, *, name: str, subnet_ids: Sequence[str],
                 security_group_ids: Sequence[str], max_vcpus: int, spot: bool = False,
                 own_service_role: bool = False) -> None:
        super().__init__(scope, id)
        if max_vcpus < 1:
            raise ValueError(f"compute environment {name}: max_vcpus must be at least 1, got {max_vcpus}")
        if not subnet_ids:
            raise ValueError(f"compute environment {name}: needs private subnets")
        self.service_role = None
        if own_service_role:
            self.service_role = IamRole(
                self, "service-role", name=f"{name}-service",
                assume_role_policy=policy_json([Statement(sid="BatchAssumeRole", effect="Allow",
                                                          principals={"Service": "batch.amazonaws.com"},
                                                          actions=["sts:AssumeRole"])]))
            IamRolePolicyAttachment(self, "service-role-policy", role=self.service_role.name,
                                    policy_arn="arn:aws:iam::aws:policy/service-role/AWSBatchServiceRole")
        self.compute_environment = BatchComputeEnvironment(
            self, "compute", compute_environment_name=name, type="MANAGED", state="ENABLED",
            service_role=self.service_role.arn if self.service_role is not None else None,
            compute_resources=BatchComputeEnvironmentComputeResources(
                type="FARGATE_SPOT" if spot else "FARGATE", max_vcpus=max_vcpus,
                subnets=list(subnet_ids), security_group_ids=list(security_group_ids)),
        )
        self.job_queue = BatchJobQueue(
            self, "queue", name=name, priority=1, state="ENABLED",
            compute_environment_order=[BatchJobQueueComputeEnvironmentOrder(
                order=1, compute_environment=self.compute_environment.arn)],
        )


class PluginJobDefinition(Construct):
    """The Batch twin of a plug-in's Lambda function: ``.definition`` runs
    ``python -m pipeline_shared.batch_job --plugin <plugin> --payload Ref::payload`` in ``image``
    with ``environment``, as ``.job_role`` (``job_statements``: the plug-in's own least-privilege
    statements), pulling with ``.execution_role``; logs go to ``.log_group``."""

    definition: BatchJobDefinition
    job_role: IamRole
    execution_role: IamRole
    log_group: CloudwatchLogGroup

    def __init__(self, scope: Construct, id: str, *, name: str, plugin: str, image: str, repository_arn: str,
                 environment: Mapping[str, str], job_statements: Sequence[Statement], sizing: JobSizing,
                 kms_key_arn: str, log_retention_days: int, region: str, account_id: str,
                 architecture: str = "arm64") -> None:
        super().__init__(scope, id)
        if architecture not in CPU_ARCHITECTURES:
            raise ValueError(f"job definition {name}: architecture must be one of {', '.join(CPU_ARCHITECTURES)}, "
                             f"got {architecture!r}")
        if sizing.attempts < 1 or sizing.timeout_minutes < 1:
            raise ValueError(f"job definition {name}: attempts and timeout must be positive")
        self.log_group = CloudwatchLogGroup(self, "logs", name=f"/aws/batch/{name}",
                                            retention_in_days=log_retention_days, kms_key_id=kms_key_arn)
        trust = policy_json([Statement(
            sid="EcsTasksAssumeRole", effect="Allow", principals={"Service": "ecs-tasks.amazonaws.com"},
            actions=["sts:AssumeRole"],
            conditions={"StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{region}:{account_id}:*"}})])
        self.job_role = IamRole(self, "job-role", name=f"{name}-job", assume_role_policy=trust)
        IamRolePolicy(self, "job-policy", role=self.job_role.id, name="plugin", policy=policy_json(list(job_statements)))
        self.execution_role = IamRole(self, "execution-role", name=f"{name}-exec", assume_role_policy=trust)
        IamRolePolicy(self, "execution-policy", role=self.execution_role.id, name="pull-and-log", policy=policy_json([
            Statement(sid="PullImage", effect="Allow",
                      actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                      resources=[repository_arn]),
            # GetAuthorizationToken has no resource-level permissions: "*" is the only resource.
            Statement(sid="RegistryLogin", effect="Allow", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            Statement(sid="WriteJobLogs", effect="Allow", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                      resources=[f"{self.log_group.arn}:log-stream:*"]),
            key_use_via(sid="DecryptImageLayersThroughEcr", key_arn=kms_key_arn, region=region, services=["ecr"],
                        actions=["kms:Decrypt"]),
        ]))
        container = {
            "image": image,
            "command": job_command(plugin),
            "jobRoleArn": self.job_role.arn,
            "executionRoleArn": self.execution_role.arn,
            "resourceRequirements": [{"type": "VCPU", "value": f"{sizing.vcpus:g}"},
                                     {"type": "MEMORY", "value": str(sizing.memory_mb)}],
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
            "networkConfiguration": {"assignPublicIp": "DISABLED"},
            "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": CPU_ARCHITECTURES[architecture]},
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": self.log_group.name, "awslogs-region": region, "awslogs-stream-prefix": plugin}},
            "ephemeralStorage": {"sizeInGiB": 100},
        }
        self.definition = BatchJobDefinition(
            self, "definition", name=name, type="container", platform_capabilities=["FARGATE"],
            container_properties=_json(container), propagate_tags=True,
            timeout=BatchJobDefinitionTimeout(attempt_duration_seconds=sizing.timeout_minutes * 60),
            retry_strategy=BatchJobDefinitionRetryStrategy(
                attempts=sizing.attempts,
                evaluate_on_exit=[*(BatchJobDefinitionRetryStrategyEvaluateOnExit(action="RETRY", on_status_reason=r)
                                    for r in RETRY_ON_STATUS_REASONS),
                                  BatchJobDefinitionRetryStrategyEvaluateOnExit(action="EXIT", on_reason="*")]),
        )

    @property
    def arn_without_revision(self) -> str:
        """``arn:aws:batch:<region>:<account>:job-definition/<name>`` (IAM names every revision with ``:*``)."""
        return self.definition.arn_prefix


def _json(doc: dict) -> str:
    """Container properties as JSON; cdktf tokens (role ARNs, the log group name) resolve at synth."""
    from cdktf import Fn

    return Fn.jsonencode(doc)


class JobFailureAlerts(Construct):
    """A failed Batch job on ``job_queue_arn`` (every attempt spent) becomes a message on the alarms
    topic: an EventBridge rule (``.rule``) on "Batch Job State Change" → ``FAILED`` with the topic as
    its target, and a publisher added to the topic's policy (``.publisher``): EventBridge may
    publish for this rule only (``aws:SourceArn``) of ``account_id``. Nothing else changes in the
    topic policy (see ``modules/topics.py``). A routed file's Lambda record is done once the job is
    submitted, so without this a failed job would be silent."""

    def __init__(self, scope: Construct, id: str, *, name: str, job_queue_arn: str, topic: Topic,
                 account_id: str) -> None:
        super().__init__(scope, id)
        from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
        from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget

        self.rule = CloudwatchEventRule(
            self, "rule", name=name, description="AWS Batch job of the pipeline failed (all attempts)",
            event_pattern=json.dumps({"source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
                                      "detail": {"status": ["FAILED"], "jobQueue": [job_queue_arn]}}))
        CloudwatchEventTarget(self, "target", rule=self.rule.name, arn=topic.topic.arn, target_id="alarms-topic")
        self.publisher = ServicePublisher(sid="BatchFailuresFromEventBridge", service="events.amazonaws.com",
                                          source_arn=self.rule.arn, account_id=account_id)
        topic.allow_publisher(self.publisher)
