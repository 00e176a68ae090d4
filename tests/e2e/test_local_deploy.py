"""`local` deployed for real: kit → Terraform → moto server over HTTP, checked over boto3.

The tests in this module share one deployment and run in file order: deploy (fixture), checks,
re-plan with no changes, a reset emulator next to leftover state, destroy.
"""

from __future__ import annotations

import json
import time
from urllib.parse import unquote_plus

import pytest

ACCOUNT = "123456789012"
PREFIX = "pk-local"


def bucket(purpose: str) -> str:
    return f"{PREFIX}-{purpose}-{ACCOUNT}"


@pytest.fixture(scope="module")
def deployed(kit_factory):
    kit = kit_factory("local-deploy")
    kit.emulator.reset()
    proc = kit.run("deploy", "--env", "local")
    return kit, proc


def test_deploy_reports_each_step_and_applies(deployed):
    kit, proc = deployed
    assert "==> [1/5] synthesize local" in proc.stdout
    assert "emulator already running" in proc.stdout
    assert "Apply complete!" in proc.stdout
    assert "==> local deployed in" in proc.stdout


def test_buckets_are_kms_encrypted(deployed):
    kit, _ = deployed
    s3 = kit.client("s3")
    for purpose in ("landing", "clean", "quarantine", "archive", "athena-results", "audit"):
        rule = s3.get_bucket_encryption(Bucket=bucket(purpose))["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", purpose
        assert ":key/" in rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"], purpose


def test_buckets_are_versioned_and_private(deployed):
    kit, _ = deployed
    s3 = kit.client("s3")
    for purpose in ("landing", "clean", "quarantine", "archive"):
        assert s3.get_bucket_versioning(Bucket=bucket(purpose))["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket(purpose))["PublicAccessBlockConfiguration"]
        assert all(block.values()), (purpose, block)


def test_archive_lifecycle_moves_to_glacier_then_expires(deployed):
    kit, _ = deployed
    rules = kit.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket("archive"))["Rules"]
    glacier = next(r for r in rules if r["ID"] == "archive-to-glacier")
    assert glacier["Transitions"][0]["StorageClass"] == "GLACIER"
    assert glacier["Transitions"][0]["Days"] == 30
    assert glacier["Expiration"]["Days"] == 60


def test_stage_queue_redrives_to_its_dlq(deployed):
    kit, _ = deployed
    sqs = kit.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{PREFIX}-validate")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{PREFIX}-validate-dlq")
    assert int(redrive["maxReceiveCount"]) == 3
    assert int(attrs["VisibilityTimeout"]) == 6 * 120  # six times validate's timeout
    assert attrs["KmsMasterKeyId"]


def test_object_put_into_landing_arrives_on_first_stage_queue(deployed):
    kit, _ = deployed
    s3, sqs = kit.client("s3"), kit.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{PREFIX}-validate")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)  # drops the s3:TestEvent sent when the notification was applied
    key = "orders/2026/11/22/orders 1.csv"
    s3.put_object(Bucket=bucket("landing"), Key=key, Body=b"order_id,amount\n1,2.50\n")
    records = []
    deadline = time.monotonic() + 10
    while not records and time.monotonic() < deadline:
        for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(msg["Body"])
            records += [r for r in body.get("Records", []) if r["eventName"].startswith("ObjectCreated")]
    assert len(records) == 1
    assert records[0]["s3"]["bucket"]["name"] == bucket("landing")
    assert unquote_plus(records[0]["s3"]["object"]["key"]) == key


def test_tables_have_ttl_and_pitr(deployed):
    kit, _ = deployed
    ddb = kit.client("dynamodb")
    assert ddb.describe_time_to_live(TableName=f"{PREFIX}-status")["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert ddb.describe_time_to_live(TableName=f"{PREFIX}-idempotency")["TimeToLiveDescription"]["AttributeName"] == "expiration"
    pitr = ddb.describe_continuous_backups(TableName=f"{PREFIX}-status")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_second_deploy_reports_no_changes(deployed):
    kit, _ = deployed
    proc = kit.run("deploy", "--env", "local")
    assert "No changes." in proc.stdout
    assert "no changes: nothing to apply" in proc.stdout


def test_reset_emulator_next_to_leftover_state_redeploys_without_cleanup(deployed):
    kit, _ = deployed
    kit.emulator.reset()
    proc = kit.run("deploy", "--env", "local")
    assert "old state moved to" in proc.stdout
    assert "Apply complete!" in proc.stdout
    assert kit.client("s3").head_bucket(Bucket=bucket("landing"))["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_destroy_removes_everything(deployed):
    kit, _ = deployed
    proc = kit.run("destroy", "--env", "local")
    assert "Destroy complete!" in proc.stdout or "Apply complete!" in proc.stdout
    names = [b["Name"] for b in kit.client("s3").list_buckets()["Buckets"]]
    assert not [n for n in names if n.startswith(PREFIX)]
    assert not kit.client("sqs").list_queues(QueueNamePrefix=PREFIX).get("QueueUrls")
    assert not [t for t in kit.client("dynamodb").list_tables()["TableNames"] if t.startswith(PREFIX)]
