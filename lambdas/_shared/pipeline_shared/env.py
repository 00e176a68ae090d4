"""The environment-variable contract between the infrastructure wiring and the plug-ins.

The wiring derives these from each plug-in's manifest; tests and the local runner set the same names.

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

from . import contract

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


def bucket_var(purpose: str) -> str:
    return contract.bucket_var(purpose)


def bucket(purpose: str) -> str:
    """Name of the bucket for ``purpose`` (landing, clean, quarantine, archive, ...)."""
    return _require(bucket_var(purpose), f"the {purpose} bucket; the manifest's [permissions] must name it")


def queue_url(stage: str) -> str:
    """Input-queue URL of the downstream ``stage``."""
    return _require(
        contract.queue_var(stage), f"input queue of stage {stage!r}; the manifest's produces.stages must list it"
    )


def topic_arn(topic: str) -> str:
    return _require(
        contract.topic_var(topic),
        f"ARN of the {topic} topic; the manifest's permissions.publish_topics must name it",
    )


def table(name: str) -> str:
    return _require(contract.table_var(name), f"the {name} table; the manifest's permissions.tables must name it")


def parameter(name: str) -> str:
    return _require(
        contract.parameter_var(name),
        f"full SSM name of parameter {name!r}; the manifest's permissions.parameters must name it",
    )


def environment_name() -> str:
    """The deployment environment (``PIPELINE_ENV``); ``"unknown"`` when unset."""
    return os.environ.get(contract.ENVIRONMENT, "").strip() or "unknown"


def status_ttl_days() -> int:
    return _int(contract.STATUS_TTL_DAYS, None, 1, "days a status item is kept")


def max_object_bytes() -> int:
    return _int(contract.MAX_OBJECT_BYTES, DEFAULT_MAX_OBJECT_BYTES, 1, "largest object accepted")


def idempotency_ttl_seconds() -> int:
    return _int(contract.IDEMPOTENCY_TTL_SECONDS, DEFAULT_IDEMPOTENCY_TTL_SECONDS, 60, "idempotency record lifetime")
