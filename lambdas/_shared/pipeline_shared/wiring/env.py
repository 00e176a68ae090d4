"""The environment-variable contract between the infrastructure wiring and the plug-ins: every
variable's name (spelled here once), the naming rule, and its parsing.

The wiring (``modules/stage.py``, ``modules/batch.py``) imports the names at synth time and sets
them from each plug-in's manifest; the runtime reads them with the accessors below; tests and the
local runner use the same names. Standard library only, so the infrastructure side imports it.

=====================================  ==========================================================
``PIPELINE_BUCKET_<PURPOSE>``          bucket name; PURPOSE upper-cased, '-' → '_' (``LANDING``,
                                       ``CLEAN``, ``QUARANTINE``, ``ARCHIVE``); only the buckets
                                       the manifest's ``[permissions]`` name
``PIPELINE_QUEUE_<STAGE>``             input-queue URL of each stage in ``produces.stages``
``PIPELINE_TOPIC_PIPELINE_EVENTS``     pipeline-events topic ARN
``PIPELINE_TABLE_STATUS``              status table name
``PIPELINE_TABLE_IDEMPOTENCY``         idempotency table name
``PIPELINE_PARAM_TOKENISATION_KEY``    full SSM parameter name (SecureString) of the HMAC key
``PIPELINE_ENV``                       environment name (local, dev, test, staging, prod)
``PIPELINE_STATUS_TTL_DAYS``           days a status item lives (integer ≥ 1)
``PIPELINE_MAX_OBJECT_BYTES``          optional; largest object validate reads (default 5 GiB)
``PIPELINE_IDEMPOTENCY_TTL_SECONDS``   optional; how long a processed message is remembered
                                       (default 86400)
``POWERTOOLS_SERVICE_NAME``            plug-in name; ``POWERTOOLS_METRICS_NAMESPACE`` "PipelineKit"
=====================================  ==========================================================

Every accessor reads the environment when called (never at import), so a missing variable fails the
record that needed it with a message naming the variable.
"""

from __future__ import annotations

import os

# -- one per resource a manifest names: <PREFIX><NAME>, NAME upper-cased with '-' → '_' ----------
BUCKET_PREFIX = "PIPELINE_BUCKET_"
QUEUE_PREFIX = "PIPELINE_QUEUE_"
TOPIC_PREFIX = "PIPELINE_TOPIC_"
TABLE_PREFIX = "PIPELINE_TABLE_"
PARAM_PREFIX = "PIPELINE_PARAM_"

# -- Powertools (set by the wiring on every function; a manifest may not override them) ----------
POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
POWERTOOLS_TRACE_DISABLED = "POWERTOOLS_TRACE_DISABLED"

# -- every function -----------------------------------------------------------------------------
ENVIRONMENT = "PIPELINE_ENV"
STATUS_TTL_DAYS = "PIPELINE_STATUS_TTL_DAYS"
MAX_OBJECT_BYTES = "PIPELINE_MAX_OBJECT_BYTES"
IDEMPOTENCY_TTL_SECONDS = "PIPELINE_IDEMPOTENCY_TTL_SECONDS"

# -- Athena (``[permissions] athena = true``) and the API ---------------------------------------
ATHENA_WORKGROUP = "PIPELINE_ATHENA_WORKGROUP"
GLUE_DATABASE = "PIPELINE_GLUE_DATABASE"
#: The clean table's name, a template with ``{dataset}``; the other two are optional overrides
#: (``pipeline_shared.wiring.queries`` has the defaults).
ATHENA_CLEAN_TABLE = "PIPELINE_ATHENA_CLEAN_TABLE"
ATHENA_REPORTS_TABLE = "PIPELINE_ATHENA_REPORTS_TABLE"
ATHENA_STATUS_TABLE = "PIPELINE_ATHENA_STATUS_TABLE"
KMS_KEY_ARN = "PIPELINE_KMS_KEY_ARN"

# -- Batch: what a batch-capable function routes with, and what its job gets instead ------------
BATCH_JOB_QUEUE = "PIPELINE_BATCH_JOB_QUEUE"
BATCH_JOB_DEFINITION = "PIPELINE_BATCH_JOB_DEFINITION"
BATCH_ROUTE_ABOVE_BYTES = "PIPELINE_BATCH_ROUTE_ABOVE_BYTES"
#: Set on the function, left out of the job definition's environment (a job never routes).
BATCH_ROUTING = (BATCH_JOB_QUEUE, BATCH_JOB_DEFINITION, BATCH_ROUTE_ABOVE_BYTES)
RUNS_ON = "PIPELINE_RUNS_ON"
BATCH_ATTEMPT_TIMEOUT_SECONDS = "PIPELINE_BATCH_ATTEMPT_TIMEOUT_SECONDS"
#: Set by AWS Batch in every job (and by the local runner when it runs one).
BATCH_JOB_ID = "AWS_BATCH_JOB_ID"
BATCH_JOB_ATTEMPT = "AWS_BATCH_JOB_ATTEMPT"

# -- the API plug-in: the ``[api]`` limits (``pipeline_shared.wiring.api.LIMITS``) -----------------
API_SYNC_MAX_BYTES = "PIPELINE_API_SYNC_MAX_BYTES"
API_SYNC_MAX_ROWS = "PIPELINE_API_SYNC_MAX_ROWS"
API_PRESIGN_EXPIRY_SECONDS = "PIPELINE_API_PRESIGN_EXPIRY_SECONDS"
API_UPLOAD_MAX_BYTES = "PIPELINE_API_UPLOAD_MAX_BYTES"

# -- the status API (``[services.appsync]``) -------------------------------------------------------
STATUS_GRAPHQL_URL = "PIPELINE_STATUS_GRAPHQL_URL"


def var_name(prefix: str, name: str) -> str:
    """``<prefix><NAME>``: ``name`` upper-cased, '-' → '_' (``landing`` → ``PIPELINE_BUCKET_LANDING``)."""
    return f"{prefix}{name.upper().replace('-', '_')}"


def bucket_var(purpose: str) -> str:
    return var_name(BUCKET_PREFIX, purpose)


def queue_var(stage: str) -> str:
    return var_name(QUEUE_PREFIX, stage)


def topic_var(topic: str) -> str:
    return var_name(TOPIC_PREFIX, topic)


def table_var(table: str) -> str:
    return var_name(TABLE_PREFIX, table)


def parameter_var(parameter: str) -> str:
    return var_name(PARAM_PREFIX, parameter)


# -- parsing ------------------------------------------------------------------------------------

DEFAULT_MAX_OBJECT_BYTES = 5 * 1024**3
DEFAULT_IDEMPOTENCY_TTL_SECONDS = 24 * 3600


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or malformed; the message names it."""


def _require(name: str, hint: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set ({hint})")
    return value


def _int(name: str, default: int | None, minimum: int, hint: str) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        if default is None:
            raise ConfigurationError(f"environment variable {name} is not set ({hint})")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"environment variable {name} must be >= {minimum}, got {value}")
    return value


def bucket(purpose: str) -> str:
    """Name of the bucket for ``purpose`` (landing, clean, quarantine, archive, ...)."""
    return _require(bucket_var(purpose), f"the {purpose} bucket; the manifest's [permissions] must name it")


def queue_url(stage: str) -> str:
    """Input-queue URL of the downstream ``stage``."""
    return _require(
        queue_var(stage), f"input queue of stage {stage!r}; the manifest's produces.stages must list it"
    )


def topic_arn(topic: str) -> str:
    return _require(
        topic_var(topic),
        f"ARN of the {topic} topic; the manifest's permissions.publish_topics must name it",
    )


def table(name: str) -> str:
    return _require(table_var(name), f"the {name} table; the manifest's permissions.tables must name it")


def parameter(name: str) -> str:
    return _require(
        parameter_var(name),
        f"full SSM name of parameter {name!r}; the manifest's permissions.parameters must name it",
    )


def environment_name() -> str:
    """The deployment environment (``PIPELINE_ENV``); ``"unknown"`` when unset."""
    return os.environ.get(ENVIRONMENT, "").strip() or "unknown"


def status_ttl_days() -> int:
    return _int(STATUS_TTL_DAYS, None, 1, "days a status item is kept")


def max_object_bytes() -> int:
    return _int(MAX_OBJECT_BYTES, DEFAULT_MAX_OBJECT_BYTES, 1, "largest object accepted")


def idempotency_ttl_seconds() -> int:
    return _int(IDEMPOTENCY_TTL_SECONDS, DEFAULT_IDEMPOTENCY_TTL_SECONDS, 60, "idempotency record lifetime")


def athena_workgroup() -> str:
    return _require(ATHENA_WORKGROUP, "the Athena workgroup queries run in; the manifest's permissions.athena")


def glue_database() -> str:
    return _require(GLUE_DATABASE, "the Glue database the queries read; the manifest's permissions.athena")


def kms_key_arn() -> str:
    return _require(KMS_KEY_ARN, "the environment's KMS key: uploads are signed with SSE-KMS under it")
