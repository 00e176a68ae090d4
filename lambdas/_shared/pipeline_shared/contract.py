"""The runtime contract's names: the environment variables the wiring (``modules/stage.py``,
``modules/batch.py``) writes and the runtime (``pipeline_shared.env``, ``.batch``, ``.graphql``)
reads. Pure: no imports beyond the standard library, so the infrastructure side imports it at
synth time. Every name is spelled here once.
"""

from __future__ import annotations

# -- one per resource a manifest names: <PREFIX><NAME>, NAME upper-cased with '-' → '_' ----------
BUCKET_PREFIX = "PIPELINE_BUCKET_"
QUEUE_PREFIX = "PIPELINE_QUEUE_"
TOPIC_PREFIX = "PIPELINE_TOPIC_"
TABLE_PREFIX = "PIPELINE_TABLE_"
PARAM_PREFIX = "PIPELINE_PARAM_"

# -- every function -----------------------------------------------------------------------------
ENVIRONMENT = "PIPELINE_ENV"
STATUS_TTL_DAYS = "PIPELINE_STATUS_TTL_DAYS"
MAX_OBJECT_BYTES = "PIPELINE_MAX_OBJECT_BYTES"
IDEMPOTENCY_TTL_SECONDS = "PIPELINE_IDEMPOTENCY_TTL_SECONDS"

# -- Athena (``[permissions] athena = true``) and the API ---------------------------------------
ATHENA_WORKGROUP = "PIPELINE_ATHENA_WORKGROUP"
GLUE_DATABASE = "PIPELINE_GLUE_DATABASE"
ATHENA_CLEAN_TABLE = "PIPELINE_ATHENA_CLEAN_TABLE"
KMS_KEY_ARN = "PIPELINE_KMS_KEY_ARN"

# -- Batch: what a batch-capable function routes with, and what its job gets instead ------------
BATCH_JOB_QUEUE = "PIPELINE_BATCH_JOB_QUEUE"
BATCH_JOB_DEFINITION = "PIPELINE_BATCH_JOB_DEFINITION"
BATCH_ROUTE_ABOVE_BYTES = "PIPELINE_BATCH_ROUTE_ABOVE_BYTES"
#: Set on the function, left out of the job definition's environment (a job never routes).
BATCH_ROUTING = (BATCH_JOB_QUEUE, BATCH_JOB_DEFINITION, BATCH_ROUTE_ABOVE_BYTES)
RUNS_ON = "PIPELINE_RUNS_ON"
BATCH_ATTEMPT_TIMEOUT_SECONDS = "PIPELINE_BATCH_ATTEMPT_TIMEOUT_SECONDS"

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
