"""S3 helpers that take a client (no boto3 import here): conditional reads and verified copies.

A copy is *verified* when a HEAD of the copy shows the source's size and either the same
full-object checksum (CRC64NVME, CRC32, CRC32C, SHA1 or SHA256, whichever both carry; S3 adds a
CRC64NVME to every new upload) or, when no checksum is shared, the same ETag. Objects up to 5 GiB
are copied with one ``CopyObject`` (``MetadataDirective=COPY``: content type, encoding and user
metadata come along); larger ones with a managed multipart copy that asks S3 for a CRC64NVME.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .aws import error_code

COPY_OBJECT_MAX_BYTES = 5 * 1024**3
MULTIPART_CHUNK_BYTES = 512 * 1024**2
CHECKSUM_FIELDS = ("ChecksumCRC64NVME", "ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256")
_GONE_CODES = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
_CHANGED_CODES = {"PreconditionFailed", "412"}


class ObjectGone(Exception):
    """The object (that version) no longer exists, or it was overwritten since the event."""


class CopyVerificationError(RuntimeError):
    """The copy does not match its source; the source was left untouched."""


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def selector(self) -> dict[str, str]:
        """GetObject/HeadObject arguments naming exactly this object: its version, else its ETag."""
        args = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id:
            args["VersionId"] = self.version_id
        elif self.etag:
            args["IfMatch"] = f'"{self.etag}"'
        return args


def _gone(ref: ObjectRef, exc: BaseException) -> ObjectGone | None:
    code = error_code(exc)
    if code in _GONE_CODES:
        return ObjectGone(f"{ref.uri} (version {ref.version_id or 'current'}) no longer exists")
    if code in _CHANGED_CODES:
        return ObjectGone(f"{ref.uri} was overwritten since the event (ETag is no longer {ref.etag})")
    return None


def open_body(s3: Any, ref: ObjectRef) -> Any:
    """The streaming body of exactly ``ref``; raises ``ObjectGone`` if it is gone or changed."""
    try:
        return s3.get_object(**ref.selector())["Body"]
    except Exception as exc:
        gone = _gone(ref, exc)
        if gone is not None:
            raise gone from None
        raise


def head(s3: Any, ref: ObjectRef) -> dict[str, Any]:
    """HeadObject (with checksums) of exactly ``ref``; raises ``ObjectGone``."""
    try:
        return s3.head_object(**ref.selector(), ChecksumMode="ENABLED")
    except Exception as exc:
        gone = _gone(ref, exc)
        if gone is not None:
            raise gone from None
        raise


def _composite(head_response: Mapping[str, Any], value: str) -> bool:
    return head_response.get("ChecksumType") == "COMPOSITE" or "-" in value


def verify_copy(source: Mapping[str, Any], copy: Mapping[str, Any]) -> list[str]:
    """Why ``copy`` (a HeadObject response) does not match ``source``; empty when it does."""
    problems = []
    if source.get("ContentLength") != copy.get("ContentLength"):
        problems.append(
            f"size differs: source {source.get('ContentLength')} bytes, copy {copy.get('ContentLength')} bytes"
        )
    compared = False
    for name in CHECKSUM_FIELDS:
        a, b = source.get(name), copy.get(name)
        if a and b and not _composite(source, a) and not _composite(copy, b):
            compared = True
            if a != b:
                problems.append(f"{name} differs: source {a}, copy {b}")
    if not compared:
        a = (source.get("ETag") or "").strip('"')
        b = (copy.get("ETag") or "").strip('"')
        if not a or a != b:
            problems.append(
                f"ETag differs (no common full-object checksum to compare): source {a or '-'}, copy {b or '-'}"
            )
    return problems


def copy_verified(
    s3: Any, source: ObjectRef, *, bucket: str, key: str, tags: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copy ``source`` to ``bucket``/``key`` keeping its metadata, then verify the copy.

    Returns the HEAD responses of source and copy. Raises ``ObjectGone`` when the source vanished
    or changed, ``CopyVerificationError`` when the copy does not match (the source is untouched)."""
    src = head(s3, source)
    etag = (src.get("ETag") or "").strip('"')
    copy_source = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        copy_source["VersionId"] = source.version_id
    extra: dict[str, Any] = {"MetadataDirective": "COPY"}
    if etag:
        extra["CopySourceIfMatch"] = f'"{etag}"'
    if tags:
        extra["TaggingDirective"] = "REPLACE"
        extra["Tagging"] = urllib.parse.urlencode(dict(tags))
    try:
        if src["ContentLength"] <= COPY_OBJECT_MAX_BYTES:
            s3.copy_object(Bucket=bucket, Key=key, CopySource=copy_source, **extra)
        else:
            from boto3.s3.transfer import TransferConfig

            s3.copy(
                copy_source,
                bucket,
                key,
                ExtraArgs={**extra, "ChecksumAlgorithm": "CRC64NVME"},
                Config=TransferConfig(
                    multipart_threshold=COPY_OBJECT_MAX_BYTES, multipart_chunksize=MULTIPART_CHUNK_BYTES
                ),
            )
            if tags:  # a multipart copy cannot carry tags
                s3.put_object_tagging(
                    Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
                )
    except Exception as exc:
        gone = _gone(source, exc)
        if gone is not None:
            raise gone from None
        raise
    dst = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    problems = verify_copy(src, dst)
    if problems:
        raise CopyVerificationError(
            f"copy of {source.uri} to s3://{bucket}/{key} failed verification: {'; '.join(problems)}"
        )
    return src, dst
