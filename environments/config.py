"""Typed, frozen, validated environment configuration.

Each environment is one TOML file in this folder (``local.toml``, ``dev.toml``, ...).
:func:`load_environment` parses it into an :class:`EnvironmentConfig` and validates every
field; any problem raises :class:`ConfigError` naming the file and the dotted field path.

Environment knowledge lives here and in ``main.py`` only: the modules receive plain values.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ._fields import _between, _check, _matches, _one_of  # noqa: F401
from .sections import ci as _ci
from .sections import notifications as _notifications
from .sections import services as _services
from .sections import warehouse
from .sections.api import ApiConfig
from .sections.ci import CiConfig
from .sections.notifications import NotificationsConfig
from .sections.services import ServicesConfig
from .sections.warehouse import RedshiftConfig

ENVIRONMENTS_DIR = Path(__file__).resolve().parent

#: Promotion order of the AWS environments; ``local`` sits outside it.
PROMOTION_ORDER = ("dev", "test", "staging", "prod")
ALL_ENVIRONMENTS = ("local", *PROMOTION_ORDER)
#: The account moto server answers for.
EMULATOR_ACCOUNT_ID = "123456789012"
#: Environments whose data stores must be protected against deletion.
PROTECTED_ENVIRONMENTS = ("staging", "prod")

_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TABLE_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_TAG_KEY_RE = re.compile(r"^[\w .:/=+@-]{1,128}$")
#: Retention values CloudWatch Logs accepts (0 = never expire is deliberately not offered).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)


class ConfigError(ValueError):
    """A broken environment file: the message names the file and the field."""

    def __init__(self, path: Path | str, field_path: str, problem: str) -> None:
        self.path = str(path)
        self.field = field_path
        self.problem = problem
        where = f"{self.path}: {field_path}" if field_path else self.path
        super().__init__(f"{where}: {problem}")


# --------------------------------------------------------------------------------------
# The schema. Every section is a frozen dataclass; ``metadata["check"]`` holds a validator
# returning an error string (or None) for a value that has the right type.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateConfig:
    """Where Terraform keeps this environment's state."""

    #: ``local`` (a state file; environments on the emulator) or ``s3`` (shared and locked; every
    #: AWS environment).
    backend: str = field(metadata=_one_of("local", "s3"))
    #: local backend: state file path, relative to the repository root.
    path: str | None = None
    #: s3 backend: the bucket holding the state.
    bucket: str | None = field(default=None, metadata=_matches(_BUCKET_RE, "a valid S3 bucket name"))
    #: s3 backend: the state object's key in that bucket.
    key: str | None = None
    #: s3 backend: the region of the state bucket and the lock table.
    region: str | None = field(default=None, metadata=_matches(_REGION_RE, "an AWS region such as eu-west-1"))
    #: s3 backend: the DynamoDB table that locks the state while Terraform runs.
    dynamodb_table: str | None = field(default=None, metadata=_matches(_TABLE_RE, "a valid DynamoDB table name"))


@dataclass(frozen=True)
class EmulatorConfig:
    """The embedded AWS emulator (moto server) an environment deploys onto."""

    #: The address the emulator listens on (loopback only).
    host: str = field(default="127.0.0.1", metadata=_one_of("127.0.0.1", "localhost"))
    #: Its port (``EMULATOR_PORT`` overrides it).
    port: int = field(default=4566, metadata=_between(1024, 65535))


@dataclass(frozen=True)
class StorageConfig:
    """Lifecycle of the S3 buckets (landing, clean, quarantine, archive, athena-results, audit)
    and their bucket policies."""

    #: The archive and audit buckets move objects to the GLACIER storage class after this many days.
    glacier_transition_days: int = field(metadata=_between(1, 3650))
    #: ... and delete them after this many days (more than glacier_transition_days).
    archive_expiration_days: int = field(metadata=_between(2, 36500))
    #: Every bucket is versioned: an overwritten or deleted object version is removed this many days
    #: later.
    noncurrent_version_expiration_days: int = field(metadata=_between(1, 3650))
    #: Objects still in landing expire after this many days: a backstop only (files never picked
    #: up, or left behind by a failed stage), as every file leaves landing once handled: a processed
    #: file when archive has its verified copy, a whole-file reject when validate has copied it to
    #: quarantine (each deletes exactly the object version it handled).
    landing_expiration_days: int = field(metadata=_between(1, 3650))
    #: Deny every non-TLS request in the bucket policies. Always on in AWS; the emulator
    #: serves plain HTTP and evaluates the condition as a deny, so ``local`` turns it off.
    deny_insecure_transport: bool = True


@dataclass(frozen=True)
class QueueConfig:
    """The SQS queue in front of every plug-in stage and its dead-letter queue."""

    #: How long a stage queue keeps a message nobody has handled (seconds).
    message_retention_seconds: int = field(metadata=_between(60, 1209600))
    #: How long a dead-letter queue keeps a message (seconds; at least message_retention_seconds).
    dlq_retention_seconds: int = field(metadata=_between(60, 1209600))
    #: Times a message is received (tried) before it moves to the dead-letter queue.
    max_receive_count: int = field(metadata=_between(1, 1000))
    #: Default consumer (Lambda) timeout; a plug-in manifest may declare its own.
    default_consumer_timeout_seconds: int = field(metadata=_between(1, 900))


@dataclass(frozen=True)
class TableConfig:
    """The DynamoDB tables of the stack: the status table (every file's outcome) and the
    idempotency table."""

    #: On-demand (PAY_PER_REQUEST) or PROVISIONED capacity.
    billing_mode: str = field(metadata=_one_of("PAY_PER_REQUEST", "PROVISIONED"))
    #: Days a file's status item lives before DynamoDB's TTL deletes it.
    status_ttl_days: int = field(metadata=_between(1, 3650))
    #: PROVISIONED only: read capacity units per table.
    read_capacity: int = field(default=5, metadata=_between(1, 40000))
    #: PROVISIONED only: write capacity units per table.
    write_capacity: int = field(default=5, metadata=_between(1, 40000))


@dataclass(frozen=True)
class ProtectionConfig:
    """How hard the data stores (buckets, tables, queues, keys) are to destroy."""

    #: ``force_destroy`` on buckets: lets ``destroy`` delete non-empty buckets. Never in prod.
    force_destroy: bool
    #: Terraform ``lifecycle.prevent_destroy`` on data stores.
    prevent_destroy: bool
    #: DynamoDB deletion protection.
    deletion_protection: bool
    #: DynamoDB point-in-time recovery.
    point_in_time_recovery: bool
    #: Days a deleted KMS key waits (and can be restored) before it is gone.
    kms_deletion_window_days: int = field(default=30, metadata=_between(7, 30))


@dataclass(frozen=True)
class AlarmConfig:
    """The CloudWatch alarms of every plug-in stage and function, sent to the alarms topic."""

    #: Alarm when a dead-letter queue holds at least this many messages.
    dlq_depth_threshold: int = field(metadata=_between(1, 1_000_000))
    #: Alarm when a stage queue's oldest message is this old (seconds): the stage is falling behind.
    oldest_message_age_seconds: int = field(metadata=_between(60, 1209600))
    #: Alarm when a function reports at least this many errors in a period.
    lambda_errors_threshold: int = field(metadata=_between(1, 1_000_000))
    #: Alarm when a function is throttled at least this many times in a period.
    lambda_throttles_threshold: int = field(metadata=_between(1, 1_000_000))
    #: Consecutive periods over the threshold before an alarm fires.
    evaluation_periods: int = field(default=1, metadata=_between(1, 100))
    #: Length of one alarm period (seconds).
    period_seconds: int = field(default=300, metadata=_one_of(60, 300, 900, 3600))


@dataclass(frozen=True)
class ComputeConfig:
    """The plug-in Lambda functions."""

    #: Processor architecture of every function (arm64 is cheaper per GB-second).
    lambda_architecture: str = field(metadata=_one_of("arm64", "x86_64"))
    #: Memory of a function whose manifest does not set its own (MB; CPU grows with it).
    lambda_memory_mb: int = field(metadata=_between(128, 10240))
    #: Reserved concurrent executions per function; -1: none reserved (the account's shared pool).
    lambda_reserved_concurrency: int = field(default=-1, metadata=_between(-1, 10000))


_SCHEDULE_RE = re.compile(r"^(|cron\([^)]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")


@dataclass(frozen=True)
class CatalogConfig:
    """Glue catalog, crawlers and the compaction ETL job."""

    #: Crawler schedule (``cron(...)``); empty: crawlers run on demand only.
    crawler_schedule: str = field(metadata=_matches(_SCHEDULE_RE, "empty or a cron(...)/rate(...) expression"))
    #: ETL (compaction to Parquet) schedule; empty: on demand only.
    etl_schedule: str = field(metadata=_matches(_SCHEDULE_RE, "empty or a cron(...)/rate(...) expression"))
    #: Glue worker type of the compaction job.
    etl_worker_type: str = field(metadata=_one_of("G.1X", "G.2X", "G.4X", "G.8X", "G.025X"))
    #: Workers of the compaction job.
    etl_number_of_workers: int = field(metadata=_between(2, 299))
    #: The compaction job is stopped after this many minutes.
    etl_timeout_minutes: int = field(default=60, metadata=_between(1, 2880))


@dataclass(frozen=True)
class QueryConfig:
    """Athena and the REST API in front of it."""

    #: Athena refuses a query that would scan more than this (10 MB minimum).
    bytes_scanned_cutoff_per_query: int = field(metadata=_between(10_485_760, 1_125_899_906_842_624))
    #: REST API stage throttling: steady-state requests per second.
    api_throttling_rate_limit: float = field(metadata=_check(lambda v: None if 0 < v <= 10000 else f"must be between 0 and 10000, got {v}",
                                                           "above 0, at most 10000"))
    #: REST API stage throttling: the most requests at once (burst).
    api_throttling_burst_limit: int = field(metadata=_between(1, 5000))


@dataclass(frozen=True)
class AuditConfig:
    """CloudTrail: a multi-region trail with log file validation into the audit bucket, delivered
    to CloudWatch Logs too, with alarms on the events a security team watches."""

    #: Create the trail (required in every AWS environment).
    cloudtrail: bool
    #: S3 data events (object-level reads and writes) on every bucket of the stack but the audit
    #: bucket itself: landing, clean, quarantine, archive (raw PII), athena-results.
    data_events: bool
    #: Deliver the trail to the CloudWatch Logs group /aws/cloudtrail/<prefix>-trail as well
    #: (encrypted with the environment key, kept log_retention_days).
    cloudwatch_logs: bool = True
    #: A metric filter and an alarm (alarms topic) on that group per CIS AWS Foundations
    #: monitoring event (unauthorized API calls, root use, IAM/CloudTrail/KMS/S3-policy/network
    #: changes...: modules/audit.py CIS_SECURITY_EVENTS). Needs cloudwatch_logs.
    security_alarms: bool = True


@dataclass(frozen=True)
class BackupConfig:
    """AWS Backup of the DynamoDB tables and data buckets (selected by tag)."""

    #: Create the backup vault, plan and selection (required in prod, with vault_lock).
    enabled: bool
    #: Days a daily recovery point is kept.
    daily_retention_days: int = field(metadata=_between(1, 36500))
    #: Days a weekly recovery point is kept (at least daily_retention_days).
    weekly_retention_days: int = field(metadata=_between(7, 36500))
    #: A vault lock (compliance guard: backups cannot be deleted early).
    vault_lock: bool = False
    #: Vault lock: the shortest retention a recovery point may have (at most daily_retention_days).
    vault_lock_min_retention_days: int = field(default=7, metadata=_between(1, 36500))
    #: Vault lock: the longest retention a recovery point may have.
    vault_lock_max_retention_days: int = field(default=36500, metadata=_between(1, 36500))
    #: The plan's name when it cannot be ``<prefix>-backup``: set by the kit on the emulator, which
    #: keeps deleted plans and refuses their names again (not a TOML key).
    plan_name: str | None = field(default=None, metadata={"internal": True})


_CIDR_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")


def _private_cidr(value: str) -> str | None:
    import ipaddress

    if not _CIDR_RE.match(value):
        return f"must be an IPv4 CIDR block such as 10.20.0.0/16, got {value!r}"
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        return f"must be an IPv4 network address with its prefix length ({exc}), got {value!r}"
    if not net.is_private:
        return f"must be a private (RFC 1918) range, got {value!r}"
    if not 16 <= net.prefixlen <= 24:
        return f"must have a prefix length between /16 and /24 (VPC limits), got /{net.prefixlen}"
    return None


@dataclass(frozen=True)
class NetworkConfig:
    """The environment's private network: a VPC, private subnets (no internet route), an S3 and a
    DynamoDB gateway endpoint, the interface endpoints private workloads need, flow logs. The
    plug-in functions run in it wherever it is on; every AWS environment must have it (on the
    emulator it may be off)."""

    #: Create the network and run the plug-in functions in it (required in every AWS environment).
    enabled: bool = False
    #: The VPC's address range; the private subnets are carved from it.
    cidr: str = field(default="10.20.0.0/16", metadata=_check(_private_cidr, "a private (RFC 1918) IPv4 CIDR block, /16 to /24"))
    #: Private subnets, one per availability zone.
    availability_zones: int = field(default=2, metadata=_between(2, 6))
    #: The zones by name, one per subnet (pinned: a new or briefly unavailable zone never moves a
    #: subnet). Empty: <region>a, <region>b, ... — set them where the account's names differ.
    zones: tuple[str, ...] = field(default=(), metadata={"item_check": lambda z: None if re.fullmatch(
        r"[a-z]{2}(-[a-z]+)+-\d[a-z]", z) else f"{z!r} is not an availability zone name (such as eu-west-1a)",
        "constraint": "zones of the environment's region (such as eu-west-1a), one per subnet"})
    #: VPC flow logs: which traffic is recorded.
    flow_log_traffic: str = field(default="REJECT", metadata=_one_of("ACCEPT", "REJECT", "ALL"))


#: The vCPU values Fargate accepts for one job.
FARGATE_VCPUS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True)
class BatchConfig:
    """AWS Batch on Fargate for objects that outgrow Lambda: batch-capable plug-ins (manifest
    ``[runtime] batch = true``) hand an object above ``route_above_bytes`` to a job that runs the
    same plug-in code in a container."""

    #: Create the Batch compute environment, job queue, ECR repository and a job definition per
    #: batch-capable plug-in (needs [network]).
    enabled: bool = False
    #: The compute environment's ceiling (all jobs together).
    max_vcpus: int = field(default=16, metadata=_between(1, 4096))
    #: vCPUs of one job (a Fargate size).
    job_vcpus: float = field(default=1.0, metadata=_one_of(*FARGATE_VCPUS))
    #: Memory of one job (MiB; within Fargate's range for job_vcpus).
    job_memory_mb: int = field(default=4096, metadata=_between(512, 122880))
    #: Objects larger than this go to Batch (bytes).
    route_above_bytes: int = field(default=1_073_741_824, metadata=_between(1, 10 * 1024 ** 4))
    #: A job still running after this many minutes is stopped.
    job_timeout_minutes: int = field(default=240, metadata=_between(1, 20160))
    #: Attempts of a job before it fails (a Spot interruption counts as one).
    job_attempts: int = field(default=2, metadata=_between(1, 10))
    #: FARGATE_SPOT is cheaper and may be interrupted (a job is then retried).
    capacity: str = field(default="FARGATE", metadata=_one_of("FARGATE", "FARGATE_SPOT"))
    #: Container images kept in the ECR repository (older ones expire).
    keep_images: int = field(default=30, metadata=_between(1, 1000))


_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def _role_arn_problem(value: str) -> str | None:
    return None if _ROLE_ARN_RE.match(value) else f"{value!r} is not an IAM role ARN"


@dataclass(frozen=True)
class PromotionConfig:
    """Who may read this environment's releases (the next stage's deploy role, possibly in another
    account): applied to the artifacts bucket policy by ``make bootstrap``."""

    #: IAM role ARNs allowed to read this environment's releases from its artifacts bucket.
    reader_role_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvironmentConfig:
    """One environment: its AWS account and region, the name of every resource, and the sections
    below."""

    #: The environment's name: must match the file name.
    name: str = field(metadata=_one_of(*ALL_ENVIRONMENTS))
    #: The AWS region everything is deployed in.
    region: str = field(metadata=_matches(_REGION_RE, "an AWS region such as eu-west-1"))
    #: The AWS account the environment deploys into (the provider refuses any other).
    account_id: str = field(metadata=_matches(_ACCOUNT_RE, "a 12-digit AWS account id"))
    #: Prefix of every resource name (``<prefix>-<name>``; buckets add the account id).
    name_prefix: str = field(
        metadata=_matches(_PREFIX_RE, "3-20 characters of lower-case letters, digits and '-', starting with a letter")
    )
    #: Days the CloudWatch Logs groups keep their events.
    log_retention_days: int = field(
        metadata=_check(lambda v: None if v in LOG_RETENTION_DAYS else f"must be a CloudWatch Logs retention ({', '.join(map(str, LOG_RETENTION_DAYS))}), got {v}",
                        "one of " + ", ".join(map(str, LOG_RETENTION_DAYS)))
    )
    state: StateConfig
    storage: StorageConfig
    queues: QueueConfig
    tables: TableConfig
    protection: ProtectionConfig
    alarms: AlarmConfig
    compute: ComputeConfig
    catalog: CatalogConfig
    query: QueryConfig
    audit: AuditConfig
    backup: BackupConfig
    #: Tags on every resource (the provider's default tags); ``Project`` and ``Environment`` (=
    #: name) are required.
    tags: Mapping[str, str] = field(default_factory=dict)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    redshift: RedshiftConfig = field(default_factory=RedshiftConfig)
    #: The optional data services (``[services.<name>]``), all off by default.
    services: ServicesConfig = field(default_factory=ServicesConfig)
    #: Subscribers of the alarms and pipeline-events topics (``[notifications]``).
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    #: Limits of the REST API's submission and download routes (``[api]``, issue 14).
    api: ApiConfig = field(default_factory=ApiConfig)
    #: The GitHub repository and workflows whose OIDC tokens may assume this environment's deploy
    #: and read-only roles (``[ci]``, AWS environments only; ``make bootstrap`` creates the roles).
    ci: CiConfig | None = None
    #: Present when the environment deploys onto the embedded emulator instead of AWS.
    emulator: EmulatorConfig | None = None
    #: Where the file was read from (not a TOML key).
    source: str = field(default="", metadata={"internal": True})

    # -- derived values -----------------------------------------------------------------
    @property
    def on_emulator(self) -> bool:
        return self.emulator is not None

    @property
    def endpoint_url(self) -> str | None:
        if self.emulator is None:
            return None
        return f"http://{self.emulator.host}:{self.emulator.port}"

    def resource_name(self, *parts: str) -> str:
        """``<prefix>-<part>-...``: the one naming rule for every resource."""
        return "-".join((self.name_prefix, *parts))

    def bucket_name(self, purpose: str) -> str:
        """Globally unique bucket names: prefix, purpose and account id."""
        return f"{self.name_prefix}-{purpose}-{self.account_id}"

    @property
    def is_rehearsal(self) -> bool:
        return self.emulator is not None and self.name in PROMOTION_ORDER

    def rehearsal(self, *, port: int, host: str = "127.0.0.1") -> "EnvironmentConfig":
        """This AWS environment, rehearsed on the emulator: the same sizes and switches, but the
        emulator's account (so every globally unique name differs from the real one), a local
        state file of its own, no TLS-only bucket policy (the emulator is plain HTTP), without
        what the emulator cannot create (a second CloudTrail trail, Redshift Serverless; the
        optional services it cannot create are skipped by the stack), and with the e-mail
        subscribers only (the emulator delivers to HTTPS and SQS subscribers inside Publish)."""
        if self.emulator is not None:
            raise ValueError(f"{self.name} already deploys onto the emulator")
        return dataclasses.replace(
            self,
            account_id=EMULATOR_ACCOUNT_ID,
            emulator=EmulatorConfig(host=host, port=port),
            state=StateConfig(backend="local", path=f".state/rehearsal/{self.name}/terraform.tfstate"),
            storage=dataclasses.replace(self.storage, deny_insecure_transport=False),
            # The emulator ignores DescribeTrails' name list: with a second trail in its (one)
            # account, the provider reads two trails and fails. `local` proves CloudTrail there.
            audit=dataclasses.replace(self.audit, cloudtrail=False),
            # The emulator has no Redshift Serverless: staging's and prod's warehouse is proven by
            # `terraform validate` of the real environments instead.
            redshift=dataclasses.replace(self.redshift, enabled=False),
            notifications=_notifications.for_emulator_rehearsal(self.notifications),
        )

    def with_emulator_port(self, port: int) -> "EnvironmentConfig":
        if self.emulator is None:
            raise ValueError(f"environment {self.name!r} does not deploy onto the emulator")
        return dataclasses.replace(self, emulator=dataclasses.replace(self.emulator, port=port))


# --------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------

def _type_name(tp: Any) -> str:
    names = {str: "a string", int: "an integer", bool: "a boolean (true/false)", float: "a number"}
    if tp in names:
        return names[tp]
    if dataclasses.is_dataclass(tp):
        return "a table"
    if typing.get_origin(tp) is tuple and dataclasses.is_dataclass(typing.get_args(tp)[0]):
        return "a list of tables"
    if typing.get_origin(tp) in (collections.abc.Mapping, dict):
        return "a table of strings"
    return str(tp)


def _build(cls: type, data: Any, path: Path, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(path, prefix or "<file>", f"must be a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        dotted = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(path, dotted, f"unknown key (allowed: {', '.join(sorted(fields))})")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        dotted = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(path, dotted, "is required but missing")
            continue
        values[name] = _convert(hints[name], data[name], path, dotted, f)
    return cls(**values)


def _convert(tp: Any, value: Any, path: Path, dotted: str, f: dataclasses.Field | None) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _convert(args[0], value, path, dotted, f)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path, dotted)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if dataclasses.is_dataclass(item):
            # An array of tables (``[[a.b]]``): each entry is built like a section, and errors
            # name it by index (``a.b[0].key``).
            if not isinstance(value, list):
                raise ConfigError(path, dotted, f"must be a list of tables ([[{dotted}]] entries), "
                                                f"got {type(value).__name__}")
            return tuple(_build(item, v, path, f"{dotted}[{i}]") for i, v in enumerate(value))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(path, dotted, f"must be a list of strings, got {value!r}")
        # A list of strings holds IAM role ARNs unless its field names its own item check
        # (``metadata={"item_check": fn}``, fn returning an error string or None).
        item_check = (f.metadata.get("item_check") if f is not None else None) or _role_arn_problem
        for v in value:
            problem = item_check(v)
            if problem:
                raise ConfigError(path, dotted, problem)
        return tuple(value)
    if origin in (collections.abc.Mapping, dict):
        if not isinstance(value, dict):
            raise ConfigError(path, dotted, f"must be a table of strings, got {type(value).__name__}")
        out = {}
        for k, v in value.items():
            if not _TAG_KEY_RE.match(k):
                raise ConfigError(path, f"{dotted}.{k}", "is not a valid tag key")
            if not isinstance(v, str) or len(v) > 256:
                raise ConfigError(path, f"{dotted}.{k}", f"must be a string of at most 256 characters, got {v!r}")
            out[k] = v
        return types.MappingProxyType(out)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    # bool is a subclass of int: reject it where an int is expected, and vice versa.
    ok = isinstance(value, tp) and not (tp is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(path, dotted, f"must be {_type_name(tp)}, got {type(value).__name__} {value!r}")
    check = f.metadata.get("check") if f is not None else None
    if check is not None:
        problem = check(value)
        if problem:
            raise ConfigError(path, dotted, problem)
    return value


def _cross_checks(cfg: EnvironmentConfig, path: Path) -> None:
    """Rules that span fields: the safety rails of the kit."""
    expected = path.stem
    if cfg.name != expected:
        raise ConfigError(path, "name", f"must match the file name {expected!r}, got {cfg.name!r}")
    if cfg.name == "prod" and cfg.protection.force_destroy:
        raise ConfigError(path, "protection.force_destroy", "must be false in prod (buckets are never force-destroyed there)")
    if cfg.name in PROTECTED_ENVIRONMENTS:
        for flag in ("prevent_destroy", "deletion_protection", "point_in_time_recovery"):
            if not getattr(cfg.protection, flag):
                raise ConfigError(path, f"protection.{flag}", f"must be true in {cfg.name} (data stores are protected there)")
    if cfg.storage.archive_expiration_days <= cfg.storage.glacier_transition_days:
        raise ConfigError(
            path, "storage.archive_expiration_days",
            f"must be greater than storage.glacier_transition_days ({cfg.storage.glacier_transition_days}), "
            f"got {cfg.storage.archive_expiration_days}",
        )
    if cfg.queues.dlq_retention_seconds < cfg.queues.message_retention_seconds:
        raise ConfigError(path, "queues.dlq_retention_seconds",
                          "must be at least queues.message_retention_seconds (a DLQ must outlive its source's messages)")
    st = cfg.state
    if cfg.emulator is not None and cfg.name in PROMOTION_ORDER:
        raise ConfigError(path, "emulator", f"{cfg.name} is an AWS environment: only local has an [emulator] section")
    if cfg.emulator is not None:
        if st.backend != "local":
            raise ConfigError(path, "state.backend", "must be 'local' for an environment on the emulator")
    else:
        if st.backend != "s3":
            raise ConfigError(path, "state.backend", "must be 's3' for an AWS environment (shared, locked state)")
        if not cfg.storage.deny_insecure_transport:
            raise ConfigError(path, "storage.deny_insecure_transport", "must be true in an AWS environment")
    if st.backend == "local":
        if not st.path:
            raise ConfigError(path, "state.path", "is required with backend 'local'")
        if Path(st.path).is_absolute() or ".." in Path(st.path).parts:
            raise ConfigError(path, "state.path", f"must be a path inside the repository, got {st.path!r}")
        for extra in ("bucket", "key", "region", "dynamodb_table"):
            if getattr(st, extra) is not None:
                raise ConfigError(path, f"state.{extra}", "only applies to backend 's3'")
    else:
        for needed in ("bucket", "key", "region", "dynamodb_table"):
            if not getattr(st, needed):
                raise ConfigError(path, f"state.{needed}", "is required with backend 's3'")
        if st.path is not None:
            raise ConfigError(path, "state.path", "only applies to backend 'local'")
    if cfg.backup.weekly_retention_days < cfg.backup.daily_retention_days:
        raise ConfigError(path, "backup.weekly_retention_days",
                          f"must be at least backup.daily_retention_days ({cfg.backup.daily_retention_days})")
    if cfg.backup.vault_lock and cfg.backup.vault_lock_min_retention_days > cfg.backup.daily_retention_days:
        raise ConfigError(path, "backup.vault_lock_min_retention_days",
                          "must not exceed backup.daily_retention_days (the lock would refuse the plan's own recovery points)")
    if cfg.name == "prod" and not (cfg.backup.enabled and cfg.backup.vault_lock):
        raise ConfigError(path, "backup.vault_lock", "must be true in prod (with backup.enabled)")
    if cfg.name in PROMOTION_ORDER and not cfg.audit.cloudtrail:
        raise ConfigError(path, "audit.cloudtrail", f"must be true in {cfg.name} (every AWS environment is audited)")
    if cfg.name in PROMOTION_ORDER:
        for flag, why in (("data_events", "every object access to the data is recorded"),
                          ("cloudwatch_logs", "the trail is searchable and alarmed on")):
            if not getattr(cfg.audit, flag):
                raise ConfigError(path, f"audit.{flag}", f"must be true in {cfg.name} ({why} in every AWS environment)")
    if cfg.audit.security_alarms and not cfg.audit.cloudwatch_logs:
        raise ConfigError(path, "audit.security_alarms",
                          "needs audit.cloudwatch_logs = true (the alarms read the trail's CloudWatch Logs group)")
    net = cfg.network
    if net.zones:
        if len(net.zones) != net.availability_zones:
            raise ConfigError(path, "network.zones", f"must name network.availability_zones ({net.availability_zones}) "
                                                     f"zones, got {len(net.zones)}")
        for zone in net.zones:
            if not re.fullmatch(re.escape(cfg.region) + r"[a-z]", zone):
                raise ConfigError(path, "network.zones", f"must be zones of {cfg.region} ({cfg.region}a, "
                                                         f"{cfg.region}b, ...), got {zone!r}")
        if len(set(net.zones)) != len(net.zones):
            raise ConfigError(path, "network.zones", f"must be distinct, got {list(net.zones)}")
    if cfg.emulator is None and not cfg.network.enabled:
        raise ConfigError(path, "network.enabled",
                          "must be true in an AWS environment (the plug-in functions run in the private subnets)")
    if cfg.batch.enabled and not cfg.network.enabled:
        raise ConfigError(path, "batch.enabled", "needs [network] enabled = true (Batch jobs run in the private subnets)")
    if cfg.batch.enabled:
        vcpus, mem = cfg.batch.job_vcpus, cfg.batch.job_memory_mb
        lo, hi = _FARGATE_MEMORY[vcpus]
        if not lo <= mem <= hi:
            raise ConfigError(path, "batch.job_memory_mb",
                              f"Fargate gives a {vcpus:g}-vCPU job between {lo} and {hi} MiB, got {mem}")
        if vcpus > cfg.batch.max_vcpus:
            raise ConfigError(path, "batch.job_vcpus", f"must not exceed batch.max_vcpus ({cfg.batch.max_vcpus})")
    for key, problem in warehouse.cross_checks(cfg.redshift, env_name=cfg.name, network_enabled=cfg.network.enabled,
                                               az_count=cfg.network.availability_zones):
        raise ConfigError(path, f"redshift.{key}", problem)
    for key, problem in _services.cross_checks(cfg.services, env_name=cfg.name, network_enabled=cfg.network.enabled,
                                               az_count=cfg.network.availability_zones):
        raise ConfigError(path, f"services.{key}", problem)
    for key, problem in _notifications.cross_checks(cfg.notifications, env_name=cfg.name, on_emulator=cfg.on_emulator,
                                                    account_id=cfg.account_id):
        raise ConfigError(path, f"notifications.{key}", problem)
    if cfg.ci is not None:
        for key, problem in _ci.cross_checks(cfg.ci, on_emulator=cfg.on_emulator):
            raise ConfigError(path, f"ci.{key}" if key else "ci", problem)
    for required_tag in ("Project", "Environment"):
        if required_tag not in cfg.tags:
            raise ConfigError(path, f"tags.{required_tag}", "is required (every resource carries it)")
    if cfg.tags["Environment"] != cfg.name:
        raise ConfigError(path, "tags.Environment", f"must equal name {cfg.name!r}, got {cfg.tags['Environment']!r}")


#: Fargate's memory range (MiB) per vCPU value.
_FARGATE_MEMORY = {0.25: (512, 2048), 0.5: (1024, 4096), 1.0: (2048, 8192), 2.0: (4096, 16384),
                   4.0: (8192, 30720), 8.0: (16384, 61440), 16.0: (32768, 122880)}


def load_environment_file(path: Path | str) -> EnvironmentConfig:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "", "no such environment file") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"is not valid TOML: {exc}") from None
    cfg = _build(EnvironmentConfig, data, path, "")
    cfg = dataclasses.replace(cfg, source=str(path))
    _cross_checks(cfg, path)
    return cfg


def load_environment(name: str, directory: Path | None = None) -> EnvironmentConfig:
    directory = directory or ENVIRONMENTS_DIR
    if name not in ALL_ENVIRONMENTS:
        raise ConfigError(directory / f"{name}.toml", "",
                          f"unknown environment {name!r} (known: {', '.join(ALL_ENVIRONMENTS)})")
    return load_environment_file(directory / f"{name}.toml")


def load_all(directory: Path | None = None) -> dict[str, EnvironmentConfig]:
    return {name: load_environment(name, directory) for name in ALL_ENVIRONMENTS}
