"""notify — pure core: the outcome published to pipeline-events and the file's status item.

SNS message (JSON)::

    {"schema_version": 1, "environment": "prod", "dataset": "orders", "file_id": "3f1c…",
     "status": "processed" | "quarantined" | "gone", "key": "orders/2024/a.csv", "counts": {...},
     "locations": {...}, "reason": null | "header mismatch: …", "updated_at": "2024-05-01T10:00:03Z"}

with message attributes ``dataset``, ``status`` and ``environment`` (String) for subscription
filter policies. Status item (DynamoDB, table keyed by ``file_id``, GSI ``by-dataset`` on
``dataset`` + ``updated_at``, TTL on ``expires_at``): the same fields plus ``bucket``, ``etag``,
``version_id``, ``size``, ``sha256`` (of the landed bytes, when validate read them all),
``received_at`` and ``expires_at`` (epoch seconds, now + PIPELINE_STATUS_TTL_DAYS).

``gone``: the file's object was deleted (or its version removed, or overwritten in an unversioned
bucket) before a stage could read it; ``reason`` says what happened and what had been done.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline_shared.dynamo_items import to_attribute_value, to_item  # noqa: F401 - the items' encoding
from pipeline_shared.wiring.messages import FINAL_STATUSES, GONE, PROCESSED, QUARANTINED, SCHEMA_VERSION, StageMessage

SUBJECT_MAX = 100
#: The per-dataset file counter notify emits for each final status.
FILE_METRIC = {PROCESSED: "FilesProcessed", QUARANTINED: "FilesQuarantined", GONE: "FilesGone"}


class NotifyError(ValueError):
    """The message cannot be announced (not a final status)."""


def iso(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def require_final(message: StageMessage) -> None:
    if message.status not in FINAL_STATUSES:
        raise NotifyError(
            f"notify announces final outcomes ({', '.join(FINAL_STATUSES)}), got '{message.status}' "
            f"from {message.produced_by}"
        )


def outcome(message: StageMessage, *, environment: str, now: datetime) -> dict[str, Any]:
    """The JSON document published to the pipeline-events topic."""
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": environment,
        "dataset": message.dataset,
        "file_id": message.file_id,
        "status": message.status,
        "key": message.key,
        "counts": dict(message.counts),
        "locations": dict(message.locations),
        "reason": message.reason,
        "updated_at": iso(now),
    }


def subject(message: StageMessage, *, environment: str) -> str:
    """An e-mail subject: printable ASCII, at most 100 characters (SNS limits)."""
    text = f"[pipeline-kit {environment}] {message.dataset}: file {message.file_id[:12]} {message.status}"
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return text[:SUBJECT_MAX]


def message_attributes(message: StageMessage, *, environment: str) -> dict[str, dict[str, str]]:
    return {
        name: {"DataType": "String", "StringValue": value or "-"}
        for name, value in (("dataset", message.dataset), ("status", message.status), ("environment", environment))
    }


def status_item(message: StageMessage, *, environment: str, now: datetime, ttl_days: int) -> dict[str, Any]:
    """The status-table item as plain Python values (``None`` values are left out)."""
    item: dict[str, Any] = {
        "file_id": message.file_id,
        "dataset": message.dataset,
        "updated_at": iso(now),
        "status": message.status,
        "environment": environment,
        "bucket": message.bucket,
        "key": message.key,
        "etag": message.etag,
        "version_id": message.version_id,
        "size": message.size,
        "sha256": message.sha256,
        "received_at": message.received_at,
        "counts": dict(message.counts),
        "locations": dict(message.locations),
        "reason": message.reason,
        "expires_at": int((now + timedelta(days=ttl_days)).timestamp()),
    }
    return {k: v for k, v in item.items() if v is not None}


