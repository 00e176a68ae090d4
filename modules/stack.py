"""The pipeline stack: one per environment. All wiring between constructs happens here.

The stack receives a validated :class:`environments.EnvironmentConfig` (values only: it never
looks at the environment's name) and the plug-in manifests, and builds:
KMS key → buckets → stage queues (+DLQs) → landing notifications → topics → tables → log groups.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from cdktf import TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.lambda_layer_version import LambdaLayerVersion
from constructs import Construct

from environments.config import EnvironmentConfig

from .functions import AlarmSettings, FunctionCode, PluginFunction, QueueRefs, ResourceArns
from .kms import EnvironmentKey
from .logs import LogGroup
from .plugins import BUCKETS, PluginManifest
from .powertools import POWERTOOLS_VERSION, PYTHON_TAG, official_layer_arn
from .providers import EmulatorEndpoint, aws_provider, local_state, pin_aws_provider, s3_state
from .queues import BucketEventsToQueue, StageQueue, TopicToQueue
from .storage import DataBucket, GlacierLifecycle
from .tables import Capacity, IdempotencyTable, StatusTable, TableProtection
from .topics import Topic

TOPICS = ("pipeline-events", "alarms")


class PipelineStack(TerraformStack):
    """Everything one environment runs. Resources are exposed as attributes for later layers:
    ``key``, ``buckets[purpose]``, ``stage_queues[plugin]``, ``topics[name]``, ``status_table``,
    ``idempotency_table``, ``log_groups[plugin]``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        plugins: Sequence[PluginManifest],
        code: Mapping[str, FunctionCode] | None = None,
        local_layer: FunctionCode | None = None,
        local_state_path: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        cfg = self.config = config
        pin_aws_provider(self)
        emulator = EmulatorEndpoint(url=cfg.endpoint_url) if cfg.endpoint_url else None
        aws_provider(self, region=cfg.region, account_id=cfg.account_id, default_tags=cfg.tags, emulator=emulator)
        if cfg.state.backend == "local":
            local_state(self, path=local_state_path or cfg.state.path)
        else:
            s3_state(self, bucket=cfg.state.bucket, key=cfg.state.key, region=cfg.state.region,
                     lock_table=cfg.state.dynamodb_table)

        self.plugins = list(plugins)
        self.key_arn = self._key()
        self._buckets()
        self._queues()
        self._topics_and_tables()
        self.functions: dict[str, PluginFunction] = {}
        if code is not None:
            self._functions(self.plugins, code, local_layer)
        self._outputs(self.plugins)

    # -- wiring, in dependency order -------------------------------------------------------------
    def _key(self) -> str:
        cfg = self.config
        self.key = EnvironmentKey(
            self, "key",
            alias_name=cfg.resource_name("data"),
            account_id=cfg.account_id,
            region=cfg.region,
            deletion_window_days=cfg.protection.kms_deletion_window_days,
            prevent_destroy=cfg.protection.prevent_destroy,
        )
        return self.key.key.arn

    def _buckets(self) -> None:
        cfg, prot = self.config, self.config.protection
        self.buckets: dict[str, DataBucket] = {}
        for purpose in BUCKETS:
            glacier = None
            if purpose in ("archive", "audit"):
                glacier = GlacierLifecycle(transition_days=cfg.storage.glacier_transition_days,
                                           expiration_days=cfg.storage.archive_expiration_days)
            self.buckets[purpose] = DataBucket(
                self, f"bucket-{purpose}",
                name=cfg.bucket_name(purpose),
                kms_key_arn=self.key_arn,
                force_destroy=prot.force_destroy,
                prevent_destroy=prot.prevent_destroy,
                deny_insecure_transport=cfg.storage.deny_insecure_transport,
                noncurrent_version_expiration_days=cfg.storage.noncurrent_version_expiration_days,
                glacier=glacier,
                expire_current_after_days=cfg.storage.landing_expiration_days if purpose == "landing" else None,
            )

    def _queues(self) -> None:
        """A stage queue + DLQ and a log group per plug-in; landing events into the first stage."""
        cfg = self.config
        self.stage_queues: dict[str, StageQueue] = {}
        self.log_groups: dict[str, LogGroup] = {}
        for plugin in self.plugins:
            if plugin.has_queue:
                self.stage_queues[plugin.name] = StageQueue(
                    self, f"queue-{plugin.name}",
                    name=cfg.resource_name(plugin.name.replace("_", "-")),
                    kms_key_arn=self.key_arn,
                    consumer_timeout_seconds=self.timeout_of(plugin),
                    message_retention_seconds=cfg.queues.message_retention_seconds,
                    dlq_retention_seconds=cfg.queues.dlq_retention_seconds,
                    max_receive_count=cfg.queues.max_receive_count,
                    prevent_destroy=cfg.protection.prevent_destroy,
                    ignore_redrive_policy_changes=cfg.on_emulator,
                )
            self.log_groups[plugin.name] = LogGroup(
                self, f"logs-{plugin.name}",
                name=f"/aws/lambda/{self.function_name(plugin)}",
                retention_days=cfg.log_retention_days,
                kms_key_arn=self.key_arn,
            )
        entry = [p for p in self.plugins if p.consumes_landing]
        if entry:
            self.landing_events = BucketEventsToQueue(
                self, "landing-events",
                bucket=self.buckets["landing"].bucket,
                queue=self.stage_queues[entry[0].name].queue,
                account_id=cfg.account_id,
            )

    def _topics_and_tables(self) -> None:
        cfg, prot = self.config, self.config.protection
        self.topics = {name: Topic(self, f"topic-{name}", name=cfg.resource_name(name), kms_key_arn=self.key_arn)
                       for name in TOPICS}
        self.event_subscriptions = {
            p.name: TopicToQueue(self, f"events-to-{p.name}", topic=self.topics["pipeline-events"].topic,
                                 queue=self.stage_queues[p.name].queue, account_id=cfg.account_id)
            for p in self.plugins if p.consumes_events
        }
        protection = TableProtection(
            point_in_time_recovery=prot.point_in_time_recovery,
            deletion_protection=prot.deletion_protection,
            prevent_destroy=prot.prevent_destroy,
        )
        capacity = Capacity(billing_mode=cfg.tables.billing_mode, read_capacity=cfg.tables.read_capacity,
                            write_capacity=cfg.tables.write_capacity)
        self.status_table = StatusTable(self, "table-status", name=cfg.resource_name("status"),
                                        kms_key_arn=self.key_arn, protection=protection, capacity=capacity)
        self.idempotency_table = IdempotencyTable(self, "table-idempotency", name=cfg.resource_name("idempotency"),
                                                  kms_key_arn=self.key_arn, protection=protection, capacity=capacity)

    def parameter_name(self, name: str) -> str:
        """SSM parameters the plug-ins may read live under ``/<prefix>/``."""
        return f"/{self.config.name_prefix}/{name}"

    def _functions(self, plugins: Sequence[PluginManifest], code: Mapping[str, FunctionCode],
                   local_layer: FunctionCode | None) -> None:
        cfg = self.config
        missing = [p.name for p in plugins if p.name not in code]
        if missing:
            raise ValueError(f"no packaged artifact for plug-in(s): {', '.join(missing)}")
        arch = cfg.compute.lambda_architecture
        if cfg.on_emulator:
            # The emulator refuses functions naming a layer it does not hold: publish our own,
            # built from the same pinned Powertools release.
            if local_layer is None:
                raise ValueError("an environment on the emulator needs the kit's own Powertools layer zip")
            layer = LambdaLayerVersion(
                self, "powertools-layer",
                layer_name=cfg.resource_name("powertools"),
                description=f"Powertools for AWS Lambda (Python) {POWERTOOLS_VERSION}, built by pipeline-kit",
                filename=local_layer.filename,
                s3_bucket=local_layer.s3_bucket,
                s3_key=local_layer.s3_key,
                source_code_hash=local_layer.sha256_b64,
                compatible_runtimes=[PYTHON_TAG.replace("python3", "python3.")],
                compatible_architectures=[arch],
            )
            layer_arn = layer.arn
        else:
            layer_arn = official_layer_arn(cfg.region, arch)
        params = sorted({p for m in plugins for p in m.permissions.parameters})
        arns = ResourceArns(
            buckets={k: b.bucket.arn for k, b in self.buckets.items()},
            topics={k: t.topic.arn for k, t in self.topics.items()},
            tables={"status": self.status_table.table.arn, "idempotency": self.idempotency_table.table.arn},
            parameters={p: f"arn:aws:ssm:{cfg.region}:{cfg.account_id}:parameter{self.parameter_name(p)}"
                        for p in params},
            queues={k: q.queue.arn for k, q in self.stage_queues.items()},
            kms_key=self.key.key.arn,
        )
        alarms = AlarmSettings(
            topic_arn=self.topics["alarms"].topic.arn,
            errors_threshold=cfg.alarms.lambda_errors_threshold,
            throttles_threshold=cfg.alarms.lambda_throttles_threshold,
            dlq_depth_threshold=cfg.alarms.dlq_depth_threshold,
            oldest_message_age_seconds=cfg.alarms.oldest_message_age_seconds,
            period_seconds=cfg.alarms.period_seconds,
            evaluation_periods=cfg.alarms.evaluation_periods,
        )
        for plugin in plugins:
            stage = self.stage_queues.get(plugin.name)
            log_group = self.log_groups[plugin.name].log_group
            name = self.function_name(plugin)
            self.functions[plugin.name] = PluginFunction(
                self, f"function-{plugin.name}",
                name=name,
                manifest=plugin,
                code=code[plugin.name],
                architecture=arch,
                memory_mb=plugin.runtime.memory_mb or cfg.compute.lambda_memory_mb,
                timeout_seconds=self.timeout_of(plugin),
                layers=[layer_arn],
                log_group_name=log_group.name,
                log_group_arn=log_group.arn,
                input_queue=(QueueRefs(arn=stage.queue.arn, name=stage.queue.name, dlq_name=stage.dlq.name)
                             if stage is not None else None),
                arns=arns,
                environment=self.function_environment(plugin),
                alarms=alarms,
                # On the emulator an enabled mapping is executed by the emulator itself, which
                # deletes the messages without running the code: the local runner consumes instead.
                mapping_enabled=not cfg.on_emulator,
                advanced_logging=not cfg.on_emulator,
                reserved_concurrency=cfg.compute.lambda_reserved_concurrency,
            )

    def function_environment(self, plugin: PluginManifest) -> dict[str, str]:
        """The environment-variable contract between the wiring and the plug-ins."""
        cfg = self.config
        env = {
            "POWERTOOLS_SERVICE_NAME": plugin.name,
            "POWERTOOLS_METRICS_NAMESPACE": "PipelineKit",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "PIPELINE_ENV": cfg.name,
            "PIPELINE_STATUS_TTL_DAYS": str(cfg.tables.status_ttl_days),
            "PIPELINE_TABLE_IDEMPOTENCY": self.idempotency_table.table.name,
        }
        perms = plugin.permissions
        for purpose in dict.fromkeys((*perms.read_buckets, *perms.write_buckets, *perms.delete_buckets)):
            env[f"PIPELINE_BUCKET_{_env_key(purpose)}"] = self.buckets[purpose].bucket.bucket
        for topic in perms.publish_topics:
            env[f"PIPELINE_TOPIC_{_env_key(topic)}"] = self.topics[topic].topic.arn
        for table in perms.tables:
            t = self.status_table if table == "status" else self.idempotency_table
            env[f"PIPELINE_TABLE_{_env_key(table)}"] = t.table.name
        for param in perms.parameters:
            env[f"PIPELINE_PARAM_{_env_key(param)}"] = self.parameter_name(param)
        for target in plugin.produces:
            env[f"PIPELINE_QUEUE_{_env_key(target)}"] = self.stage_queues[target].queue.url
        env.update(plugin.environment)
        return env

    def timeout_of(self, plugin: PluginManifest) -> int:
        """The manifest's timeout, or the environment's default consumer timeout."""
        return plugin.runtime.timeout_seconds or self.config.queues.default_consumer_timeout_seconds

    def function_name(self, plugin: PluginManifest) -> str:
        return self.config.resource_name(plugin.name.replace("_", "-"))

    def _outputs(self, plugins: Sequence[PluginManifest]) -> None:
        TerraformOutput(self, "kms_key_arn", value=self.key.key.arn)
        for purpose, bucket in self.buckets.items():
            TerraformOutput(self, f"bucket_{purpose.replace('-', '_')}", value=bucket.bucket.bucket)
        for name, stage in self.stage_queues.items():
            TerraformOutput(self, f"queue_{name}_url", value=stage.queue.url)
            TerraformOutput(self, f"queue_{name}_dlq_url", value=stage.dlq.url)
        for name, topic in self.topics.items():
            TerraformOutput(self, f"topic_{name.replace('-', '_')}_arn", value=topic.topic.arn)
        TerraformOutput(self, "table_status", value=self.status_table.table.name)
        TerraformOutput(self, "table_idempotency", value=self.idempotency_table.table.name)
        for name, fn in self.functions.items():
            TerraformOutput(self, f"function_{name}", value=fn.function.function_name)


def _env_key(name: str) -> str:
    return name.upper().replace("-", "_")
