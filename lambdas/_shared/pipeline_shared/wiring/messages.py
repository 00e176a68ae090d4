"""``StageMessage``: the versioned JSON message one stage sends to the next.

One message describes one landed file at one point of its journey::

    {"schema_version": 1, "file_id": "3f1c…", "dataset": "orders", "status": "validated",
     "produced_by": "validate", "bucket": "pk-dev-landing", "key": "orders/2024/a.csv",
     "version_id": null, "etag": "5d41…", "size": 1234, "sha256": "2cf2…", "received_at": "2024-05-01T10:00:00Z",
     "counts": {"records_in": 10, "valid": 9, "rejected": 1},
     "locations": {"landing": "s3://…", "quarantine_report": "s3://…"}, "reason": null}

``status`` is where the file stands after the producing stage:

==============  ===============  =========================================================
status          sent by → to      meaning
==============  ===============  =========================================================
validated       validate → cleanse  accepted (rows over the contract may have been quarantined)
quarantined     validate → notify   whole file rejected and copied to quarantine; see ``reason``
cleansed        cleanse → archive   clean data written (``locations.clean`` lists the objects)
processed       archive → notify    raw object archived and removed from landing
gone            validate → notify   the object was deleted (or its version removed, or, in an
                archive → notify    unversioned bucket, overwritten) before the stage could read
                                    it: acknowledged, nothing more to do; ``reason`` says what
                                    happened and what was done before (clean data written...)
==============  ===============  =========================================================

``sha256`` (optional, hex) is the SHA-256 of the landed object's bytes, computed by validate while
it streams the object and passed on by every later stage: copies (archive, quarantine) are verified
against it (``pipeline_shared.s3``). Absent when validate did not read the whole object (a file
rejected before or while reading it) or in a message from before the field existed.

``counts`` keys (all optional integers): records_in, valid, rejected, duplicates, out, bytes_in,
bytes_out. ``locations`` values are ``s3://`` URIs; ``clean`` is a list. Readers accept unknown
fields (additive changes keep the version); a breaking change bumps ``schema_version`` and old
readers refuse the message with a clear error.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
VALIDATED, QUARANTINED, CLEANSED, PROCESSED = "validated", "quarantined", "cleansed", "processed"
GONE = "gone"
STATUSES = (VALIDATED, QUARANTINED, CLEANSED, PROCESSED, GONE)
#: Statuses that end a file's journey (what notify accepts).
FINAL_STATUSES = (QUARANTINED, PROCESSED, GONE)
COUNT_KEYS = ("records_in", "valid", "rejected", "duplicates", "out", "bytes_in", "bytes_out")
MAX_REASON_CHARS = 2000
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MessageError(ValueError):
    """A message body that is not a valid ``StageMessage``; the text names the field."""


@dataclass(frozen=True)
class StageMessage:
    file_id: str
    dataset: str
    status: str
    produced_by: str
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    sha256: str | None = None
    received_at: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    locations: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        for name in ("file_id", "dataset", "status", "produced_by", "bucket", "key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise MessageError(f"StageMessage.{name} must be a non-empty string, got {value!r}")
        if self.status not in STATUSES:
            raise MessageError(f"StageMessage.status {self.status!r} is not one of {', '.join(STATUSES)}")
        for name in ("version_id", "etag", "received_at", "reason"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise MessageError(f"StageMessage.{name} must be a string or null, got {value!r}")
        if self.sha256 is not None and (not isinstance(self.sha256, str) or not _HEX_SHA256.match(self.sha256)):
            raise MessageError(f"StageMessage.sha256 must be 64 lower-case hex characters or null, got {self.sha256!r}")
        if self.size is not None and (not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0):
            raise MessageError(f"StageMessage.size must be a non-negative integer or null, got {self.size!r}")
        if not isinstance(self.counts, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in self.counts.items()
        ):
            raise MessageError(f"StageMessage.counts must map names to integers, got {self.counts!r}")
        if not isinstance(self.locations, Mapping) or not all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v))
            for v in self.locations.values()
        ):
            raise MessageError(
                f"StageMessage.locations must map names to URIs or lists of URIs, got {self.locations!r}"
            )
        if self.reason is not None and len(self.reason) > MAX_REASON_CHARS:
            object.__setattr__(self, "reason", self.reason[: MAX_REASON_CHARS - 1] + "…")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["counts"] = dict(self.counts)
        data["locations"] = {k: (list(v) if isinstance(v, list) else v) for k, v in self.locations.items()}
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True, ensure_ascii=False)

    def evolve(
        self, *, counts: Mapping[str, int] | None = None, locations: Mapping[str, Any] | None = None, **changes: Any
    ) -> StageMessage:
        """A copy with ``changes`` applied; ``counts``/``locations`` are merged into the current ones."""
        if counts:
            changes["counts"] = {**self.counts, **counts}
        if locations:
            changes["locations"] = {**self.locations, **locations}
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Any) -> StageMessage:
        if not isinstance(data, dict):
            raise MessageError(f"a stage message must be a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise MessageError(
                f"unsupported StageMessage schema_version {version!r} (this code reads version {SCHEMA_VERSION})"
            )
        missing = [n for n in ("file_id", "dataset", "status", "produced_by", "bucket", "key") if n not in data]
        if missing:
            raise MessageError(f"stage message is missing field(s): {', '.join(missing)}")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["counts"] = values.get("counts") or {}
        values["locations"] = values.get("locations") or {}
        return cls(**values)

    @classmethod
    def from_json(cls, body: str) -> StageMessage:
        try:
            data = json.loads(body)
        except (TypeError, ValueError) as exc:
            raise MessageError(f"stage message body is not valid JSON: {exc}") from None
        return cls.from_dict(data)


def sqs_attributes(message: StageMessage) -> dict[str, dict[str, str]]:
    """SQS message attributes that mirror the routing fields (for filtering and debugging)."""
    return {
        "dataset": {"DataType": "String", "StringValue": message.dataset},
        "status": {"DataType": "String", "StringValue": message.status},
        "file_id": {"DataType": "String", "StringValue": message.file_id},
    }
