"""Object-key conventions of the pipeline and the stable ``file_id``.

Landing
    ``<dataset>/<anything>/<file>``: the **first path segment is the dataset name** and selects the
    contract ``contracts/<dataset>.toml``; the middle part is free (``orders/2024/05/sftp/a.csv``,
    ``orders/a.csv``). A key without a '/' has no dataset and is quarantined under ``_unknown``.
    Keys ending in '/' are folder placeholders and are ignored.
Quarantine
    ``<dataset>/<file_id>/report.json`` (machine-readable reason and violations),
    ``<dataset>/<file_id>/rejected_rows.<csv|jsonl>`` (the bad rows themselves) and, when the whole
    file is rejected, ``<dataset>/<file_id>/original/<file name>`` (the object in full).
Clean
    ``dataset=<name>/date=<YYYY-MM-DD>/<file_id>.<csv|jsonl>`` (Hive-style partitions).
Archive
    ``<dataset>/<yyyy>/<mm>/<dd>/<file_id>/<original key>`` (date the object landed).

``file_id`` is derived from bucket, key and version id (or ETag when the bucket is not versioned), so
it is the same on every redelivery of the same object and different for a new upload.
"""

from __future__ import annotations

import hashlib
import posixpath
from datetime import UTC, date, datetime

UNKNOWN_DATASET = "_unknown"


def dataset_for_key(key: str) -> str | None:
    """The dataset named by the key's first path segment, or None if the key has no '/'."""
    head, sep, _rest = key.partition("/")
    return head if sep and head else None


def is_folder_placeholder(key: str) -> bool:
    return key.endswith("/")


def normalise_etag(etag: str | None) -> str | None:
    return etag.strip().strip('"') if etag else None


def file_id(bucket: str, key: str, *, version_id: str | None = None, etag: str | None = None) -> str:
    """32 hex characters identifying one uploaded object (version id preferred, else ETag)."""
    identity = version_id or normalise_etag(etag)
    if not identity:
        raise ValueError(f"cannot derive a file_id for s3://{bucket}/{key}: neither version id nor ETag known")
    return hashlib.sha256(f"s3://{bucket}/{key}\n{identity}".encode()).hexdigest()[:32]


def landed_date(received_at: str | None, *, today: date | None = None) -> date:
    """The UTC date a file landed, from its S3 event time (ISO-8601); ``today`` (UTC) if unknown."""
    if received_at:
        try:
            return datetime.fromisoformat(received_at).astimezone(UTC).date()
        except ValueError:
            pass
    return today or datetime.now(UTC).date()


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def quarantine_report_key(dataset: str, fid: str) -> str:
    return f"{dataset}/{fid}/report.json"


def report_log_key(dataset: str, partition: date, fid: str) -> str:
    """The one-line copy of a quarantine report that Athena reads (table ``quarantine_reports``,
    partitions ``dataset`` and ``date``): ``_reports/dataset=<d>/date=<YYYY-MM-DD>/<file_id>.json``."""
    return f"_reports/dataset={dataset}/date={partition.isoformat()}/{fid}.json"


def status_log_key(dataset: str, partition: date, fid: str, status: str) -> str:
    """One file outcome as a JSON line in the clean bucket (table ``file_status``):
    ``_status/dataset=<d>/date=<YYYY-MM-DD>/<file_id>-<status>.json``."""
    return f"_status/dataset={dataset}/date={partition.isoformat()}/{fid}-{status}.json"


def quarantine_rows_key(dataset: str, fid: str, extension: str) -> str:
    return f"{dataset}/{fid}/rejected_rows.{extension}"


def quarantine_original_key(dataset: str, fid: str, source_key: str) -> str:
    return f"{dataset}/{fid}/original/{posixpath.basename(source_key) or 'object'}"


def clean_key(dataset: str, partition: date, fid: str, extension: str) -> str:
    return f"dataset={dataset}/date={partition.isoformat()}/{fid}.{extension}"


def archive_key(dataset: str, landed: date, fid: str, source_key: str) -> str:
    return f"{dataset}/{landed:%Y/%m/%d}/{fid}/{source_key}"
