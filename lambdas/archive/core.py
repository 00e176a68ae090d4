"""archive — pure core: where a raw object is archived and when landing may let go of it.

The raw object is copied to ``<dataset>/<yyyy>/<mm>/<dd>/<file_id>/<original key>`` in the archive
bucket (date the file landed, UTC) with ``MetadataDirective=COPY`` (content type, encoding and
user metadata come along) and the tags ``file_id`` and ``dataset``. Only when the copy's SHA-256
(S3 computes it on the copy) equals the digest validate computed from the bytes
(``StageMessage.sha256``; see ``pipeline_shared.s3``) and its size the source's is the key deleted
from landing, and never a newer object: in a versioned landing bucket exactly the archived version
is deleted (by its version id: removed for good, no delete marker; a newer version of the key is
untouched); in an unversioned one the key is deleted only if it still holds the archived object
(``landing_disposition``): a newer upload under the same key is left alone (it has its own event).

When the raw object is gone from landing (that version removed, or, unversioned, overwritten) and
no earlier attempt archived it, the file ends ``gone``: its clean data was written, its raw bytes
could not be archived, and the status record says so (``gone_reason``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pipeline_shared import keys
from pipeline_shared.wiring.messages import StageMessage

DELETE, SUPERSEDED = "delete", "superseded"
_TAG_ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +-=._:/@")


def archive_key(message: StageMessage, *, today: date | None = None) -> str:
    return keys.archive_key(
        message.dataset, keys.landed_date(message.received_at, today=today), message.file_id, message.key
    )


def _tag_value(value: str) -> str:
    cleaned = "".join(ch if ch in _TAG_ALLOWED else "_" for ch in value)
    return cleaned[:256]


def archive_tags(message: StageMessage) -> dict[str, str]:
    """S3 object tags of the archived copy (values restricted to S3's tag character set)."""
    return {"file_id": message.file_id, "dataset": _tag_value(message.dataset)}


def landing_disposition(message: StageMessage, current: Mapping[str, Any]) -> str:
    """``DELETE`` when the landing key's current object (a HEAD response) is the one archived,
    else ``SUPERSEDED`` (a newer object was uploaded under the same key since)."""
    if message.version_id:
        return DELETE if current.get("VersionId") == message.version_id else SUPERSEDED
    return DELETE if keys.normalise_etag(current.get("ETag")) == keys.normalise_etag(message.etag) else SUPERSEDED


def matches_message(copy: Mapping[str, Any], message: StageMessage, *, copy_sha256: str | None) -> list[str]:
    """Why an existing archive copy (its HEAD, and ``copy_sha256``: the SHA-256 of its bytes, hex)
    is not the object the message describes (empty: it is). Used when landing no longer holds the
    object: an earlier attempt archived and removed it. Compared: the size, and the SHA-256 when
    the message carries one (never the ETag: a copy's ETag differs from its source's under SSE-KMS
    and for multipart uploads)."""
    problems = []
    if message.size is not None and copy.get("ContentLength") != message.size:
        problems.append(f"size {copy.get('ContentLength')} bytes, expected {message.size}")
    if message.sha256 and copy_sha256 != message.sha256:
        problems.append(f"SHA-256 {copy_sha256 or '-'}, expected {message.sha256}")
    return problems


def gone_reason(message: StageMessage, detail: str) -> str:
    """The ``gone`` status reason of a file whose raw object vanished from landing before archive
    could copy it (``detail``: ``ObjectGone.reason(before="archiving")``)."""
    clean = message.locations.get("clean") or []
    written = f"its clean data was written ({len(clean)} object(s), locations.clean)" if clean else (
        "no clean data was written")
    return f"{detail}; {written}, but the raw file is in neither landing nor archive"
