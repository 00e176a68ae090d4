"""pipeline_shared.s3.copy_verified against a stand-in S3 client that answers as S3 does (responses
shaped after the HeadObject/CopyObject/GetObject API reference): single-part, multipart (composite
checksum), SSE-S3 and SSE-KMS sources are all verified by SHA-256, and never by ETag."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from pipeline_shared import s3

BODY = b"order_id,amount\nORD-000001,1.00\nORD-000002,2.50\n"
HEX = hashlib.sha256(BODY).hexdigest()
VERSION = "3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY-MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

SOURCES = {
    "single-part": {"ETag": f'"{hashlib.md5(BODY).hexdigest()}"', "ChecksumCRC64NVME": "4Nx0oOOXKfc=",
                    "ChecksumType": "FULL_OBJECT", "ServerSideEncryption": "AES256"},
    "multipart": {"ETag": '"d8e8fca2dc0f896fd7cb4cb0031ba249-3"', "ChecksumCRC32": "abc==-3",
                  "ChecksumType": "COMPOSITE", "ServerSideEncryption": "AES256"},
    "sse-s3": {"ETag": f'"{hashlib.md5(BODY).hexdigest()}"', "ServerSideEncryption": "AES256"},
    "sse-kms": {"ETag": '"7e0a7bd5c4f2b1b64fb2b0d4b1b8f0c2"', "ChecksumCRC64NVME": "vBx8Uo6yFwo=",
                "ChecksumType": "FULL_OBJECT", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY,
                "BucketKeyEnabled": True},
}


class ClientError(Exception):
    """What botocore raises: the error code in ``response["Error"]["Code"]``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class FakeS3:
    """One landing object (``source``: its HeadObject fields) and the copies made of it. A copy's
    bytes are the source's, unless ``corrupt`` (then one byte differs, as S3 would then report)."""

    def __init__(self, source: dict[str, Any], *, size: int | None = None, corrupt: bool = False,
                 gone: str | None = None, copy_error: str | None = None, checksum_in_result: bool = True) -> None:
        self.source = {"ContentLength": len(BODY) if size is None else size, "VersionId": VERSION,
                       "LastModified": datetime(2024, 5, 1, tzinfo=UTC), "ContentType": "text/csv",
                       "Metadata": {}, **source}
        self.corrupt, self.gone, self.copy_error = corrupt, gone, copy_error
        self.checksum_in_result = checksum_in_result
        self.copies: dict[tuple[str, str], tuple[dict[str, Any], bytes]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _copy_bytes(self) -> bytes:
        return BODY[:-1] + b"?" if self.corrupt else BODY

    def head_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("head_object", kw))
        if (kw["Bucket"], kw["Key"]) in self.copies:
            return dict(self.copies[kw["Bucket"], kw["Key"]][0])
        if self.gone:
            raise ClientError(self.gone)
        head = dict(self.source)
        if kw.get("ChecksumMode") != "ENABLED":
            head = {k: v for k, v in head.items() if not k.startswith("Checksum")}
        return head

    def get_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("get_object", kw))
        if (kw["Bucket"], kw["Key"]) in self.copies:
            head, data = self.copies[kw["Bucket"], kw["Key"]]
        else:
            head, data = self.source, BODY
        return {"Body": io.BytesIO(data), "ContentLength": len(data), "ETag": head["ETag"]}

    def copy_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("copy_object", kw))
        if self.copy_error:
            raise ClientError(self.copy_error)
        data = self._copy_bytes()
        result = {"ETag": '"c1a5298f939e87e8f962a5edfc206918"', "LastModified": datetime(2024, 5, 1, tzinfo=UTC)}
        if kw.get("ChecksumAlgorithm") == "SHA256":  # S3: a full-object SHA-256 of the new object
            result.update(ChecksumSHA256=b64sha256(data), ChecksumType="FULL_OBJECT")
        head = {"ContentLength": self.source["ContentLength"], "ETag": result["ETag"],
                "ServerSideEncryption": self.source["ServerSideEncryption"],
                **{k: v for k, v in result.items() if k.startswith("Checksum")}}
        self.copies[kw["Bucket"], kw["Key"]] = (head, data)
        if not self.checksum_in_result:
            result = {k: v for k, v in result.items() if not k.startswith("Checksum")}
        return {"CopyObjectResult": result, "CopySourceVersionId": VERSION,
                "ServerSideEncryption": self.source["ServerSideEncryption"]}

    def copy(self, copy_source: dict, bucket: str, key: str, ExtraArgs: dict, Config: Any) -> None:  # noqa: N803
        """boto3's managed (multipart) copy: the new object's checksum is per part, not SHA-256."""
        self.calls.append(("copy", {"CopySource": copy_source, "Bucket": bucket, "Key": key, **ExtraArgs}))
        data = self._copy_bytes()
        head = {"ContentLength": self.source["ContentLength"], "ETag": '"9b2cf535f27731c974343645a3985328-12"',
                "ChecksumCRC64NVME": "AAAAAAAAAAA=", "ChecksumType": "FULL_OBJECT",
                "ServerSideEncryption": self.source["ServerSideEncryption"]}
        self.copies[bucket, key] = (head, data)

    def put_object_tagging(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("put_object_tagging", kw))
        return {}

    def called(self, name: str) -> list[dict[str, Any]]:
        return [kw for n, kw in self.calls if n == name]


REF = s3.ObjectRef(bucket="pk-landing", key="orders/a.csv", version_id=VERSION, etag="e", size=len(BODY))


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_each_kind_of_source_is_verified_by_sha256(kind):
    client = FakeS3(SOURCES[kind])
    copied = s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv", sha256=HEX)
    assert copied.sha256 == HEX
    (call,) = client.called("copy_object")
    assert (call["ChecksumAlgorithm"], call["CopySource"]["VersionId"], call["MetadataDirective"]) == (
        "SHA256", VERSION, "COPY")
    assert client.called("get_object") == []  # the digest came with the message: nothing streamed
    assert [c["Bucket"] for c in client.called("head_object")] == ["pk-landing"]  # the copy is not read back


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_a_copy_whose_sha256_differs_is_refused(kind):
    client = FakeS3(SOURCES[kind], corrupt=True)
    with pytest.raises(s3.CopyVerificationError) as error:
        s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv", sha256=HEX)
    assert str(error.value) == (
        "copy of s3://pk-landing/orders/a.csv to s3://pk-archive/x/a.csv failed verification: SHA-256 differs: "
        f"source {b64sha256(BODY)}, copy {b64sha256(BODY[:-1] + b'?')}"
    )


def test_a_digest_that_is_not_the_sources_refuses_the_copy():
    client = FakeS3(SOURCES["sse-kms"])
    with pytest.raises(s3.CopyVerificationError, match="SHA-256 differs"):
        s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv", sha256=hashlib.sha256(b"x").hexdigest())


@pytest.mark.parametrize("kind", ["multipart", "sse-kms", "sse-s3"])
def test_without_a_digest_the_exact_source_version_is_streamed_and_hashed(kind):
    client = FakeS3(SOURCES[kind])
    assert s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv").sha256 == HEX
    (get,) = client.called("get_object")
    assert (get["Bucket"], get["Key"], get["VersionId"]) == ("pk-landing", "orders/a.csv", VERSION)


def test_without_a_version_the_source_is_streamed_by_its_etag():
    client = FakeS3(SOURCES["sse-kms"])
    ref = s3.ObjectRef(bucket="pk-landing", key="orders/a.csv", etag="7e0a7bd5c4f2b1b64fb2b0d4b1b8f0c2")
    s3.copy_verified(client, ref, bucket="pk-archive", key="x/a.csv")
    (get,) = client.called("get_object")
    assert get["IfMatch"] == '"7e0a7bd5c4f2b1b64fb2b0d4b1b8f0c2"' and "VersionId" not in get


def test_without_a_digest_a_full_object_sha256_of_the_source_is_used():
    client = FakeS3({**SOURCES["single-part"], "ChecksumSHA256": b64sha256(BODY), "ChecksumType": "FULL_OBJECT"})
    assert s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv").sha256 == HEX
    assert client.called("get_object") == []


def test_without_a_digest_a_composite_sha256_of_the_source_is_not_trusted():
    client = FakeS3({**SOURCES["multipart"], "ChecksumSHA256": "n4bQgYhMfWWaL-qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=-3"})
    assert s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv").sha256 == HEX
    assert len(client.called("get_object")) == 1


def test_a_copy_above_5_gib_is_verified_by_hashing_the_copy():
    client = FakeS3(SOURCES["multipart"], size=6 * 1024**3)
    copied = s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv", sha256=HEX,
                              tags={"file_id": "f" * 32})
    assert copied.sha256 == HEX and client.called("copy_object") == []
    (get,) = client.called("get_object")
    assert (get["Bucket"], get["Key"]) == ("pk-archive", "x/a.csv")
    assert client.called("put_object_tagging")[0]["Tagging"] == {"TagSet": [{"Key": "file_id", "Value": "f" * 32}]}


def test_a_corrupt_copy_above_5_gib_is_refused():
    client = FakeS3(SOURCES["multipart"], size=6 * 1024**3, corrupt=True)
    with pytest.raises(s3.CopyVerificationError, match="SHA-256 differs"):
        s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv", sha256=HEX)


def test_a_source_version_that_no_longer_exists_is_gone():
    client = FakeS3(SOURCES["sse-kms"], gone="404")
    with pytest.raises(s3.ObjectGone) as gone:
        s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv", sha256=HEX)
    assert gone.value.kind == s3.ObjectGone.VERSION_GONE
    assert client.called("copy_object") == []


def test_an_unversioned_source_overwritten_before_the_copy_is_gone():
    client = FakeS3(SOURCES["sse-s3"], copy_error="PreconditionFailed")
    ref = s3.ObjectRef(bucket="pk-landing", key="orders/a.csv", etag=hashlib.md5(BODY).hexdigest())
    with pytest.raises(s3.ObjectGone) as gone:
        s3.copy_verified(client, ref, bucket="pk-archive", key="x/a.csv", sha256=HEX)
    assert gone.value.kind == s3.ObjectGone.OVERWRITTEN
    assert client.called("copy_object")[0]["CopySourceIfMatch"] == f'"{hashlib.md5(BODY).hexdigest()}"'


def test_a_digest_that_is_not_hex_is_refused_before_copying():
    client = FakeS3(SOURCES["sse-s3"])
    with pytest.raises(ValueError, match="a SHA-256 digest must be 64 lower-case hex characters"):
        s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv", sha256="ABC")
    assert client.called("copy_object") == []


def test_a_copy_result_without_a_checksum_is_checked_on_a_head_of_the_copy():
    client = FakeS3(SOURCES["sse-kms"], checksum_in_result=False)
    assert s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv", sha256=HEX).sha256 == HEX
    (head,) = [c for c in client.called("head_object") if c["Bucket"] == "pk-archive"]
    assert head["ChecksumMode"] == "ENABLED"


def test_a_copy_read_back_with_another_size_is_refused():
    client = FakeS3(SOURCES["sse-s3"], checksum_in_result=False)
    real_copy = client.copy_object

    def copy_then_truncate(**kw):
        response = real_copy(**kw)
        head, data = client.copies["pk-archive", "x/a.csv"]
        client.copies["pk-archive", "x/a.csv"] = ({**head, "ContentLength": len(BODY) - 1}, data)
        return response

    client.copy_object = copy_then_truncate
    with pytest.raises(s3.CopyVerificationError, match=f"size differs: source {len(BODY)} bytes, copy {len(BODY) - 1}"):
        s3.copy_verified(client, REF, bucket="pk-archive", key="x/a.csv", sha256=HEX)
