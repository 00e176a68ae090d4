"""Functional tests: each plug-in's real handler on in-process moto (``moto.mock_aws``).

Fake credentials are set by an autouse fixture before any client exists (moto's guidance), and
``moto`` is imported here first, so every client is intercepted. The ``aws`` fixture opens a fresh
mocked account per test, sets the plug-ins' environment-variable contract and creates every
resource a handler touches (buckets, queues, the topic with an SQS subscriber to observe
publishes, status and idempotency tables, the SecureString tokenisation key). Clients (the tests'
and the plug-ins' cached ones) live for the whole session: creating them is the slow part, and a
client made after moto's import is mocked in every later ``mock_aws`` too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moto  # noqa: F401 - imported before any client is created, so every client is mocked
import pytest
from plugin_loader import load_plugin_module  # lambdas/_shared: pyproject's pytest pythonpath

SHARED = Path(__file__).resolve().parents[2] / "lambdas" / "_shared"

SAMPLES = SHARED / "samples"
REGION = "eu-west-1"
TOKEN_KEY = "k" * 16 + "-functional-test-tokenisation-key"
PLUGINS = ("validate", "cleanse", "archive", "notify")


_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    """A test-side client, created once per session (after the fake credentials are set)."""
    if service not in _clients:
        import boto3

        if "_session" not in _clients:
            _clients["_session"] = boto3.session.Session(region_name=REGION)
        _clients[service] = _clients["_session"].client(service)
    return _clients[service]


@dataclass
class Pipeline:
    """Names of the mocked resources plus small helpers to inspect them."""

    buckets: dict[str, str]
    queues: dict[str, str]
    topic_arn: str
    subscriber_queue: str
    tables: dict[str, str]
    parameter: str
    token_key: str = TOKEN_KEY

    def client(self, service: str) -> Any:
        return _client(service)

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
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                return out
            out.extend(got)
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
            )

    def bodies(self, queue: str) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.drain(queue)]


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials first (no test may reach a real account), and the Powertools settings."""
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_LAMBDA_FUNCTION_NAME",
        "POWERTOOLS_IDEMPOTENCY_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PipelineKit")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("PIPELINE_ENV", "test")


@pytest.fixture(scope="session", autouse=True)
def _session_clients():
    yield
    from pipeline_shared import aws as shared_aws

    shared_aws.clear_clients()
    _clients.clear()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """A fresh mocked account holding every pipeline resource, wired into the env contract."""
    from moto import mock_aws

    with mock_aws():
        s3 = _client("s3")
        buckets = {p: f"pk-test-{p}" for p in ("landing", "clean", "quarantine", "archive")}
        for purpose, name in buckets.items():
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
            monkeypatch.setenv(f"PIPELINE_BUCKET_{purpose.upper()}", name)
        s3.put_bucket_versioning(Bucket=buckets["landing"], VersioningConfiguration={"Status": "Enabled"})

        sqs = _client("sqs")
        queues = {p: sqs.create_queue(QueueName=f"pk-test-{p}")["QueueUrl"] for p in PLUGINS}
        for stage, url in queues.items():
            monkeypatch.setenv(f"PIPELINE_QUEUE_{stage.upper()}", url)
        subscriber = sqs.create_queue(QueueName="pk-test-events-subscriber")["QueueUrl"]
        subscriber_arn = sqs.get_queue_attributes(QueueUrl=subscriber, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

        sns = _client("sns")
        topic = sns.create_topic(Name="pk-test-pipeline-events")["TopicArn"]
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=subscriber_arn, Attributes={"RawMessageDelivery": "false"}
        )
        monkeypatch.setenv("PIPELINE_TOPIC_PIPELINE_EVENTS", topic)

        ddb = _client("dynamodb")
        ddb.create_table(
            TableName="pk-test-status",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": "S"} for n in ("file_id", "dataset", "updated_at")
            ],
            KeySchema=[{"AttributeName": "file_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-dataset",
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [
                        {"AttributeName": "dataset", "KeyType": "HASH"},
                        {"AttributeName": "updated_at", "KeyType": "RANGE"},
                    ],
                }
            ],
        )
        ddb.create_table(
            TableName="pk-test-idempotency",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        monkeypatch.setenv("PIPELINE_TABLE_STATUS", "pk-test-status")
        monkeypatch.setenv("PIPELINE_TABLE_IDEMPOTENCY", "pk-test-idempotency")
        monkeypatch.setenv("PIPELINE_STATUS_TTL_DAYS", "30")

        parameter = "/pk-test/tokenisation-key"
        _client("ssm").put_parameter(Name=parameter, Type="SecureString", Value=TOKEN_KEY)
        monkeypatch.setenv("PIPELINE_PARAM_TOKENISATION_KEY", parameter)

        yield Pipeline(
            buckets=buckets,
            queues=queues,
            topic_arn=topic,
            subscriber_queue=subscriber,
            tables={"status": "pk-test-status", "idempotency": "pk-test-idempotency"},
            parameter=parameter,
        )


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
    from lambda_events import LocalLambdaContext

    return LocalLambdaContext(function_name="pk-test-plugin", timeout_seconds=60)


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def logs():
    """``logs(plugin)``: the structured log entries that plug-in wrote during the test. (Powertools
    binds the stream when the handler is imported, before pytest's per-test capture.)"""
    import io

    streams: dict[str, io.StringIO] = {}
    patched = []

    def attach(module: Any) -> None:
        handler = module.logger.registered_handler
        patched.append((handler, handler.setStream(streams.setdefault(module.PLUGIN, io.StringIO()))))

    def entries(plugin: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in streams[plugin].getvalue().splitlines() if line.startswith("{")]

    entries.attach = attach  # type: ignore[attr-defined]
    yield entries
    for handler, previous in patched:
        handler.setStream(previous)


@pytest.fixture
def land(aws: Pipeline):
    """``land(key, body)``: put ``body`` into landing and return the S3 notification body that
    S3 would send to the validate queue for it (key URL-encoded, version id and ETag filled in)."""
    from lambda_events import s3_notification_body

    def _land(key: str, body: bytes, **extra: Any) -> str:
        put = aws.put("landing", key, body, **extra)
        return s3_notification_body(
            aws.buckets["landing"], key, size=len(body), etag=put["ETag"], version_id=put.get("VersionId")
        )

    return _land


@pytest.fixture
def received(aws: Pipeline):
    """``received(stage)``: an SQS event built from the messages really waiting on ``stage``'s queue
    (as the local runner does), the queue drained."""
    from lambda_events import sqs_event

    def _received(stage: str) -> dict[str, Any]:
        return sqs_event(
            aws.drain(stage), queue_arn=f"arn:aws:sqs:{REGION}:123456789012:pk-test-{stage}", region=REGION
        )

    return _received
