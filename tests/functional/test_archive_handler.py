"""archive handler on moto: verified copy, then delete from landing; failure leaves landing alone."""

from __future__ import annotations

import base64
import hashlib

import pytest
from lambda_events import sqs_event
from pipeline_shared.wiring.messages import StageMessage

OK = {"batchItemFailures": []}
BODY = b"order_id,amount\nORD-000001,1.00\n"


def cleansed(
    aws, key: str = "orders/in/a.csv", body: bytes = BODY, *, versioned: bool = True, **put: object
) -> StageMessage:
    """Put ``body`` in landing and return the message cleanse would have sent for it."""
    response = aws.put("landing", key, body, **put)
    return StageMessage(
        file_id=hashlib.sha256(key.encode()).hexdigest()[:32],
        dataset="orders",
        status="cleansed",
        produced_by="cleanse",
        bucket=aws.buckets["landing"],
        key=key,
        version_id=response["VersionId"] if versioned else None,
        etag=response["ETag"].strip('"'),
        size=len(body),
        received_at="2024-05-01T10:00:00.000Z",
        counts={"records_in": 1, "out": 1},
        locations={"landing": f"s3://{aws.buckets['landing']}/{key}", "clean": ["s3://c/x.csv"]},
    )


def archive_key(message: StageMessage) -> str:
    return f"orders/2024/05/01/{message.file_id}/{message.key}"


def landing_has(aws, key: str) -> bool:
    try:
        aws.client("s3").head_object(Bucket=aws.buckets["landing"], Key=key)
        return True
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") == "404":
            return False
        raise


@pytest.fixture
def corrupt_archive_copies(archive):
    """Make S3 report, for every CopyObject into the archive bucket, the SHA-256 of other bytes (a
    copy that went wrong on the way)."""
    client = archive.aws.client("s3")
    wrong = base64.b64encode(hashlib.sha256(b"not the bytes that were landed").digest()).decode()

    def lie(http_response, parsed, model, **kwargs):
        if kwargs.get("context", {}).get("pk_archive_copy"):
            parsed.setdefault("CopyObjectResult", {})["ChecksumSHA256"] = wrong

    def mark(params, context, **kwargs):
        if params.get("Bucket", "").endswith("-archive"):
            context["pk_archive_copy"] = True

    client.meta.events.register("before-parameter-build.s3.CopyObject", mark)
    client.meta.events.register("after-call.s3.CopyObject", lie)
    yield wrong
    client.meta.events.unregister("before-parameter-build.s3.CopyObject", mark)
    client.meta.events.unregister("after-call.s3.CopyObject", lie)


def test_object_is_archived_then_removed_from_landing(aws, archive, context):
    message = cleansed(aws)
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    assert aws.get("archive", archive_key(message)) == BODY
    assert not landing_has(aws, message.key)
    (out,) = aws.bodies("notify")
    assert (out["status"], out["produced_by"]) == ("processed", "archive")
    assert out["locations"]["archive"] == f"s3://{aws.buckets['archive']}/{archive_key(message)}"
    assert out["locations"]["clean"] == ["s3://c/x.csv"]


def test_archive_copy_keeps_metadata_and_is_tagged(aws, archive, context):
    message = cleansed(aws, ContentType="text/csv", Metadata={"source-system": "shop"})
    archive.lambda_handler(sqs_event([message]), context)
    s3 = aws.client("s3")
    head = s3.head_object(Bucket=aws.buckets["archive"], Key=archive_key(message))
    assert (head["ContentType"], head["Metadata"]) == ("text/csv", {"source-system": "shop"})
    tags = s3.get_object_tagging(Bucket=aws.buckets["archive"], Key=archive_key(message))["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"file_id": message.file_id, "dataset": "orders"}


def test_failed_verification_leaves_landing_untouched(aws, archive, context, logs, corrupt_archive_copies):
    logs.attach(archive)
    message = cleansed(aws)
    event = sqs_event([message])
    assert archive.lambda_handler(event, context) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
    }
    assert landing_has(aws, message.key)
    assert aws.bodies("notify") == []
    (error,) = [e for e in logs("archive") if e["level"] == "ERROR"]
    assert error["exception_name"] == "CopyVerificationError"
    expected = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert f"SHA-256 differs: source {expected}, copy {corrupt_archive_copies}" in error["exception"]


def test_duplicate_delivery_copies_and_notifies_once(aws, archive, context):
    s3 = aws.client("s3")
    s3.put_bucket_versioning(Bucket=aws.buckets["archive"], VersioningConfiguration={"Status": "Enabled"})
    event = sqs_event([cleansed(aws)])
    assert archive.lambda_handler(event, context) == OK
    assert archive.lambda_handler(event, context) == OK
    assert len(aws.bodies("notify")) == 1
    assert len(s3.list_object_versions(Bucket=aws.buckets["archive"])["Versions"]) == 1


def test_retry_after_landing_was_already_emptied_completes(aws, archive, context):
    """An earlier attempt archived and deleted, then died before its idempotency record completed."""
    message = cleansed(aws, versioned=False).evolve(sha256=hashlib.sha256(BODY).hexdigest())
    aws.put("archive", archive_key(message), BODY)
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key=message.key)
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    assert aws.bodies("notify")[0]["status"] == "processed"


def test_a_raw_file_gone_before_archiving_is_acknowledged_as_gone(aws, archive, context, logs):
    logs.attach(archive)
    message = cleansed(aws, versioned=False)
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key=message.key)
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    (out,) = aws.bodies("notify")
    assert (out["status"], out["produced_by"], out["reason"]) == ("gone", "archive", (
        f"deleted before archiving: s3://{aws.buckets['landing']}/{message.key} no longer exists; its clean data "
        "was written (1 object(s), locations.clean), but the raw file is in neither landing nor archive"))
    assert out["locations"]["clean"] == ["s3://c/x.csv"] and "archive" not in out["locations"]
    (warning,) = [e for e in logs("archive") if e["level"] == "WARNING"]
    assert warning["message"] == "raw file gone before archiving; acknowledged, status recorded"


def test_a_raw_version_removed_before_archiving_is_acknowledged_as_gone(aws, archive, context):
    message = cleansed(aws)
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key=message.key, VersionId=message.version_id)
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    (out,) = aws.bodies("notify")
    assert out["status"] == "gone" and out["reason"].startswith(
        f"version removed before archiving: s3://{aws.buckets['landing']}/{message.key} version {message.version_id}")
    assert aws.keys("archive") == []


def test_a_version_behind_a_delete_marker_is_still_archived(aws, archive, context):
    message = cleansed(aws)
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key=message.key)  # the raw bytes still exist
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    assert aws.get("archive", archive_key(message)) == BODY
    assert aws.bodies("notify")[0]["status"] == "processed"


def test_the_copy_is_verified_against_the_digest_in_the_message(aws, archive, context, logs):
    logs.attach(archive)
    message = cleansed(aws).evolve(sha256=hashlib.sha256(b"other bytes").hexdigest())
    event = sqs_event([message])
    assert archive.lambda_handler(event, context)["batchItemFailures"]
    assert landing_has(aws, message.key) and aws.bodies("notify") == []
    (error,) = [e for e in logs("archive") if e["level"] == "ERROR"]
    assert error["exception_name"] == "CopyVerificationError"
    assert "SHA-256 differs: source " in error["exception"]


def test_the_archive_copy_carries_s3s_sha256_and_processed_carries_the_digest(aws, archive, context):
    message = cleansed(aws).evolve(sha256=hashlib.sha256(BODY).hexdigest())
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    head = aws.client("s3").head_object(Bucket=aws.buckets["archive"], Key=archive_key(message), ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == message.sha256
    assert aws.bodies("notify")[0]["sha256"] == message.sha256


def test_without_a_digest_the_source_is_hashed_and_the_digest_passed_on(aws, archive, context):
    message = cleansed(aws)
    assert message.sha256 is None
    archive.lambda_handler(sqs_event([message]), context)
    assert aws.bodies("notify")[0]["sha256"] == hashlib.sha256(BODY).hexdigest()


def test_an_earlier_archive_copy_with_other_bytes_is_refused(aws, archive, context, logs):
    logs.attach(archive)
    message = cleansed(aws, versioned=False).evolve(sha256=hashlib.sha256(BODY).hexdigest())
    aws.put("archive", archive_key(message), BODY.upper())  # same size, other bytes
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key=message.key)
    assert archive.lambda_handler(sqs_event([message]), context)["batchItemFailures"]
    (error,) = [e for e in logs("archive") if e["level"] == "ERROR"]
    assert error["exception_name"] == "CopyVerificationError"
    assert f"SHA-256 {hashlib.sha256(BODY.upper()).hexdigest()}, expected {message.sha256}" in error["exception"]


def test_newer_upload_under_the_same_key_is_left_in_landing(aws, archive, context):
    message = cleansed(aws)
    newer = aws.put("landing", message.key, b"a newer file")["VersionId"]
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    assert aws.get("archive", archive_key(message)) == BODY
    assert aws.get("landing", message.key) == b"a newer file"
    assert landing_versions(aws, message.key) == ([newer], [])  # the archived (older) version is gone


def landing_versions(aws, key: str) -> tuple[list[str], list[str]]:
    """(version ids, delete-marker ids) of exactly ``key`` in landing."""
    listed = aws.client("s3").list_object_versions(Bucket=aws.buckets["landing"], Prefix=key)
    return ([v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key],
            [m["VersionId"] for m in listed.get("DeleteMarkers", []) if m["Key"] == key])


def test_the_archived_version_is_deleted_from_landing_for_good(aws, archive, context):
    message = cleansed(aws)
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    assert landing_versions(aws, message.key) == ([], [])  # no raw version left, no delete marker


def test_a_version_behind_a_delete_marker_is_deleted_after_archiving(aws, archive, context):
    message = cleansed(aws)
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key=message.key)  # a delete marker over it
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    versions, markers = landing_versions(aws, message.key)
    assert versions == [] and len(markers) == 1


def test_without_a_version_id_a_newer_object_under_the_key_is_left_in_landing(aws, archive, context):
    """No version id (unversioned bucket): the plain delete happens only if the key still holds the
    archived object; here a producer uploads again between the archive copy and the delete."""
    message = cleansed(aws, versioned=False)
    client = archive.aws.client("s3")

    def overwrite(**kwargs):
        aws.put("landing", message.key, b"a newer file")

    client.meta.events.register("after-call.s3.CopyObject", overwrite)
    try:
        assert archive.lambda_handler(sqs_event([message]), context) == OK
    finally:
        client.meta.events.unregister("after-call.s3.CopyObject", overwrite)
    assert aws.get("archive", archive_key(message)) == BODY
    assert aws.get("landing", message.key) == b"a newer file"


def test_without_a_version_id_the_key_still_holding_the_object_is_deleted(aws, archive, context):
    message = cleansed(aws, versioned=False)
    assert archive.lambda_handler(sqs_event([message]), context) == OK
    assert not landing_has(aws, message.key)


def test_one_bad_record_fails_alone(aws, archive, context):
    good = cleansed(aws, "orders/good.csv")
    wrong = StageMessage(**{**good.to_dict(), "status": "validated", "key": "orders/other.csv"})
    event = sqs_event([good, wrong])
    assert archive.lambda_handler(event, context) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]
    }
    assert [m["key"] for m in aws.bodies("notify")] == ["orders/good.csv"]
