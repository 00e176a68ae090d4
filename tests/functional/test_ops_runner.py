"""The local runner's ``--drain-only`` run on moto: the table lists the files whose messages it
handled, and a message that ends in a dead-letter queue makes the run fail naming that queue.

The stages are made up here (``alpha`` over queues ``pk-t-alpha`` / ``pk-t-alpha-dlq``); their
handler stands in for a plug-in: it fails every record whose body says ``poison``."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

REGION = "eu-west-1"
PREFIX = "pk-t"


def handler(event, context):
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "poison" in r["body"]]}


def s3_event(key: str) -> str:
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "landing"},
                                                                             "object": {"key": key, "eTag": "e"}}}]})


@pytest.fixture
def deployed(tmp_path, monkeypatch):
    """One made-up stage with a DLQ after 2 receives, a status table, and a runner whose stages
    are that one (the emulator's clients are moto's)."""
    import boto3
    from moto import mock_aws

    from kit import runner

    with mock_aws():
        sqs, ddb = boto3.client("sqs", region_name=REGION), boto3.client("dynamodb", region_name=REGION)
        dlq = sqs.create_queue(QueueName=f"{PREFIX}-alpha-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = sqs.create_queue(QueueName=f"{PREFIX}-alpha", Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
        ddb.create_table(TableName=f"{PREFIX}-status", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "file_id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "file_id", "KeyType": "HASH"}])

        def load_stages(self):
            self.stages = [runner.Stage(name="alpha", function_name=f"{PREFIX}-alpha", queue_url=queue,
                                        queue_arn=f"arn:aws:sqs:{REGION}:123456789012:{PREFIX}-alpha", dlq_url=dlq,
                                        batch_size=10, timeout=30, environment={}, handler=handler)]

        monkeypatch.setattr(runner.LocalRunner, "load_stages", load_stages)
        emulator = SimpleNamespace(url="http://127.0.0.1:9", client=lambda service, region: boto3.client(
            service, region_name=region))
        cfg = SimpleNamespace(region=REGION, account_id="123456789012", name_prefix=PREFIX,
                              resource_name=lambda *parts: "-".join((PREFIX, *parts)),
                              bucket_name=lambda purpose: f"{PREFIX}-{purpose}")

        def drain_only():
            return runner.run(cfg, emulator, samples=None, state_dir=tmp_path, timeout=60)

        yield SimpleNamespace(sqs=sqs, ddb=ddb, queue=queue, dlq=dlq, drain_only=drain_only)


def test_drain_only_prints_the_table_of_the_files_it_processed(deployed, capsys):
    deployed.ddb.put_item(TableName=f"{PREFIX}-status", Item={
        "file_id": {"S": "1" * 32}, "key": {"S": "sales/ok.csv"}, "dataset": {"S": "sales"},
        "status": {"S": "processed"}, "updated_at": {"S": "2024-05-01T00:00:00Z"}})
    deployed.sqs.send_message(QueueUrl=deployed.queue, MessageBody=s3_event("sales/ok.csv"))
    outcome = deployed.drain_only()
    assert [(r["key"], r["status"]) for r in outcome.rows] == [("sales/ok.csv", "processed")]
    out = capsys.readouterr().out
    assert "sales/ok.csv" in out and out.rstrip().endswith("dead-letter queues: all empty")
    assert outcome.problems() == []


def test_a_message_left_in_a_dead_letter_queue_fails_the_run_naming_the_queue(deployed):
    poisoned = json.dumps({"key": "sales/bad.csv", "file_id": "2" * 32, "note": "poison"})
    deployed.sqs.send_message(QueueUrl=deployed.queue, MessageBody=poisoned)
    outcome = deployed.drain_only()
    assert [(r["key"], r["status"]) for r in outcome.rows] == [("sales/bad.csv", "NO STATUS")]
    assert outcome.dlq == {"alpha": 1}
    assert outcome.problems()[1].startswith(f"message(s) left in dead-letter queue(s): {PREFIX}-alpha-dlq=1")
