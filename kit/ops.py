"""Operating a deployed pipeline: ``make redrive``, ``make replay``, ``make status``.

redrive
    Moves the messages of each stage's dead-letter queue (``<prefix>-<plug-in>-dlq``) back to the
    stage's queue (``<prefix>-<plug-in>``). On AWS with the SQS redrive API (StartMessageMoveTask,
    one task per DLQ; a DLQ that already has a RUNNING task is reported, not started again). On the
    emulator, which answers that API with HTTP 500, by receive → send (body and message attributes
    kept) → delete, the delete only after the send succeeded. Safe to rerun: an empty DLQ moves
    nothing, and a message moved twice (a run interrupted between send and delete) is harmless,
    because every stage is idempotent per ``file_id``.
replay
    Reprocesses one file from its raw copy (``locations.archive`` of a processed file, else the
    whole-file copy in quarantine of a rejected one): the copy is put back into landing at the
    original key, with metadata ``replay-of=<old file_id>``. Landing is versioned, so that is a new
    object version: its event has a new version id, hence a new ``file_id`` and new idempotency
    keys (a new idempotency scope); the old status record stays as history. On the emulator, whose
    events carry no version id, validate derives it from S3 (``core.choose_version``), and the
    command also drains the pipeline with the local runner and prints the replayed file's row.
status
    The status table (the columns of ``make run``) from the DynamoDB status table: one file (a
    landing key — every record of it, newest first — or a file id), one dataset (the
    ``by-dataset`` index, newest first) or everything (a scan, newest first); ``--limit`` rows.
    Read-only, on AWS and on the emulator.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ui import KitError, note, step

ROOT = Path(__file__).resolve().parent.parent
FILE_ID = re.compile(r"[0-9a-f]{32}")
#: Rows ``make status`` prints unless ``--limit`` says otherwise.
STATUS_LIMIT = 50
#: The emulator redrive hides each received message this long: a run that dies leaves it in the
#: DLQ, visible again after that.
REDRIVE_VISIBILITY_SECONDS = 60
#: CopyObject copies objects up to 5 GiB; larger raw copies go through a managed multipart copy.
COPY_OBJECT_MAX_BYTES = 5 * 1024**3
IDEMPOTENT_NOTE = ("a message moved twice (a run interrupted between send and delete) is harmless: "
                   "every stage is idempotent per file_id")
_MESSAGE_ATTRIBUTE_FIELDS = ("DataType", "StringValue", "BinaryValue")


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


# -- queues -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageQueues:
    """One stage's input queue and dead-letter queue."""

    stage: str
    queue_url: str
    dlq_url: str

    @property
    def queue_name(self) -> str:
        return self.queue_url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def dlq_name(self) -> str:
        return self.dlq_url.rstrip("/").rsplit("/", 1)[-1]


def queue_stages() -> list[str]:
    """The plug-ins that have a queue (and so a DLQ), in pipeline order (their manifests)."""
    from modules.plugins import discover_plugins

    return [p.name for p in discover_plugins() if p.has_queue]


def stage_queues(sqs: Any, name_prefix: str, stages: list[str], only: str | None = None) -> list[StageQueues]:
    """The queues of ``stages`` (or of the one named ``only``), looked up by name."""
    if only is not None and only not in stages:
        raise KitError(f"unknown stage {only!r}: the stages with a dead-letter queue are {', '.join(stages)}")
    out = []
    for stage in [only] if only is not None else stages:
        name = f"{name_prefix}-{stage.replace('_', '-')}"
        try:
            out.append(StageQueues(stage=stage, queue_url=sqs.get_queue_url(QueueName=name)["QueueUrl"],
                                   dlq_url=sqs.get_queue_url(QueueName=f"{name}-dlq")["QueueUrl"]))
        except Exception as exc:  # noqa: BLE001 - name the queue and the error, no traceback
            code = _error_code(exc)
            if not code:
                raise
            raise KitError(f"the queues of stage {stage} ({name}, {name}-dlq) cannot be found ({code}): "
                           "is the environment deployed?") from None
    return out


def queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def visible_messages(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0))


def dlq_depths(sqs: Any, queues: list[StageQueues]) -> dict[str, int]:
    """Messages (visible and in flight) in each stage's DLQ, by stage name."""
    out = {}
    for q in queues:
        attrs = sqs.get_queue_attributes(
            QueueUrl=q.dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        out[q.stage] = int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesNotVisible", 0))
    return out


# -- redrive ------------------------------------------------------------------------------------

@dataclass
class Redrive:
    """What happened to one stage's DLQ."""

    stage: str
    dlq: str
    queue: str
    moved: int = 0
    failed: int = 0
    to_move: int | None = None
    task_status: str | None = None
    task_started: bool = False
    files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        head = f"{self.stage}: "
        if self.task_status is not None:  # AWS: a message move task
            counts = f"~{self.moved} moved of ~{self.to_move if self.to_move is not None else '?'}"
            if self.task_started:
                return head + f"move task started {self.dlq} → {self.queue} ({counts}; task {self.task_status})"
            if self.task_status == "RUNNING":
                return head + (f"a move task is already RUNNING {self.dlq} → {self.queue} ({counts}); "
                               "not started again")
            return head + f"nothing to move in {self.dlq}" + (
                f" (last move task {self.task_status}: {counts})" if self.task_status != "NONE" else "")
        if not self.moved and not self.failed:
            return head + f"nothing to move in {self.dlq}"
        shown = ", ".join(self.files[:5]) + (f", … {len(self.files) - 5} more" if len(self.files) > 5 else "")
        text = head + f"{self.moved} message(s) moved {self.dlq} → {self.queue}" + (f" ({shown})" if shown else "")
        if self.failed:
            text += f"; {self.failed} could not be sent and stay in {self.dlq}: {'; '.join(self.errors[:3])}"
        return text


def _attributes(received: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A received message's attributes as SendMessage takes them (the reserved list fields dropped)."""
    return {name: {k: v for k, v in value.items() if k in _MESSAGE_ATTRIBUTE_FIELDS}
            for name, value in (received.get("MessageAttributes") or {}).items()}


def redrive_by_copy(sqs: Any, q: StageQueues, *, visibility_timeout: int = REDRIVE_VISIBILITY_SECONDS) -> Redrive:
    """Move every message of ``q``'s DLQ to its queue by receive → send → delete (the emulator's
    way: it has no StartMessageMoveTask). Each message is deleted from the DLQ only after it was
    sent; one that cannot be sent stays (visible again after ``visibility_timeout``)."""
    from .runner import message_files

    result = Redrive(stage=q.stage, dlq=q.dlq_name, queue=q.queue_name)
    tried: set[str] = set()  # messages that could not be sent: once each
    while True:
        messages = sqs.receive_message(QueueUrl=q.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=visibility_timeout, AttributeNames=["All"],
                                       MessageAttributeNames=["All"]).get("Messages", [])
        messages = [m for m in messages if m["MessageId"] not in tried]
        if not messages:
            return result
        for m in messages:
            args: dict[str, Any] = {"QueueUrl": q.queue_url, "MessageBody": m["Body"]}
            attributes = _attributes(m)
            if attributes:
                args["MessageAttributes"] = attributes
            try:
                sqs.send_message(**args)
            except Exception as exc:  # noqa: BLE001 - kept in the DLQ, reported
                tried.add(m["MessageId"])
                result.failed += 1
                result.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            sqs.delete_message(QueueUrl=q.dlq_url, ReceiptHandle=m["ReceiptHandle"])
            result.moved += 1
            result.files += [key for key, _ in message_files(m["Body"])]


def _latest_task(sqs: Any, source_arn: str) -> dict[str, Any] | None:
    tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10).get("Results", [])
    running = [t for t in tasks if t.get("Status") == "RUNNING"]
    if running:
        return running[0]
    return max(tasks, key=lambda t: t.get("StartedTimestamp", 0)) if tasks else None


def redrive_with_task(sqs: Any, q: StageQueues) -> Redrive:
    """Move ``q``'s DLQ back to its queue with the SQS redrive API (AWS): one StartMessageMoveTask,
    unless a task is already RUNNING for that DLQ (then it is reported, not started again)."""
    result = Redrive(stage=q.stage, dlq=q.dlq_name, queue=q.queue_name)
    dlq_arn, target_arn = queue_arn(sqs, q.dlq_url), queue_arn(sqs, q.queue_url)

    def take(task: dict[str, Any] | None) -> None:
        result.task_status = (task or {}).get("Status", "NONE")
        result.moved = int((task or {}).get("ApproximateNumberOfMessagesMoved", 0))
        if task is not None and "ApproximateNumberOfMessagesToMove" in task:
            result.to_move = int(task["ApproximateNumberOfMessagesToMove"])

    task = _latest_task(sqs, dlq_arn)
    if task is not None and task.get("Status") == "RUNNING":
        take(task)
        return result
    waiting = visible_messages(sqs, q.dlq_url)
    if waiting == 0:
        take(task)
        return result
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=target_arn)
    result.task_started = True
    take(_latest_task(sqs, dlq_arn) or {"Status": "RUNNING"})
    if result.to_move is None:
        result.to_move = waiting
    return result


def redrive(sqs: Any, queues: list[StageQueues], *, by_copy: bool) -> list[Redrive]:
    return [redrive_by_copy(sqs, q) if by_copy else redrive_with_task(sqs, q) for q in queues]


# -- status -------------------------------------------------------------------------------------

def _items(raw_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    return [{k: des.deserialize(v) for k, v in raw.items()} for raw in raw_items]


def _newest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda it: str(it.get("updated_at") or ""), reverse=True)


def dataset_of(key: str) -> str:
    """The dataset a landing key names (first path segment), as validate records it."""
    head, sep, _ = key.partition("/")
    return head if sep and head else "_unknown"


def file_records(ddb: Any, table: str, file: str) -> list[dict[str, Any]]:
    """Every status record of ``file`` (a file id: its one record; a landing key: the records of
    each file that landed under it, newest first, from the ``by-dataset`` index)."""
    if FILE_ID.fullmatch(file):
        item = ddb.get_item(TableName=table, Key={"file_id": {"S": file}}).get("Item")
        return _items([item]) if item else []
    pages = ddb.get_paginator("query").paginate(
        TableName=table, IndexName="by-dataset", KeyConditionExpression="dataset = :d",
        FilterExpression="#k = :k", ExpressionAttributeNames={"#k": "key"},
        ExpressionAttributeValues={":d": {"S": dataset_of(file)}, ":k": {"S": file}}, ScanIndexForward=False)
    return _newest_first(_items([raw for page in pages for raw in page.get("Items", [])]))


def dataset_records(ddb: Any, table: str, dataset: str, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` newest status records of ``dataset`` (the ``by-dataset`` index)."""
    out: list[dict[str, Any]] = []
    pages = ddb.get_paginator("query").paginate(
        TableName=table, IndexName="by-dataset", KeyConditionExpression="dataset = :d",
        ExpressionAttributeValues={":d": {"S": dataset}}, ScanIndexForward=False)
    for page in pages:
        out += _items(page.get("Items", []))
        if len(out) >= limit:
            break
    return out[:limit]


def all_records(ddb: Any, table: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The ``limit`` newest status records of the whole table (a scan), and how many were read."""
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        items += _items(page.get("Items", []))
    return _newest_first(items)[:limit], len(items)


def status_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from .runner import record_row

    return [record_row(str(it.get("key", "?")), it) for it in records]


def status_table(records: list[dict[str, Any]], dlq: dict[str, int] | None) -> str:
    """``make run``'s table over status records (one row per record)."""
    from .runner import render

    return render(status_rows(records), dlq)


def history_lines(records: list[dict[str, Any]]) -> list[str]:
    """One line per record: file id, status, when (the files that landed under one key)."""
    return [f"{it.get('file_id')}  {str(it.get('status', '-')):<11}  {it.get('updated_at', '-')}"
            + (f"  version {it['version_id']}" if it.get("version_id") else "") for it in records]


# -- replay -------------------------------------------------------------------------------------

def s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def raw_copy(record: dict[str, Any]) -> tuple[str, str, str]:
    """``(bucket, key, where)`` of a file's raw bytes: the archive copy of a processed file, else
    the whole-file copy in quarantine of a rejected one. Raises ``KitError`` when there is none."""
    locations = record.get("locations") or {}
    for zone in ("archive", "quarantine"):
        uri = locations.get(zone)
        if isinstance(uri, str) and uri.startswith("s3://"):
            bucket, key = s3_location(uri)
            return bucket, key, zone
    raise KitError(f"file {record.get('file_id')} ({record.get('key')}, status {record.get('status')}) has no raw "
                   "copy to replay from: its status record names neither locations.archive (processed files) nor "
                   "locations.quarantine (whole-file rejects)")


@dataclass(frozen=True)
class Replay:
    key: str
    landing: str
    source: str
    source_zone: str
    old_file_id: str
    version_id: str
    new_file_id: str


def choose_record(records: list[dict[str, Any]], file: str) -> dict[str, Any]:
    if not records:
        what = "file id" if FILE_ID.fullmatch(file) else "landing key"
        raise KitError(f"no status record for {what} {file!r}: only a file that reached an outcome (processed "
                       "or quarantined) can be replayed; a file stuck in a dead-letter queue needs `make redrive`")
    return _newest_first(records)[0]


def replay_file(s3: Any, record: dict[str, Any], *, landing_bucket: str) -> Replay:
    """Put ``record``'s raw copy back into landing at its original key (a new object version)."""
    from pipeline_shared import keys

    key, old = str(record.get("key") or ""), str(record.get("file_id") or "")
    if record.get("bucket") and record["bucket"] != landing_bucket:
        raise KitError(f"file {old} landed in s3://{record['bucket']}, not in this environment's landing bucket "
                       f"s3://{landing_bucket}")
    if not key:
        raise KitError(f"the status record of file {old} has no key")
    bucket, source_key, zone = raw_copy(record)
    versioning = s3.get_bucket_versioning(Bucket=landing_bucket).get("Status")
    if versioning != "Enabled":
        raise KitError(f"landing bucket s3://{landing_bucket} is not versioned (versioning: {versioning or 'never'}): "
                       "a replay needs a new object version to get a new file_id")
    try:
        head = s3.head_object(Bucket=bucket, Key=source_key)
    except Exception as exc:  # noqa: BLE001
        if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            raise KitError(f"the raw copy s3://{bucket}/{source_key} ({zone}) of file {old} is gone") from None
        raise
    metadata = {**(head.get("Metadata") or {}), "replay-of": old}
    extra = {"Metadata": metadata, "MetadataDirective": "REPLACE"}
    for name in ("ContentType", "ContentEncoding", "ContentLanguage", "ContentDisposition", "CacheControl"):
        if head.get(name):
            extra[name] = head[name]
    source = {"Bucket": bucket, "Key": source_key}
    try:
        if int(head.get("ContentLength") or 0) <= COPY_OBJECT_MAX_BYTES:
            version = s3.copy_object(Bucket=landing_bucket, Key=key, CopySource=source, **extra).get("VersionId")
        else:
            s3.copy(source, landing_bucket, key, ExtraArgs=extra)
            version = s3.head_object(Bucket=landing_bucket, Key=key).get("VersionId")
    except Exception as exc:  # noqa: BLE001
        if _error_code(exc) == "InvalidObjectState":
            raise KitError(f"the raw copy s3://{bucket}/{source_key} is in an archive storage class (Glacier): "
                           f"restore it first (aws s3api restore-object --bucket {bucket} --key '{source_key}' "
                           "--restore-request Days=1), then replay again") from None
        raise
    if not version or version == "null":
        raise KitError(f"s3://{landing_bucket}/{key} got no version id: landing must be versioned for a replay")
    return Replay(key=key, landing=landing_bucket, source=f"s3://{bucket}/{source_key}", source_zone=zone,
                  old_file_id=old, version_id=version,
                  new_file_id=keys.file_id(landing_bucket, key, version_id=version))


# -- commands -----------------------------------------------------------------------------------

def _target(args: argparse.Namespace):
    from .deploy import resolve

    t = resolve(args.env, args.target)
    emu = t.emulator
    if emu is not None and not emu.is_running():
        raise KitError(f"no emulator at {emu.url}: nothing is deployed in {t.label} (run `make deploy` first)")
    return t


def _make_args(t) -> str:
    return f"ENV={t.name}" + (" TARGET=emulator" if t.cfg.is_rehearsal else "")


def _aws_errors(func):
    """A missing credential or a refused call: one line, no traceback."""
    def wrapped(args: argparse.Namespace) -> int:
        import botocore.exceptions

        try:
            return func(args)
        except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
            raise KitError(f"no AWS credentials for {args.env}: configure a profile or role (AWS_PROFILE=...)") from None
        except botocore.exceptions.ClientError as exc:
            err = exc.response.get("Error", {})
            missing = err.get("Code") in ("ResourceNotFoundException", "NoSuchBucket",
                                          "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
            raise KitError(f"{exc.operation_name} refused: {err.get('Code')}: {err.get('Message')}"
                           + (f" (is {args.env} deployed there?)" if missing else "")) from None
    wrapped.__name__ = func.__name__
    wrapped.__doc__ = func.__doc__
    return wrapped


@_aws_errors
def cmd_redrive(args: argparse.Namespace) -> int:
    t = _target(args)
    sqs = t.client("sqs")
    queues = stage_queues(sqs, t.cfg.name_prefix, queue_stages(), args.stage)
    by_copy = t.cfg.on_emulator
    how = ("receive → send → delete, the emulator has no StartMessageMoveTask" if by_copy
           else "SQS StartMessageMoveTask, one task per dead-letter queue")
    step(f"redrive the dead-letter queues of {t.label} to their stage queues ({how})")
    results = redrive(sqs, queues, by_copy=by_copy)
    for r in results:
        note(r.line())
    failed = sum(r.failed for r in results)
    if by_copy:
        moved = sum(r.moved for r in results)
        step(f"{moved} message(s) moved back" + (
            f"; process them with `make run {_make_args(t)} DRAIN_ONLY=1`" if moved and not t.cfg.is_rehearsal else "")
             + f". Safe to rerun; {IDEMPOTENT_NOTE}")
    else:
        step("move tasks run in the background: rerun `make redrive` to follow them (it never starts a second task "
             f"for a DLQ); {IDEMPOTENT_NOTE}")
    if failed:
        raise KitError(f"{failed} message(s) could not be sent back and stay in their dead-letter queue")
    return 0


@_aws_errors
def cmd_status(args: argparse.Namespace) -> int:
    t = _target(args)
    ddb, table = t.client("dynamodb"), t.cfg.resource_name("status")
    if args.limit < 1:
        raise KitError(f"--limit must be at least 1, got {args.limit}")
    if args.file:
        records = file_records(ddb, table, args.file)
        what = f"file {args.file}"
        if args.dataset:
            records = [r for r in records if r.get("dataset") == args.dataset]
        records = records[:args.limit]
    elif args.dataset:
        records = dataset_records(ddb, table, args.dataset, args.limit)
        what = f"dataset {args.dataset} (newest first, at most {args.limit})"
    else:
        records, total = all_records(ddb, table, args.limit)
        what = f"every dataset (newest first, {len(records)} of {total} record(s))"
    try:
        dlq: dict[str, int] | None = dlq_depths(t.client("sqs"), stage_queues(t.client("sqs"), t.cfg.name_prefix,
                                                                              queue_stages()))
    except Exception:  # noqa: BLE001 - the table is what was asked for; the DLQ line is a bonus
        dlq = None
    step(f"status of {what} in {t.label} ({table})")
    if not records:
        note("no status record" + (" (a file without one is still in flight or in a dead-letter queue: "
                                   f"`make redrive {_make_args(t)}`)" if args.file else ""))
        return 1 if args.file else 0
    print(status_table(records, dlq), flush=True)
    if args.file:
        step(f"{len(records)} record(s) of {args.file}, newest first:")
        for line in history_lines(records):
            note(line)
    return 0


@_aws_errors
def cmd_replay(args: argparse.Namespace) -> int:
    t = _target(args)
    ddb, table = t.client("dynamodb"), t.cfg.resource_name("status")
    record = choose_record(file_records(ddb, table, args.file), args.file)
    step(f"replay file {record.get('file_id')} ({record.get('key')}, {record.get('status')} at "
         f"{record.get('updated_at')}) in {t.label}")
    done = replay_file(t.client("s3"), record, landing_bucket=t.cfg.bucket_name("landing"))
    note(f"raw copy: {done.source} ({done.source_zone})")
    note(f"put back into s3://{done.landing}/{done.key} as version {done.version_id} (metadata replay-of="
         f"{done.old_file_id})")
    note(f"new file_id {done.new_file_id}: a new idempotency scope; the old status record stays as history")
    if t.emulator is None:
        step(f"the pipeline processes it now; follow it with `make status {_make_args(t)} FILE={done.key}`")
        return 0
    from .deploy import state_root
    from .runner import run

    outcome = run(t.cfg, t.emulator, samples=None, state_dir=state_root(), timeout=args.timeout)
    records = file_records(ddb, table, done.key)
    step(f"{len(records)} record(s) of {done.key}, newest first (`make status {_make_args(t)} FILE={done.key}`):")
    for line in history_lines(records):
        note(line)
    problems = outcome.problems(redrive=f"make redrive {_make_args(t)}")
    if not any(r.get("file_id") == done.new_file_id for r in records):
        problems.insert(0, f"the replayed file {done.new_file_id} has no status record after the run")
    if problems:
        raise KitError("; ".join(problems))
    return 0


def register(sub: Any, command: Any) -> None:
    """Add ``redrive``, ``replay`` and ``status`` to the kit's command line (``command`` is the
    helper of ``kit.cli.build_parser``: ``--env`` and ``--target`` come with it)."""
    p = command("redrive", cmd_redrive, "move dead-letter queue messages back to their stage queues (safe to rerun)")
    p.add_argument("--stage", default=None, help="one plug-in's queues (default: every stage with a queue)")
    p = command("replay", cmd_replay, "reprocess one file from its raw copy (new version, new file_id)")
    p.add_argument("--file", required=True, help="a landing key or a file id (32 hex characters)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="emulator: seconds the local runner may take to process it (default 300)")
    p = command("status", cmd_status, "print the status table from DynamoDB (read-only)")
    p.add_argument("--dataset", default=None, help="one dataset, newest first (the by-dataset index)")
    p.add_argument("--file", default=None, help="a landing key (every record of it) or a file id")
    p.add_argument("--limit", type=int, default=STATUS_LIMIT, help=f"at most this many rows (default {STATUS_LIMIT})")
