"""The smoke test after every deploy: one known-good sample file through the deployed pipeline,
until its status record says ``processed``.

On AWS the real event source mappings run the functions, so the test only waits. On the emulator,
which does not run Lambda code, the local runner (``kit/runner.py``) is started in a separate
process to play the Lambda service over the code actually deployed (it loads each function's zip
from the artifacts bucket by its CodeSha256), then the record is checked the same way.
"""

from __future__ import annotations

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


def run_smoke(cfg, client, *, release_id: str, runner_args: list[str] | None, timeout: float = 300.0,
              env: dict[str, str] | None = None) -> SmokeResult:
    """Upload the sample, let the pipeline run (``runner_args``: drive it with the local runner
    in a subprocess), and wait for the file's status record."""
    key = smoke_key(release_id)
    client("s3").put_object(Bucket=cfg.bucket_name("landing"), Key=key, Body=SAMPLE.read_bytes())
    table = cfg.resource_name("status")
    deadline = time.monotonic() + timeout
    if runner_args is not None:
        proc = subprocess.run([sys.executable, "-m", "kit", "run", *runner_args, "--drain-only", "--quiet"],
                              cwd=ROOT, env=env or dict(os.environ), text=True, capture_output=True,
                              timeout=timeout)
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
