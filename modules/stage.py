"""One plug-in's stage: everything a plug-in gets, built from its manifest and the pipeline it
attaches to (:class:`PipelineRefs`), as :class:`modules.services.ServiceContext` does for services.

A stage is built in two steps, because stages send to one another:

1. :func:`stage_queues` builds every queued stage's input queue + DLQ (a stage's address: the
   stages upstream of it send there, so all addresses exist before any stage is wired);
2. :class:`PluginStage` builds the rest of one plug-in from its manifest and the frozen
   :class:`PipelineRefs` (which holds those addresses): log group, event source (landing
   notification or pipeline-events subscription), the Batch job definition, the function with its
   role, event-source mapping and alarms, the error-log alarm, the REST API when it serves the
   API, and its outputs.

Addresses: a stage builds its resources with the *stack* as their scope and the ids they always
had (``queue-<name>``, ``function-<name>``, ...): Terraform addresses derive from construct paths,
so moving wiring here moves no resource.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from cdktf import TerraformOutput
from constructs import Construct
from pipeline_shared.wiring import api as api_contract
from pipeline_shared.wiring import env as wiring

from environments.config import EnvironmentConfig

from .api import RestApi
from .batch import JobSizing, PluginJobDefinition, job_environment
from .functions import (
    AlarmSettings,
    BatchRefs,
    FunctionCode,
    FunctionNetwork,
    PluginFunction,
    QueueRefs,
    ResourceArns,
    policy_statements,
)
from .logs import LogGroup
from .observability import ErrorLogMetricFilter, RejectedRowsAlarm, StageRefs
from .plugins import PluginManifest
from .policy import policy_json
from .queues import BucketEventsToQueue, StageQueue, TopicToQueue
from .services import BucketRef, TableRef

#: The topic whose messages reach the plug-ins that consume ``pipeline-events``.
EVENTS_TOPIC = "pipeline-events"
#: The topic alarms go to.
ALARMS_TOPIC = "alarms"


@dataclass(frozen=True)
class QueueRef:
    """A stage's input queue and its dead-letter queue."""

    name: str
    arn: str
    url: str
    dlq_name: str
    dlq_url: str


@dataclass(frozen=True)
class BatchTarget:
    """Where batch-capable plug-ins send large objects: the job queue and the release's image."""

    job_queue_arn: str
    #: ``<repository url>:<release id>``
    image: str
    repository_arn: str


@dataclass(frozen=True)
class PipelineRefs:
    """What a plug-in stage attaches to: the values of the pipeline around it."""

    #: The environment's customer-managed KMS key.
    kms_key_arn: str
    #: ``landing``, ``clean``, ``quarantine``, ``archive``, ``athena-results``, ``audit``.
    buckets: Mapping[str, BucketRef]
    #: Topic ARNs: ``pipeline-events`` and ``alarms``.
    topics: Mapping[str, str]
    #: ``status`` and ``idempotency``.
    tables: Mapping[str, TableRef]
    #: Every queued stage's input queue, by plug-in name (what a stage ``produces`` into).
    stage_queues: Mapping[str, QueueRef]
    #: Athena: the workgroup (name and ARN) and the clean Glue database (its name as a reference,
    #: and as a literal for the catalog ARNs).
    athena_workgroup_name: str
    athena_workgroup_arn: str
    glue_clean_database: str
    glue_clean_database_name: str
    #: The plug-ins' EMF namespace.
    metrics_namespace: str
    #: Where the functions run (None: no private network).
    network: FunctionNetwork | None = None
    #: The Powertools layer the functions use (None when no function is built).
    layer_arn: str | None = None
    #: Batch (None: off, or no function is built).
    batch: BatchTarget | None = None
    #: Parameters (``[permissions] parameters``) → their SSM names.
    parameters: Mapping[str, str] = field(default_factory=dict)


def function_name(manifest: PluginManifest, config: EnvironmentConfig) -> str:
    """The plug-in's function (and log group, queue) name."""
    return config.resource_name(manifest.name.replace("_", "-"))


def timeout_of(manifest: PluginManifest, config: EnvironmentConfig) -> int:
    """The manifest's timeout, or the environment's default consumer timeout."""
    return manifest.runtime.timeout_seconds or config.queues.default_consumer_timeout_seconds


def parameter_name(config: EnvironmentConfig, name: str) -> str:
    """SSM parameters the plug-ins may read live under ``/<prefix>/``."""
    return f"/{config.name_prefix}/{name}"


def stage_queues(scope: Construct, *, manifests: Sequence[PluginManifest], config: EnvironmentConfig,
                 kms_key_arn: str) -> dict[str, StageQueue]:
    """Step 1 of a stage: the input queue + DLQ of every plug-in that has a queue."""
    cfg = config
    return {
        m.name: StageQueue(
            scope, f"queue-{m.name}",
            name=function_name(m, cfg),
            kms_key_arn=kms_key_arn,
            consumer_timeout_seconds=timeout_of(m, cfg),
            message_retention_seconds=cfg.queues.message_retention_seconds,
            dlq_retention_seconds=cfg.queues.dlq_retention_seconds,
            max_receive_count=cfg.queues.max_receive_count,
            prevent_destroy=cfg.protection.prevent_destroy,
            ignore_redrive_policy_changes=cfg.on_emulator,
        )
        for m in manifests if m.has_queue
    }


def queue_ref(stage: StageQueue) -> QueueRef:
    return QueueRef(name=stage.queue.name, arn=stage.queue.arn, url=stage.queue.url,
                    dlq_name=stage.dlq.name, dlq_url=stage.dlq.url)


class PluginStage:
    """Everything one plug-in gets (after its queue, :func:`stage_queues`). Exposes ``.manifest``,
    ``.queue`` (:class:`QueueRef` or None), ``.log_group``, ``.landing_events``,
    ``.event_subscription``, ``.job_definition``, ``.function``, ``.api``, ``.error_filter``.

    Not a construct of its own: its resources are the stack's children (``scope``), with the ids
    they have always had, so that their Terraform addresses stay put. Without ``code`` (a stack
    synthesized without a release) there is no function, job definition nor API.
    """

    def __init__(self, scope: Construct, *, manifest: PluginManifest, config: EnvironmentConfig,
                 refs: PipelineRefs, code: FunctionCode | None = None) -> None:
        self.scope, self.manifest, self.config, self.refs = scope, manifest, config, refs
        cfg, name = config, manifest.name
        self.name = name
        self.function_name = function_name(manifest, cfg)
        self.queue = refs.stage_queues.get(name)
        self.log_group = LogGroup(scope, f"logs-{name}", name=f"/aws/lambda/{self.function_name}",
                                  retention_days=cfg.log_retention_days, kms_key_arn=refs.kms_key_arn)
        self.landing_events = self.event_subscription = None
        if manifest.consumes_landing and self.queue is not None:
            landing = refs.buckets["landing"]
            self.landing_events = BucketEventsToQueue(
                scope, "landing-events", bucket_arn=landing.arn, bucket_id=str(landing.id),
                queue_arn=self.queue.arn, queue_url=self.queue.url, account_id=cfg.account_id)
        if manifest.consumes_events and self.queue is not None:
            self.event_subscription = TopicToQueue(
                scope, f"events-to-{name}", topic_arn=refs.topics[EVENTS_TOPIC], queue_arn=self.queue.arn,
                queue_url=self.queue.url, account_id=cfg.account_id)
        self.job_definition: PluginJobDefinition | None = None
        self.function: PluginFunction | None = None
        self.api: RestApi | None = None
        if code is not None:
            self._job_definition()
            self._function(code)
            if manifest.consumes_api:
                self._api()
        self.error_filter = ErrorLogMetricFilter(
            scope, f"error-logs-{name}", name=f"{self.function_name}-error-logs",
            log_group_name=self.log_group.log_group.name, namespace=refs.metrics_namespace,
            metric_name=f"ErrorLogs-{name}", alarm_topic_arn=refs.topics[ALARMS_TOPIC],
            threshold=cfg.alarms.lambda_errors_threshold, period_seconds=cfg.alarms.period_seconds,
            evaluation_periods=cfg.alarms.evaluation_periods)
        self._outputs()

    # -- what the plug-in may touch -------------------------------------------------------------
    def resource_arns(self) -> ResourceArns:
        """The ARNs the plug-in's least-privilege policy names."""
        cfg, refs = self.config, self.refs
        db = refs.glue_clean_database_name
        return ResourceArns(
            buckets={k: b.arn for k, b in refs.buckets.items()},
            topics=dict(refs.topics),
            tables={k: t.arn for k, t in refs.tables.items()},
            parameters={p: f"arn:aws:ssm:{cfg.region}:{cfg.account_id}:parameter{parameter_name(cfg, p)}"
                        for p in sorted(self.manifest.permissions.parameters)},
            queues={k: q.arn for k, q in refs.stage_queues.items()},
            kms_key=refs.kms_key_arn,
            region=cfg.region,
            athena_workgroup=refs.athena_workgroup_arn,
            glue_catalog=(f"arn:aws:glue:{cfg.region}:{cfg.account_id}:catalog",
                          f"arn:aws:glue:{cfg.region}:{cfg.account_id}:database/{db}",
                          f"arn:aws:glue:{cfg.region}:{cfg.account_id}:table/{db}/*"),
        )

    def function_environment(self) -> dict[str, str]:
        """The environment-variable contract between the wiring and the plug-in."""
        cfg, refs, plugin = self.config, self.refs, self.manifest
        env = {
            wiring.POWERTOOLS_SERVICE_NAME: plugin.name,
            wiring.POWERTOOLS_METRICS_NAMESPACE: refs.metrics_namespace,
            wiring.POWERTOOLS_LOG_LEVEL: "INFO",
            wiring.ENVIRONMENT: cfg.name,
            wiring.STATUS_TTL_DAYS: str(cfg.tables.status_ttl_days),
            wiring.table_var("idempotency"): refs.tables["idempotency"].name,
        }
        perms = plugin.permissions
        for purpose in dict.fromkeys((*perms.read_buckets, *perms.write_buckets, *perms.delete_buckets)):
            env[wiring.bucket_var(purpose)] = refs.buckets[purpose].name
        for topic in perms.publish_topics:
            env[wiring.topic_var(topic)] = refs.topics[topic]
        for table in perms.tables:
            env[wiring.table_var(table)] = refs.tables[table].name
        for param in perms.parameters:
            env[wiring.parameter_var(param)] = parameter_name(cfg, param)
        for target in plugin.produces:
            env[wiring.queue_var(target)] = refs.stage_queues[target].url
        if perms.athena:
            env[wiring.ATHENA_WORKGROUP] = refs.athena_workgroup_name
            env[wiring.GLUE_DATABASE] = refs.glue_clean_database
            env[wiring.ATHENA_CLEAN_TABLE] = "{dataset}"
        if plugin.consumes_api:  # the limits of the API's submission routes ([api]); the key uploads
            env.update(cfg.api.environment())  # are signed with (SSE-KMS in the presigned PUT)
            env[wiring.KMS_KEY_ARN] = refs.kms_key_arn
        env.update(plugin.environment)
        return env

    def lambda_environment(self) -> dict[str, str]:
        """The function's environment: the shared contract, plus where large objects go (Batch)."""
        env = self.function_environment()
        if self.job_definition is not None and self.refs.batch is not None:
            env.update({
                wiring.BATCH_JOB_QUEUE: self.refs.batch.job_queue_arn,
                wiring.BATCH_JOB_DEFINITION: self.job_definition.definition.arn,
                wiring.BATCH_ROUTE_ABOVE_BYTES: str(self.config.batch.route_above_bytes),
            })
        return env

    # -- the resources --------------------------------------------------------------------------
    def _job_definition(self) -> None:
        """The Batch job definition of a batch-capable plug-in (``[runtime] batch = true``)."""
        cfg, batch, plugin = self.config, self.refs.batch, self.manifest
        if batch is None or not cfg.batch.enabled or not getattr(plugin.runtime, "batch", False):
            return
        b = cfg.batch
        name = cfg.resource_name(plugin.name.replace("_", "-"), "batch")
        # A job never routes (it is where routed work goes): no SubmitJob for job roles.
        self.job_definition = PluginJobDefinition(
            self.scope, f"job-{plugin.name}", name=name, plugin=plugin.name, image=batch.image,
            repository_arn=batch.repository_arn,
            environment=job_environment(plugin.name, self.function_environment(),
                                        attempt_timeout_seconds=b.job_timeout_minutes * 60),
            job_statements=policy_statements(plugin, self.resource_arns(), input_queue_arn=None,
                                             log_group_arn=f"arn:aws:logs:{cfg.region}:{cfg.account_id}:log-group:/aws/batch/{name}"),
            sizing=JobSizing(vcpus=b.job_vcpus, memory_mb=b.job_memory_mb, timeout_minutes=b.job_timeout_minutes,
                             attempts=b.job_attempts),
            kms_key_arn=self.refs.kms_key_arn, log_retention_days=cfg.log_retention_days,
            region=cfg.region, account_id=cfg.account_id, architecture=cfg.compute.lambda_architecture)

    def _function(self, code: FunctionCode) -> None:
        cfg, refs, plugin = self.config, self.refs, self.manifest
        if refs.layer_arn is None:
            raise ValueError(f"plug-in {plugin.name}: PipelineRefs.layer_arn is required to build its function")
        arns = self.resource_arns()
        if self.job_definition is not None and refs.batch is not None:
            arns = dataclasses.replace(arns, batch=BatchRefs(
                job_queue_arn=refs.batch.job_queue_arn,
                job_definition_arns={plugin.name: self.job_definition.arn_without_revision}))
        alarms = AlarmSettings(
            topic_arn=refs.topics[ALARMS_TOPIC],
            errors_threshold=cfg.alarms.lambda_errors_threshold,
            throttles_threshold=cfg.alarms.lambda_throttles_threshold,
            dlq_depth_threshold=cfg.alarms.dlq_depth_threshold,
            oldest_message_age_seconds=cfg.alarms.oldest_message_age_seconds,
            period_seconds=cfg.alarms.period_seconds,
            evaluation_periods=cfg.alarms.evaluation_periods,
        )
        stage = self.queue
        self.function = PluginFunction(
            self.scope, f"function-{plugin.name}",
            name=self.function_name,
            manifest=plugin,
            code=code,
            architecture=cfg.compute.lambda_architecture,
            memory_mb=plugin.runtime.memory_mb or cfg.compute.lambda_memory_mb,
            timeout_seconds=timeout_of(plugin, cfg),
            layers=[refs.layer_arn],
            log_group_name=self.log_group.log_group.name,
            log_group_arn=self.log_group.log_group.arn,
            input_queue=QueueRefs(arn=stage.arn, name=stage.name, dlq_name=stage.dlq_name) if stage else None,
            arns=arns,
            environment=self.lambda_environment(),
            alarms=alarms,
            # On the emulator an enabled mapping is executed by the emulator itself, which
            # deletes the messages without running the code: the local runner consumes instead.
            mapping_enabled=not cfg.on_emulator,
            advanced_logging=not cfg.on_emulator,
            reserved_concurrency=cfg.compute.lambda_reserved_concurrency,
            # In the private subnets, behind the endpoints, whenever the network is on.
            network=refs.network,
            region=cfg.region,
            account_id=cfg.account_id,
        )

    def _api(self) -> None:
        """The REST API in front of the plug-in: the routes and request models of the runtime
        contract (``pipeline_shared.wiring.api``), which the plug-in serves."""
        cfg, refs = self.config, self.refs
        assert self.function is not None
        fn = self.function.function
        access_logs = LogGroup(self.scope, "api-access-logs",
                               name=f"/aws/apigateway/{cfg.resource_name('api')}/access",
                               retention_days=cfg.log_retention_days, kms_key_arn=refs.kms_key_arn)
        self.api = RestApi(
            self.scope, "api", name=cfg.resource_name("api"), function_arn=fn.arn, function_name=fn.function_name,
            function_invoke_arn=fn.invoke_arn, routes=api_contract.ROUTES,
            request_models=api_contract.REQUEST_MODELS,
            # The cleanse route's text bodies (CSV, JSON Lines) reach the function byte for byte
            # (base64, ``isBase64Encoded``): it checks the UTF-8 itself and answers 400, never 500.
            binary_media_types=list(api_contract.BINARY_MEDIA_TYPES),
            # The emulator does not keep them: without this, every plan would update the API.
            ignore_binary_media_type_changes=cfg.on_emulator,
            throttling_rate_limit=cfg.query.api_throttling_rate_limit,
            throttling_burst_limit=cfg.query.api_throttling_burst_limit,
            access_log_group_arn=access_logs.log_group.arn)

    def dashboard_refs(self) -> StageRefs | None:
        """The stage as the dashboard sees it (None: no queue, e.g. the API)."""
        if self.queue is None:
            return None
        return StageRefs(name=self.name, function_name=self.function_name, queue_name=self.queue.name,
                         dlq_name=self.queue.dlq_name)

    def rejected_rows_alarms(self, datasets: Sequence[str], *, period_seconds: int,
                             evaluation_periods: int) -> dict[str, RejectedRowsAlarm]:
        """For the plug-in that checks landed files against their contracts (the one consuming
        ``landing``, which emits ``RecordsRejected``): one alarm per dataset into the alarms topic."""
        if not self.manifest.consumes_landing:
            return {}
        cfg, refs = self.config, self.refs
        return {
            d: RejectedRowsAlarm(self.scope, f"rejected-rows-{d}", name=cfg.resource_name(d, "rejected-rows"),
                                 dataset=d, service=self.manifest.name, alarm_topic_arn=refs.topics["alarms"],
                                 metrics_namespace=refs.metrics_namespace, period_seconds=period_seconds,
                                 evaluation_periods=evaluation_periods)
            for d in datasets
        }

    def announce_statuses(self, *, graphql_url: str, api_arn: str) -> None:
        """A status writer (a stage, i.e. with a queue, writing the status table: notify) calls the
        status API's ``publishStatus`` mutation after each write, so that subscriptions fire: the
        API's URL in its environment, and permission for that one mutation field."""
        from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy

        from .services.graphql import publisher_statements

        fn = self.function
        # A stage (it has a queue) with the status table writes statuses; the API only reads them.
        if fn is None or not self.manifest.has_queue or "status" not in self.manifest.permissions.tables:
            return
        fn.function.add_override(f"environment.variables.{wiring.STATUS_GRAPHQL_URL}", graphql_url)
        IamRolePolicy(self.scope, f"announce-statuses-{self.name}", role=fn.role.id, name="announce-statuses",
                      policy=policy_json(publisher_statements(api_arn)))

    def _outputs(self) -> None:
        name, scope = self.name, self.scope
        if self.queue is not None:
            TerraformOutput(scope, f"queue_{name}_url", value=self.queue.url,
                            description=f"URL of the SQS queue that feeds the {name} stage")
            TerraformOutput(scope, f"queue_{name}_dlq_url", value=self.queue.dlq_url,
                            description=f"URL of the {name} stage's dead-letter queue (make redrive STAGE={name})")
        if self.job_definition is not None:
            TerraformOutput(scope, f"batch_job_definition_{name}", value=self.job_definition.definition.arn,
                            description=f"ARN of the Batch job definition that runs the {name} plug-in")
        if self.function is not None:
            TerraformOutput(scope, f"function_{name}", value=self.function.function.function_name,
                            description=f"Name of the {name} Lambda function")

