"""notify handler on moto: status item, SNS outcome with filterable attributes, idempotency."""

from __future__ import annotations

import json
import time

from lambda_events import sqs_event
from pipeline_shared.wiring.messages import StageMessage

OK = {"batchItemFailures": []}


def outcome(status: str = "processed", **changes: object) -> StageMessage:
    base = dict(
        file_id="a" * 32,
        dataset="orders",
        status=status,
        produced_by="archive" if status == "processed" else "validate",
        bucket="pk-test-landing",
        key="orders/in/a.csv",
        etag="abc",
        size=42,
        received_at="2024-05-01T10:00:00.000Z",
        counts={"records_in": 5, "valid": 5, "rejected": 0, "out": 4},
        locations={"archive": "s3://pk-test-archive/orders/2024/05/01/x/orders/in/a.csv"},
        reason=None if status == "processed" else "empty file: the object has 0 bytes",
    )
    return StageMessage(**{**base, **changes})


def published(aws) -> list[dict]:
    return [json.loads(m["Body"]) for m in aws.drain("subscriber")]


def status_item(aws, file_id: str = "a" * 32) -> dict:
    return aws.client("dynamodb").get_item(TableName=aws.tables["status"], Key={"file_id": {"S": file_id}})["Item"]


def test_status_item_is_written(aws, notify, context):
    before = int(time.time())
    assert notify.lambda_handler(sqs_event([outcome()]), context) == OK
    item = status_item(aws)
    assert (item["dataset"], item["status"], item["environment"], item["key"]) == (
        {"S": "orders"},
        {"S": "processed"},
        {"S": "test"},
        {"S": "orders/in/a.csv"},
    )
    assert item["counts"]["M"]["out"] == {"N": "4"}
    assert item["updated_at"]["S"].endswith("Z")
    assert before + 30 * 86400 <= int(item["expires_at"]["N"]) <= int(time.time()) + 30 * 86400
    assert "reason" not in item


def test_outcome_is_published_with_filter_attributes(aws, notify, context):
    notify.lambda_handler(sqs_event([outcome()]), context)
    (envelope,) = published(aws)
    document = json.loads(envelope["Message"])
    assert {k: document[k] for k in ("dataset", "file_id", "status", "environment", "reason")} == {
        "dataset": "orders",
        "file_id": "a" * 32,
        "status": "processed",
        "environment": "test",
        "reason": None,
    }
    assert document["counts"]["out"] == 4 and document["locations"]["archive"].startswith("s3://pk-test-archive/")
    assert {k: v["Value"] for k, v in envelope["MessageAttributes"].items()} == {
        "dataset": "orders",
        "status": "processed",
        "environment": "test",
    }
    assert envelope["Subject"] == f"[pipeline-kit test] orders: file {'a' * 12} processed"


def test_quarantined_outcome_carries_the_reason(aws, notify, context):
    notify.lambda_handler(sqs_event([outcome("quarantined")]), context)
    assert json.loads(published(aws)[0]["Message"])["reason"] == "empty file: the object has 0 bytes"
    assert status_item(aws)["reason"] == {"S": "empty file: the object has 0 bytes"}


def test_subscription_filter_on_status_receives_only_quarantined(aws, notify, context):
    sqs, sns = aws.client("sqs"), aws.client("sns")
    url = sqs.create_queue(QueueName="pk-test-quarantine-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=aws.topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps({"status": ["quarantined"]})},
    )
    notify.lambda_handler(sqs_event([outcome(file_id="b" * 32), outcome("quarantined", file_id="c" * 32)]), context)
    alerts = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(json.loads(m["Body"])["Message"])["file_id"] for m in alerts] == ["c" * 32]


def test_files_of_a_dataset_are_listed_by_the_gsi(aws, notify, context):
    notify.lambda_handler(sqs_event([outcome(file_id="d" * 32), outcome(file_id="e" * 32, dataset="events")]), context)
    found = aws.client("dynamodb").query(
        TableName=aws.tables["status"],
        IndexName="by-dataset",
        KeyConditionExpression="dataset = :d",
        ExpressionAttributeValues={":d": {"S": "orders"}},
    )["Items"]
    assert [i["file_id"]["S"] for i in found] == ["d" * 32]


def test_duplicate_delivery_publishes_and_writes_once(aws, notify, context):
    event = sqs_event([outcome()])
    assert notify.lambda_handler(event, context) == OK
    first = status_item(aws)["updated_at"]
    assert notify.lambda_handler(event, context) == OK
    assert notify.lambda_handler(sqs_event([outcome()]), context) == OK  # same outcome, new SQS message
    assert len(published(aws)) == 1
    assert status_item(aws)["updated_at"] == first


def test_non_final_status_is_refused(aws, notify, context, logs):
    logs.attach(notify)
    event = sqs_event([outcome("cleansed")])
    assert notify.lambda_handler(event, context) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
    }
    (error,) = [e for e in logs("notify") if e["level"] == "ERROR"]
    assert (
        "notify announces final outcomes (quarantined, processed, gone), got 'cleansed' from validate" in error["exception"]
    )
    assert published(aws) == []


def test_one_bad_record_fails_alone(aws, notify, context):
    event = sqs_event([outcome(), "{not json", outcome("quarantined", file_id="f" * 32)])
    assert notify.lambda_handler(event, context) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]
    }
    assert len(published(aws)) == 2


def test_missing_ttl_setting_fails_and_names_it(aws, notify, context, logs, monkeypatch):
    logs.attach(notify)
    monkeypatch.delenv("PIPELINE_STATUS_TTL_DAYS")
    assert notify.lambda_handler(sqs_event([outcome()]), context)["batchItemFailures"]
    (error,) = [e for e in logs("notify") if e["level"] == "ERROR"]
    assert "environment variable PIPELINE_STATUS_TTL_DAYS is not set" in error["exception"]
    assert published(aws) == []


def test_a_gone_outcome_is_recorded_published_and_counted(aws, notify, context, capsys):
    reason = "deleted before validation: s3://pk-test-landing/orders/in/a.csv no longer exists"
    gone = outcome("gone", counts={}, locations={"landing": "s3://pk-test-landing/orders/in/a.csv"}, reason=reason)
    assert notify.lambda_handler(sqs_event([gone]), context) == OK
    item = status_item(aws)
    assert (item["status"], item["reason"]) == ({"S": "gone"}, {"S": reason})
    (envelope,) = published(aws)
    assert envelope["MessageAttributes"]["status"]["Value"] == "gone"
    assert json.loads(envelope["Message"])["reason"] == reason
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [d["FilesGone"] for d in documents if "FilesGone" in d] == [[1.0]]


def test_the_sha256_of_the_landed_bytes_is_kept_in_the_status_item(aws, notify, context):
    notify.lambda_handler(sqs_event([outcome(sha256="ab" * 32)]), context)
    assert status_item(aws)["sha256"] == {"S": "ab" * 32}
