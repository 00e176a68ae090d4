"""Version-exact processing through all four handlers on moto: every landed object version is a file
that ends with one truthful status record: two uploads to one key are two files (events with a
``versionId``, as S3 sends them, and without, as the emulator does); a file deleted before
validation ends ``gone``, acknowledged (no retry, nothing for a dead-letter queue)."""

from __future__ import annotations

import json

from lambda_events import s3_notification_body, sqs_event

OK = {"batchItemFailures": []}
KEY = "orders/2024/05/same.csv"


def upload(aws, body: bytes, *, with_version: bool = True) -> str:
    """Put ``body`` at ``KEY`` and return S3's notification for it (the emulator's has no versionId)."""
    put = aws.put("landing", KEY, body)
    return s3_notification_body(aws.buckets["landing"], KEY, size=len(body), etag=put["ETag"],
                                version_id=put.get("VersionId") if with_version else None)


def run_pipeline(events: list[str], *, validate, cleanse, archive, notify, received, context) -> None:
    """validate the events, then each later stage on what the previous one really sent; every
    handler must acknowledge every record (a failure would go back to the queue, then the DLQ)."""
    assert validate.lambda_handler(sqs_event(events), context) == OK
    for stage, handler in (("cleanse", cleanse), ("archive", archive), ("notify", notify)):
        event = received(stage)
        if event["Records"]:
            assert handler.lambda_handler(event, context) == OK, stage


def status_records(aws) -> list[dict]:
    items = aws.client("dynamodb").scan(TableName=aws.tables["status"])["Items"]
    return sorted(({k: next(iter(v.values())) for k, v in item.items()} for item in items),
                  key=lambda it: it["received_at"] + it["file_id"])


def archived_bodies(aws) -> list[bytes]:
    return sorted(aws.get("archive", k) for k in aws.keys("archive"))


def test_two_uploads_to_one_key_with_version_ids_are_two_processed_files(
        aws, validate, cleanse, archive, notify, received, context, samples):
    first, second = (samples / "orders/good.csv").read_bytes(), (samples / "orders/bad_rows.csv").read_bytes()
    events = [upload(aws, first), upload(aws, second)]
    run_pipeline(events, validate=validate, cleanse=cleanse, archive=archive, notify=notify, received=received,
                 context=context)
    records = status_records(aws)
    assert [r["status"] for r in records] == ["processed", "processed"]
    assert len({r["file_id"] for r in records}) == 2 and len({r["version_id"] for r in records}) == 2
    assert sorted(int(r["counts"]["records_in"]["N"]) for r in records) == [5, 11]
    assert archived_bodies(aws) == sorted([first, second])
    assert aws.keys("landing") == []


def test_two_uploads_to_one_key_without_version_ids_are_two_processed_files(
        aws, validate, cleanse, archive, notify, received, context, samples):
    first, second = (samples / "orders/good.csv").read_bytes(), (samples / "orders/bad_rows.csv").read_bytes()
    events = [upload(aws, first, with_version=False), upload(aws, second, with_version=False)]
    run_pipeline(events, validate=validate, cleanse=cleanse, archive=archive, notify=notify, received=received,
                 context=context)
    records = status_records(aws)
    assert [r["status"] for r in records] == ["processed", "processed"]
    assert sorted(int(r["counts"]["records_in"]["N"]) for r in records) == [5, 11]
    assert archived_bodies(aws) == sorted([first, second])


def test_a_file_deleted_before_validation_ends_gone_with_a_status_record(
        aws, validate, cleanse, archive, notify, received, context, samples):
    event = upload(aws, (samples / "orders/good.csv").read_bytes())
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key=KEY)  # the producer deletes it
    run_pipeline([event], validate=validate, cleanse=cleanse, archive=archive, notify=notify, received=received,
                 context=context)
    (record,) = status_records(aws)
    assert record["status"] == "gone" and record["reason"].startswith("deleted before validation: ")
    assert aws.keys("clean", "dataset=") == [] and aws.keys("archive") == []
    published = [json.loads(json.loads(m["Body"])["Message"]) for m in aws.drain("subscriber")]
    assert [p["status"] for p in published] == ["gone"]


def test_a_version_removed_before_validation_ends_gone_with_a_status_record(
        aws, validate, cleanse, archive, notify, received, context, samples):
    event = upload(aws, (samples / "orders/good.csv").read_bytes())
    version = json.loads(event)["Records"][0]["s3"]["object"]["versionId"]
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key=KEY, VersionId=version)
    run_pipeline([event], validate=validate, cleanse=cleanse, archive=archive, notify=notify, received=received,
                 context=context)
    (record,) = status_records(aws)
    assert (record["status"], record["version_id"]) == ("gone", version)
    assert record["reason"].startswith("version removed before validation: ")


def test_an_unversioned_overwrite_is_two_files_one_gone_one_processed(
        aws, validate, cleanse, archive, notify, received, context, samples):
    aws.client("s3").put_bucket_versioning(Bucket=aws.buckets["landing"],
                                           VersioningConfiguration={"Status": "Suspended"})
    first, second = (samples / "orders/good.csv").read_bytes(), (samples / "orders/bad_rows.csv").read_bytes()
    events = [upload(aws, first, with_version=False), upload(aws, second, with_version=False)]
    run_pipeline(events, validate=validate, cleanse=cleanse, archive=archive, notify=notify, received=received,
                 context=context)
    records = status_records(aws)
    assert sorted(r["status"] for r in records) == ["gone", "processed"]
    (gone,) = [r for r in records if r["status"] == "gone"]
    assert gone["reason"].startswith("overwritten before validation: ")
    assert archived_bodies(aws) == [second]
