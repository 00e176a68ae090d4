"""The pipeline stack: one per environment. It composes; it holds no per-plug-in logic.

The stack receives a validated :class:`environments.EnvironmentConfig` (values only: it never
looks at the environment's name) and the plug-in manifests, and builds the shared pipeline:
KMS key → buckets → every stage's queue (+DLQ) → topics → tables → catalog → Athena → network →
warehouse → Batch compute → the Powertools layer, then hands a frozen
:class:`modules.stage.PipelineRefs` to one :class:`modules.stage.PluginStage` per plug-in (its
function, role, log group, alarms, event source, job definition, API), then the dashboard, audit
trail, backup, the optional services (:class:`modules.services.ServiceContext`) and the outputs.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from cdktf import TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.lambda_layer_version import LambdaLayerVersion
from constructs import Construct

from environments.config import EnvironmentConfig
from environments.sections.services import EMULATOR_APPLIES

from .athena import AthenaWorkgroup, NamedQueries
from .audit import AuditTrail, SecurityAlarms, cloudtrail_bucket_statements, cloudtrail_key_statements, trail_arn
from .backup import BackupProtection, BackupScope
from .batch import FargateBatch, ImageRepository, JobFailureAlerts
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
from .functions import FunctionCode, FunctionNetwork, interface_services_for
from .kms import EnvironmentKey
from .network import DEFAULT_INTERFACE_SERVICES, FlowLogSettings, PrivateNetwork
from .notifications import DlqAlarm, HttpDelivery, Subscriber, TopicSubscribers
from .observability import PipelineDashboard
from .plugins import BUCKETS, PluginManifest
from .powertools import POWERTOOLS_VERSION, PYTHON_TAG, official_layer_arn
from .providers import EmulatorEndpoint, aws_provider, local_state, pin_aws_provider, s3_state
from .queues import StageQueue
from .redshift import LOG_TYPES as REDSHIFT_LOG_TYPES
from .redshift import Warehouse
from .services import BucketRef, NetworkRefs, ServiceContext, TableRef
from .stage import BatchTarget, PipelineRefs, PluginStage, queue_ref, stage_queues
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
    ``idempotency_table``, ``stages[plugin]`` (and from them ``log_groups``, ``functions``,
    ``job_definitions``, ``api``)."""

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
        # Every stage's address first: the stages upstream of a stage send to its queue.
        self.stage_queues: dict[str, StageQueue] = stage_queues(self, manifests=self.plugins, config=cfg,
                                                                kms_key_arn=self.key_arn)
        self._topics_and_tables()
        self._catalog()
        self._query()
        self._network()
        self._warehouse()
        self.image_repository = self.batch = None
        layer_arn = None
        if code is not None:
            self._batch()
            layer_arn = self._layer(code, local_layer)
        refs = self.pipeline_refs(layer_arn=layer_arn)
        self.stages = {p.name: PluginStage(self, manifest=p, config=cfg, refs=refs,
                                           code=code[p.name] if code is not None else None)
                       for p in self.plugins}
        self.log_groups = {n: s.log_group for n, s in self.stages.items()}
        self.functions = {n: s.function for n, s in self.stages.items() if s.function is not None}
        self.job_definitions = {n: s.job_definition for n, s in self.stages.items() if s.job_definition is not None}
        self.api = next((s.api for s in self.stages.values() if s.api is not None), None)
        self._observability()
        self._audit()
        self._backup()
        self._services()
        self._outputs()
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
        readers = [s.function.role.arn for s in self.stages.values()
                   if s.function is not None and s.manifest.permissions.athena]
        writers = [self.crawler_role.role.arn] + ([self.etl_role.role.arn] if self.etl_role is not None else [])
        return ServiceContext(
            name_prefix=cfg.name_prefix, region=cfg.region, account_id=cfg.account_id, kms_key_arn=self.key_arn,
            log_retention_days=cfg.log_retention_days, deletion_protection=cfg.protection.deletion_protection,
            prevent_destroy=cfg.protection.prevent_destroy, on_emulator=cfg.on_emulator,
            buckets=self.bucket_refs(), tables=self.table_refs(),
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
        """The status writers call the status API's ``publishStatus`` mutation (each stage decides)."""
        for stage in self.stages.values():
            stage.announce_statuses(graphql_url=api.api.uris.lookup("GRAPHQL"), api_arn=api.api.arn)

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

    def _batch(self) -> None:
        """ECR repository, Fargate compute environment + job queue, and the failure alerts; each
        batch-capable plug-in's job definition is its stage's (``PluginStage``)."""
        cfg = self.config
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

    def _observability(self) -> None:
        """Dashboard and rejected-rows alarms per dataset (each stage has its error-log alarm)."""
        cfg = self.config
        stages = [r for r in (s.dashboard_refs() for s in self.stages.values()) if r is not None]
        self.dashboard = PipelineDashboard(self, "dashboard", name=cfg.resource_name("pipeline"), region=cfg.region,
                                           stages=stages, datasets=self.datasets,
                                           metrics_namespace=self.metrics_namespace,
                                           period_seconds=cfg.alarms.period_seconds)
        self.rejected_alarms = {
            d: alarm for s in self.stages.values()
            for d, alarm in s.rejected_rows_alarms(self.datasets, period_seconds=cfg.alarms.period_seconds,
                                                   evaluation_periods=cfg.alarms.evaluation_periods).items()
        }

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

    def _layer(self, code: Mapping[str, FunctionCode], local_layer: FunctionCode | None) -> str:
        """The Powertools layer the functions use: AWS's own, or on the emulator the kit's build."""
        cfg = self.config
        missing = [p.name for p in self.plugins if p.name not in code]
        if missing:
            raise ValueError(f"no packaged artifact for plug-in(s): {', '.join(missing)}")
        arch = cfg.compute.lambda_architecture
        if not cfg.on_emulator:
            return official_layer_arn(cfg.region, arch)
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
        return layer.arn

    def bucket_refs(self) -> dict[str, BucketRef]:
        return {k: BucketRef(name=b.bucket.bucket, arn=b.bucket.arn, id=b.bucket.id) for k, b in self.buckets.items()}

    def table_refs(self) -> dict[str, TableRef]:
        return {"status": TableRef(name=self.status_table.table.name, arn=self.status_table.table.arn),
                "idempotency": TableRef(name=self.idempotency_table.table.name, arn=self.idempotency_table.table.arn)}

    def pipeline_refs(self, *, layer_arn: str | None) -> PipelineRefs:
        """What a plug-in stage attaches to (see ``modules/stage``)."""
        net = self.network
        batch = None
        if self.batch is not None and self.image_repository is not None:
            batch = BatchTarget(job_queue_arn=self.batch.job_queue.arn,
                                image=f"{self.image_repository.repository.repository_url}:{self.release_id}",
                                repository_arn=self.image_repository.repository.arn)
        return PipelineRefs(
            kms_key_arn=self.key_arn, buckets=self.bucket_refs(),
            topics={k: t.topic.arn for k, t in self.topics.items()}, tables=self.table_refs(),
            stage_queues={k: queue_ref(q) for k, q in self.stage_queues.items()},
            athena_workgroup_name=self.workgroup.workgroup.name, athena_workgroup_arn=self.workgroup.workgroup.arn,
            glue_clean_database=self.databases.clean.name, glue_clean_database_name=self.clean_database_name,
            metrics_namespace=self.metrics_namespace,
            network=FunctionNetwork(subnet_ids=net.private_subnet_ids, security_group_ids=[net.workloads.id],
                                    vpc_id=net.vpc.id) if net is not None else None,
            layer_arn=layer_arn, batch=batch,
        )

    def _outputs(self) -> None:
        """The environment's outputs (each stage adds its own: queues, function, job definition)."""
        TerraformOutput(self, "kms_key_arn", value=self.key.key.arn,
                        description="ARN of the environment's KMS key (buckets, queues, topics, tables, logs)")
        for purpose, bucket in self.buckets.items():
            TerraformOutput(self, f"bucket_{purpose.replace('-', '_')}", value=bucket.bucket.bucket,
                            description=f"Name of the {purpose} S3 bucket")
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
        if self.batch is not None:
            TerraformOutput(self, "batch_job_queue", value=self.batch.job_queue.arn,
                            description="ARN of the AWS Batch job queue (Fargate) of the batch-capable plug-ins")
            TerraformOutput(self, "image_repository_url", value=self.image_repository.repository.repository_url,
                            description="URL of the ECR repository of the Batch container image (make image-push)")

