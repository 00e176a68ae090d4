"""validate handler on moto: routing, quarantine reasons, partial batches, idempotency."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from lambda_events import s3_notification_body, s3_test_event_body, sqs_event

import main

OK = {"batchItemFailures": []}


def only(messages: list[dict]) -> dict:
    assert len(messages) == 1, messages
    return messages[0]


def quarantined(aws) -> dict:
    """The one message validate sent to notify (a whole-file rejection)."""
    assert aws.bodies("cleanse") == []
    return only(aws.bodies("notify"))


def report_of(aws, message: dict) -> dict:
    key = message["locations"]["quarantine_report"].split("/", 3)[3]
    return json.loads(aws.get("quarantine", key))


def test_good_file_goes_to_cleanse(aws, land, validate, context, samples):
    body = (samples / "orders/good.csv").read_bytes()
    assert validate.lambda_handler(sqs_event([land("orders/2024/good.csv", body)]), context) == OK
    message = only(aws.bodies("cleanse"))
    assert (message["status"], message["dataset"], message["key"], message["produced_by"]) == (
        "validated",
        "orders",
        "orders/2024/good.csv",
        "validate",
    )
    assert message["counts"] == {"records_in": 5, "valid": 5, "rejected": 0, "bytes_in": len(body)}
    assert message["version_id"] and message["received_at"]
    assert aws.bodies("notify") == [] and aws.keys("quarantine") == []


def test_bad_rows_are_quarantined_with_a_report_and_the_file_goes_on(aws, land, validate, context, samples):
    validate.lambda_handler(sqs_event([land("orders/b.csv", (samples / "orders/bad_rows.csv").read_bytes())]), context)
    message = only(aws.bodies("cleanse"))
    assert message["counts"]["rejected"] == 1 and message["counts"]["valid"] == 10
    fid = message["file_id"]
    assert aws.keys("quarantine", "orders/") == [f"orders/{fid}/rejected_rows.csv", f"orders/{fid}/report.json"]
    (line_copy,) = aws.keys("quarantine", "_reports/")  # one-line copy for Athena (quarantine_reports)
    assert line_copy.startswith("_reports/dataset=orders/date=") and line_copy.endswith(f"/{fid}.json")
    assert json.loads(aws.get("quarantine", line_copy)) == json.loads(aws.get("quarantine", f"orders/{fid}/report.json"))
    report = report_of(aws, message)
    assert report["violations"] == [
        {
            "row": 9,
            "line": 10,
            "column": "email",
            "rule": "pattern",
            "message": "email: does not match pattern '[^@\\\\s]+@[^@\\\\s]+\\\\.[^@\\\\s]+'",
            "value": "<redacted: 12 characters>",
        }
    ]
    rows = aws.get("quarantine", f"orders/{fid}/rejected_rows.csv").decode().splitlines()
    assert rows[0].startswith("order_id,customer_id,email") and rows[1].startswith("ORD-000019,C00019,not-an-email")


def test_too_many_bad_rows_quarantine_the_whole_file(aws, land, validate, context, samples):
    body = (samples / "orders/bad_file.csv").read_bytes()
    validate.lambda_handler(sqs_event([land("orders/bad.csv", body)]), context)
    message = quarantined(aws)
    assert message["status"] == "quarantined"
    assert (
        message["reason"]
        == "5 of 6 rows (83.3%) break the orders contract, more than its max_rejected_fraction of 10.0%"
    )
    original = message["locations"]["quarantine"].split("/", 3)[3]
    assert original == f"orders/{message['file_id']}/original/bad.csv"
    assert aws.get("quarantine", original) == body
    assert len(report_of(aws, message)["violations"]) == 5


def test_ragged_row_is_quarantined_with_the_reason(aws, land, validate, context, samples):
    good = (samples / "orders/bad_rows.csv").read_bytes().replace(b"not-an-email", b"nina@example.com")
    body = good + b"ORD-000099,C00099,short@example.com\n"
    validate.lambda_handler(sqs_event([land("orders/ragged.csv", body)]), context)
    message = only(aws.bodies("cleanse"))
    assert (message["counts"]["valid"], message["counts"]["rejected"]) == (11, 1)
    (violation,) = report_of(aws, message)["violations"]
    assert (violation["row"], violation["rule"], violation["message"]) == (
        12,
        "column_count",
        "ragged row: expected 8 fields, got 3",
    )
    rejected = aws.get("quarantine", message["locations"]["quarantine_rows"].split("/", 3)[3]).decode()
    assert rejected.splitlines()[1] == "ORD-000099,C00099,short@example.com"


def test_header_mismatch_is_quarantined_with_the_reason(aws, land, validate, context, samples):
    validate.lambda_handler(
        sqs_event([land("orders/h.csv", (samples / "orders/header_mismatch.csv").read_bytes())]), context
    )
    assert quarantined(aws)["reason"] == (
        "header mismatch: missing column(s) email; unexpected column(s) 'e_mail' (the orders contract expects: "
        "order_id, customer_id, email, order_date, amount, currency, status, express)"
    )


def test_empty_file_is_quarantined_with_the_reason(aws, land, validate, context):
    validate.lambda_handler(sqs_event([land("orders/empty.csv", b"")]), context)
    message = quarantined(aws)
    assert message["reason"] == "empty file: the object has 0 bytes"
    assert report_of(aws, message)["rule"] == "empty"


def test_non_utf8_file_is_quarantined_with_the_reason(aws, land, validate, context, samples):
    body = (samples / "orders/good.csv").read_bytes().replace(b"Alice@Example.com", b"Al\xefce@Example.com")
    validate.lambda_handler(sqs_event([land("orders/latin1.csv", body)]), context)
    message = quarantined(aws)
    assert (
        message["reason"] == "not valid UTF-8: byte 0xef at line 2, byte 21 of the line (files must be UTF-8 encoded)"
    )
    assert aws.get("quarantine", message["locations"]["quarantine"].split("/", 3)[3]) == body


def test_oversized_file_is_quarantined_without_being_read(aws, land, validate, context, samples, monkeypatch):
    monkeypatch.setenv("PIPELINE_MAX_OBJECT_BYTES", "100")
    body = (samples / "orders/good.csv").read_bytes()
    validate.lambda_handler(sqs_event([land("orders/big.csv", body)]), context)
    message = quarantined(aws)
    assert message["reason"] == (
        f"oversized input: the object has {len(body)} bytes ({len(body)} bytes), more than the "
        "limit of 100 bytes (100 bytes, PIPELINE_MAX_OBJECT_BYTES)"
    )
    assert aws.get("quarantine", message["locations"]["quarantine"].split("/", 3)[3]) == body


def test_gzip_file_is_decompressed(aws, land, validate, context, samples):
    data = gzip.compress((samples / "orders/good.csv").read_bytes())
    validate.lambda_handler(sqs_event([land("orders/good.csv.gz", data)]), context)
    message = only(aws.bodies("cleanse"))
    assert (message["counts"]["valid"], message["counts"]["bytes_in"]) == (5, len(data))


def test_gzip_without_suffix_is_recognised_by_its_magic_bytes(aws, land, validate, context, samples):
    data = gzip.compress((samples / "orders/good.csv").read_bytes())
    validate.lambda_handler(sqs_event([land("orders/good.csv", data)]), context)
    assert only(aws.bodies("cleanse"))["counts"]["valid"] == 5


def test_unknown_dataset_is_quarantined_with_the_reason(aws, land, validate, context):
    validate.lambda_handler(sqs_event([land("payroll/2024/p.csv", b"a,b\n1,2\n")]), context)
    message = quarantined(aws)
    assert message["dataset"] == "payroll"
    assert message["reason"] == (
        "unknown dataset 'payroll' (first segment of key 'payroll/2024/p.csv'): no contract for "
        f"dataset 'payroll' (known: {', '.join(main.dataset_names())})"
    )


def test_key_without_dataset_prefix_is_quarantined_under_unknown(aws, land, validate, context):
    validate.lambda_handler(sqs_event([land("loose.csv", b"a\n1\n")]), context)
    message = quarantined(aws)
    assert message["dataset"] == "_unknown"
    assert (
        message["reason"]
        == "object key 'loose.csv' names no dataset: landing keys must look like <dataset>/<anything>/<file>"
    )
    assert aws.keys("quarantine", "_unknown/")


def test_jsonl_dataset_is_validated_against_its_schema(aws, land, validate, context, samples):
    validate.lambda_handler(
        sqs_event([land("events/app/e.jsonl", (samples / "events/bad.jsonl").read_bytes())]), context
    )
    report = report_of(aws, quarantined(aws))
    assert report["violations"][0]["message"] == "JSON Schema: data must not contain {'browser'} properties"


def test_url_encoded_key_is_decoded(aws, land, validate, context, samples):
    validate.lambda_handler(
        sqs_event([land("orders/in coming/a+b.csv", (samples / "orders/good.csv").read_bytes())]), context
    )
    assert only(aws.bodies("cleanse"))["key"] == "orders/in coming/a+b.csv"


def test_s3_test_event_is_acknowledged_and_ignored(aws, validate, context):
    assert validate.lambda_handler(sqs_event([s3_test_event_body(aws.buckets["landing"])]), context) == OK
    assert aws.bodies("cleanse") == [] and aws.bodies("notify") == []


def test_folder_placeholder_is_ignored(aws, land, validate, context):
    assert validate.lambda_handler(sqs_event([land("orders/incoming/", b"")]), context) == OK
    assert aws.bodies("notify") == [] and aws.keys("quarantine") == []


def test_one_bad_record_fails_alone(aws, land, validate, context, samples):
    event = sqs_event(
        [
            land("orders/1.csv", (samples / "orders/good.csv").read_bytes()),
            "this is not an S3 event",
            land("orders/2.csv", (samples / "orders/good.csv").read_bytes()),
        ]
    )
    bad_id = event["Records"][1]["messageId"]
    assert validate.lambda_handler(event, context) == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert sorted(m["key"] for m in aws.bodies("cleanse")) == ["orders/1.csv", "orders/2.csv"]


def test_event_from_another_bucket_fails_the_record(aws, validate, context):
    body = s3_notification_body("someone-elses-bucket", "orders/a.csv", size=1, etag="abc")
    event = sqs_event([body])
    assert validate.lambda_handler(event, context) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
    }


def test_duplicate_delivery_does_no_second_write(aws, land, validate, context, samples):
    s3 = aws.client("s3")
    s3.put_bucket_versioning(Bucket=aws.buckets["quarantine"], VersioningConfiguration={"Status": "Enabled"})
    event = sqs_event([land("orders/bad.csv", (samples / "orders/bad_file.csv").read_bytes())])
    assert validate.lambda_handler(event, context) == OK
    assert validate.lambda_handler(event, context) == OK
    assert len(aws.bodies("notify")) == 1
    versions = s3.list_object_versions(Bucket=aws.buckets["quarantine"])["Versions"]
    assert len(versions) == 3  # original + report + its one-line copy, each written once


def test_redelivered_s3_event_in_a_new_message_is_also_idempotent(aws, land, validate, context, samples):
    body = land("orders/good.csv", (samples / "orders/good.csv").read_bytes())
    validate.lambda_handler(sqs_event([body]), context)
    validate.lambda_handler(sqs_event([body]), context)  # S3 delivered the same event twice
    assert len(aws.bodies("cleanse")) == 1


def gone_message(aws) -> dict:
    """The one message validate sent to notify for a file that was gone before validation."""
    assert aws.bodies("cleanse") == []
    message = only(aws.bodies("notify"))
    assert (message["status"], message["produced_by"]) == ("gone", "validate")
    return message


def test_a_version_removed_before_validation_is_acknowledged_as_gone(aws, land, validate, context, samples, logs):
    logs.attach(validate)
    body = land("orders/gone.csv", (samples / "orders/good.csv").read_bytes())
    version = json.loads(body)["Records"][0]["s3"]["object"]["versionId"]
    s3 = aws.client("s3")
    s3.delete_object(Bucket=aws.buckets["landing"], Key="orders/gone.csv", VersionId=version)  # NoSuchVersion now
    assert validate.lambda_handler(sqs_event([body]), context) == OK
    message = gone_message(aws)
    assert message["reason"] == (
        f"version removed before validation: s3://{aws.buckets['landing']}/orders/gone.csv version {version} "
        "no longer exists"
    )
    assert message["version_id"] == version and aws.keys("quarantine") == []
    (warning,) = [e for e in logs("validate") if e["level"] == "WARNING"]
    assert warning["message"] == "file gone before validate could finish it; acknowledged, status recorded"


def test_a_file_deleted_before_validation_is_acknowledged_as_gone(aws, land, validate, context, samples):
    body = land("orders/deleted.csv", (samples / "orders/good.csv").read_bytes())
    version = json.loads(body)["Records"][0]["s3"]["object"]["versionId"]
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key="orders/deleted.csv")  # a delete marker
    assert validate.lambda_handler(sqs_event([body]), context) == OK
    assert gone_message(aws)["reason"] == (
        f"deleted before validation: s3://{aws.buckets['landing']}/orders/deleted.csv version {version} is hidden "
        "by a delete marker, the key's latest version (the file was deleted; its version was never read)"
    )


def test_a_file_deleted_before_validation_is_gone_when_the_event_has_no_version(aws, validate, context, samples):
    event = event_without_version(aws, "orders/deleted.csv", (samples / "orders/good.csv").read_bytes())
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key="orders/deleted.csv")
    assert validate.lambda_handler(sqs_event([event]), context) == OK
    message = gone_message(aws)
    assert message["reason"].startswith("deleted before validation: ") and message["version_id"]


def test_an_overwritten_version_is_still_validated(aws, land, validate, context, samples):
    first = land("orders/twice.csv", (samples / "orders/good.csv").read_bytes())
    aws.put("landing", "orders/twice.csv", (samples / "orders/bad_rows.csv").read_bytes())
    assert validate.lambda_handler(sqs_event([first]), context) == OK
    message = only(aws.bodies("cleanse"))
    assert message["counts"]["records_in"] == 5 and aws.bodies("notify") == []


def test_an_overwritten_version_is_validated_even_after_the_newer_one_was_deleted(aws, land, validate, context,
                                                                                  samples):
    first = land("orders/twice.csv", (samples / "orders/good.csv").read_bytes())
    aws.put("landing", "orders/twice.csv", (samples / "orders/bad_rows.csv").read_bytes())
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key="orders/twice.csv")  # e.g. archive of v2
    assert validate.lambda_handler(sqs_event([first]), context) == OK
    assert only(aws.bodies("cleanse"))["counts"]["records_in"] == 5


def test_the_sha256_of_the_bytes_goes_to_cleanse(aws, land, validate, context, samples):
    import hashlib

    body = (samples / "orders/bad_rows.csv").read_bytes()
    validate.lambda_handler(sqs_event([land("orders/digest.csv", body)]), context)
    assert only(aws.bodies("cleanse"))["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_quarantined_file_carries_the_sha256_its_copy_was_verified_with(aws, land, validate, context):
    import hashlib

    body = b"a,b\n1,2\n"
    validate.lambda_handler(sqs_event([land("payroll/2024/p.csv", body)]), context)  # rejected before reading
    message = quarantined(aws)
    assert message["sha256"] == hashlib.sha256(body).hexdigest()
    head = aws.client("s3").head_object(Bucket=aws.buckets["quarantine"], ChecksumMode="ENABLED",
                                        Key=message["locations"]["quarantine"].split("/", 3)[3])
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == message["sha256"]  # S3's own SHA-256 of the copy


def test_real_s3_notification_through_sqs_is_handled(aws, validate, context, received, samples):
    s3, sqs = aws.client("s3"), aws.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=aws.queues["validate"], AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=aws.buckets["landing"],
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    aws.put("landing", "orders/real event.csv", (samples / "orders/good.csv").read_bytes())
    event = received("validate")
    assert len(event["Records"]) == 2  # the s3:TestEvent and the object-created event
    assert validate.lambda_handler(event, context) == OK
    assert only(aws.bodies("cleanse"))["key"] == "orders/real event.csv"


def test_metrics_carry_the_dataset_dimension(aws, land, validate, context, samples, capsys):
    validate.lambda_handler(sqs_event([land("orders/m.csv", (samples / "orders/bad_rows.csv").read_bytes())]), context)
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (per_file,) = [d for d in documents if d.get("dataset") == "orders"]
    assert (
        per_file["RecordsIn"],
        per_file["RecordsValid"],
        per_file["RecordsRejected"],
        per_file["FilesAccepted"],
    ) == ([11.0], [10.0], [1.0], [1.0])
    assert per_file["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "PipelineKit"


def test_logs_are_structured_with_the_object_key_as_correlation_id(aws, land, validate, context, samples, logs):
    logs.attach(validate)
    validate.lambda_handler(sqs_event([land("orders/log.csv", (samples / "orders/good.csv").read_bytes())]), context)
    (validated,) = [entry for entry in logs("validate") if entry["message"] == "file validated"]
    assert (validated["correlation_id"], validated["service"], validated["dataset"], validated["level"]) == (
        "orders/log.csv",
        "validate",
        "orders",
        "INFO",
    )
    assert validated["file_id"] and validated["message_id"]
    assert not any("alice" in json.dumps(entry).lower() for entry in logs("validate"))


@pytest.mark.parametrize("missing", ["PIPELINE_BUCKET_QUARANTINE", "PIPELINE_QUEUE_CLEANSE"])
def test_missing_configuration_fails_the_record_and_names_the_variable(
    aws, land, validate, context, samples, monkeypatch, logs, missing
):
    logs.attach(validate)
    monkeypatch.delenv(missing)
    sample = "orders/bad_file.csv" if "QUARANTINE" in missing else "orders/good.csv"
    event = sqs_event([land("orders/x.csv", (samples / sample).read_bytes())])
    assert validate.lambda_handler(event, context)["batchItemFailures"] == [
        {"itemIdentifier": event["Records"][0]["messageId"]}
    ]
    (error,) = [entry for entry in logs("validate") if entry["level"] == "ERROR"]
    assert error["exception_name"] == "ConfigurationError"
    assert f"environment variable {missing} is not set" in error["exception"]


# -- events without versionId (the emulator's): the version is derived from S3 -----------------


def event_without_version(aws, key: str, body: bytes) -> str:
    """Put ``body`` and return the notification the emulator sends for it: no ``versionId``."""
    put = aws.put("landing", key, body)
    return s3_notification_body(aws.buckets["landing"], key, size=len(body), etag=put["ETag"])


def test_two_uploads_to_one_key_before_validation_are_two_files(aws, validate, context, samples):
    first, second = (samples / "orders/good.csv").read_bytes(), (samples / "orders/bad_rows.csv").read_bytes()
    events = [event_without_version(aws, "orders/same.csv", first), event_without_version(aws, "orders/same.csv", second)]
    assert validate.lambda_handler(sqs_event(events), context) == OK
    messages = sorted(aws.bodies("cleanse"), key=lambda m: m["counts"]["records_in"])
    versions = [v["VersionId"] for v in aws.client("s3").list_object_versions(Bucket=aws.buckets["landing"])["Versions"]]
    assert [m["counts"]["records_in"] for m in messages] == [5, 11]  # each read exactly its own version
    assert messages[0]["file_id"] != messages[1]["file_id"]
    assert sorted(m["version_id"] for m in messages) == sorted(versions)


def test_the_same_bytes_put_again_are_a_new_file_not_a_duplicate(aws, validate, context, samples):
    body = (samples / "orders/good.csv").read_bytes()
    validate.lambda_handler(sqs_event([event_without_version(aws, "orders/again.csv", body)]), context)
    validate.lambda_handler(sqs_event([event_without_version(aws, "orders/again.csv", body)]), context)
    first, second = aws.bodies("cleanse")
    assert first["file_id"] != second["file_id"] and first["version_id"] != second["version_id"]


def test_an_unversioned_bucket_keeps_the_etag_identity(aws, validate, context, samples):
    from pipeline_shared import keys

    aws.client("s3").put_bucket_versioning(Bucket=aws.buckets["landing"],
                                           VersioningConfiguration={"Status": "Suspended"})
    body = (samples / "orders/good.csv").read_bytes()
    event = event_without_version(aws, "orders/plain.csv", body)
    validate.lambda_handler(sqs_event([event]), context)
    message = only(aws.bodies("cleanse"))
    etag = json.loads(event)["Records"][0]["s3"]["object"]["eTag"]
    assert message["version_id"] is None
    assert message["file_id"] == keys.file_id(aws.buckets["landing"], "orders/plain.csv", etag=etag)


# -- unversioned landing (the ETag identifies the object) ----------------------------------------


def unversioned(aws) -> None:
    aws.client("s3").put_bucket_versioning(Bucket=aws.buckets["landing"],
                                           VersioningConfiguration={"Status": "Suspended"})


def test_an_unversioned_object_overwritten_before_validation_is_gone_and_the_new_one_validated(
        aws, validate, context, samples):
    unversioned(aws)
    first = event_without_version(aws, "orders/plain.csv", (samples / "orders/good.csv").read_bytes())
    second = event_without_version(aws, "orders/plain.csv", (samples / "orders/bad_rows.csv").read_bytes())
    assert validate.lambda_handler(sqs_event([first, second]), context) == OK
    gone = only(aws.bodies("notify"))
    etag = json.loads(first)["Records"][0]["s3"]["object"]["eTag"]
    assert (gone["status"], gone["reason"]) == ("gone", (
        f"overwritten before validation: s3://{aws.buckets['landing']}/orders/plain.csv no longer holds the object "
        f"with ETag {etag} (the bucket keeps no older versions, so its bytes are gone; the newer upload is a file "
        "of its own)"))
    assert only(aws.bodies("cleanse"))["counts"]["records_in"] == 11


def test_an_unversioned_object_deleted_before_its_quarantine_copy_is_gone_with_both_reasons(aws, validate, context):
    unversioned(aws)
    event = event_without_version(aws, "payroll/p.csv", b"a,b\n1,2\n")
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key="payroll/p.csv")
    assert validate.lambda_handler(sqs_event([event]), context) == OK
    message = only(aws.bodies("notify"))
    assert message["status"] == "gone" and aws.keys("quarantine") == []
    assert message["reason"].startswith(
        f"deleted before it could be quarantined: s3://{aws.buckets['landing']}/payroll/p.csv no longer exists; "
        "it was to be quarantined as a whole: unknown dataset 'payroll'")


# -- a file quarantined whole leaves landing (exactly its version) -------------------------------


def landing_versions(aws, key: str) -> tuple[list[str], list[str]]:
    """(version ids, delete-marker ids) of exactly ``key`` in landing."""
    listed = aws.client("s3").list_object_versions(Bucket=aws.buckets["landing"], Prefix=key)
    return ([v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key],
            [m["VersionId"] for m in listed.get("DeleteMarkers", []) if m["Key"] == key])


def test_a_file_quarantined_whole_is_deleted_from_landing_for_good(aws, land, validate, context, samples):
    body = (samples / "orders/bad_file.csv").read_bytes()
    assert validate.lambda_handler(sqs_event([land("orders/q/bad.csv", body)]), context) == OK
    message = quarantined(aws)
    assert aws.get("quarantine", message["locations"]["quarantine"].split("/", 3)[3]) == body
    assert landing_versions(aws, "orders/q/bad.csv") == ([], [])  # the version itself, no delete marker


def test_a_file_rejected_before_reading_is_deleted_from_landing_too(aws, land, validate, context):
    validate.lambda_handler(sqs_event([land("payroll/2024/p.csv", b"a,b\n1,2\n")]), context)
    assert quarantined(aws)["status"] == "quarantined"
    assert landing_versions(aws, "payroll/2024/p.csv") == ([], [])


def test_a_newer_upload_under_the_key_of_a_quarantined_file_stays_in_landing(aws, land, validate, context, samples):
    event = land("orders/q/twice.csv", (samples / "orders/bad_file.csv").read_bytes())
    newer = aws.put("landing", "orders/q/twice.csv", (samples / "orders/good.csv").read_bytes())["VersionId"]
    assert validate.lambda_handler(sqs_event([event]), context) == OK
    assert quarantined(aws)["version_id"] != newer
    assert landing_versions(aws, "orders/q/twice.csv") == ([newer], [])
    assert aws.get("landing", "orders/q/twice.csv") == (samples / "orders/good.csv").read_bytes()


def test_the_event_without_a_version_deletes_the_derived_version(aws, validate, context, samples):
    event = event_without_version(aws, "orders/q/noversion.csv", (samples / "orders/bad_file.csv").read_bytes())
    assert validate.lambda_handler(sqs_event([event]), context) == OK
    assert quarantined(aws)["version_id"]
    assert landing_versions(aws, "orders/q/noversion.csv") == ([], [])


def test_an_unversioned_quarantined_file_is_deleted_from_landing(aws, validate, context, samples):
    unversioned(aws)
    event = event_without_version(aws, "orders/q/plain.csv", (samples / "orders/bad_file.csv").read_bytes())
    assert validate.lambda_handler(sqs_event([event]), context) == OK
    assert quarantined(aws)["version_id"] is None
    assert aws.keys("landing", "orders/q/") == []


def test_an_unversioned_key_overwritten_after_the_quarantine_copy_is_left_alone(aws, validate, context, samples,
                                                                                logs):
    """No version id: the plain delete happens only if the key still holds the quarantined object."""
    logs.attach(validate)
    unversioned(aws)
    newer = (samples / "orders/good.csv").read_bytes()
    event = event_without_version(aws, "orders/q/race.csv", (samples / "orders/bad_file.csv").read_bytes())
    client = validate.aws.client("s3")

    def overwrite(**kwargs):  # a producer uploads again right after the quarantine copy
        aws.put("landing", "orders/q/race.csv", newer)

    client.meta.events.register("after-call.s3.CopyObject", overwrite)
    try:
        assert validate.lambda_handler(sqs_event([event]), context) == OK
    finally:
        client.meta.events.unregister("after-call.s3.CopyObject", overwrite)
    assert quarantined(aws)["status"] == "quarantined"
    assert aws.get("landing", "orders/q/race.csv") == newer
    assert "landing key holds a newer object; left in place (it has its own event)" in [
        e["message"] for e in logs("validate") if e["level"] == "WARNING"]


def test_a_retry_after_the_quarantined_file_left_landing_is_quarantined_again_not_gone(aws, land, validate, context,
                                                                                      samples):
    """An earlier attempt quarantined the file and deleted it from landing, then died before its
    idempotency record was saved: the retry finds the version gone, and the file's own report."""
    event = sqs_event([land("orders/q/retry.csv", (samples / "orders/bad_file.csv").read_bytes())])
    validate.lambda_handler(event, context)
    first = quarantined(aws)
    ddb = aws.client("dynamodb")
    for item in ddb.scan(TableName=aws.tables["idempotency"])["Items"]:
        ddb.delete_item(TableName=aws.tables["idempotency"], Key={"id": item["id"]})
    assert validate.lambda_handler(event, context) == OK
    again = quarantined(aws)
    assert (again["status"], again["file_id"], again["reason"]) == ("quarantined", first["file_id"], first["reason"])
    assert (again["locations"], again["counts"]) == (first["locations"], first["counts"])
