"""validate — pure core: S3 notification parsing, pre-checks and the streaming file check.

No boto3 here: ``validate_stream`` (``pipeline_shared.validation``, shared with the API) reads any
binary file object and writes rejected rows to any binary sink, so it runs the same in the Lambda,
in an AWS Batch job, behind the REST API and in unit tests.

Outcome of a file:

- **rejected as a whole** (quarantined in full, with a report) when the key names no known dataset,
  the object is empty or larger than ``PIPELINE_MAX_OBJECT_BYTES``, it is not UTF-8, the gzip data
  is corrupt, the CSV header does not match the contract, the CSV is malformed, or more than the
  contract's ``max_rejected_fraction`` of its rows break the contract;
- otherwise **accepted**: bad rows (ragged, invalid JSON, JSON Schema, type, pattern, allowed,
  required, max_length) go to quarantine with a report, the file moves on to cleanse.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote_plus

from pipeline_shared import keys

if TYPE_CHECKING:  # S3 helpers, contracts, readers and row checks load at the first file, not at import (cold start)
    from pipeline_shared.contracts import Contract
    from pipeline_shared.s3 import ObjectRef
    from pipeline_shared.validation import ValidationResult

#: Violations kept in one report (all are counted; the rows themselves all go to quarantine);
#: None: ``pipeline_shared.validation.MAX_REPORT_VIOLATIONS``.
MAX_REPORT_VIOLATIONS: int | None = None
REPORT_VERSION = 1


class NotificationError(ValueError):
    """The SQS message body is not an S3 event notification."""


@dataclass(frozen=True)
class LandedObject:
    """One object-created event: the object, the dataset its key names, its stable ``file_id``."""

    ref: ObjectRef
    file_id: str
    dataset: str
    event_time: str | None = None
    event_name: str = "ObjectCreated:Put"

    @property
    def has_dataset(self) -> bool:
        return self.dataset != keys.UNKNOWN_DATASET

    @classmethod
    def create(
        cls,
        *,
        bucket: str,
        key: str,
        size: int | None,
        etag: str | None,
        version_id: str | None,
        event_time: str | None = None,
        event_name: str = "ObjectCreated:Put",
    ) -> LandedObject:
        from pipeline_shared.s3 import ObjectRef

        etag = keys.normalise_etag(etag)
        ref = ObjectRef(bucket=bucket, key=key, version_id=version_id or None, etag=etag, size=size)
        return cls(
            ref=ref,
            file_id=keys.file_id(bucket, key, version_id=version_id, etag=etag),
            dataset=keys.dataset_for_key(key) or keys.UNKNOWN_DATASET,
            event_time=event_time,
            event_name=event_name,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "dataset": self.dataset,
            "bucket": self.ref.bucket,
            "key": self.ref.key,
            "version_id": self.ref.version_id,
            "etag": self.ref.etag,
            "size": self.ref.size,
            "event_time": self.event_time,
            "event_name": self.event_name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LandedObject:
        return cls.create(
            bucket=data["bucket"],
            key=data["key"],
            size=data.get("size"),
            etag=data.get("etag"),
            version_id=data.get("version_id"),
            event_time=data.get("event_time"),
            event_name=data.get("event_name") or "ObjectCreated:Put",
        )


def parse_notification(body: str) -> list[LandedObject] | None:
    """The created objects of an S3 notification body; None for the ``s3:TestEvent``.

    Keys arrive URL-encoded and are decoded with ``unquote_plus``. Non-create events (a
    misconfigured ``ObjectRemoved`` subscription) yield nothing. Raises ``NotificationError``."""
    try:
        doc = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise NotificationError(f"message body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise NotificationError(f"message body is not an S3 event notification: a JSON {type(doc).__name__}")
    if doc.get("Event") == "s3:TestEvent":
        return None
    records = doc.get("Records")
    if not isinstance(records, list) or not records:
        raise NotificationError("message body is not an S3 event notification: no 'Records' list")
    objects = []
    for i, record in enumerate(records):
        try:
            if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
                continue
            s3 = record["s3"]
            obj = s3["object"]
            bucket = s3["bucket"]["name"]
            key = unquote_plus(obj["key"])
            size = obj.get("size")
            etag, version_id = obj.get("eTag"), obj.get("versionId")
        except (KeyError, TypeError, AttributeError) as exc:
            raise NotificationError(f"S3 event record {i} is malformed: missing {exc}") from None
        if not etag and not version_id:
            raise NotificationError(f"S3 event record {i} for s3://{bucket}/{key} has neither eTag nor versionId")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise NotificationError(f"S3 event record {i} has an invalid size {size!r}")
        objects.append(
            LandedObject.create(
                bucket=bucket,
                key=key,
                size=size,
                etag=etag,
                version_id=version_id,
                event_time=record.get("eventTime"),
                event_name=record["eventName"],
            )
        )
    return objects


#: An object version may carry a LastModified up to this much after its event's eventTime (clocks,
#: whole-second LastModified); a version later than that was uploaded after the event.
VERSION_CLOCK_SLACK_SECONDS = 2.0


def _instant(value: Any) -> datetime | None:
    """A datetime (aware) from an ISO-8601 text or a datetime; None if it is neither."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def choose_version(pages: Iterable[Mapping[str, Any]], obj: LandedObject) -> str | None:
    """The version id of the object an event without ``versionId`` is about (the emulator's
    events carry none; S3's do on a versioned bucket), from ``ListObjectVersions(Prefix=key)``
    pages: the versions of exactly that key whose ETag is the event's (and size, when known); of
    those, the ones not newer than the event (``VERSION_CLOCK_SLACK_SECONDS``) if any, and the newest
    of them (latest LastModified, then IsLatest, then S3's newest-first order). None when nothing
    matches or the bucket is not versioned (version id ``null``): the ETag identifies the object."""
    etag = keys.normalise_etag(obj.ref.etag)
    if not etag:
        return None
    matching: list[tuple[int, Mapping[str, Any]]] = []
    for page in pages:
        for version in page.get("Versions") or []:
            if version.get("Key") != obj.ref.key or keys.normalise_etag(version.get("ETag")) != etag:
                continue
            if obj.ref.size is not None and version.get("Size") is not None and version["Size"] != obj.ref.size:
                continue
            if not version.get("VersionId") or version["VersionId"] == "null":
                continue
            matching.append((len(matching), version))
    if not matching:
        return None
    event_time = _instant(obj.event_time)
    if event_time is not None:
        limit = event_time.timestamp() + VERSION_CLOCK_SLACK_SECONDS
        earlier = [(i, v) for i, v in matching
                   if (_instant(v.get("LastModified")) or event_time).timestamp() <= limit]
        matching = earlier or matching

    def newest(item: tuple[int, Mapping[str, Any]]) -> tuple[float, bool, int]:
        i, version = item
        when = _instant(version.get("LastModified"))
        return (when.timestamp() if when else float("-inf"), bool(version.get("IsLatest")), -i)

    return str(max(matching, key=newest)[1]["VersionId"])


def with_version(obj: LandedObject, version_id: str) -> LandedObject:
    """``obj`` naming exactly ``version_id`` (so its ``file_id`` is the version's)."""
    data = obj.to_dict()
    data["version_id"] = version_id
    return LandedObject.from_dict(data)


#: What became of an object version (``version_fate``).
CURRENT, SUPERSEDED, DELETED, MISSING = "current", "superseded", "deleted", "missing"


def version_fate(pages: Iterable[Mapping[str, Any]], key: str, version_id: str) -> str:
    """What became of version ``version_id`` of ``key``, from ``ListObjectVersions(Prefix=key)``
    pages (S3 lists a key's versions newest first; ``LastModified`` has whole seconds):

    - ``CURRENT``: it is the key's latest version;
    - ``SUPERSEDED``: a newer version of the key exists, whatever came after it: an overwrite is not
      a deletion, the older version is a file of its own (and is processed);
    - ``DELETED``: a delete marker is the key's latest version and no newer version exists: the
      file was deleted while it was the key's current object;
    - ``MISSING``: the version is not listed (permanently deleted)."""
    versions: list[Mapping[str, Any]] = []
    marker_latest = False
    for page in pages:
        versions.extend(v for v in page.get("Versions") or [] if v.get("Key") == key)
        marker_latest = marker_latest or any(
            m.get("Key") == key and m.get("IsLatest") for m in page.get("DeleteMarkers") or []
        )
    ids = [str(v.get("VersionId")) for v in versions]
    if version_id not in ids:
        return MISSING
    index = ids.index(version_id)
    mine = versions[index]
    if mine.get("IsLatest"):
        return CURRENT
    mine_at = _instant(mine.get("LastModified"))

    def newer(i: int, version: Mapping[str, Any]) -> bool:
        at = _instant(version.get("LastModified"))
        if at is None or mine_at is None or at == mine_at:
            return i < index  # S3's newest-first order decides within a second
        return at > mine_at

    if marker_latest and not any(newer(i, v) for i, v in enumerate(versions) if i != index):
        return DELETED
    return SUPERSEDED


def _human(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


@dataclass(frozen=True)
class Precheck:
    """What can be decided before reading: the contract, or a whole-file rejection."""

    contract: Contract | None
    rule: str | None = None
    reason: str | None = None

    @property
    def rejected(self) -> bool:
        return self.reason is not None


def precheck(obj: LandedObject, *, max_bytes: int, contracts_dir: Any = None) -> Precheck:
    """Dataset known? Object not empty and not too large? (A broken contract file raises:
    that is a deployment bug, and the message is retried rather than the data quarantined.)"""
    from pipeline_shared.contracts import UnknownDataset, load_contract

    key = obj.ref.key
    if not obj.has_dataset:
        return Precheck(
            None,
            "unknown_dataset",
            f"object key {key!r} names no dataset: landing keys must look like <dataset>/<anything>/<file>",
        )
    try:
        contract = load_contract(obj.dataset, contracts_dir)
    except UnknownDataset as exc:
        return Precheck(
            None, "unknown_dataset", f"unknown dataset {obj.dataset!r} (first segment of key {key!r}): {exc.problem}"
        )
    size = obj.ref.size
    if size == 0:
        return Precheck(contract, "empty", "empty file: the object has 0 bytes")
    if size is not None and size > max_bytes:
        return Precheck(
            contract,
            "oversized",
            f"oversized input: the object has {_human(size)} ({size} bytes), more than "
            f"the limit of {_human(max_bytes)} ({max_bytes} bytes, PIPELINE_MAX_OBJECT_BYTES)",
        )
    return Precheck(contract)


def validate_stream(
    source: BinaryIO | Any,
    *,
    key: str,
    contract: Contract,
    max_bytes: int,
    rejected_sink: BinaryIO | None = None,
    fast_path: bool = True,
) -> ValidationResult:
    """``pipeline_shared.validation.validate_stream`` (the check the API runs too), keeping at most
    this module's ``MAX_REPORT_VIOLATIONS`` violations for the quarantine report."""
    from pipeline_shared import validation

    limit = validation.MAX_REPORT_VIOLATIONS if MAX_REPORT_VIOLATIONS is None else MAX_REPORT_VIOLATIONS
    return validation.validate_stream(
        source,
        key=key,
        contract=contract,
        max_bytes=max_bytes,
        rejected_sink=rejected_sink,
        fast_path=fast_path,
        max_violations=limit,
    )


def build_report(
    obj: LandedObject,
    *,
    status: str,
    rule: str | None,
    reason: str | None,
    result: ValidationResult | None,
    contract: Contract | None,
    locations: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    """The machine-readable quarantine report (``report.json``)."""
    return {
        "report_version": REPORT_VERSION,
        "file_id": obj.file_id,
        "dataset": obj.dataset,
        "status": status,
        "rule": rule,
        "reason": reason,
        "source": {
            "bucket": obj.ref.bucket,
            "key": obj.ref.key,
            "version_id": obj.ref.version_id,
            "etag": obj.ref.etag,
            "size": obj.ref.size,
            "event_time": obj.event_time,
        },
        "contract": None
        if contract is None
        else {
            "name": contract.name,
            "format": contract.format,
            "max_rejected_fraction": contract.max_rejected_fraction,
        },
        "counts": result.counts if result is not None else {},
        "compressed": result.compressed if result is not None else None,
        "violations": [v.to_dict() for v in result.violations] if result is not None else [],
        "violations_total": result.violations_total if result is not None else 0,
        "violations_truncated": bool(result and result.violations_total > len(result.violations)),
        "locations": locations,
        "generated_at": (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    }
