"""Event builders: the real Lambda SQS shape, S3 notification bodies, the local context."""

from __future__ import annotations

import hashlib
import json

from lambda_events import LocalLambdaContext, s3_notification_body, s3_test_event_body, sqs_event
from pipeline_shared.wiring.messages import StageMessage

LAMBDA_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}


def test_bodies_become_lambda_sqs_records():
    event = sqs_event(["plain", {"a": 1}], queue_arn="arn:aws:sqs:eu-west-1:111122223333:q", region="eu-west-1")
    first, second = event["Records"]
    assert set(first) == LAMBDA_RECORD_KEYS
    assert (first["body"], second["body"]) == ("plain", '{"a":1}')
    assert first["md5OfBody"] == hashlib.md5(b"plain").hexdigest()
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert (first["eventSource"], first["eventSourceARN"], first["awsRegion"]) == (
        "aws:sqs",
        "arn:aws:sqs:eu-west-1:111122223333:q",
        "eu-west-1",
    )
    assert first["messageId"] != second["messageId"]


def test_stage_message_is_sent_as_its_json():
    message = StageMessage(file_id="f", dataset="d", status="processed", produced_by="archive", bucket="b", key="d/k")
    assert StageMessage.from_json(sqs_event([message])["Records"][0]["body"]) == message


def test_received_messages_keep_their_identity_and_attributes():
    received = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "MD5OfBody": "md5",
        "Body": "{}",
        "Attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": "1"},
        "MD5OfMessageAttributes": "md5a",
        "MessageAttributes": {"status": {"DataType": "String", "StringValue": "validated"}},
    }
    (record,) = sqs_event([received], region="eu-west-1")["Records"]
    assert (record["messageId"], record["receiptHandle"], record["md5OfBody"], record["body"]) == (
        "m-1",
        "rh-1",
        "md5",
        "{}",
    )
    assert record["attributes"]["ApproximateReceiveCount"] == "3"
    assert record["messageAttributes"]["status"] == {
        "stringValue": "validated",
        "binaryValue": None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["md5OfMessageAttributes"] == "md5a"


def test_s3_notification_body_url_encodes_the_key():
    body = json.loads(
        s3_notification_body("landing", "orders/in coming/a+b.csv", size=3, etag='"abc"', version_id="v1")
    )
    obj = body["Records"][0]["s3"]["object"]
    assert (obj["key"], obj["eTag"], obj["versionId"], obj["size"]) == ("orders/in+coming/a%2Bb.csv", "abc", "v1", 3)
    assert body["Records"][0]["eventName"] == "ObjectCreated:Put"


def test_s3_test_event_body():
    assert json.loads(s3_test_event_body("landing"))["Event"] == "s3:TestEvent"


def test_local_context_counts_down():
    context = LocalLambdaContext(function_name="f", timeout_seconds=30)
    assert 29_000 < context.get_remaining_time_in_millis() <= 30_000
    assert context.invoked_function_arn.endswith(":function:f")
