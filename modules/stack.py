"""The pipeline stack: one per environment. All wiring between constructs happens here.

The stack receives a validated :class:`environments.EnvironmentConfig` (values only: it never
looks at the environment's name) and the plug-in manifests, and builds:
KMS key → buckets → stage queues (+DLQs) → landing notifications → topics → tables → log groups.
"""

from __future__ import annotations

from typing import Sequence

from cdktf import TerraformOutput, TerraformStack
from constructs import Construct

from environments.config import EnvironmentConfig

from .kms import EnvironmentKey
from .logs import LogGroup
from .plugins import BUCKETS, PluginManifest
from .providers import EmulatorEndpoint, aws_provider, local_state, pin_aws_provider, s3_state
from .queues import BucketEventsToQueue, StageQueue
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

        prot = cfg.protection
        self.key = EnvironmentKey(
            self, "key",
            alias_name=cfg.resource_name("data"),
            account_id=cfg.account_id,
            region=cfg.region,
            deletion_window_days=prot.kms_deletion_window_days,
            prevent_destroy=prot.prevent_destroy,
        )
        key_arn = self.key.key.arn

        self.buckets: dict[str, DataBucket] = {}
        for purpose in BUCKETS:
            glacier = None
            if purpose in ("archive", "audit"):
                glacier = GlacierLifecycle(transition_days=cfg.storage.glacier_transition_days,
                                           expiration_days=cfg.storage.archive_expiration_days)
            self.buckets[purpose] = DataBucket(
                self, f"bucket-{purpose}",
                name=cfg.bucket_name(purpose),
                kms_key_arn=key_arn,
                force_destroy=prot.force_destroy,
                prevent_destroy=prot.prevent_destroy,
                deny_insecure_transport=cfg.storage.deny_insecure_transport,
                noncurrent_version_expiration_days=cfg.storage.noncurrent_version_expiration_days,
                glacier=glacier,
            )

        self.stage_queues: dict[str, StageQueue] = {}
        self.log_groups: dict[str, LogGroup] = {}
        for plugin in plugins:
            self.stage_queues[plugin.name] = StageQueue(
                self, f"queue-{plugin.name}",
                name=cfg.resource_name(plugin.name.replace("_", "-")),
                kms_key_arn=key_arn,
                consumer_timeout_seconds=plugin.runtime.timeout_seconds,
                message_retention_seconds=cfg.queues.message_retention_seconds,
                dlq_retention_seconds=cfg.queues.dlq_retention_seconds,
                max_receive_count=cfg.queues.max_receive_count,
                prevent_destroy=prot.prevent_destroy,
                ignore_redrive_policy_changes=cfg.on_emulator,
            )
            self.log_groups[plugin.name] = LogGroup(
                self, f"logs-{plugin.name}",
                name=f"/aws/lambda/{self.function_name(plugin)}",
                retention_days=cfg.log_retention_days,
                kms_key_arn=key_arn,
            )
        entry = [p for p in plugins if p.consumes_landing]
        if entry:
            first = self.stage_queues[entry[0].name]
            self.landing_events = BucketEventsToQueue(
                self, "landing-events",
                bucket=self.buckets["landing"].bucket,
                queue=first.queue,
                account_id=cfg.account_id,
            )

        self.topics = {name: Topic(self, f"topic-{name}", name=cfg.resource_name(name), kms_key_arn=key_arn)
                       for name in TOPICS}

        protection = TableProtection(
            point_in_time_recovery=prot.point_in_time_recovery,
            deletion_protection=prot.deletion_protection,
            prevent_destroy=prot.prevent_destroy,
        )
        capacity = Capacity(billing_mode=cfg.tables.billing_mode, read_capacity=cfg.tables.read_capacity,
                            write_capacity=cfg.tables.write_capacity)
        self.status_table = StatusTable(self, "table-status", name=cfg.resource_name("status"),
                                        kms_key_arn=key_arn, protection=protection, capacity=capacity)
        self.idempotency_table = IdempotencyTable(self, "table-idempotency", name=cfg.resource_name("idempotency"),
                                                  kms_key_arn=key_arn, protection=protection, capacity=capacity)
        self._outputs(plugins)

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
