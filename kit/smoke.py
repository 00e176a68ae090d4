"""The smoke test after every deploy: one known-good sample file through the deployed pipeline,
until its status record says ``processed``.

On AWS the real event source mappings run the functions, so the test only waits. On the emulator,
which does not run Lambda code, the local runner (``kit/runner.py``) is started in a separate
process to play the Lambda service over the code actually deployed (it loads each function's zip
from the artifacts bucket by its CodeSha256), then the record is checked the same way — and the
test fails when any dead-letter queue of the environment holds more messages after the run than
before it: a stage that fails (a broken plug-in consuming ``pipeline-events``, say) fails the smoke
test even though the sample itself ended ``processed``. (Messages already in a DLQ before the
deploy do not fail it: they are not this release's doing.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "lambdas" / "_shared" / "samples" / "orders" / "good.csv"
DATASET = "orders"


@dataclass(frozen=True)
class SmokeResult:
    passed: bool
    key: str
    detail: str


def smoke_key(release_id: str) -> str:
    return f"{DATASET}/_smoke/{release_id}/{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.csv"


def find_status(ddb, table: str, key: str) -> dict | None:
    """The status item of the object ``key`` (query the by-dataset index, newest first)."""
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    pages = ddb.get_paginator("query").paginate(
        TableName=table, IndexName="by-dataset", KeyConditionExpression="dataset = :d",
        ExpressionAttributeValues={":d": {"S": DATASET}}, ScanIndexForward=False)
    for page in pages:
        for raw in page["Items"]:
            item = {k: des.deserialize(v) for k, v in raw.items()}
            if item.get("key") == key:
                return item
    return None


def dlq_depths(sqs, name_prefix: str) -> dict[str, int]:
    """Messages (visible and in flight) in each dead-letter queue that a queue of the environment
    (``<prefix>-…``) redrives to: the stages' DLQs. (A DLQ of SNS subscriptions is not one: a
    subscriber's endpoint being down says nothing about the release.)"""
    urls = [u for page in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=f"{name_prefix}-")
            for u in page.get("QueueUrls", [])]
    attrs = {url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "QueueArn", "RedrivePolicy", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    ])["Attributes"] for url in urls}
    targets = set()
    for a in attrs.values():
        try:
            targets.add(json.loads(a["RedrivePolicy"])["deadLetterTargetArn"])
        except (KeyError, TypeError, ValueError):
            continue
    return {url.rstrip("/").rsplit("/", 1)[-1]: int(a.get("ApproximateNumberOfMessages", 0))
            + int(a.get("ApproximateNumberOfMessagesNotVisible", 0))
            for url, a in attrs.items() if a.get("QueueArn") in targets}


def dlq_growth(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The dead-letter queues that gained messages, and how many."""
    return {name: n - before.get(name, 0) for name, n in sorted(after.items()) if n > before.get(name, 0)}


def run_smoke(cfg, client, *, release_id: str, runner_args: list[str] | None, timeout: float = 300.0,
              env: dict[str, str] | None = None) -> SmokeResult:
    """Upload the sample, let the pipeline run (``runner_args``: drive it with the local runner
    in a subprocess), and wait for the file's status record."""
    key = smoke_key(release_id)
    dlq_before = dlq_depths(client("sqs"), cfg.name_prefix) if runner_args is not None else {}
    client("s3").put_object(Bucket=cfg.bucket_name("landing"), Key=key, Body=SAMPLE.read_bytes())
    table = cfg.resource_name("status")
    deadline = time.monotonic() + timeout
    if runner_args is not None:
        proc = subprocess.run([sys.executable, "-m", "kit", "run", *runner_args, "--drain-only", "--quiet",
                               "--timeout", str(int(timeout))],
                              cwd=ROOT, env=env or dict(os.environ), text=True, capture_output=True,
                              timeout=timeout + 120)
        grew = dlq_growth(dlq_before, dlq_depths(client("sqs"), cfg.name_prefix))
        if grew:
            return SmokeResult(False, key, "a stage failed during the smoke test: message(s) dead-lettered in "
                               + ", ".join(f"{name} (+{n})" for name, n in grew.items()))
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            detail = " / ".join(tail) or f"exit {proc.returncode}"
            item = find_status(client("dynamodb"), table, key)
            if item is None:
                return SmokeResult(False, key, f"the local runner failed: {detail}")
    while True:
        item = find_status(client("dynamodb"), table, key)
        if item is not None:
            if item.get("status") == "processed":
                return SmokeResult(True, key, f"{key}: processed ({item.get('counts', {}).get('out', '?')} rows out)")
            return SmokeResult(False, key, f"{key}: status {item.get('status')!r} ({item.get('reason')})")
        if runner_args is not None or time.monotonic() > deadline:
            return SmokeResult(False, key, f"no status record for {key} after the pipeline ran"
                               if runner_args is not None else f"no status record for {key} within {timeout:.0f}s")
        time.sleep(5)
