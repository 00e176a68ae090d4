"""`make run` on the deployed `local` stack: a mix of good and bad files goes through the real
queues, buckets and tables of the emulator; every file must be accounted for — clean and
archived, or quarantined — nothing lost, nothing processed twice, one status record each."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from names import PREFIX, bucket

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "lambdas" / "_shared" / "samples"

EXPECTED = {  # file (relative to the samples folder) → (status, a word of the reason)
    "customers/good.csv": ("processed", None),
    "customers/bad.csv": ("quarantined", "contract"),
    "events/good.jsonl": ("processed", None),
    "events/bad.jsonl": ("quarantined", "contract"),
    "orders/good.csv": ("processed", None),
    "orders/bad_rows.csv": ("processed", None),
    "orders/bad_file.csv": ("quarantined", "contract"),
    "orders/header_mismatch.csv": ("quarantined", "header"),
    "orders/compressed.csv.gz": ("processed", None),
    "orders/empty.csv": ("quarantined", "empty"),
    "orders/latin1.csv": ("quarantined", "UTF-8"),
    "nosuchdataset/file.csv": ("quarantined", "dataset"),
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    for rel in EXPECTED:
        src = SHIPPED / rel
        if src.exists():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, folder / rel)
    good = (SHIPPED / "orders" / "good.csv").read_bytes()
    (folder / "orders" / "compressed.csv.gz").write_bytes(gzip.compress(good.replace(b",", b",", 1), mtime=0))
    (folder / "orders" / "empty.csv").write_bytes(b"")
    (folder / "orders" / "latin1.csv").write_bytes(good.splitlines()[0] + b"\n" + "Zoë,€".encode("latin-1", "replace") + b"\n")
    (folder / "nosuchdataset").mkdir()
    (folder / "nosuchdataset" / "file.csv").write_bytes(b"a,b\n1,2\n")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == sorted(EXPECTED)
    return folder


@pytest.fixture(scope="module")
def run(deployed, samples):
    kit, _ = deployed
    sns, sqs = kit.client("sns"), kit.client("sqs")
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f":{PREFIX}-pipeline-events"))
    outcomes_url = sqs.create_queue(QueueName="e2e-pipeline-events")["QueueUrl"]
    outcomes_arn = sqs.get_queue_attributes(QueueUrl=outcomes_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=outcomes_arn, Attributes={"RawMessageDelivery": "true"})
    proc = kit.run("run", "--env", "local", "--samples", str(samples))
    items = status_items(kit)
    return kit, proc, items, outcomes_url


def status_items(kit) -> dict[str, list[dict]]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    by_key: dict[str, list[dict]] = {}
    for page in kit.client("dynamodb").get_paginator("scan").paginate(TableName=f"{PREFIX}-status"):
        for raw in page["Items"]:
            item = {k: des.deserialize(v) for k, v in raw.items()}
            by_key.setdefault(item["key"], []).append(item)
    return by_key


def landing_key(rel: str, items: dict[str, list[dict]]) -> str:
    dataset, name = rel.split("/", 1)
    matches = [k for k in items if k.startswith(f"{dataset}/run-") and k.endswith(f"/{name}")]
    assert len(matches) == 1, (rel, sorted(items))
    return matches[0]


def versions(s3, bucket_name: str, key: str) -> int:
    resp = s3.list_object_versions(Bucket=bucket_name, Prefix=key)
    return len([v for v in resp.get("Versions", []) if v["Key"] == key])


def s3_location(uri: str) -> tuple[str, str]:
    bucket_name, _, key = uri.removeprefix("s3://").partition("/")
    return bucket_name, key


def test_runner_prints_a_row_per_file(run):
    _, proc, _, _ = run
    assert "where it ended" in proc.stdout
    for rel in EXPECTED:
        assert rel.split("/", 1)[1] in proc.stdout


def test_every_file_has_exactly_one_status_record_with_the_expected_outcome(run):
    _, _, items, _ = run
    for rel, (status, reason_word) in EXPECTED.items():
        records = items[landing_key(rel, items)]
        assert len(records) == 1, rel
        assert records[0]["status"] == status, (rel, records[0].get("reason"))
        if reason_word:
            assert reason_word.lower() in records[0]["reason"].lower(), (rel, records[0]["reason"])


def test_processed_files_are_clean_and_archived_once_and_gone_from_landing(run):
    kit, _, items, _ = run
    s3 = kit.client("s3")
    for rel, (status, _) in EXPECTED.items():
        if status != "processed":
            continue
        key = landing_key(rel, items)
        record = items[key][0]
        archive_bucket, archive_key = s3_location(record["locations"]["archive"])
        assert archive_bucket == bucket("archive")
        assert versions(s3, archive_bucket, archive_key) == 1, rel
        clean = record["locations"]["clean"]
        assert clean, rel
        for uri in clean:
            clean_bucket, clean_key = s3_location(uri)
            assert clean_bucket == bucket("clean") and clean_key.startswith(f"dataset={record['dataset']}/date=")
            assert versions(s3, clean_bucket, clean_key) == 1, uri
        listed = s3.list_objects_v2(Bucket=bucket("landing"), Prefix=key).get("Contents", [])
        assert not [o for o in listed if o["Key"] == key], f"{rel} still in landing"


def test_quarantined_files_are_kept_whole_in_quarantine(run, samples):
    kit, _, items, _ = run
    s3 = kit.client("s3")
    for rel, (status, _) in EXPECTED.items():
        if status != "quarantined":
            continue
        record = items[landing_key(rel, items)][0]
        q_bucket, q_key = s3_location(record["locations"]["quarantine"])
        assert q_bucket == bucket("quarantine")
        body = s3.get_object(Bucket=q_bucket, Key=q_key)["Body"].read()
        assert body == (samples / rel).read_bytes(), rel


def test_one_outcome_per_file_is_published(run):
    kit, _, _, outcomes_url = run
    sqs = kit.client("sqs")
    seen = []
    while True:
        msgs = sqs.receive_message(QueueUrl=outcomes_url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            seen.append(json.loads(m["Body"])["key"])
            sqs.delete_message(QueueUrl=outcomes_url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(seen) == sorted(set(seen))
    # every sample, and the file the runner generates above the Batch threshold
    assert len(seen) == len(EXPECTED) + 1
    assert sum(key.endswith("/large.csv") for key in seen) == 1


def test_no_message_is_left_in_any_queue_or_dead_letter_queue(run):
    kit, proc, _, _ = run
    sqs = kit.client("sqs")
    for stage in ("validate", "cleanse", "archive", "notify"):
        for name in (f"{PREFIX}-{stage}", f"{PREFIX}-{stage}-dlq"):
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                          "ApproximateNumberOfMessagesNotVisible"])
            assert attrs["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, name
    assert "dead-letter queues: all empty" in proc.stdout


def test_a_redelivered_message_does_no_second_work(run):
    kit, _, items, outcomes_url = run
    sqs = kit.client("sqs")
    key = landing_key("orders/good.csv", items)
    before = items[key][0]
    # Replay what archive sent to notify for that file: notify must not publish or write again.
    record = dict(before)
    message = {"schema_version": 1, "file_id": record["file_id"], "dataset": record["dataset"],
               "bucket": record["bucket"], "key": record["key"], "etag": record.get("etag"),
               "version_id": record.get("version_id"), "size": int(record["size"]) if record.get("size") is not None else None,
               "status": record["status"], "counts": {k: int(v) for k, v in record["counts"].items()},
               "locations": record["locations"], "reason": record.get("reason"),
               "received_at": record.get("received_at"), "produced_by": "archive"}
    notify_url = sqs.get_queue_url(QueueName=f"{PREFIX}-notify")["QueueUrl"]
    sqs.send_message(QueueUrl=notify_url, MessageBody=json.dumps(message))
    kit.run("run", "--env", "local", "--drain-only")
    after = status_items(kit)[key]
    assert len(after) == 1
    assert after[0]["updated_at"] == before["updated_at"]
    assert not sqs.receive_message(QueueUrl=outcomes_url, MaxNumberOfMessages=10).get("Messages")


def api(kit, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    args = ["api", "--env", "local", method, path] + (["--body", json.dumps(body)] if body is not None else [])
    proc = kit.run(*args, check=False)
    status_line, _, payload = proc.stdout.partition("\n")
    return int(status_line.split()[1]), json.loads(payload or "{}")


def test_the_api_answers_a_file_status_through_the_local_runner(run):
    kit, _, items, _ = run
    record = items[landing_key("orders/good.csv", items)][0]
    status, body = api(kit, "GET", f"/files/{record['file_id']}")
    assert status == 200
    assert (body["file_id"], body["status"], body["dataset"]) == (record["file_id"], "processed", "orders")


def test_the_api_answers_404_for_an_unknown_file(run):
    kit, _, _, _ = run
    status, body = api(kit, "GET", "/files/" + "0" * 32)
    assert status == 404
    assert body["message"]


def test_the_api_starts_and_polls_an_allow_listed_athena_query(run):
    kit, _, _, _ = run
    status, started = api(kit, "POST", "/queries", {"dataset": "orders", "query": "row_counts_per_day"})
    assert status == 202, started
    status, polled = api(kit, "GET", f"/queries/{started['id']}")
    assert status == 200, polled
    assert polled["state"] in ("QUEUED", "RUNNING", "SUCCEEDED")


def test_the_api_refuses_a_query_outside_the_allow_list_with_a_400(run):
    kit, _, _, _ = run
    status, body = api(kit, "POST", "/queries", {"dataset": "orders", "query": "DROP TABLE orders"})
    assert status == 400
    assert "query" in body["message"]


def test_a_file_above_the_batch_threshold_goes_through_batch_jobs_and_ends_processed(run):
    kit, proc, items, _ = run
    assert "large.csv, generated:" in proc.stdout and "above the Batch threshold of 65536 bytes" in proc.stdout
    assert "AWS Batch jobs run in-process:" in proc.stdout
    key = landing_key("orders/large.csv", items)
    records = items[key]
    assert len(records) == 1 and records[0]["status"] == "processed", records
    batch = kit.client("batch")
    jobs = batch.list_jobs(jobQueue=f"{PREFIX}-batch")["jobSummaryList"]
    names = sorted(j["jobName"].split("-", 1)[0] for j in jobs)
    assert names == ["cleanse", "validate"], names  # one job per stage, no duplicate submission
    clean = kit.client("s3").list_objects_v2(Bucket=bucket("clean"), Prefix="dataset=orders/")["Contents"]
    file_id = records[0]["file_id"]
    assert any(file_id in o["Key"] for o in clean), (file_id, [o["Key"] for o in clean])
