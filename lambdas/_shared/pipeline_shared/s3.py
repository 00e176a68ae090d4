"""S3 helpers that take a client (no boto3 import here): exact reads, SHA-256 digests, verified copies.

**Exact objects.** ``ObjectRef.selector()`` names one object: its version id, else its ETag
(``IfMatch``). Reading a version that no longer exists, or an ETag the key no longer holds, raises
``ObjectGone``, whose ``kind`` says what happened (``deleted``, ``version_gone``, ``overwritten``)
and whose ``reason(before=...)`` is the text a status record carries.

**Copies are verified by SHA-256, never by ETag.** On S3 an ETag is not a content digest (a
multipart upload's is ``<MD5 of the part MD5s>-N``; an SSE-KMS object's is no MD5 at all), and the
checksum S3 keeps for a multipart upload is *composite* (``ChecksumCRC32: "…==-3"``,
``ChecksumType: COMPOSITE``): it differs from the checksum of a copy of the same bytes. So a copy
is compared with a SHA-256 of the source's bytes, which is, in this order:

1. the digest the caller computed while streaming the source (validate computes it and passes it
   on in ``StageMessage.sha256``);
2. the source's own full-object ``ChecksumSHA256`` (never a composite one);
3. computed here by streaming exactly that source (its version, or ``IfMatch`` its ETag).

Objects up to 5 GiB are copied with one ``CopyObject`` (``MetadataDirective=COPY``: content type,
encoding and user metadata come along) that asks S3 for ``ChecksumAlgorithm=SHA256``: S3 computes a
full-object SHA-256 of the new object (``ChecksumSHA256``, base64 of the digest, in the
``CopyObjectResult``), which must equal the expected digest (equal digests mean equal bytes, hence
equal sizes). Only if the result carries none is the copy read back (``HeadObject`` with
``ChecksumMode=ENABLED``: its SHA-256 and size). Larger objects are copied with a managed multipart
copy, whose checksum is composite: such a copy is verified by streaming it back and hashing it
(rare: files that large are processed by AWS Batch, not Lambda). Reading a copy back needs
``s3:GetObject`` on the destination bucket; a single ``CopyObject`` with its SHA-256 in the result
needs only ``s3:PutObject`` there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .aws import error_code

COPY_OBJECT_MAX_BYTES = 5 * 1024**3
MULTIPART_CHUNK_BYTES = 512 * 1024**2
#: Bytes read at a time when a digest is computed by streaming.
HASH_CHUNK_BYTES = 8 * 1024**2
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
_CHANGED_CODES = {"PreconditionFailed", "412"}


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


class ObjectGone(Exception):
    """The object is gone: deleted, that version removed, or (no version id) overwritten."""

    DELETED, VERSION_GONE, OVERWRITTEN = "deleted", "version_gone", "overwritten"

    def __init__(self, ref: ObjectRef, kind: str, detail: str | None = None) -> None:
        self.ref, self.kind = ref, kind
        if detail is None:
            if kind == self.VERSION_GONE:
                detail = f"{ref.uri} version {ref.version_id} no longer exists"
            elif kind == self.OVERWRITTEN:
                detail = (f"{ref.uri} no longer holds the object with ETag {ref.etag} (the bucket keeps no older "
                          "versions, so its bytes are gone; the newer upload is a file of its own)")
            else:
                detail = f"{ref.uri} no longer exists"
        self.detail = detail
        super().__init__(detail)

    def reason(self, *, before: str) -> str:
        """The status record's reason, e.g. ``reason(before="validation")`` →
        ``deleted before validation: s3://… no longer exists``."""
        label = {self.VERSION_GONE: "version removed", self.OVERWRITTEN: "overwritten"}.get(
            self.kind, "deleted")
        return f"{label} before {before}: {self.detail}"


class CopyVerificationError(RuntimeError):
    """The copy does not match its source; the source was left untouched."""


def _gone(ref: ObjectRef, exc: BaseException) -> ObjectGone | None:
    code = error_code(exc)
    if code in _MISSING_CODES:
        return ObjectGone(ref, ObjectGone.VERSION_GONE if ref.version_id else ObjectGone.DELETED)
    if code in _CHANGED_CODES:
        return ObjectGone(ref, ObjectGone.OVERWRITTEN)
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


# -- digests ---------------------------------------------------------------------------------------


class Sha256Reader:
    """A binary stream (``read``) that hashes every byte read through it with SHA-256.

    ``complete`` turns true once a read reached the end of the stream: only then is ``hexdigest()``
    the digest of the whole object (a reader that stopped early, e.g. at a bad header, leaves it
    false)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.bytes_read = 0
        self.complete = False

    def read(self, size: int | None = -1) -> bytes:
        whole = size is None or size < 0
        data = self._stream.read() if whole else self._stream.read(size)
        if data:
            self._hash.update(data)
            self.bytes_read += len(data)
        if whole or (size and not data):
            self.complete = True
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def stream_sha256(stream: Any, *, chunk_bytes: int = HASH_CHUNK_BYTES) -> str:
    """The SHA-256 (hex) of everything ``stream`` still holds."""
    digest = hashlib.sha256()
    while True:
        data = stream.read(chunk_bytes)
        if not data:
            return digest.hexdigest()
        digest.update(data)


def check_sha256(value: str) -> str:
    """``value`` if it is a SHA-256 in lower-case hex; raises ``ValueError`` naming it otherwise."""
    if not isinstance(value, str) or not _HEX_SHA256.match(value):
        raise ValueError(f"a SHA-256 digest must be 64 lower-case hex characters, got {value!r}")
    return value


def sha256_b64(hex_digest: str) -> str:
    """A hex SHA-256 in S3's ``ChecksumSHA256`` form (base64 of the 32 bytes)."""
    return base64.b64encode(bytes.fromhex(check_sha256(hex_digest))).decode("ascii")


def is_composite(response: Mapping[str, Any], value: str) -> bool:
    """Whether checksum ``value`` of ``response`` is a multipart upload's composite checksum (a
    checksum of the parts' checksums, ``…-N``), which no copy shares."""
    return response.get("ChecksumType") == "COMPOSITE" or "-" in value


def full_object_sha256(response: Mapping[str, Any]) -> str | None:
    """The full-object SHA-256 (hex) a HeadObject/CopyObject response reports, else None (no
    ``ChecksumSHA256``, or a composite one)."""
    value = response.get("ChecksumSHA256")
    if not isinstance(value, str) or not value or is_composite(response, value):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def object_sha256(s3: Any, ref: ObjectRef, head_response: Mapping[str, Any] | None = None) -> str:
    """The SHA-256 (hex) of exactly ``ref``: its own full-object ``ChecksumSHA256`` when
    ``head_response`` (its HEAD with checksums) shows one, else by streaming it. Raises
    ``ObjectGone``."""
    known = full_object_sha256(head_response or {})
    if known is not None:
        return known
    body = open_body(s3, ref)
    try:
        return stream_sha256(body)
    finally:
        body.close()


# -- verified copies -------------------------------------------------------------------------------


def verify_copy(expected_sha256: str, source: Mapping[str, Any], copy: Mapping[str, Any]) -> list[str]:
    """Why ``copy`` (its HeadObject response with checksums, or its ``CopyObjectResult``) is not a
    copy of the bytes whose SHA-256 is ``expected_sha256`` (hex), with ``source``'s size (its
    HeadObject response; compared when ``copy`` reports a size: a ``CopyObjectResult`` does not);
    empty when it is. ETags and the source's other checksums are ignored."""
    problems = []
    if "ContentLength" in copy and source.get("ContentLength") != copy.get("ContentLength"):
        problems.append(
            f"size differs: source {source.get('ContentLength')} bytes, copy {copy.get('ContentLength')} bytes"
        )
    expected = sha256_b64(expected_sha256)
    actual = copy.get("ChecksumSHA256")
    if not actual:
        problems.append("the copy carries no SHA-256 checksum (CopyObject asks S3 for ChecksumAlgorithm=SHA256)")
    elif is_composite(copy, actual):
        problems.append(f"the copy's SHA-256 is a composite (multipart) checksum: {actual}")
    elif actual != expected:
        problems.append(f"SHA-256 differs: source {expected}, copy {actual}")
    return problems


@dataclass(frozen=True)
class VerifiedCopy:
    """A verified copy: the source's HEAD response, what S3 reported of the copy (its
    ``CopyObjectResult``, or its HEAD response) and the SHA-256 (hex) they share."""

    source: dict[str, Any]
    copy: dict[str, Any]
    sha256: str


def copy_verified(
    s3: Any,
    source: ObjectRef,
    *,
    bucket: str,
    key: str,
    tags: Mapping[str, str] | None = None,
    sha256: str | None = None,
) -> VerifiedCopy:
    """Copy ``source`` to ``bucket``/``key`` keeping its metadata, then verify the copy by SHA-256.

    ``sha256`` is the digest of the source's bytes (hex) when the caller computed it while reading
    them; without it, the source's own full-object SHA-256 is used, or the source is streamed and
    hashed. Raises ``ObjectGone`` when the source vanished or changed, ``CopyVerificationError``
    when the copy does not match (the source is untouched)."""
    src = head(s3, source)
    expected = check_sha256(sha256) if sha256 else object_sha256(s3, source, src)
    etag = (src.get("ETag") or "").strip('"')
    copy_source = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        copy_source["VersionId"] = source.version_id
    extra: dict[str, Any] = {"MetadataDirective": "COPY"}
    if etag:
        extra["CopySourceIfMatch"] = f'"{etag}"'  # an identity check, not a content digest
    if tags:
        extra["TaggingDirective"] = "REPLACE"
        extra["Tagging"] = urllib.parse.urlencode(dict(tags))
    single = src["ContentLength"] <= COPY_OBJECT_MAX_BYTES
    result: Mapping[str, Any] = {}
    try:
        if single:
            response = s3.copy_object(Bucket=bucket, Key=key, CopySource=copy_source, ChecksumAlgorithm="SHA256",
                                      **extra)
            result = response.get("CopyObjectResult") or {}
            version = response.get("VersionId")
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
            version = None
            if tags:  # a multipart copy cannot carry tags
                s3.put_object_tagging(
                    Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
                )
    except Exception as exc:
        gone = _gone(source, exc)
        if gone is not None:
            raise gone from None
        raise
    target = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version and version != "null" else {})}
    if single and result.get("ChecksumSHA256"):
        dst: dict[str, Any] = dict(result)
        problems = verify_copy(expected, src, dst)
    elif single:  # no checksum in the result: read the copy's back
        dst = s3.head_object(**target, ChecksumMode="ENABLED")
        problems = verify_copy(expected, src, dst)
    else:  # composite checksum: hash the copy itself
        dst = s3.head_object(**target, ChecksumMode="ENABLED")
        copy_version = dst.get("VersionId")
        copied = ObjectRef(bucket=bucket, key=key, version_id=copy_version if copy_version != "null" else None,
                           etag=(dst.get("ETag") or "").strip('"') or None)
        hashed = {**dst, "ChecksumSHA256": sha256_b64(object_sha256(s3, copied)), "ChecksumType": "FULL_OBJECT"}
        problems = verify_copy(expected, src, hashed)
    if problems:
        raise CopyVerificationError(
            f"copy of {source.uri} to s3://{bucket}/{key} failed verification: {'; '.join(problems)}"
        )
    return VerifiedCopy(source=dict(src), copy=dict(dst), sha256=expected)
