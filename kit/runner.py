"""``make run``: drive the deployed ``local`` pipeline on the emulator, end to end.

The emulator stores Lambda functions but does not execute their code (and an enabled SQS event
source mapping would eat the messages, which is why ``local`` creates them disabled). This runner
plays the part of the Lambda service:

1. reads each plug-in's *deployed* configuration from the emulator (its environment variables,
   timeout and input queue: exactly what Terraform applied);
2. puts the sample files (good and bad) into the landing bucket;
3. polls the stage queues in pipeline order and invokes each plug-in's handler in-process with
   the real Lambda SQS event shape (up to its batch size), honouring partial batch failures:
   successful records are deleted, failed ones are made visible again, and SQS moves them to the
   dead-letter queue after ``maxReceiveCount`` receives — as the event source mapping would;
4. plays AWS Batch too: a batch-capable stage (validate, cleanse) hands a file above the
   environment's threshold (``PIPELINE_BATCH_ROUTE_ABOVE_BYTES``) to a Batch job. The emulator
   records SubmitJob but runs nothing (with ``batch.use_docker`` off, a job is ``SUCCEEDED`` at
   once, its ``parameters`` kept, its command left with ``Ref::payload`` in it). So, whenever the
   queues are idle, the runner lists the jobs on every job queue the functions name, and runs each
   job it has not run yet in-process: the job definition's command (``Ref::`` parameters
   substituted) and environment, the plug-in's deployed code, ``pipeline_shared.batch_job``'s
   entrypoint — a failed attempt retried as the definition's ``retryStrategy`` says. With
   routing on, a generated orders file just above the threshold (``large.csv``) is uploaded with
   the samples, so the report shows a file that went through Batch;
5. prints one row per file: dataset, rows in / out / rejected, status, where it ended — for the
   files it uploaded and every other file whose message it handled (``--drain-only`` uploads
   nothing: the table is then the files it processed), then the dead-letter queues' depth. The
   command fails when a file has no status record or a dead-letter queue holds a message.

The same table renders the status records ``make status`` reads (``record_row``, ``render``).

Handler output (structured logs, EMF metrics) goes to ``.state/run-<timestamp>.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from pipeline_shared.wiring import env as wiring

from .ui import KitError, note, step

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "lambdas" / "_shared" / "samples"
#: The Lambda variables naming the Batch route (see ``pipeline_shared.batch``).
BATCH_QUEUE_VAR, BATCH_DEFINITION_VAR, BATCH_ABOVE_VAR = wiring.BATCH_ROUTING
BATCH_ENTRYPOINT = ("python", "-m", "pipeline_shared.batch_job")
#: The generated large sample is not made bigger than this (a threshold above it: no sample).
LARGE_SAMPLE_MAX_BYTES = 8 * 1024 * 1024
LARGE_SAMPLE_NAME = "large.csv"
_LARGE_HEADER = "order_id,customer_id,email,order_date,amount,currency,status,express\n"


@dataclass
class Stage:
    name: str
    function_name: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    batch_size: int
    timeout: int
    environment: dict[str, str]
    handler: Any = None
    module: Any = None
    invocations: int = 0
    failures: int = 0


@dataclass
class BatchRun:
    """One Batch job the runner ran in-process."""

    job_id: str
    job_name: str
    plugin: str
    key: str
    exit_code: int
    attempts: int


def large_sample(min_bytes: int) -> bytes:
    """A valid ``orders`` CSV of more than ``min_bytes`` bytes: the same bytes for the same size,
    every ``order_id`` unique (cleanse's de-duplication keeps every row), three order dates."""
    currencies, statuses = ("EUR", "GBP", "USD"), ("paid", "pending", "refunded", "cancelled")
    lines, size, i = [_LARGE_HEADER], len(_LARGE_HEADER), 0
    while size <= min_bytes:
        i += 1
        line = (f"ORD-{i:06d},C{i % 99999 + 1:05d},customer{i:06d}@example.com,2024-06-{i % 3 + 1:02d},"
                f"{(i * 7919) % 100000 / 100:.2f},{currencies[i % 3]},{statuses[i % 4]},{'true' if i % 2 else 'false'}\n")
        lines.append(line)
        size += len(line)
    if i > 999_999:
        raise ValueError(f"cannot make an orders file of {min_bytes} bytes with unique 6-digit order ids")
    return "".join(lines).encode("ascii")


def retry_action(retry_strategy: dict[str, Any] | None, exit_code: int, attempt: int) -> str:
    """What Batch does after an attempt that exited ``exit_code``: ``"RETRY"`` or ``"EXIT"``.
    Attempts left, then the first ``evaluateOnExit`` condition that matches (globs on the exit
    code, status reason and reason; an in-process run has exited normally, so its status reason
    is "Essential container in task exited" and its reason empty); none matching → retry."""
    from fnmatch import fnmatchcase

    strategy = retry_strategy or {}
    if exit_code == 0 or attempt >= int(strategy.get("attempts") or 1):
        return "EXIT"
    facts = {"onExitCode": str(exit_code), "onStatusReason": "Essential container in task exited", "onReason": ""}
    for condition in strategy.get("evaluateOnExit") or []:
        if all(fnmatchcase(facts[k], str(condition[k])) for k in facts if k in condition):
            return str(condition.get("action", "EXIT")).upper()
    return "RETRY"


def job_argv(command: list[str], parameters: dict[str, str]) -> list[str]:
    """The job's command with ``Ref::<name>`` replaced by its parameter, as Batch does."""
    return [parameters.get(c[len("Ref::"):], c) if c.startswith("Ref::") else c for c in command]


class LambdaContext:
    """What a handler sees of the Lambda context object."""

    def __init__(self, stage: Stage, region: str, account: str) -> None:
        self.function_name = stage.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{stage.function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{stage.function_name}"
        self.log_stream_name = "local-runner"
        self._deadline = time.monotonic() + stage.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def _captured_stdout(log_path: Path) -> Iterator[None]:
    """Send fd 1 (where Powertools writes logs and EMF metrics) to ``log_path`` for the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


@contextlib.contextmanager
def _environment(values: dict[str, str], unset: tuple[str, ...] = ()) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    for name in unset:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class LocalRunner:
    def __init__(self, cfg, emulator, *, log_path: Path, state_dir: Path) -> None:
        from modules.plugins import discover_plugins

        self.cfg = cfg
        self.emulator = emulator
        self.region = cfg.region
        self.log_path = log_path
        self.state_dir = state_dir
        self.plugins = discover_plugins()
        self.sqs = emulator.client("sqs", cfg.region)
        self.s3 = emulator.client("s3", cfg.region)
        self.lam = emulator.client("lambda", cfg.region)
        self.ddb = emulator.client("dynamodb", cfg.region)
        self.batch = emulator.client("batch", cfg.region)
        self.stages: list[Stage] = []
        #: Plug-ins of the code whose function is not deployed (not driven).
        self.undeployed: list[str] = []
        self.batch_runs: list[BatchRun] = []
        #: key → file ids of the messages this runner handled, in the order first seen.
        self.handled: dict[str, set[str]] = {}
        #: Job queues that cannot be listed (Batch disabled, not deployed): skipped, noted once.
        self.missing_queues: dict[str, str] = {}
        self._ledger_path = state_dir / "batch-jobs-run.json"
        self.aws_env = {
            "AWS_ENDPOINT_URL": emulator.url,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": cfg.region, "AWS_DEFAULT_REGION": cfg.region,
            wiring.POWERTOOLS_TRACE_DISABLED: "true",  # no X-Ray daemon here
        }

    # -- discovery ---------------------------------------------------------------------
    def load_stages(self) -> None:
        """Each plug-in's deployed configuration, and its deployed code: the zip named by the
        function's CodeSha256 in the artifacts bucket (content-addressed), unpacked and loaded."""
        from botocore.exceptions import ClientError
        from plugin_loader import load_plugin_module

        for plugin in self.plugins:
            if not plugin.has_queue:  # API-invoked plug-ins: see `kit api`
                continue
            fn_name = self.cfg.resource_name(plugin.name.replace("_", "-"))
            try:
                conf = self.lam.get_function_configuration(FunctionName=fn_name)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException" or plugin.consumes_landing:
                    raise KitError(f"plug-in {plugin.name} is not deployed on the emulator "
                                   f"({exc.response['Error']['Code']}): run `make deploy` first") from None
                # In the code but not deployed (a release without it runs, e.g. after a rollback):
                # the runner plays Lambda for what is deployed.
                self.undeployed.append(plugin.name)
                continue
            try:
                url = self.sqs.get_queue_url(QueueName=fn_name)["QueueUrl"]
                dlq = self.sqs.get_queue_url(QueueName=f"{fn_name}-dlq")["QueueUrl"]
            except ClientError as exc:
                raise KitError(f"plug-in {plugin.name} is not deployed on the emulator ({exc.response['Error']['Code']}): "
                               "run `make deploy` first") from None
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            stage = Stage(name=plugin.name, function_name=fn_name, queue_url=url, queue_arn=arn, dlq_url=dlq,
                          batch_size=min(plugin.runtime.batch_size, 10), timeout=conf["Timeout"],
                          environment=dict(conf.get("Environment", {}).get("Variables", {})))
            code_root = self.deployed_code(plugin.name, conf["CodeSha256"])
            module_name, func_name = conf.get("Handler", plugin.handler).split(".")
            with _environment({**stage.environment, **self.aws_env}):
                module = load_plugin_module(plugin.name, module_name, lambdas_dir=code_root)
            stage.handler, stage.module = getattr(module, func_name), module
            self.stages.append(stage)

    def deployed_code(self, plugin: str, code_sha256_b64: str) -> Path:
        """Unpack the deployed zip (verified against CodeSha256) into ``<cache>/<sha>/<plugin>/``."""
        import base64
        import hashlib
        import io
        import zipfile

        sha = base64.b64decode(code_sha256_b64).hex()
        root = self.state_dir / "runner-code" / sha
        target = root / plugin
        if not (target / ".complete").exists():
            key = f"artifacts/{plugin}/{sha}.zip"
            bucket = self.cfg.bucket_name("artifacts")
            try:
                body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as exc:  # noqa: BLE001
                raise KitError(f"the code deployed for {plugin} (s3://{bucket}/{key}) cannot be read: {exc}") from None
            if hashlib.sha256(body).hexdigest() != sha:
                raise KitError(f"s3://{bucket}/{key} does not match the deployed CodeSha256")
            target.mkdir(parents=True, exist_ok=True)
            zipfile.ZipFile(io.BytesIO(body)).extractall(target)
            (target / ".complete").write_text(sha)
        return root

    # -- driving -----------------------------------------------------------------------
    def upload_samples(self, samples: Path, run_id: str) -> list[str]:
        bucket = self.cfg.bucket_name("landing")
        keys = []
        for path in sorted(p for p in samples.rglob("*") if p.is_file() and p.name != "README.md"):
            rel = path.relative_to(samples)
            dataset = rel.parts[0]
            key = f"{dataset}/{run_id}/{'/'.join(rel.parts[1:])}"
            self.s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            keys.append(key)
        return keys

    def batch_threshold(self) -> int | None:
        """The routing threshold the deployed functions carry (None: routing is off)."""
        for stage in self.stages:
            env = stage.environment
            if env.get(BATCH_QUEUE_VAR) and env.get(BATCH_DEFINITION_VAR) and env.get(BATCH_ABOVE_VAR, "").isdigit():
                return int(env[BATCH_ABOVE_VAR])
        return None

    def upload_large_sample(self, run_id: str) -> tuple[str, int, int] | None:
        """With Batch routing on, put a generated orders file just above the threshold into
        landing; returns ``(key, size, threshold)``, or None (routing off, or threshold too big)."""
        threshold = self.batch_threshold()
        if threshold is None or threshold >= LARGE_SAMPLE_MAX_BYTES:
            return None
        body = large_sample(threshold + max(threshold // 8, 1024))
        key = f"orders/{run_id}/{LARGE_SAMPLE_NAME}"
        self.s3.put_object(Bucket=self.cfg.bucket_name("landing"), Key=key, Body=body)
        return key, len(body), threshold

    # -- AWS Batch -----------------------------------------------------------------------
    def job_queues(self) -> list[str]:
        return sorted({s.environment[BATCH_QUEUE_VAR] for s in self.stages if s.environment.get(BATCH_QUEUE_VAR)})

    def _ledger(self) -> dict[str, int]:
        import json

        try:
            return json.loads(self._ledger_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _remember(self, job_id: str, exit_code: int) -> None:
        import json

        ledger = self._ledger()
        ledger[job_id] = exit_code
        self._ledger_path.write_text(json.dumps(ledger, indent=1, sort_keys=True))

    def submitted_jobs(self) -> list[dict[str, Any]]:
        """Jobs on the functions' job queues that the runner has not run yet, oldest first. (The
        emulator lists jobs of every status when ListJobs names none.)"""
        from botocore.exceptions import ClientError

        done = self._ledger()
        summaries = []
        for queue in self.job_queues():
            if queue in self.missing_queues:
                continue
            try:
                pages = self.batch.get_paginator("list_jobs").paginate(jobQueue=queue)
                summaries += [j for page in pages for j in page.get("jobSummaryList", [])]
            except ClientError as exc:
                self.missing_queues[queue] = exc.response["Error"].get("Message", str(exc))
        fresh = sorted({j["jobId"]: j for j in summaries if j["jobId"] not in done}.values(),
                       key=lambda j: (j.get("createdAt", 0), j["jobId"]))
        if not fresh:
            return []
        jobs = []
        for i in range(0, len(fresh), 100):
            jobs += self.batch.describe_jobs(jobs=[j["jobId"] for j in fresh[i:i + 100]])["jobs"]
        return sorted(jobs, key=lambda j: (j.get("createdAt", 0), j["jobId"]))

    def _job_setup(self, job: dict[str, Any]) -> tuple[list[str], dict[str, str], dict[str, Any]]:
        """``(argv after the entrypoint, environment, retry strategy)`` of a job, from its job
        definition (command, environment, parameters, retry strategy)."""
        definition: dict[str, Any] = {}
        try:
            found = self.batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"]
            definition = found[0] if found else {}
        except Exception:  # noqa: BLE001 - a definition the emulator cannot describe: fall back below
            definition = {}
        container = definition.get("containerProperties") or job.get("container") or {}
        command = list(container.get("command") or [])
        parameters = {**(definition.get("parameters") or {}), **(job.get("parameters") or {})}
        environment = {e["name"]: e["value"] for e in container.get("environment") or []}
        if tuple(command[:3]) != BATCH_ENTRYPOINT:
            raise KitError(f"job {job['jobName']}: its command {command!r} does not run "
                           f"`{' '.join(BATCH_ENTRYPOINT)}`")
        return job_argv(command, parameters)[3:], environment, definition.get("retryStrategy") or {}

    def run_batch_jobs(self) -> int:
        """Run, in-process, every submitted job not run yet; returns how many ran."""
        import json

        from pipeline_shared import batch_job

        ran = 0
        for job in self.submitted_jobs():
            argv, environment, strategy = self._job_setup(job)
            plugin = argv[argv.index("--plugin") + 1] if "--plugin" in argv else ""
            stage = next((s for s in self.stages if s.name == plugin), None)
            if stage is None:
                raise KitError(f"job {job['jobName']} names plug-in {plugin!r}, which is not deployed")
            if not environment:  # no definition to read: the function's environment, as the stack derives it
                environment = {k: v for k, v in stage.environment.items()
                               if k not in wiring.BATCH_ROUTING}
                environment.update({wiring.RUNS_ON: "batch", wiring.POWERTOOLS_TRACE_DISABLED: "true"})
            environment.pop("PYTHONPATH", None)  # the container's path; here the deployed code is loaded already
            attempt = 0
            while True:
                attempt += 1
                run_env = {**environment, **self.aws_env, wiring.BATCH_JOB_ID: job["jobId"],
                           wiring.BATCH_JOB_ATTEMPT: str(attempt), "AWS_BATCH_JQ_NAME": job.get("jobQueue", "")}
                with _environment(run_env, unset=wiring.BATCH_ROUTING), \
                        _captured_stdout(self.log_path):
                    code = batch_job.main(argv, handler_module=stage.module)
                if retry_action(strategy, code, attempt) != "RETRY":
                    break
            try:
                key = str(json.loads(argv[argv.index("--payload") + 1]).get("key", ""))
            except (ValueError, IndexError, AttributeError):
                key = ""
            self._remember(job["jobId"], code)
            self.batch_runs.append(BatchRun(job_id=job["jobId"], job_name=job["jobName"], plugin=plugin, key=key,
                                            exit_code=code, attempts=attempt))
            ran += 1
        return ran

    def invoke(self, stage: Stage, messages: list[dict]) -> list[str]:
        """Invoke the stage's handler with ``messages``; returns the ids of failed records."""
        from lambda_events import sqs_event

        event = sqs_event(messages, queue_arn=stage.queue_arn, region=self.region)
        stage.invocations += 1
        with _environment({**stage.environment, **self.aws_env}), _captured_stdout(self.log_path):
            try:
                response = stage.handler(event, LambdaContext(stage, self.region, self.cfg.account_id))
            except Exception as exc:  # the whole batch fails, as in Lambda
                print(f"[runner] {stage.name}: handler raised {type(exc).__name__}: {exc}", flush=True)
                return [m["MessageId"] for m in messages]
        failures = (response or {}).get("batchItemFailures", [])
        return [f["itemIdentifier"] for f in failures]

    def poll_once(self) -> int:
        """One pass over every stage queue; returns how many messages were handled."""
        handled = 0
        for stage in self.stages:
            resp = self.sqs.receive_message(QueueUrl=stage.queue_url, MaxNumberOfMessages=stage.batch_size,
                                            VisibilityTimeout=stage.timeout, AttributeNames=["All"],
                                            MessageAttributeNames=["All"])
            messages = resp.get("Messages", [])
            if not messages:
                continue
            for m in messages:
                self.note_files(m.get("Body", ""))
            failed = set(self.invoke(stage, messages))
            stage.failures += len(failed)
            handled += len(messages)
            for m in messages:
                if m["MessageId"] in failed:
                    # Back to the queue at once (the real mapping waits out the visibility
                    # timeout); the redrive policy moves it to the DLQ after maxReceiveCount.
                    self.sqs.change_message_visibility(QueueUrl=stage.queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                       VisibilityTimeout=0)
                else:
                    self.sqs.delete_message(QueueUrl=stage.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return handled

    def note_files(self, body: str) -> None:
        """Remember the files a message is about (for the per-file table)."""
        for key, fid in message_files(body):
            ids = self.handled.setdefault(key, set())
            if fid:
                ids.add(fid)

    def pending(self) -> int:
        total = 0
        for stage in self.stages:
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=stage.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            total += int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        return total

    def drain(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        idle = 0
        while time.monotonic() < deadline:
            if self.poll_once() or self.run_batch_jobs():
                idle = 0
                continue
            idle += 1
            if idle >= 2 and self.pending() == 0:
                return
            time.sleep(0.2)
        raise KitError(f"the pipeline did not drain within {timeout:.0f}s; see {self.log_path}")

    # -- reporting ---------------------------------------------------------------------
    def status_items(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        des = TypeDeserializer()
        table = self.cfg.resource_name("status")
        items, kwargs = [], {"TableName": table}
        while True:
            page = self.ddb.scan(**kwargs)
            items += [{k: des.deserialize(v) for k, v in it.items()} for it in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def dlq_messages(self) -> dict[str, int]:
        """Messages in each stage's dead-letter queue (visible and in flight), by stage name."""
        out = {}
        for stage in self.stages:
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=stage.dlq_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            out[stage.name] = int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        return out

    def dlq_names(self) -> dict[str, str]:
        """Stage name → its dead-letter queue's name."""
        return {stage.name: stage.dlq_url.rstrip("/").rsplit("/", 1)[-1] for stage in self.stages}


def message_files(body: str) -> list[tuple[str, str | None]]:
    """``(key, file_id or None)`` of the files one queue message is about: the created objects of
    an S3 notification (keys URL-decoded; no file id: validate derives it), the ``key`` and
    ``file_id`` of a stage message, either of them inside an SNS envelope; ``[]`` for anything else
    (the ``s3:TestEvent``, a body that is not JSON)."""
    from urllib.parse import unquote_plus

    try:
        doc = json.loads(body)
    except (TypeError, ValueError):
        return []
    if not isinstance(doc, dict):
        return []
    if doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):
        return message_files(doc["Message"])
    if isinstance(doc.get("Records"), list):
        out: list[tuple[str, str | None]] = []
        for record in doc["Records"]:
            try:
                if str(record.get("eventName", "")).startswith("ObjectCreated:"):
                    key = unquote_plus(record["s3"]["object"]["key"])
                    if key and not key.endswith("/"):
                        out.append((key, None))
            except (KeyError, TypeError, AttributeError):
                continue
        return out
    key, fid = doc.get("key"), doc.get("file_id")
    if isinstance(key, str) and key:
        return [(key, fid if isinstance(fid, str) and fid else None)]
    return []


def dlq_problem(dlq: dict[str, int], names: dict[str, str] | None = None, *,
                redrive: str = "make redrive") -> str | None:
    """The error line when a dead-letter queue holds messages (None when all are empty)."""
    stuck = {names.get(k, k) if names else k: v for k, v in dlq.items() if v}
    if not stuck:
        return None
    return ("message(s) left in dead-letter queue(s): " + ", ".join(f"{k}={v}" for k, v in stuck.items())
            + f" (the handler logs say why; once fixed, move them back with `{redrive}`)")


def newest(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The most recent status record (``updated_at`` is ISO-8601 UTC, so it sorts as text)."""
    return max(records, key=lambda it: str(it.get("updated_at") or ""))


def record_row(key: str, it: dict[str, Any], batch: list[str] | None = None) -> dict[str, Any]:
    """One table row for the file ``key`` and its status record ``it`` (``{}``: none)."""
    counts = it.get("counts") or {}
    locations = it.get("locations") or {}
    places = []
    for zone in ("clean", "archive", "quarantine"):
        value = locations.get(zone)
        if value:
            n = len(value) if isinstance(value, list) else 1
            places.append(f"{zone}" + (f" ({n} partitions)" if n > 1 else ""))
    if it.get("status") == "gone":
        places.append("gone before it was processed")
    elif it and not any(z in locations for z in ("archive", "quarantine")) and locations.get("landing"):
        places.append("landing")
    if batch:
        places.append(f"via Batch: {', '.join(batch)}")
    return {
        "key": key, "dataset": it.get("dataset", key.split("/")[0]), "file_id": it.get("file_id"),
        "updated_at": it.get("updated_at"),
        "rows_in": counts.get("records_in", "-"), "rows_out": counts.get("out", "-"),
        "rejected": counts.get("rejected", "-"),
        "status": it.get("status", "NO STATUS"), "reason": it.get("reason") or "",
        "where": " + ".join(places) if places else "-",
        "locations": locations, "batch": list(batch or []),
    }


def render(rows: list[dict[str, Any]], dlq: dict[str, int] | None) -> str:
    """The per-file table (``make run``, ``make status``); a last line with the dead-letter queues'
    depth when ``dlq`` is given."""
    headers = ("file", "dataset", "in", "out", "rejected", "status", "where it ended / reason")
    table = [headers] + [(r["key"], r["dataset"], str(r["rows_in"]), str(r["rows_out"]), str(r["rejected"]),
                          str(r["status"]), (r["where"] + (f" ({r['reason']})" if r["reason"] else ""))[:120])
                         for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    lines = []
    for n, row in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 24)
    if dlq is not None:
        stuck = {k: v for k, v in dlq.items() if v}
        lines.append(f"dead-letter queues: {', '.join(f'{k}={v}' for k, v in stuck.items()) if stuck else 'all empty'}")
    return "\n".join(lines)


def report(keys: list[str], items: list[dict[str, Any]], dlq: dict[str, int],
           batch_runs: list[BatchRun] | None = None,
           file_ids: dict[str, set[str]] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """A table with one row per file ``keys`` names; rows also returned as data. A key with several
    status records (a replayed file) shows the record of the file the run handled (``file_ids``:
    key → file ids seen in its messages), else the newest; a handled file id without a record is
    ``NO STATUS``. A file that went through AWS Batch says so (``via Batch: validate, cleanse``; a
    failed job shows its exit status)."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        by_key.setdefault(str(it.get("key")), []).append(it)
    on_batch: dict[str, list[str]] = {}
    for job in batch_runs or []:
        on_batch.setdefault(job.key, []).append(job.plugin if job.exit_code == 0 else f"{job.plugin} exit {job.exit_code}")
    rows = []
    for key in keys:
        records = by_key.get(key) or []
        wanted = (file_ids or {}).get(key) or set()
        if wanted:
            records = [it for it in records if it.get("file_id") in wanted]
        rows.append(record_row(key, newest(records) if records else {}, on_batch.get(key)))
    return render(rows, dlq), rows


@dataclass
class RunOutcome:
    """What ``run`` did: the table's rows and the dead-letter queues' depth (by stage and by name)."""

    rows: list[dict[str, Any]]
    dlq: dict[str, int]
    dlq_names: dict[str, str]

    def problems(self, *, redrive: str = "make redrive") -> list[str]:
        """Why the run failed: files without a status record, messages in a dead-letter queue."""
        out = []
        lost = [r["key"] for r in self.rows if r["status"] == "NO STATUS"]
        if lost:
            out.append(f"{len(lost)} file(s) have no status record: {', '.join(lost)}")
        stuck = dlq_problem(self.dlq, self.dlq_names, redrive=redrive)
        if stuck:
            out.append(stuck)
        return out


def run(cfg, emulator, *, samples: Path | None = SAMPLES, state_dir: Path, timeout: float = 300.0,
        quiet: bool = False) -> RunOutcome:
    """Upload ``samples`` (None: nothing, ``--drain-only``), run the stages until the queues are
    empty, report the files uploaded and every file whose message was handled."""
    state_dir.mkdir(parents=True, exist_ok=True)
    run_id = time.strftime("run-%Y%m%dT%H%M%S")
    log_path = state_dir / f"{run_id}.log"
    runner = LocalRunner(cfg, emulator, log_path=log_path, state_dir=state_dir)
    step("[1/4] read the deployed plug-ins from the emulator")
    runner.load_stages()
    note(", ".join(f"{s.name} (batch {s.batch_size}, timeout {s.timeout}s)" for s in runner.stages))
    if runner.undeployed:
        note(f"not deployed, so not driven: {', '.join(runner.undeployed)} (in the code, not in the release that runs)")
    if samples is not None:
        step(f"[2/4] put the sample files into s3://{cfg.bucket_name('landing')}/<dataset>/{run_id}/")
        keys = runner.upload_samples(samples, run_id)
        note(f"{len(keys)} file(s) from {os.path.relpath(samples, ROOT)}")
        large = runner.upload_large_sample(run_id)
        if large is not None:
            keys.append(large[0])
            note(f"+ {LARGE_SAMPLE_NAME}, generated: {large[1]} bytes, above the Batch threshold of {large[2]} bytes")
    else:
        step("[2/4] no upload (--drain-only): processing what is queued")
        keys = []
    step(f"[3/4] run the stages until every queue is empty, for at most {timeout:.0f}s "
         f"(handler logs: {os.path.relpath(log_path, ROOT)})")
    started = time.perf_counter()
    runner.drain(timeout=timeout)
    note("; ".join(f"{s.name}: {s.invocations} invocation(s), {s.failures} failed record(s)" for s in runner.stages)
         + f" in {time.perf_counter() - started:.1f}s")
    if runner.batch_runs:
        note("AWS Batch jobs run in-process: " + "; ".join(
            f"{j.job_name} ({j.plugin}, exit {j.exit_code}" + (f", {j.attempts} attempts)" if j.attempts > 1 else ")")
            for j in runner.batch_runs))
    for queue, problem in runner.missing_queues.items():
        note(f"Batch job queue {queue} skipped: {problem}")
    uploaded = set(keys)
    keys += [k for k in runner.handled if k not in uploaded]
    step(f"[4/4] where every file ended ({len(keys)} file(s){', the ones processed' if samples is None else ''})")
    dlq = runner.dlq_messages()
    text, rows = report(keys, runner.status_items(), dlq, runner.batch_runs, file_ids=runner.handled)
    if not quiet:
        print(text, flush=True)
    return RunOutcome(rows=rows, dlq=dlq, dlq_names=runner.dlq_names())


def api_event(method: str, path: str, *, body: str | bytes | None = None, query: dict[str, str] | None = None,
              stage: str = "v1", account: str = "123456789012", content_type: str = "application/json",
              binary_media_types: tuple[str, ...] = ()) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as API Gateway sends it to an AWS_PROXY integration:
    a body whose Content-Type is one of the API's ``binary_media_types`` arrives base64-encoded
    (``isBase64Encoded``), any other as text."""
    import base64

    request_id = str(uuid.uuid4())
    media_type = content_type.split(";", 1)[0].strip().lower()
    encoded = body is not None and media_type in {t.lower() for t in binary_media_types}
    if encoded:
        body = base64.b64encode(body if isinstance(body, bytes) else body.encode("utf-8")).decode("ascii")
    elif isinstance(body, bytes):
        body = body.decode("utf-8", "replace")  # API Gateway hands a non-binary body on as text
    return {
        "resource": path, "path": path, "httpMethod": method.upper(),
        "headers": {"Content-Type": content_type, "Accept": "application/json"},
        "multiValueHeaders": {"Content-Type": [content_type], "Accept": ["application/json"]},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {
            "accountId": account, "apiId": "local", "stage": stage, "requestId": request_id,
            "httpMethod": method.upper(), "path": f"/{stage}{path}", "resourcePath": path,
            "identity": {"sourceIp": "127.0.0.1", "userArn": f"arn:aws:iam::{account}:user/local-runner",
                         "caller": "local-runner", "user": "local-runner"},
            "requestTimeEpoch": int(time.time() * 1000),
        },
        "body": body, "isBase64Encoded": encoded,
    }


def deployed_binary_media_types(cfg, emulator) -> tuple[str, ...]:
    """The binary media types of the deployed REST API (what API Gateway would base64-encode)."""
    try:
        apis = emulator.client("apigateway", cfg.region).get_rest_apis(limit=500).get("items", [])
    except Exception:  # noqa: BLE001 - no API deployed: plain text bodies
        return ()
    for api in apis:
        if api.get("name") == cfg.resource_name("api"):
            return tuple(api.get("binaryMediaTypes") or ())
    return ()


def invoke_api(cfg, emulator, method: str, path: str, *, body: str | bytes | None = None,
               query: dict[str, str] | None = None, state_dir: Path,
               content_type: str = "application/json") -> dict[str, Any]:
    """Answer one API route through the deployed API plug-in, in-process (the emulator runs no
    Lambda code): its deployed zip and environment, a real REST proxy event."""
    from plugin_loader import load_plugin_module

    runner = LocalRunner(cfg, emulator, log_path=state_dir / "api.log", state_dir=state_dir)
    api = [p for p in runner.plugins if p.consumes_api]
    if not api:
        raise KitError("no plug-in consumes 'api'")
    plugin = api[0]
    fn_name = cfg.resource_name(plugin.name.replace("_", "-"))
    conf = runner.lam.get_function_configuration(FunctionName=fn_name)
    env = {**dict(conf.get("Environment", {}).get("Variables", {})), **runner.aws_env}
    root = runner.deployed_code(plugin.name, conf["CodeSha256"])
    module_name, func_name = conf.get("Handler", plugin.handler).split(".")
    with _environment(env):
        handler = getattr(load_plugin_module(plugin.name, module_name, lambdas_dir=root), func_name)
        stage = Stage(name=plugin.name, function_name=fn_name, queue_url="", queue_arn="", dlq_url="",
                      batch_size=1, timeout=conf["Timeout"], environment=env)
        with _captured_stdout(state_dir / "api.log"):
            event = api_event(method, path, body=body, query=query, account=cfg.account_id,
                              content_type=content_type,
                              binary_media_types=deployed_binary_media_types(cfg, emulator))
            return handler(event, LambdaContext(stage, cfg.region, cfg.account_id))
