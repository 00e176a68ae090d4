"""Routing large objects to AWS Batch: the Lambda side (decide, submit) and the job side's
idempotency step.

A batch-capable plug-in (manifest ``[runtime] batch = true``) wraps its unit of work with
``routed(...)``. When the stack enables Batch it sets three variables on the function:

=====================================  ==========================================================
``PIPELINE_BATCH_JOB_QUEUE``           job queue ARN
``PIPELINE_BATCH_JOB_DEFINITION``      job definition ARN, with revision
``PIPELINE_BATCH_ROUTE_ABOVE_BYTES``   integer: objects strictly larger than this go to Batch
=====================================  ==========================================================

Any of them absent (or empty) → never route: the work is done in Lambda, as without Batch. On a
Batch container (``PIPELINE_RUNS_ON=batch``) nothing is routed either.

A routed unit becomes one ``SubmitJob``: ``jobName`` ``<plugin>-<file_id>`` (sanitised),
``parameters={"payload": <the unit of work as JSON>}``; the job definition runs
``python -m pipeline_shared.batch_job --plugin <plugin> --payload Ref::payload``. The wrapped
function then returns ``{"status": "routed-to-batch", "job_id": …}``, which is what the Lambda's
idempotency records: a redelivered message returns that record and submits nothing.

The job runs the same function under its own idempotency namespace (``job_step``:
``<plugin>:batch``), so the Lambda's record of the routed unit never blocks it, and a job submitted
twice (e.g. SubmitJob succeeded but the Lambda's record could not be saved) does the work once.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import aws
from .runtime import IdempotentStep, emit_file_metrics
from .wiring import env

ROUTED = "routed-to-batch"
JOB_QUEUE_VAR = env.BATCH_JOB_QUEUE
JOB_DEFINITION_VAR = env.BATCH_JOB_DEFINITION
ROUTE_ABOVE_VAR = env.BATCH_ROUTE_ABOVE_BYTES
#: What the stack sets on the function and leaves out of the job definition's environment.
ROUTING_VARS = env.BATCH_ROUTING
#: Set to ``batch`` in the job definition's environment.
RUNS_ON_VAR = env.RUNS_ON
#: Optional, in the job definition's environment: the attempt timeout (seconds). A job attempt that
#: dies without a word (killed, out of memory) leaves an in-progress idempotency record; the next
#: attempt may take over once this much time has passed.
ATTEMPT_TIMEOUT_VAR = env.BATCH_ATTEMPT_TIMEOUT_SECONDS
DEFAULT_ATTEMPT_TIMEOUT_SECONDS = 3600
PAYLOAD_PARAMETER = "payload"
METRIC = "FilesRoutedToBatch"
#: SubmitJob takes at most 30 KiB in all; the payload is one message, far smaller.
MAX_PAYLOAD_BYTES = 24 * 1024
MAX_JOB_NAME = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Route:
    """Where routed units go, and from which size on."""

    job_queue: str
    job_definition: str
    above_bytes: int

    def wants(self, size: int | None) -> bool:
        """True when an object of ``size`` bytes goes to Batch (strictly above the threshold)."""
        return size is not None and size > self.above_bytes


def runs_on_batch(environ: Mapping[str, str] | None = None) -> bool:
    return (environ if environ is not None else os.environ).get(RUNS_ON_VAR, "").strip().lower() == "batch"


def route_from_env(environ: Mapping[str, str] | None = None) -> Route | None:
    """The ``Route`` from the three variables, or None (never route) if any is absent or empty, or
    when running on Batch already. A threshold that is not a non-negative integer is a
    configuration error (the record fails with a message naming the variable)."""
    environ = environ if environ is not None else os.environ
    if runs_on_batch(environ):
        return None
    queue, definition, above = (environ.get(name, "").strip() for name in ROUTING_VARS)
    if not (queue and definition and above):
        return None
    try:
        threshold = int(above)
    except ValueError:
        raise env.ConfigurationError(f"environment variable {ROUTE_ABOVE_VAR} must be an integer, got {above!r}") from None
    if threshold < 0:
        raise env.ConfigurationError(f"environment variable {ROUTE_ABOVE_VAR} must be >= 0, got {threshold}")
    return Route(job_queue=queue, job_definition=definition, above_bytes=threshold)


def job_name(plugin: str, file_id: str) -> str:
    """``<plugin>-<file_id>`` with every character outside ``[A-Za-z0-9_-]`` replaced by '-', at
    most 128 characters (Batch's rule)."""
    name = _UNSAFE.sub("-", f"{plugin}-{file_id}")[:MAX_JOB_NAME]
    if not name or not name[0].isalnum():
        name = ("j" + name)[:MAX_JOB_NAME]
    return name


def encode_payload(payload: Mapping[str, Any]) -> str:
    """The ``payload`` parameter: compact, key-sorted JSON of the unit of work."""
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"the unit of work is {len(text.encode('utf-8'))} bytes of JSON, more than a Batch job "
                         f"parameter may carry ({MAX_PAYLOAD_BYTES})")
    return text


def submit(plugin: str, payload: Mapping[str, Any], *, route: Route) -> dict[str, str]:
    """``SubmitJob`` for one unit of work; returns ``{"job_id", "job_name"}``."""
    name = job_name(plugin, str(payload.get("file_id") or "unknown"))
    response = aws.client("batch").submit_job(
        jobName=name,
        jobQueue=route.job_queue,
        jobDefinition=route.job_definition,
        parameters={PAYLOAD_PARAMETER: encode_payload(payload)},
    )
    return {"job_id": response["jobId"], "job_name": response.get("jobName", name)}


def routed(
    plugin: str,
    function: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    size_of: Callable[[dict[str, Any]], int | None],
    logger: Any = None,
) -> Callable[..., dict[str, Any]]:
    """``function(data)`` wrapped with the routing decision. ``size_of(data)`` gives the object's
    size (None: never route it, e.g. a file the pre-check rejects anyway). Keeps the function's
    name, so the idempotency key prefix of an ``IdempotentStep`` around it does not change."""

    @functools.wraps(function)
    def wrapper(data: dict[str, Any]) -> dict[str, Any]:
        route = route_from_env()
        size = size_of(data) if route is not None else None
        if route is None or not route.wants(size):
            return function(data)
        job = submit(plugin, data, route=route)
        emit_file_metrics(str(data.get("dataset") or ""), **{METRIC: 1})
        outcome = {"status": ROUTED, **job, "job_queue": route.job_queue, "size": size,
                   "route_above_bytes": route.above_bytes}
        if logger is not None:
            logger.info("file routed to AWS Batch", extra={k: v for k, v in outcome.items() if k != "status"})
        return outcome

    return wrapper


class JobContext:
    """What the idempotency utility reads of a Lambda context, for a Batch job attempt: the time
    it may still run (an in-progress record expires after it)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.function_name = "batch-job"
        self.aws_request_id = os.environ.get(env.BATCH_JOB_ID, "local")

    def get_remaining_time_in_millis(self) -> int:
        return self.seconds * 1000


def attempt_timeout_seconds() -> int:
    return env._int(ATTEMPT_TIMEOUT_VAR, DEFAULT_ATTEMPT_TIMEOUT_SECONDS, 1, "a Batch job attempt's timeout")


def namespace(plugin: str) -> str:
    """The idempotency namespace of ``plugin``'s Batch jobs (its Lambda uses ``plugin``)."""
    return f"{plugin}:batch"


class JobStep(IdempotentStep):
    """An ``IdempotentStep`` for a Batch job: each call registers a ``JobContext`` first (the
    in-progress record of an attempt expires after the attempt timeout). On a retry attempt
    (``AWS_BATCH_JOB_ATTEMPT`` > 1) an in-progress record is the previous attempt's, which Batch
    has ended (attempts run one after the other: e.g. a Spot reclaim killed it mid-way), so it is
    cleared instead of blocking the retry."""

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        self.register_context(JobContext(attempt_timeout_seconds()))
        if job_attempt() > 1:
            self.clear_dead_attempt(data)
        return super().__call__(data)

    def clear_dead_attempt(self, data: dict[str, Any]) -> bool:
        """Delete the unit's in-progress record, if there is one; True if one was deleted."""
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError

        store = DynamoDBPersistenceLayer(table_name=env.table("idempotency"), boto3_client=aws.client("dynamodb"))
        # the same key as IdempotentStep's: "<namespace>.<function name>#<hash of the file_id>"
        store.configure(IdempotencyConfig(event_key_jmespath=self.key, raise_on_no_idempotency_key=True),
                        key_prefix=f"{self.plugin}.{self.function.__name__}")
        try:
            record = store.get_record(data)
        except IdempotencyItemNotFoundError:
            return False
        if record is None or record.status != "INPROGRESS":
            return False
        store.delete_record(data, RuntimeError("the previous attempt of this Batch job ended while in progress"))
        return True


def job_attempt() -> int:
    """This Batch job attempt's number (``AWS_BATCH_JOB_ATTEMPT``, 1-based; 1 when unset)."""
    raw = os.environ.get(env.BATCH_JOB_ATTEMPT, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def job_step(plugin: str, function: Callable[[dict[str, Any]], dict[str, Any]]) -> JobStep:
    """``function`` (the plug-in's unit of work, not routed) at most once per ``file_id`` in the
    ``<plugin>:batch`` idempotency namespace."""
    return JobStep(namespace(plugin), function)
