"""pipeline_shared.s3, pure parts: the object selector, ``ObjectGone`` reasons, SHA-256 helpers and
``verify_copy`` on S3-shaped HeadObject/CopyObject responses (copies are compared by SHA-256 only)."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from pipeline_shared.s3 import (
    ObjectGone,
    ObjectRef,
    Sha256Reader,
    full_object_sha256,
    sha256_b64,
    stream_sha256,
    verify_copy,
)

BODY = b"order_id,amount\nORD-000001,1.00\n"
HEX = hashlib.sha256(BODY).hexdigest()
B64 = base64.b64encode(hashlib.sha256(BODY).digest()).decode()

#: HeadObject of a single-part upload with SSE-S3 (S3 added its default CRC64NVME checksum).
SINGLE_PART_SSE_S3 = {
    "ContentLength": len(BODY),
    "ETag": f'"{hashlib.md5(BODY).hexdigest()}"',
    "ChecksumCRC64NVME": "4Nx0oOOXKfc=",
    "ChecksumType": "FULL_OBJECT",
    "ServerSideEncryption": "AES256",
    "VersionId": "3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY-MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
}
#: HeadObject of `aws s3 cp` of a large file: three parts with CRC32, a composite checksum.
MULTIPART_COMPOSITE = {
    "ContentLength": len(BODY),
    "ETag": '"d8e8fca2dc0f896fd7cb4cb0031ba249-3"',
    "ChecksumCRC32": "abc==-3",
    "ChecksumType": "COMPOSITE",
    "ServerSideEncryption": "AES256",
}
#: HeadObject of an SSE-KMS object: its ETag is not the MD5 of its bytes.
SSE_KMS = {
    "ContentLength": len(BODY),
    "ETag": '"7e0a7bd5c4f2b1b64fb2b0d4b1b8f0c2"',
    "ChecksumCRC64NVME": "vBx8Uo6yFwo=",
    "ChecksumType": "FULL_OBJECT",
    "ServerSideEncryption": "aws:kms",
    "SSEKMSKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "BucketKeyEnabled": True,
}


def copy_head(source: dict, checksum: str = B64, **changes: object) -> dict:
    """HeadObject (ChecksumMode=ENABLED) of a CopyObject of ``source`` asked for SHA-256: a new ETag
    (SSE-KMS, or a multipart source copied in one piece), a full-object ChecksumSHA256."""
    head = {
        "ContentLength": source["ContentLength"],
        "ETag": '"c1a5298f939e87e8f962a5edfc206918"',
        "ChecksumSHA256": checksum,
        "ChecksumType": "FULL_OBJECT",
        "ServerSideEncryption": source["ServerSideEncryption"],
    }
    return {**head, **changes}


@pytest.mark.parametrize("source", [SINGLE_PART_SSE_S3, MULTIPART_COMPOSITE, SSE_KMS],
                         ids=["single-part SSE-S3", "multipart composite", "SSE-KMS"])
def test_a_copy_with_the_sources_sha256_verifies_whatever_the_etags(source):
    assert verify_copy(HEX, source, copy_head(source)) == []


@pytest.mark.parametrize("source", [SINGLE_PART_SSE_S3, MULTIPART_COMPOSITE, SSE_KMS],
                         ids=["single-part SSE-S3", "multipart composite", "SSE-KMS"])
def test_a_copy_whose_sha256_differs_is_refused(source):
    other = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()
    assert verify_copy(HEX, source, copy_head(source, other)) == [f"SHA-256 differs: source {B64}, copy {other}"]


def test_equal_etags_do_not_make_a_copy_verified():
    copy = copy_head(SINGLE_PART_SSE_S3, base64.b64encode(b"\0" * 32).decode(), ETag=SINGLE_PART_SSE_S3["ETag"])
    assert verify_copy(HEX, SINGLE_PART_SSE_S3, copy) == [
        f"SHA-256 differs: source {B64}, copy {base64.b64encode(bytes(32)).decode()}"
    ]


def test_a_copy_without_sha256_is_refused_even_with_a_shared_crc():
    copy = {k: v for k, v in copy_head(SSE_KMS).items() if k != "ChecksumSHA256"}
    copy["ChecksumCRC64NVME"] = SSE_KMS["ChecksumCRC64NVME"]
    assert verify_copy(HEX, SSE_KMS, copy) == [
        "the copy carries no SHA-256 checksum (CopyObject asks S3 for ChecksumAlgorithm=SHA256)"
    ]


def test_a_composite_sha256_of_the_copy_is_refused():
    copy = copy_head(SINGLE_PART_SSE_S3, "abc==-2", ChecksumType="COMPOSITE")
    assert verify_copy(HEX, SINGLE_PART_SSE_S3, copy) == [
        "the copy's SHA-256 is a composite (multipart) checksum: abc==-2"
    ]


def test_size_difference_is_reported():
    assert verify_copy(HEX, SSE_KMS, copy_head(SSE_KMS, ContentLength=len(BODY) - 1)) == [
        f"size differs: source {len(BODY)} bytes, copy {len(BODY) - 1} bytes"
    ]


def test_full_object_sha256_is_read_from_a_head_and_composites_are_ignored():
    assert full_object_sha256({"ChecksumSHA256": B64, "ChecksumType": "FULL_OBJECT"}) == HEX
    assert full_object_sha256({"ChecksumSHA256": B64}) == HEX
    assert full_object_sha256({"ChecksumSHA256": "abc==-3", "ChecksumType": "COMPOSITE"}) is None
    assert full_object_sha256({"ChecksumSHA256": B64, "ChecksumType": "COMPOSITE"}) is None
    assert full_object_sha256(MULTIPART_COMPOSITE) is None


def test_sha256_b64_is_s3s_checksum_form():
    assert sha256_b64(HEX) == B64


def test_sha256_b64_refuses_what_is_not_a_hex_digest():
    with pytest.raises(ValueError, match="a SHA-256 digest must be 64 lower-case hex characters, got 'abc'"):
        sha256_b64("abc")


def test_sha256_reader_hashes_what_was_read_and_knows_the_end():
    reader = Sha256Reader(io.BytesIO(BODY))
    assert reader.read(10) == BODY[:10] and not reader.complete
    while reader.read(7):
        pass
    assert reader.complete and reader.hexdigest() == HEX and reader.bytes_read == len(BODY)


def test_sha256_reader_read_all_is_complete():
    reader = Sha256Reader(io.BytesIO(BODY))
    assert reader.read() == BODY and reader.complete and reader.hexdigest() == HEX


def test_stream_sha256_reads_to_the_end():
    assert stream_sha256(io.BytesIO(BODY), chunk_bytes=5) == HEX


def test_selector_prefers_the_version():
    assert ObjectRef("b", "k", version_id="v", etag="e").selector() == {"Bucket": "b", "Key": "k", "VersionId": "v"}
    assert ObjectRef("b", "k", etag="e").selector() == {"Bucket": "b", "Key": "k", "IfMatch": '"e"'}


def test_object_gone_reasons_name_what_happened():
    versioned, plain = ObjectRef("b", "k", version_id="v1", etag="e"), ObjectRef("b", "k", etag="e")
    assert ObjectGone(versioned, ObjectGone.VERSION_GONE).reason(before="validation") == (
        "version removed before validation: s3://b/k version v1 no longer exists"
    )
    assert ObjectGone(plain, ObjectGone.DELETED).reason(before="archiving") == (
        "deleted before archiving: s3://b/k no longer exists"
    )
    assert ObjectGone(plain, ObjectGone.OVERWRITTEN).reason(before="validation") == (
        "overwritten before validation: s3://b/k no longer holds the object with ETag e (the bucket keeps no "
        "older versions, so its bytes are gone; the newer upload is a file of its own)"
    )
