"""Functional tests: each plug-in's real handler on in-process moto (``moto.mock_aws``).

The ``aws`` fixture sets fake credentials and the plug-ins' environment-variable contract
*before* any client exists (moto's guidance), creates every resource a handler touches (buckets,
queues, topic with an SQS subscriber to observe publishes, status and idempotency tables, the
SecureString tokenisation key) and drops the plug-ins' cached boto3 clients between tests.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[2] / "lambdas" / "_shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))

from plugin_loader import load_plugin_module  # noqa: E402

SAMPLES = SHARED / "samples"
REGION = "eu-west-1"
TOKEN_KEY = "k" * 16 + "-functional-test-tokenisation-key"
PLUGINS = ("validate", "cleanse", "archive", "notify")


@dataclass
class Pipeline:
    """Names of the mocked resources plus small helpers to inspect them."""

    buckets: dict[str, str]
    queues: dict[str, str]
    topic_arn: str
    subscriber_queue: str
    tables: dict[str, str]
    parameter: str
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        import boto3

        if service not in self.clients:
            self.clients[service] = boto3.client(service, region_name=REGION)
        return self.clients[service]

    def put(self, purpose: str, key: str, body: bytes, **extra: Any) -> dict[str, Any]:
        return self.client("s3").put_object(Bucket=self.buckets[purpose], Key=key, Body=body, **extra)

    def get(self, purpose: str, key: str) -> bytes:
        return self.client("s3").get_object(Bucket=self.buckets[purpose], Key=key)["Body"].read()

    def keys(self, purpose: str, prefix: str = "") -> list[str]:
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.buckets[purpose], Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def drain(self, queue: str) -> list[dict[str, Any]]:
        """Every message waiting on ``queue`` (a stage name or "subscriber"), removed from it."""
        url = self.subscriber_queue if queue == "subscriber" else self.queues[queue]
        sqs = self.client("sqs")
        out: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                      MessageAttributeNames=["All"]).get("Messages", [])
            if not got:
                return out
            out.extend(got)
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])

    def bodies(self, queue: str) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.drain(queue)]


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials first (no test may reach a real account), and the Powertools settings."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_LAMBDA_FUNCTION_NAME", "POWERTOOLS_IDEMPOTENCY_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PipelineKit")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("PIPELINE_ENV", "test")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """A fresh mocked account holding every pipeline resource, wired into the env contract."""
    from moto import mock_aws
    from pipeline_shared import aws as shared_aws

    shared_aws.clear_clients()
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        buckets = {p: f"pk-test-{p}" for p in ("landing", "clean", "quarantine", "archive")}
        for purpose, name in buckets.items():
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
            monkeypatch.setenv(f"PIPELINE_BUCKET_{purpose.upper()}", name)
        s3.put_bucket_versioning(Bucket=buckets["landing"], VersioningConfiguration={"Status": "Enabled"})

        sqs = boto3.client("sqs", region_name=REGION)
        queues = {p: sqs.create_queue(QueueName=f"pk-test-{p}")["QueueUrl"] for p in PLUGINS}
        for stage, url in queues.items():
            monkeypatch.setenv(f"PIPELINE_QUEUE_{stage.upper()}", url)
        subscriber = sqs.create_queue(QueueName="pk-test-events-subscriber")["QueueUrl"]
        subscriber_arn = sqs.get_queue_attributes(QueueUrl=subscriber, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="pk-test-pipeline-events")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=subscriber_arn,
                      Attributes={"RawMessageDelivery": "false"})
        monkeypatch.setenv("PIPELINE_TOPIC_PIPELINE_EVENTS", topic)

        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="pk-test-status", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("file_id", "dataset", "updated_at")],
            KeySchema=[{"AttributeName": "file_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{"IndexName": "by-dataset", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
                {"AttributeName": "dataset", "KeyType": "HASH"}, {"AttributeName": "updated_at", "KeyType": "RANGE"}]}])
        ddb.create_table(TableName="pk-test-idempotency", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        monkeypatch.setenv("PIPELINE_TABLE_STATUS", "pk-test-status")
        monkeypatch.setenv("PIPELINE_TABLE_IDEMPOTENCY", "pk-test-idempotency")
        monkeypatch.setenv("PIPELINE_STATUS_TTL_DAYS", "30")

        parameter = "/pk-test/tokenisation-key"
        boto3.client("ssm", region_name=REGION).put_parameter(Name=parameter, Type="SecureString", Value=TOKEN_KEY)
        monkeypatch.setenv("PIPELINE_PARAM_TOKENISATION_KEY", parameter)

        yield Pipeline(buckets=buckets, queues=queues, topic_arn=topic, subscriber_queue=subscriber,
                       tables={"status": "pk-test-status", "idempotency": "pk-test-idempotency"}, parameter=parameter)
    shared_aws.clear_clients()


def _handler(plugin: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", plugin)
    return load_plugin_module(plugin, "handler")


@pytest.fixture
def validate(monkeypatch: pytest.MonkeyPatch):
    return _handler("validate", monkeypatch)


@pytest.fixture
def cleanse(monkeypatch: pytest.MonkeyPatch):
    return _handler("cleanse", monkeypatch)


@pytest.fixture
def archive(monkeypatch: pytest.MonkeyPatch):
    return _handler("archive", monkeypatch)


@pytest.fixture
def notify(monkeypatch: pytest.MonkeyPatch):
    return _handler("notify", monkeypatch)


@pytest.fixture
def context():
    from pipeline_shared.events import LocalLambdaContext

    return LocalLambdaContext(function_name="pk-test-plugin", timeout_seconds=60)


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def land(aws: Pipeline):
    """``land(key, body)``: put ``body`` into landing and return the S3 notification body that
    S3 would send to the validate queue for it (key URL-encoded, version id and ETag filled in)."""
    from pipeline_shared.events import s3_notification_body

    def _land(key: str, body: bytes, **extra: Any) -> str:
        put = aws.put("landing", key, body, **extra)
        return s3_notification_body(aws.buckets["landing"], key, size=len(body), etag=put["ETag"],
                                    version_id=put.get("VersionId"))

    return _land


@pytest.fixture
def received(aws: Pipeline):
    """``received(stage)``: an SQS event built from the messages really waiting on ``stage``'s queue
    (as the local runner does), the queue drained."""
    from pipeline_shared.events import sqs_event

    def _received(stage: str) -> dict[str, Any]:
        return sqs_event(aws.drain(stage), queue_arn=f"arn:aws:sqs:{REGION}:123456789012:pk-test-{stage}", region=REGION)

    return _received
