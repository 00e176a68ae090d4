"""Operating the deployed `local` pipeline (kit redrive, replay, status) on the session emulator.

A stage fails (archive may not write to its bucket: a deny statement in the bucket policy), so a
file's message ends in archive's dead-letter queue and `kit run --drain-only` fails naming it; the
cause is removed, `kit redrive` moves the message back (a rerun moves nothing) and the file ends
processed; `kit replay` of that file gives it a second status record, `processed`, with a new
file_id; `kit status` prints both.

Runs after test_pipeline_local and before test_promotion / test_redeploy_destroy (file order)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from names import PREFIX, bucket

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "lambdas" / "_shared" / "samples" / "orders" / "good.csv"
KEY = "orders/ops-e2e/good.csv"
DENY_SID = "E2eArchiveWritesDenied"


def status_records(kit, key: str) -> list[dict]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    pages = kit.client("dynamodb").get_paginator("scan").paginate(TableName=f"{PREFIX}-status")
    items = [{k: des.deserialize(v) for k, v in raw.items()} for page in pages for raw in page["Items"]]
    return sorted((it for it in items if it["key"] == key), key=lambda it: it["updated_at"])


def row(stdout: str, key: str) -> list[str]:
    (line,) = [line for line in stdout.splitlines() if line.startswith(key + " ")]
    return line.split()


@pytest.fixture(scope="module")
def dead_lettered(deployed):
    """A good file whose archive step fails every time: its message ends in archive's DLQ."""
    kit, _ = deployed
    s3 = kit.client("s3")
    archive = bucket("archive")
    try:
        saved = s3.get_bucket_policy(Bucket=archive)["Policy"]
    except s3.exceptions.ClientError:
        saved = None
    policy = json.loads(saved) if saved else {"Version": "2012-10-17", "Statement": []}
    policy["Statement"].append({"Sid": DENY_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                                "Resource": f"arn:aws:s3:::{archive}/*"})
    s3.put_bucket_policy(Bucket=archive, Policy=json.dumps(policy))
    try:
        s3.put_object(Bucket=bucket("landing"), Key=KEY, Body=SAMPLE.read_bytes())
        proc = kit.run("run", "--env", "local", "--drain-only", check=False)
    finally:
        if saved:
            s3.put_bucket_policy(Bucket=archive, Policy=saved)
        else:
            s3.delete_bucket_policy(Bucket=archive)
    return kit, proc


@pytest.fixture(scope="module")
def redriven(dead_lettered):
    kit, _ = dead_lettered
    first = kit.run("redrive", "--env", "local")
    again = kit.run("redrive", "--env", "local", "--stage", "archive")
    drained = kit.run("run", "--env", "local", "--drain-only")
    return kit, first, again, drained


@pytest.fixture(scope="module")
def replayed(redriven):
    kit = redriven[0]
    before = status_records(kit, KEY)
    proc = kit.run("replay", "--env", "local", "--file", KEY)
    return kit, before, proc, status_records(kit, KEY)


def test_a_failing_stage_makes_the_drain_fail_naming_its_dead_letter_queue(dead_lettered):
    _, proc = dead_lettered
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert f"message(s) left in dead-letter queue(s): {PREFIX}-archive-dlq=1" in proc.stderr
    assert row(proc.stdout, KEY)[5:7] == ["NO", "STATUS"]  # the file it processed, without an outcome


def test_redrive_moves_the_dead_letter_back_and_a_rerun_moves_nothing(redriven):
    _, first, again, _ = redriven
    assert f"archive: 1 message(s) moved {PREFIX}-archive-dlq → {PREFIX}-archive ({KEY})" in first.stdout
    assert "==> 1 message(s) moved back" in first.stdout
    assert f"archive: nothing to move in {PREFIX}-archive-dlq" in again.stdout
    assert "==> 0 message(s) moved back" in again.stdout


def test_the_redriven_file_ends_processed_and_every_dead_letter_queue_is_empty(redriven):
    kit, _, _, drained = redriven
    assert row(drained.stdout, KEY)[5] == "processed"
    assert "dead-letter queues: all empty" in drained.stdout
    assert [r["status"] for r in status_records(kit, KEY)] == ["processed"]


def test_an_unknown_stage_is_refused_naming_the_known_ones(redriven):
    kit = redriven[0]
    proc = kit.run("redrive", "--env", "local", "--stage", "nosuch", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: unknown stage 'nosuch': the stages with a dead-letter queue are ")


def test_a_replay_gives_a_second_processed_record_with_a_new_file_id(replayed):
    _, before, proc, after = replayed
    assert proc.returncode == 0
    (old,) = before
    assert len(after) == 2 and after[0]["file_id"] == old["file_id"]
    new = after[1]
    assert new["status"] == "processed" and new["file_id"] != old["file_id"]
    assert f"new file_id {new['file_id']}" in proc.stdout
    version = re.search(r"as version (\S+) \(metadata replay-of=" + old["file_id"], proc.stdout).group(1)
    assert new["version_id"] == version


def test_status_prints_every_record_of_the_replayed_key(replayed):
    kit, _, _, after = replayed
    proc = kit.run("status", "--env", "local", "--file", KEY)
    assert proc.stdout.count(f"\n{KEY} ") == 2
    for record in after:
        assert record["file_id"] in proc.stdout
