"""Builders of real-shaped Lambda events, for tests and for the local runner (``kit/runner.py``).

Not shipped: it lives beside ``pipeline_shared``, not inside it, so no plug-in zip carries it
(``kit/package.py`` packages ``pipeline_shared`` only).

``sqs_event(records)`` returns exactly what the Lambda SQS event source mapping delivers::

    {"Records": [{"messageId", "receiptHandle", "body", "attributes": {"ApproximateReceiveCount",
                  "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"},
                  "messageAttributes": {name: {"stringValue", "binaryValue", "stringListValues",
                  "binaryListValues", "dataType"}}, "md5OfBody", "md5OfMessageAttributes"?,
                  "eventSource": "aws:sqs", "eventSourceARN", "awsRegion"}]}

Each item of ``records`` is one of:

- a message as returned by SQS ``ReceiveMessage`` (a mapping with ``MessageId``, ``ReceiptHandle``
  and ``Body``; ``Attributes``, ``MessageAttributes``, ``MD5OfBody`` are carried over) — what the
  local runner passes after polling a real queue;
- a ``str`` body, sent as is;
- a ``StageMessage`` or any other JSON-serialisable mapping/list, sent as its JSON text.

``s3_notification_body`` / ``s3_test_event_body`` build the bodies S3 sends to the validate queue,
and ``LocalLambdaContext`` is a stand-in for the Lambda context object.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

DEFAULT_ACCOUNT = "123456789012"


def _region(region: str | None) -> str:
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _queue_arn(queue_arn: str | None, region: str) -> str:
    return queue_arn or f"arn:aws:sqs:{region}:{DEFAULT_ACCOUNT}:pipeline-queue"


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """A ReceiveMessage MessageAttributeValue (PascalCase) as Lambda delivers it (camelCase)."""
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": value.get("BinaryValue"),
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": list(value.get("BinaryListValues", [])),
        "dataType": value.get("DataType", "String"),
    }


def _is_received_message(item: Any) -> bool:
    return isinstance(item, Mapping) and {"MessageId", "ReceiptHandle", "Body"} <= item.keys()


def _body_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    to_json = getattr(item, "to_json", None)
    if callable(to_json):
        return to_json()
    return json.dumps(item, separators=(",", ":"))


def sqs_record(
    item: Any, *, queue_arn: str | None = None, region: str | None = None, receive_count: int = 1
) -> dict[str, Any]:
    """One Lambda SQS record from a received message or a body (see the module docstring)."""
    region = _region(region)
    arn = _queue_arn(queue_arn, region)
    if _is_received_message(item):
        attrs = {k: str(v) for k, v in (item.get("Attributes") or {}).items()}
        record: dict[str, Any] = {
            "messageId": item["MessageId"],
            "receiptHandle": item["ReceiptHandle"],
            "body": item["Body"],
            "attributes": attrs,
            "messageAttributes": {k: _lambda_attribute(v) for k, v in (item.get("MessageAttributes") or {}).items()},
            "md5OfBody": item.get("MD5OfBody") or hashlib.md5(item["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": region,
        }
        if item.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = item["MD5OfMessageAttributes"]
        return record
    body = _body_text(item)
    now_ms = str(int(time.time() * 1000))
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now_ms,
            "SenderId": "AIDAEXAMPLESENDERID",
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode("utf-8")).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }


def sqs_event(records: Iterable[Any], *, queue_arn: str | None = None, region: str | None = None) -> dict[str, Any]:
    """A Lambda SQS event holding one record per item (see the module docstring)."""
    return {"Records": [sqs_record(r, queue_arn=queue_arn, region=region) for r in records]}


def s3_notification_body(
    bucket: str,
    key: str,
    *,
    size: int,
    etag: str,
    version_id: str | None = None,
    event_name: str = "ObjectCreated:Put",
    event_time: datetime | None = None,
    sequencer: str | None = None,
    region: str | None = None,
) -> str:
    """The JSON body S3 sends to SQS for one object-created event (the key URL-encoded, as S3 does)."""
    when = (event_time or datetime.now(UTC)).astimezone(UTC)
    obj: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag.strip('"'),
        "sequencer": sequencer or f"{int(when.timestamp() * 1e6):016X}",
    }
    if version_id:
        obj["versionId"] = version_id
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": _region(region),
                    "eventTime": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
                    "eventName": event_name,
                    "userIdentity": {"principalId": "AWS:EXAMPLE"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {
                        "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                        "x-amz-id-2": uuid.uuid4().hex,
                    },
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "landing-object-created",
                        "bucket": {
                            "name": bucket,
                            "ownerIdentity": {"principalId": "EXAMPLE"},
                            "arn": f"arn:aws:s3:::{bucket}",
                        },
                        "object": obj,
                    },
                }
            ]
        },
        separators=(",", ":"),
    )


def s3_test_event_body(bucket: str) -> str:
    """The ``s3:TestEvent`` S3 sends once when a notification configuration is applied."""
    return json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "Bucket": bucket,
            "RequestId": uuid.uuid4().hex[:16].upper(),
            "HostId": uuid.uuid4().hex,
        }
    )


@dataclass
class LocalLambdaContext:
    """A stand-in for the Lambda context (what Powertools and the idempotency utility read)."""

    function_name: str = "pipeline-plugin"
    timeout_seconds: int = 60
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str | None = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        region = _region(self.region)
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{DEFAULT_ACCOUNT}:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
