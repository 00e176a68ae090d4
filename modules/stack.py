"""The pipeline stack: one per environment. All wiring between constructs happens here.

The stack receives a validated :class:`environments.EnvironmentConfig` (values only: it never
looks at the environment's name) and the plug-in manifests, and builds:
KMS key → buckets → stage queues (+DLQs) → landing notifications → topics → tables → log groups.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from cdktf import TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.lambda_layer_version import LambdaLayerVersion
from constructs import Construct

from environments.config import EnvironmentConfig
from environments.sections.services import EMULATOR_APPLIES

from .api import RestApi
from .athena import AthenaWorkgroup, NamedQueries
from .audit import AuditTrail, SecurityAlarms, cloudtrail_bucket_statements, cloudtrail_key_statements, trail_arn
from .backup import BackupProtection, BackupScope
from .batch import FargateBatch, ImageRepository, JobFailureAlerts, JobSizing, PluginJobDefinition, job_environment
from .catalog import (
    FILE_STATUS_COLUMNS,
    QUARANTINE_REPORT_COLUMNS,
    CatalogDatabases,
    CompactedTable,
    CrawlerRole,
    DatasetCrawler,
    DatasetTable,
    GlueEncryption,
    JsonLogTable,
    SchemaRegistry,
    glue_database_name,
    registry_name,
)
from .etl import CompactionJob, GlueJobRole
from .functions import (
    AlarmSettings,
    BatchRefs,
    FunctionCode,
    FunctionNetwork,
    PluginFunction,
    QueueRefs,
    ResourceArns,
    interface_services_for,
    policy_statements,
)
from .kms import EnvironmentKey
from .logs import LogGroup
from .network import DEFAULT_INTERFACE_SERVICES, FlowLogSettings, PrivateNetwork
from .notifications import DlqAlarm, HttpDelivery, Subscriber, TopicSubscribers
from .observability import ErrorLogMetricFilter, PipelineDashboard, RejectedRowsAlarm, StageRefs
from .plugins import BUCKETS, PluginManifest
from .policy import policy_json
from .powertools import POWERTOOLS_VERSION, PYTHON_TAG, official_layer_arn
from .providers import EmulatorEndpoint, aws_provider, local_state, pin_aws_provider, s3_state
from .queues import BucketEventsToQueue, StageQueue, TopicToQueue
from .redshift import LOG_TYPES as REDSHIFT_LOG_TYPES
from .redshift import Warehouse
from .services import BucketRef, NetworkRefs, ServiceContext, TableRef
from .storage import DataBucket, GlacierLifecycle
from .tables import Capacity, IdempotencyTable, StatusTable, TableProtection
from .topics import ServicePublisher, Topic

TOPICS = ("pipeline-events", "alarms")
#: Buckets holding pipeline data (backed up, unlike athena-results and audit).
DATA_BUCKETS = ("landing", "clean", "quarantine", "archive")
#: The tag AWS Backup selects by.
BACKUP_TAG = "Backup"


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
        datasets: Sequence[Any] = (),
        code: Mapping[str, FunctionCode] | None = None,
        artifact_keys: Mapping[str, str] | None = None,
        local_layer: FunctionCode | None = None,
        local_state_path: str | None = None,
        release_id: str | None = None,
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
        #: Dataset specs (glue.specs.DatasetSpec): name, columns, format — from the contracts.
        self.specs = list(datasets)
        self.datasets = [d.name for d in self.specs]
        self.artifact_keys = dict(artifact_keys or {})
        #: The release being deployed: the Batch job definitions run its container image tag.
        self.release_id = release_id
        self.trail_name = cfg.resource_name("trail")
        self.key_arn = self._key()
        self._buckets()
        self._queues()
        self._topics_and_tables()
        self._catalog()
        self._query()
        self._network()
        self._warehouse()
        self.functions: dict[str, PluginFunction] = {}
        self.job_definitions: dict[str, PluginJobDefinition] = {}
        if code is not None:
            self._batch(self.plugins)
            self._functions(self.plugins, code, local_layer)
            self._api()
        self._observability()
        self._audit()
        self._backup()
        self._services()
        self._outputs(self.plugins)
        if cfg.ci is not None:
            # The GitHub deploy role may only create and change roles that carry this boundary.
            from environments.sections.ci import workload_boundary_arn

            from .boundary import bound_every_role
            bound_every_role(self, policy_arn=workload_boundary_arn(
                region=cfg.region, account_id=cfg.account_id, name_prefix=cfg.name_prefix))

    @property
    def metrics_namespace(self) -> str:
        """The plug-ins' EMF namespace: one per environment (dev and test may share an account)."""
        return f"PipelineKit/{self.config.name_prefix}"

    @property
    def backup_tags(self) -> dict[str, str]:
        return {BACKUP_TAG: self.config.name_prefix} if self.config.backup.enabled else {}

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
            extra_statements=cloudtrail_key_statements(
                account_id=cfg.account_id,
                trail_arns=[trail_arn(name=self.trail_name, region=cfg.region, account_id=cfg.account_id)],
            ) if cfg.audit.cloudtrail else (),
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
                extra_policy_statements=cloudtrail_bucket_statements(
                    bucket_arn=f"arn:aws:s3:::{cfg.bucket_name(purpose)}", account_id=cfg.account_id,
                    region=cfg.region, trail_name=self.trail_name,
                ) if purpose == "audit" and cfg.audit.cloudtrail else (),
                tags=self.backup_tags if purpose in DATA_BUCKETS else None,
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
        # The alarms topic: CloudWatch alarms of this environment publish (more publishers, e.g.
        # the Batch failure rule, are added where they are built).
        alarms = ServicePublisher(sid="AlarmsFromCloudWatch", service="cloudwatch.amazonaws.com",
                                  source_arn=f"arn:aws:cloudwatch:{cfg.region}:{cfg.account_id}:alarm:{cfg.name_prefix}-*",
                                  account_id=cfg.account_id)
        self.topics = {name: Topic(self, f"topic-{name}", name=cfg.resource_name(name), kms_key_arn=self.key_arn,
                                   account_id=cfg.account_id, publishers=(alarms,) if name == "alarms" else ())
                       for name in TOPICS}
        self._subscribers()
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
                                        kms_key_arn=self.key_arn, protection=protection, capacity=capacity,
                                        tags=self.backup_tags)
        self.idempotency_table = IdempotencyTable(self, "table-idempotency", name=cfg.resource_name("idempotency"),
                                                  kms_key_arn=self.key_arn, protection=protection, capacity=capacity,
                                                  tags=self.backup_tags)

    def _subscribers(self) -> None:
        """``[notifications]``: who is subscribed to the alarms and pipeline-events topics, each
        topic with a delivery DLQ (and its alarm) once it has a subscriber."""
        cfg, n = self.config, self.config.notifications
        http = HttpDelivery(num_retries=n.https_retries, max_delay_seconds=n.https_max_delay_seconds,
                            max_receives_per_second=n.https_max_receives_per_second)
        alarm = DlqAlarm(topic_arn=self.topics["alarms"].topic.arn, threshold=cfg.alarms.dlq_depth_threshold,
                         period_seconds=cfg.alarms.period_seconds, evaluation_periods=cfg.alarms.evaluation_periods)
        self.subscribers: dict[str, TopicSubscribers] = {}
        for topic, entries in (("alarms", n.alarms), ("pipeline-events", n.events)):
            if entries:
                self.subscribers[topic] = TopicSubscribers(
                    self, f"subscribers-{topic}", topic=self.topics[topic].topic,
                    subscribers=[Subscriber(protocol=s.sns_protocol, endpoint=s.endpoint, filter_policy=s.filter_policy,
                                            raw_message_delivery=s.raw_message_delivery) for s in entries],
                    dlq_name=cfg.resource_name(topic, "delivery", "dlq"), kms_key_arn=self.key_arn,
                    account_id=cfg.account_id, alarm=alarm, http_delivery=http,
                    prevent_destroy=cfg.protection.prevent_destroy)

    def _catalog(self) -> None:
        """Glue: raw and clean databases, a table per dataset generated from its contract (Athena
        reads clean data at once, through partition projection), the Parquet table the ETL job
        fills, a crawler per dataset, the schema registry (BACKWARD), the compaction job."""
        cfg = self.config
        clean_bucket = self.buckets["clean"].bucket
        self.databases = CatalogDatabases(self, "catalog", name_prefix=cfg.name_prefix)
        self.clean_database_name = glue_database_name(cfg.name_prefix, "clean")
        self.tables = {s.name: DatasetTable(self, f"table-{s.name}", database_name=self.databases.clean.name,
                                            dataset=s, bucket_name=clean_bucket.bucket)
                       for s in self.specs}
        self.compacted_tables = {s.name: CompactedTable(self, f"parquet-table-{s.name}",
                                                        database_name=self.databases.clean.name, dataset=s,
                                                        bucket_name=clean_bucket.bucket)
                                 for s in self.specs}
        self.reports_table = self.status_history_table = None
        if self.datasets:
            self.reports_table = JsonLogTable(
                self, "table-quarantine-reports", database_name=self.databases.clean.name, name="quarantine_reports",
                location=f"s3://{self.buckets['quarantine'].bucket.bucket}/_reports/", columns=QUARANTINE_REPORT_COLUMNS,
                datasets=self.datasets, description="validate's quarantine reports, one JSON line per file")
            self.status_history_table = JsonLogTable(
                self, "table-file-status", database_name=self.databases.clean.name, name="file_status",
                location=f"s3://{self.buckets['clean'].bucket.bucket}/_status/", columns=FILE_STATUS_COLUMNS,
                datasets=self.datasets, description="notify's outcome per file and status, one JSON line each")
        # Glue's security configuration: S3 and its logs with the environment key, job bookmarks
        # (client-side: the job itself calls KMS) with a key of their own.
        self.bookmarks_key = EnvironmentKey(
            self, "glue-bookmarks-key", alias_name=cfg.resource_name("glue-bookmarks"), account_id=cfg.account_id,
            region=cfg.region, deletion_window_days=cfg.protection.kms_deletion_window_days,
            prevent_destroy=cfg.protection.prevent_destroy, service_principals=(), cloudwatch_logs=False,
            description=f"pipeline-kit Glue job bookmarks ({cfg.name_prefix})")
        self.glue_encryption = GlueEncryption(self, "glue-encryption", name=cfg.resource_name("glue"),
                                              kms_key_arn=self.key_arn, bookmarks_kms_key_arn=self.bookmarks_key.key.arn)
        secconf = self.glue_encryption.name
        self.crawler_role = CrawlerRole(self, "crawler-role", name=cfg.resource_name("crawler"),
                                        clean_bucket_arn=clean_bucket.arn, kms_key_arn=self.key_arn, region=cfg.region,
                                        account_id=cfg.account_id, database=self.clean_database_name,
                                        security_configuration=secconf)
        self.crawlers = {s.name: DatasetCrawler(self, f"crawler-{s.name}", name=cfg.resource_name(s.name.replace("_", "-"), "crawler"),
                                                database_name=self.databases.clean.name, dataset=s,
                                                bucket_name=clean_bucket.bucket, role_arn=self.crawler_role.role.arn,
                                                schedule=cfg.catalog.crawler_schedule or None,
                                                security_configuration=self.glue_encryption.configuration.name)
                         for s in self.specs}
        self.registry = SchemaRegistry(self, "schema-registry", name=registry_name(cfg.name_prefix), datasets=self.specs,
                                       ignore_tag_changes=cfg.on_emulator)
        self.compaction = self.etl_role = None
        script, library = self.artifact_keys.get("glue-script"), self.artifact_keys.get("glue-library")
        if script and library:
            artifacts_bucket = cfg.bucket_name("artifacts")
            role = self.etl_role = GlueJobRole(self, "etl-role", name=cfg.resource_name("etl"), clean_bucket_arn=clean_bucket.arn,
                               artifacts_bucket_arn=f"arn:aws:s3:::{artifacts_bucket}",
                               artifact_keys=[script, library], kms_key_arns=[self.key_arn], region=cfg.region,
                               account_id=cfg.account_id, security_configuration=secconf,
                               bookmarks_kms_key_arn=self.bookmarks_key.key.arn)
            self.compaction = CompactionJob(
                self, "etl", name=cfg.resource_name("compact-clean"), role_arn=role.role.arn,
                script_bucket=artifacts_bucket, script_key=script, library_key=library, datasets=self.specs,
                clean_bucket=clean_bucket.bucket, worker_type=cfg.catalog.etl_worker_type,
                number_of_workers=cfg.catalog.etl_number_of_workers, timeout_minutes=cfg.catalog.etl_timeout_minutes,
                schedule=cfg.catalog.etl_schedule or None,
                security_configuration=self.glue_encryption.configuration.name,
                # The emulator has no UpdateJob; on AWS a replaced job would lose its bookmark.
                replace_on_change=cfg.on_emulator,
            )

    def _query(self) -> None:
        cfg = self.config
        self.workgroup = AthenaWorkgroup(
            self, "athena", name=cfg.resource_name("analytics"),
            results_bucket_name=self.buckets["athena-results"].bucket.bucket, kms_key_arn=self.key_arn,
            bytes_scanned_cutoff_per_query=cfg.query.bytes_scanned_cutoff_per_query,
            force_destroy=cfg.protection.force_destroy)
        self.named_queries = NamedQueries(
            self, "named-queries", workgroup_name=self.workgroup.workgroup.name,
            database_name=self.databases.clean.name, datasets=self.datasets,
            table_name_for={name: t.table.name for name, t in self.tables.items()},
            reports_table=self.reports_table.table.name if self.reports_table else "quarantine_reports",
            status_table=self.status_history_table.table.name if self.status_history_table else "file_status")

    def _network(self) -> None:
        """The private network: the plug-in functions run in it (required in AWS environments),
        and Batch, Redshift and the data services need it."""
        cfg = self.config
        self.network = None
        if not cfg.network.enabled:
            return
        self.network = PrivateNetwork(
            self, "network", name=cfg.name_prefix, cidr=cfg.network.cidr,
            availability_zones=cfg.network.availability_zones, zone_names=cfg.network.zones or None,
            region=cfg.region, account_id=cfg.account_id,
            kms_key_arn=self.key_arn,
            flow_logs=FlowLogSettings(retention_days=cfg.log_retention_days, traffic_type=cfg.network.flow_log_traffic),
            # The emulator drops security group rule descriptions (a perpetual diff).
            rule_descriptions=not cfg.on_emulator,
            # Redshift Spectrum reads the Glue catalog: with no NAT, through a Glue endpoint.
            interface_services=self.interface_services(),
            trusted_resources=self.endpoint_trusted_resources(),
        )

    def interface_services(self) -> tuple[str, ...]:
        """The interface endpoints: the Batch jobs' set, what the plug-ins' functions call from the
        private subnets (``interface_services_for``: SNS, Athena, Batch), Glue for Redshift
        Spectrum and Secrets Manager for DMS (it reads the source's credentials from the VPC)."""
        cfg = self.config
        functions = [s for p in self.plugins for s in interface_services_for(p, batch_enabled=cfg.batch.enabled)]
        extra = (("glue",) if cfg.redshift.enabled else ()) + (("secretsmanager",) if cfg.services.dms.enabled else ())
        return tuple(dict.fromkeys((*DEFAULT_INTERFACE_SERVICES, *functions, *extra)))

    def endpoint_trusted_resources(self) -> dict[str, list[str]]:
        """Resources of another account the interface endpoints must still admit: the DMS source
        secret when it is shared from another account."""
        cfg = self.config
        secret = cfg.services.dms.source_secret_arn if cfg.services.dms.enabled else ""
        if secret and secret.split(":")[4:5] != [cfg.account_id]:
            return {"secretsmanager": [secret]}
        return {}

    def service_context(self) -> ServiceContext:
        """What an optional data service attaches to (see ``modules/services``)."""
        cfg = self.config
        net = self.network
        readers = [fn.role.arn for p, fn in self.functions.items()
                   if any(m.name == p and m.permissions.athena for m in self.plugins)]
        writers = [self.crawler_role.role.arn] + ([self.etl_role.role.arn] if self.etl_role is not None else [])
        return ServiceContext(
            name_prefix=cfg.name_prefix, region=cfg.region, account_id=cfg.account_id, kms_key_arn=self.key_arn,
            log_retention_days=cfg.log_retention_days, deletion_protection=cfg.protection.deletion_protection,
            prevent_destroy=cfg.protection.prevent_destroy, on_emulator=cfg.on_emulator,
            buckets={k: BucketRef(name=b.bucket.bucket, arn=b.bucket.arn) for k, b in self.buckets.items()},
            tables={"status": TableRef(name=self.status_table.table.name, arn=self.status_table.table.arn),
                    "idempotency": TableRef(name=self.idempotency_table.table.name,
                                            arn=self.idempotency_table.table.arn)},
            glue_clean_database=self.databases.clean.name, glue_raw_database=self.databases.raw.name,
            schema_registry_name=registry_name(cfg.name_prefix), catalog_reader_role_arns=readers,
            catalog_writer_role_arns=writers, datasets=self.datasets, artifacts_bucket=cfg.bucket_name("artifacts"),
            artifact_keys=self.artifact_keys, alarm_topic_arn=self.topics["alarms"].topic.arn,
            network=NetworkRefs(vpc_id=net.vpc.id, vpc_cidr=net.cidr, private_subnet_ids=net.private_subnet_ids,
                                client_security_group_ids=net.client_security_group_ids) if net is not None else None,
            backup_tags=self.backup_tags,
            glue_security_configuration=self.glue_encryption.configuration.name,
        )

    def _services(self) -> None:
        """The optional data services switched on in ``[services.*]`` (none by default)."""
        cfg = self.config
        self.services: dict[str, Any] = {}
        enabled = cfg.services.enabled()
        if cfg.on_emulator:
            # What the emulator cannot create is proven by `terraform validate` of the AWS stacks.
            enabled = [n for n in enabled if n in EMULATOR_APPLIES]
        if not enabled:
            return
        from .services import cache, documents, governance, graphql, migration, search, streaming, timeseries

        wiring = {
            "elasticache": cache.wire_elasticache, "memorydb": cache.wire_memorydb,
            "documentdb": documents.wire_documentdb, "neptune": documents.wire_neptune,
            "opensearch": search.wire_opensearch, "timestream": timeseries.wire_timestream,
            "dms": migration.wire_dms, "appsync": graphql.wire_appsync,
            "lakeformation": governance.wire_lakeformation, "datazone": governance.wire_datazone,
        }
        ctx = self.service_context()
        for name in enabled:
            section = getattr(cfg.services, name)
            if name == "streaming":
                self.services[name] = streaming.wire_streaming(self, section, ctx, specs=self.specs)
            else:
                self.services[name] = wiring[name](self, section, ctx)
        if "appsync" in self.services:
            self._announce_statuses(self.services["appsync"])

    def _announce_statuses(self, api) -> None:
        """The status writers (plug-ins writing the status table: notify) call the status API's
        ``publishStatus`` mutation after each write, so that subscriptions fire: the API's URL in
        their environment, and permission for that one mutation field."""
        from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy

        from .services.graphql import publisher_statements

        for plugin in self.plugins:
            fn = self.functions.get(plugin.name)
            # A stage (it has a queue) with the status table writes statuses; the API only reads them.
            if fn is None or not plugin.has_queue or "status" not in plugin.permissions.tables:
                continue
            fn.function.add_override("environment.variables.PIPELINE_STATUS_GRAPHQL_URL",
                                     api.api.uris.lookup("GRAPHQL"))
            IamRolePolicy(self, f"announce-statuses-{plugin.name}", role=fn.role.id, name="announce-statuses",
                          policy=policy_json(publisher_statements(api.api.arn)))

    def _warehouse(self) -> None:
        """Redshift Serverless over the clean zone (Spectrum) with a nightly curated load."""
        cfg, r = self.config, self.config.redshift
        self.warehouse = None
        if not r.enabled:
            return
        if self.network is None:
            raise ValueError("Redshift needs the private network ([network] enabled = true)")
        net, clean = self.network, self.buckets["clean"].bucket
        self.warehouse = Warehouse(
            self, "warehouse", name=cfg.resource_name("warehouse"), kms_key_arn=self.key_arn,
            vpc_id=net.vpc.id, vpc_cidr=cfg.network.cidr, subnet_ids=net.private_subnet_ids,
            client_security_group_ids=net.client_security_group_ids,
            s3_prefix_list_id=net.gateway_endpoints["s3"].prefix_list_id,
            extra_security_group_ids=[net.data_clients.id],
            base_capacity_rpus=r.base_capacity_rpus, max_capacity_rpus=r.max_capacity_rpus,
            database_name=r.database_name, admin_username=r.admin_username,
            enhanced_vpc_routing=r.enhanced_vpc_routing, clean_bucket_arn=clean.arn, clean_bucket_name=clean.bucket,
            glue_database_name=self.clean_database_name, region=cfg.region, account_id=cfg.account_id,
            datasets=self.specs, prevent_destroy=cfg.protection.prevent_destroy,
            log_retention_days=cfg.log_retention_days,
            log_exports=REDSHIFT_LOG_TYPES if r.user_activity_log else ("connectionlog", "userlog"),
            external_schema=r.external_schema, curated_schema=r.curated_schema,
            load_schedule=r.load_schedule or None,
        )

    def batch_plugins(self, plugins: Sequence[PluginManifest]) -> list[PluginManifest]:
        """Plug-ins whose large objects go to Batch (manifest ``[runtime] batch = true``)."""
        if not self.config.batch.enabled:
            return []
        return [p for p in plugins if getattr(p.runtime, "batch", False)]

    def _batch(self, plugins: Sequence[PluginManifest]) -> None:
        """ECR repository, Fargate compute environment + job queue, a job definition per
        batch-capable plug-in running this release's image."""
        cfg = self.config
        self.image_repository = self.batch = None
        chosen = self.batch_plugins(plugins)
        if not cfg.batch.enabled:
            return
        if self.network is None:
            raise ValueError("Batch needs the private network ([network] enabled = true)")
        if not self.release_id:
            raise ValueError("Batch job definitions need the release id (the image tag)")
        b = cfg.batch
        self.image_repository = ImageRepository(
            self, "images", name=cfg.resource_name("plugins"), kms_key_arn=self.key_arn, keep_images=b.keep_images,
            force_delete=cfg.protection.force_destroy, prevent_destroy=cfg.protection.prevent_destroy,
            reader_role_arns=cfg.promotion.reader_role_arns)
        self.batch = FargateBatch(self, "batch", name=cfg.resource_name("batch"),
                                  subnet_ids=self.network.private_subnet_ids,
                                  security_group_ids=[self.network.workloads.id], max_vcpus=b.max_vcpus,
                                  spot=b.capacity == "FARGATE_SPOT",
                                  # The emulator insists on a service role; AWS uses its linked role.
                                  own_service_role=cfg.on_emulator)
        self.batch_alerts = JobFailureAlerts(self, "batch-failures", name=cfg.resource_name("batch-job-failed"),
                                             job_queue_arn=self.batch.job_queue.arn,
                                             topic=self.topics["alarms"], account_id=cfg.account_id)
        image = f"{self.image_repository.repository.repository_url}:{self.release_id}"
        sizing = JobSizing(vcpus=b.job_vcpus, memory_mb=b.job_memory_mb, timeout_minutes=b.job_timeout_minutes,
                           attempts=b.job_attempts)
        # A job never routes (it is where routed work goes): no SubmitJob for job roles.
        arns = self.resource_arns(plugins)
        for plugin in chosen:
            name = cfg.resource_name(plugin.name.replace("_", "-"), "batch")
            jd = PluginJobDefinition(
                self, f"job-{plugin.name}", name=name, plugin=plugin.name, image=image,
                repository_arn=self.image_repository.repository.arn,
                environment=job_environment(plugin.name, self.function_environment(plugin),
                                            attempt_timeout_seconds=b.job_timeout_minutes * 60),
                job_statements=policy_statements(plugin, arns, input_queue_arn=None,
                                                 log_group_arn=f"arn:aws:logs:{cfg.region}:{cfg.account_id}:log-group:/aws/batch/{name}"),
                sizing=sizing, kms_key_arn=self.key_arn, log_retention_days=cfg.log_retention_days,
                region=cfg.region, account_id=cfg.account_id, architecture=cfg.compute.lambda_architecture)
            self.job_definitions[plugin.name] = jd

    def _api(self) -> None:
        """The REST API in front of the plug-in that consumes "api" (its routes from its core)."""
        cfg = self.config
        self.api = None
        api_plugins = [p for p in self.plugins if p.consumes_api]
        if not api_plugins:
            return
        plugin = api_plugins[0]
        core = _plugin_core(plugin)
        fn = self.functions[plugin.name].function
        access_logs = LogGroup(self, "api-access-logs", name=f"/aws/apigateway/{cfg.resource_name('api')}/access",
                               retention_days=cfg.log_retention_days, kms_key_arn=self.key_arn)
        self.api = RestApi(
            self, "api", name=cfg.resource_name("api"), function_arn=fn.arn, function_name=fn.function_name,
            function_invoke_arn=fn.invoke_arn, routes=core.ROUTES,
            request_models={("POST", "/queries"): core.QUERY_REQUEST_SCHEMA,
                            ("POST", "/datasets/{name}/files"): core.UPLOAD_REQUEST_SCHEMA},
            # The cleanse route's text bodies (CSV, JSON Lines) reach the function byte for byte
            # (base64, ``isBase64Encoded``): it checks the UTF-8 itself and answers 400, never 500.
            binary_media_types=sorted(set(core.FORMAT_CONTENT_TYPES.values())),
            throttling_rate_limit=cfg.query.api_throttling_rate_limit,
            throttling_burst_limit=cfg.query.api_throttling_burst_limit,
            access_log_group_arn=access_logs.log_group.arn)

    def _observability(self) -> None:
        """Dashboard, error-log metric filters with alarms, rejected-rows alarms per dataset."""
        cfg = self.config
        alarms_topic = self.topics["alarms"].topic.arn
        stages = [StageRefs(name=p.name, function_name=self.function_name(p),
                            queue_name=self.stage_queues[p.name].queue.name,
                            dlq_name=self.stage_queues[p.name].dlq.name)
                  for p in self.plugins if p.has_queue]
        self.dashboard = PipelineDashboard(self, "dashboard", name=cfg.resource_name("pipeline"), region=cfg.region,
                                           stages=stages, datasets=self.datasets,
                                           metrics_namespace=self.metrics_namespace,
                                           period_seconds=cfg.alarms.period_seconds)
        self.error_filters = {
            p.name: ErrorLogMetricFilter(
                self, f"error-logs-{p.name}", name=f"{self.function_name(p)}-error-logs",
                log_group_name=self.log_groups[p.name].log_group.name, namespace=self.metrics_namespace,
                metric_name=f"ErrorLogs-{p.name}", alarm_topic_arn=alarms_topic,
                threshold=cfg.alarms.lambda_errors_threshold, period_seconds=cfg.alarms.period_seconds,
                evaluation_periods=cfg.alarms.evaluation_periods)
            for p in self.plugins
        }
        self.rejected_alarms = {
            d: RejectedRowsAlarm(self, f"rejected-rows-{d}", name=cfg.resource_name(d, "rejected-rows"), dataset=d,
                                 service="validate", alarm_topic_arn=alarms_topic,
                                 metrics_namespace=self.metrics_namespace, period_seconds=cfg.alarms.period_seconds,
                                 evaluation_periods=cfg.alarms.evaluation_periods)
            for d in self.datasets
        } if any(p.name == "validate" for p in self.plugins) else {}

    def _audit(self) -> None:
        """The trail: data events on every bucket but its own, delivery to CloudWatch Logs, and
        the CIS monitoring alarms on that log group into the alarms topic."""
        cfg, a = self.config, self.config.audit
        self.trail = self.security_alarms = None
        if not a.cloudtrail:
            return
        audit = self.buckets["audit"]
        data_buckets = [b.bucket.arn for k, b in self.buckets.items() if k != "audit"] if a.data_events else []
        self.trail = AuditTrail(self, "trail", name=self.trail_name, bucket_name=audit.bucket.bucket,
                                bucket_arn=audit.bucket.arn, kms_key_arn=self.key_arn, account_id=cfg.account_id,
                                region=cfg.region, data_event_bucket_arns=data_buckets, bucket_policy=audit.policy,
                                cloudwatch_logs_retention_days=cfg.log_retention_days if a.cloudwatch_logs else None)
        if a.security_alarms and self.trail.log_group is not None:
            self.security_alarms = SecurityAlarms(
                self, "security-alarms", name_prefix=cfg.name_prefix, log_group_name=self.trail.log_group.name,
                namespace=f"{self.metrics_namespace}/Security", topic_arn=self.topics["alarms"].topic.arn,
                period_seconds=cfg.alarms.period_seconds)

    def _backup(self) -> None:
        cfg = self.config
        self.backup = None
        if not cfg.backup.enabled:
            return
        b = cfg.backup
        self.backup = BackupProtection(
            self, "backup", name=cfg.name_prefix, kms_key_arn=self.key_arn,
            daily_retention_days=b.daily_retention_days, weekly_retention_days=b.weekly_retention_days,
            selection_tag_key=BACKUP_TAG, selection_tag_value=cfg.name_prefix,
            vault_lock=b.vault_lock, vault_lock_min_retention_days=b.vault_lock_min_retention_days,
            vault_lock_max_retention_days=b.vault_lock_max_retention_days,
            # The emulator reads Backup tags back empty and has no backup selections.
            ignore_tag_drift=cfg.on_emulator, select_resources=not cfg.on_emulator,
            plan_name=b.plan_name,
            # what carries the Backup tag; a restore writes into a new, environment-named table/bucket
            protected=BackupScope(
                table_arns=[self.status_table.table.arn, self.idempotency_table.table.arn],
                bucket_arns=[self.buckets[p].bucket.arn for p in DATA_BUCKETS],
                restore_table_arns=[f"arn:aws:dynamodb:{cfg.region}:{cfg.account_id}:table/{cfg.name_prefix}-*"],
                restore_bucket_arns=[f"arn:aws:s3:::{cfg.name_prefix}-*-{cfg.account_id}"]),
            region=cfg.region, account_id=cfg.account_id,
        )

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
        arns = self.resource_arns(plugins)
        if self.job_definitions and self.batch is not None:
            arns = dataclasses.replace(arns, batch=BatchRefs(
                job_queue_arn=self.batch.job_queue.arn,
                job_definition_arns={p: jd.arn_without_revision for p, jd in self.job_definitions.items()}))
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
                environment=self.lambda_environment(plugin),
                alarms=alarms,
                # On the emulator an enabled mapping is executed by the emulator itself, which
                # deletes the messages without running the code: the local runner consumes instead.
                mapping_enabled=not cfg.on_emulator,
                advanced_logging=not cfg.on_emulator,
                reserved_concurrency=cfg.compute.lambda_reserved_concurrency,
                # In the private subnets, behind the endpoints, whenever the network is on.
                network=FunctionNetwork(subnet_ids=self.network.private_subnet_ids,
                                        security_group_ids=[self.network.workloads.id],
                                        vpc_id=self.network.vpc.id) if self.network is not None else None,
                region=cfg.region,
                account_id=cfg.account_id,
            )

    def resource_arns(self, plugins: Sequence[PluginManifest]) -> ResourceArns:
        """The ARNs the plug-ins' least-privilege policies name."""
        cfg = self.config
        params = sorted({p for m in plugins for p in m.permissions.parameters})
        return ResourceArns(
            buckets={k: b.bucket.arn for k, b in self.buckets.items()},
            topics={k: t.topic.arn for k, t in self.topics.items()},
            tables={"status": self.status_table.table.arn, "idempotency": self.idempotency_table.table.arn},
            parameters={p: f"arn:aws:ssm:{cfg.region}:{cfg.account_id}:parameter{self.parameter_name(p)}"
                        for p in params},
            queues={k: q.queue.arn for k, q in self.stage_queues.items()},
            kms_key=self.key.key.arn,
            region=cfg.region,
            athena_workgroup=self.workgroup.workgroup.arn,
            glue_catalog=(f"arn:aws:glue:{cfg.region}:{cfg.account_id}:catalog",
                          f"arn:aws:glue:{cfg.region}:{cfg.account_id}:database/{self.clean_database_name}",
                          f"arn:aws:glue:{cfg.region}:{cfg.account_id}:table/{self.clean_database_name}/*"),
        )

    def lambda_environment(self, plugin: PluginManifest) -> dict[str, str]:
        """The function's environment: the shared contract, plus where large objects go (Batch)."""
        env = self.function_environment(plugin)
        job = self.job_definitions.get(plugin.name)
        if job is not None and self.batch is not None:
            env.update({
                "PIPELINE_BATCH_JOB_QUEUE": self.batch.job_queue.arn,
                "PIPELINE_BATCH_JOB_DEFINITION": job.definition.arn,
                "PIPELINE_BATCH_ROUTE_ABOVE_BYTES": str(self.config.batch.route_above_bytes),
            })
        return env

    def function_environment(self, plugin: PluginManifest) -> dict[str, str]:
        """The environment-variable contract between the wiring and the plug-ins."""
        cfg = self.config
        env = {
            "POWERTOOLS_SERVICE_NAME": plugin.name,
            "POWERTOOLS_METRICS_NAMESPACE": self.metrics_namespace,
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
        if perms.athena:
            env["PIPELINE_ATHENA_WORKGROUP"] = self.workgroup.workgroup.name
            env["PIPELINE_GLUE_DATABASE"] = self.databases.clean.name
            env["PIPELINE_ATHENA_CLEAN_TABLE"] = "{dataset}"
        if plugin.consumes_api:  # the limits of the API's submission routes ([api]); the key uploads
            env.update(cfg.api.environment())  # are signed with (SSE-KMS in the presigned PUT)
            env["PIPELINE_KMS_KEY_ARN"] = self.key_arn
        env.update(plugin.environment)
        return env

    def timeout_of(self, plugin: PluginManifest) -> int:
        """The manifest's timeout, or the environment's default consumer timeout."""
        return plugin.runtime.timeout_seconds or self.config.queues.default_consumer_timeout_seconds

    def function_name(self, plugin: PluginManifest) -> str:
        return self.config.resource_name(plugin.name.replace("_", "-"))

    def _outputs(self, plugins: Sequence[PluginManifest]) -> None:
        TerraformOutput(self, "kms_key_arn", value=self.key.key.arn,
                        description="ARN of the environment's KMS key (buckets, queues, topics, tables, logs)")
        for purpose, bucket in self.buckets.items():
            TerraformOutput(self, f"bucket_{purpose.replace('-', '_')}", value=bucket.bucket.bucket,
                            description=f"Name of the {purpose} S3 bucket")
        for name, stage in self.stage_queues.items():
            TerraformOutput(self, f"queue_{name}_url", value=stage.queue.url,
                            description=f"URL of the SQS queue that feeds the {name} stage")
            TerraformOutput(self, f"queue_{name}_dlq_url", value=stage.dlq.url,
                            description=f"URL of the {name} stage's dead-letter queue (make redrive STAGE={name})")
        for name, topic in self.topics.items():
            TerraformOutput(self, f"topic_{name.replace('-', '_')}_arn", value=topic.topic.arn,
                            description=f"ARN of the {name} SNS topic")
        for name, subscribers in self.subscribers.items():
            TerraformOutput(self, f"topic_{name.replace('-', '_')}_delivery_dlq_url", value=subscribers.dlq.url,
                            description=f"URL of the queue holding what the {name} topic could not deliver")
        TerraformOutput(self, "table_status", value=self.status_table.table.name,
                        description="Name of the DynamoDB table of every file's status (make status)")
        TerraformOutput(self, "table_idempotency", value=self.idempotency_table.table.name,
                        description="Name of the DynamoDB table the stages record handled messages in")
        if self.network is not None:
            TerraformOutput(self, "vpc_id", value=self.network.vpc.id,
                            description="ID of the environment's VPC")
            TerraformOutput(self, "private_subnet_ids", value=self.network.private_subnet_ids,
                            description="IDs of the private subnets, one per availability zone")
            TerraformOutput(self, "security_group_data_clients", value=self.network.data_clients.id,
                            description="ID of the security group to attach to clients of the optional data stores")
        if getattr(self, "batch", None) is not None:
            TerraformOutput(self, "batch_job_queue", value=self.batch.job_queue.arn,
                            description="ARN of the AWS Batch job queue (Fargate) of the batch-capable plug-ins")
            TerraformOutput(self, "image_repository_url", value=self.image_repository.repository.repository_url,
                            description="URL of the ECR repository of the Batch container image (make image-push)")
            for name, job in self.job_definitions.items():
                TerraformOutput(self, f"batch_job_definition_{name}", value=job.definition.arn,
                                description=f"ARN of the Batch job definition that runs the {name} plug-in")
        for name, fn in self.functions.items():
            TerraformOutput(self, f"function_{name}", value=fn.function.function_name,
                            description=f"Name of the {name} Lambda function")


def _plugin_core(plugin: PluginManifest):
    """The plug-in's pure ``core`` module (no boto3, no AWS at import): the API routes live there."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"pipeline_plugin_core_{plugin.name}", plugin.directory / "core.py")
    if spec is None or spec.loader is None:
        raise ValueError(f"plug-in {plugin.name} has no core.py")
    import sys

    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    for attr in ("ROUTES", "QUERY_REQUEST_SCHEMA", "UPLOAD_REQUEST_SCHEMA", "FORMAT_CONTENT_TYPES"):
        if not hasattr(module, attr):
            raise ValueError(f"{plugin.directory / 'core.py'}: an API plug-in's core must define {attr}")
    return module


def _env_key(name: str) -> str:
    return name.upper().replace("-", "_")
