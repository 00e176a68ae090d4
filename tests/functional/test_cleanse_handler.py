"""cleanse handler on moto: clean partitions, tokenised PII, idempotency, failures."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json

from lambda_events import sqs_event
from pipeline_shared.wiring.messages import StageMessage

OK = {"batchItemFailures": []}


def validated(
    aws, key: str, body: bytes, *, dataset: str = "orders", received_at: str = "2024-06-30T23:00:00.000Z", **counts: int
) -> StageMessage:
    """Put ``body`` in landing and return the message validate would have sent for it."""
    put = aws.put("landing", key, body)
    return StageMessage(
        file_id=hashlib.sha256(key.encode()).hexdigest()[:32],
        dataset=dataset,
        status="validated",
        produced_by="validate",
        bucket=aws.buckets["landing"],
        key=key,
        version_id=put["VersionId"],
        etag=put["ETag"].strip('"'),
        size=len(body),
        received_at=received_at,
        counts={"records_in": 5, "valid": 5, "rejected": 0, **counts},
        locations={"landing": f"s3://{aws.buckets['landing']}/{key}"},
    )


def token(value: str, key: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def test_clean_partitions_are_written_and_archive_is_told(aws, cleanse, context, samples):
    message = validated(aws, "orders/2024/good.csv", (samples / "orders/good.csv").read_bytes())
    assert cleanse.lambda_handler(sqs_event([message]), context) == OK
    fid = message.file_id
    assert aws.keys("clean") == [
        f"dataset=orders/date=2024-05-01/{fid}.csv",
        f"dataset=orders/date=2024-05-02/{fid}.csv",
    ]
    (out,) = aws.bodies("archive")
    assert (out["status"], out["produced_by"], out["file_id"]) == ("cleansed", "cleanse", fid)
    assert (out["counts"]["duplicates"], out["counts"]["out"], out["counts"]["records_in"]) == (1, 4, 5)
    assert out["locations"]["clean"] == [f"s3://{aws.buckets['clean']}/{k}" for k in aws.keys("clean")]
    assert out["locations"]["landing"] == message.locations["landing"]


def test_pii_is_tokenised_with_the_key_from_ssm(aws, cleanse, context, samples):
    message = validated(aws, "orders/good.csv", (samples / "orders/good.csv").read_bytes())
    cleanse.lambda_handler(sqs_event([message]), context)
    text = aws.get("clean", f"dataset=orders/date=2024-05-01/{message.file_id}.csv").decode()
    first = next(csv.DictReader(io.StringIO(text)))
    assert first["email"] == token("alice@example.com", aws.token_key)
    assert "example.com" not in text


def test_the_key_is_read_once_per_container(aws, cleanse, context, samples, monkeypatch):
    calls = []
    ssm = cleanse.aws.client("ssm")
    original = ssm.get_parameter
    monkeypatch.setattr(cleanse, "_keys", {})
    monkeypatch.setattr(ssm, "get_parameter", lambda **kw: calls.append(kw) or original(**kw))
    for name in ("orders/a.csv", "orders/b.csv"):
        cleanse.lambda_handler(sqs_event([validated(aws, name, (samples / "orders/good.csv").read_bytes())]), context)
    assert calls == [{"Name": aws.parameter, "WithDecryption": True}]


def test_rows_validate_rejected_are_not_written(aws, cleanse, context, samples):
    message = validated(aws, "orders/b.csv", (samples / "orders/bad_rows.csv").read_bytes(), rejected=1)
    cleanse.lambda_handler(sqs_event([message]), context)
    text = aws.get("clean", f"dataset=orders/date=2024-05-03/{message.file_id}.csv").decode()
    assert "ORD-000019" not in text and len(text.splitlines()) == 11  # header + 10 good rows


def test_without_partition_column_the_landing_date_is_used(aws, cleanse, context, samples):
    message = validated(
        aws,
        "customers/c.csv",
        (samples / "customers/good.csv").read_bytes(),
        dataset="customers",
        received_at="2024-06-30T23:30:00-02:00",
    )
    cleanse.lambda_handler(sqs_event([message]), context)
    assert aws.keys("clean") == [f"dataset=customers/date=2024-07-01/{message.file_id}.csv"]


def test_jsonl_is_written_as_jsonl(aws, cleanse, context, samples):
    message = validated(aws, "events/e.jsonl", (samples / "events/good.jsonl").read_bytes(), dataset="events")
    cleanse.lambda_handler(sqs_event([message]), context)
    key = f"dataset=events/date=2024-05-02/{message.file_id}.jsonl"
    assert json.loads(aws.get("clean", key))["event_type"] == "purchase"
    assert aws.client("s3").head_object(Bucket=aws.buckets["clean"], Key=key)["ContentType"] == "application/x-ndjson"


def test_gzip_landing_object_is_cleansed(aws, cleanse, context, samples):
    import gzip

    message = validated(aws, "orders/g.csv.gz", gzip.compress((samples / "orders/good.csv").read_bytes()))
    assert cleanse.lambda_handler(sqs_event([message]), context) == OK
    assert aws.bodies("archive")[0]["counts"]["out"] == 4


def test_duplicate_delivery_writes_and_sends_once(aws, cleanse, context, samples):
    s3 = aws.client("s3")
    s3.put_bucket_versioning(Bucket=aws.buckets["clean"], VersioningConfiguration={"Status": "Enabled"})
    event = sqs_event([validated(aws, "orders/good.csv", (samples / "orders/good.csv").read_bytes())])
    assert cleanse.lambda_handler(event, context) == OK
    assert cleanse.lambda_handler(event, context) == OK
    assert len(aws.bodies("archive")) == 1
    assert len(s3.list_object_versions(Bucket=aws.buckets["clean"])["Versions"]) == 2


def test_one_bad_record_fails_alone(aws, cleanse, context, samples):
    good = validated(aws, "orders/good.csv", (samples / "orders/good.csv").read_bytes())
    gone = validated(aws, "orders/gone.csv", b"x")
    aws.client("s3").delete_object(Bucket=aws.buckets["landing"], Key=gone.key, VersionId=gone.version_id)
    event = sqs_event([good, gone, {"schema_version": 1}])
    response = cleanse.lambda_handler(event, context)
    assert response == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"][1:]]}
    assert [m["key"] for m in aws.bodies("archive")] == ["orders/good.csv"]


def test_wrong_status_is_refused_with_the_reason(aws, cleanse, context, logs):
    logs.attach(cleanse)
    message = StageMessage(
        file_id="f",
        dataset="orders",
        status="processed",
        produced_by="archive",
        bucket=aws.buckets["landing"],
        key="orders/a.csv",
    )
    assert cleanse.lambda_handler(sqs_event([message]), context)["batchItemFailures"]
    (error,) = [e for e in logs("cleanse") if e["level"] == "ERROR"]
    assert "cleanse takes 'validated' messages, got 'processed' from archive" in error["exception"]


def test_short_tokenisation_key_fails_without_leaking_it(aws, cleanse, context, samples, logs, monkeypatch):
    logs.attach(cleanse)
    monkeypatch.setattr(cleanse, "_keys", {})
    aws.client("ssm").put_parameter(Name=aws.parameter, Type="SecureString", Value="tiny-secret", Overwrite=True)
    event = sqs_event([validated(aws, "orders/good.csv", (samples / "orders/good.csv").read_bytes())])
    assert cleanse.lambda_handler(event, context)["batchItemFailures"]
    (error,) = [e for e in logs("cleanse") if e["level"] == "ERROR"]
    assert f"SSM parameter {aws.parameter} holds a 11-byte tokenisation key" in error["exception"]
    assert "tiny-secret" not in json.dumps(logs("cleanse"))
    assert aws.keys("clean") == []


def test_the_sha256_from_validate_is_passed_on_to_archive(aws, cleanse, context, samples):
    body = (samples / "orders/good.csv").read_bytes()
    message = validated(aws, "orders/2024/digest.csv", body).evolve(sha256=hashlib.sha256(body).hexdigest())
    assert cleanse.lambda_handler(sqs_event([message]), context) == OK
    assert aws.bodies("archive")[0]["sha256"] == message.sha256
