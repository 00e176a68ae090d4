"""What every handler shares around Powertools: ``SqsBatch`` (partial batch failures),
``IdempotentStep`` (idempotency on DynamoDB), ``emit_file_metrics`` (per-dataset EMF metrics),
``send`` and ``produced_stages`` (messages to the next stages).

Powertools utilities are imported on first use, not with the handler: the batch utility pulls in
asyncio and every event class, the idempotency utility boto3 (~150 ms together).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import aws
from .wiring import env

#: ``counts`` key → (metric name, unit).
COUNT_METRICS: dict[str, tuple[str, str]] = {
    "records_in": ("RecordsIn", "Count"),
    "valid": ("RecordsValid", "Count"),
    "rejected": ("RecordsRejected", "Count"),
    "duplicates": ("RecordsDuplicate", "Count"),
    "out": ("RecordsOut", "Count"),
    "bytes_in": ("BytesIn", "Bytes"),
    "bytes_out": ("BytesOut", "Bytes"),
}
_DIMENSION_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
DUPLICATE_MARK = "duplicate_delivery"


def _mark_duplicate(response: Any, _record: Any) -> Any:
    if isinstance(response, dict):
        return {**response, DUPLICATE_MARK: True}
    return response


class IdempotentStep:
    """Runs ``function(data=...)`` at most once per idempotency key (Powertools
    ``idempotent_function`` on the ``PIPELINE_TABLE_IDEMPOTENCY`` table, default layout ``id`` /
    ``expiration``). ``key`` is a JMESPath into ``data`` (``"file_id"``, ``"[file_id, status]"``).

    The persistence layer and its DynamoDB client are created on the first call (not at import).
    A repeated key returns the stored result of the first run with ``duplicate_delivery: true``;
    a run that raises leaves no record, so the retry does the work again."""

    def __init__(self, plugin: str, function: Callable[..., dict], *, key: str = "file_id") -> None:
        self.plugin, self.function, self.key = plugin, function, key
        self._context: Any = None
        self._built: tuple[str, Any, Any, Callable[..., dict]] | None = None

    def register_context(self, context: Any) -> None:
        """Tell the utility how long the invocation has left (in-progress records expire then)."""
        self._context = context
        if self._built is not None and context is not None:
            self._built[2].register_lambda_context(context)

    def _build(self, table: str, client: Any) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        config = IdempotencyConfig(
            event_key_jmespath=self.key,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=env.idempotency_ttl_seconds(),
            response_hook=_mark_duplicate,
        )
        if self._context is not None:
            config.register_lambda_context(self._context)
        persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
        wrapped = idempotent_function(
            data_keyword_argument="data",
            persistence_store=persistence,
            config=config,
            key_prefix=f"{self.plugin}.{self.function.__name__}",
        )(self.function)
        self._built = (table, client, config, wrapped)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        table, client = env.table("idempotency"), aws.client("dynamodb")
        if self._built is None or self._built[0] != table or self._built[1] is not client:
            self._build(table, client)
        assert self._built is not None
        return self._built[3](data=data)


@functools.cache
def produced_stages(handler_file: str) -> tuple[str, ...]:
    """``produces.stages`` of the plug-in whose handler is ``handler_file`` (its ``manifest.toml``
    sits beside it, in the folder and at the zip root). Stages that simply pass their result on
    (cleanse, archive) send it to every one of these, so a new consumer of their output is added
    by naming it there: no handler change."""
    import tomllib  # at the first file, not at import (cold start)

    path = Path(handler_file).resolve().with_name("manifest.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise env.ConfigurationError(f"{path} is missing: the plug-in's manifest must be packaged with it") from None
    stages = data.get("produces", {}).get("stages", [])
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise env.ConfigurationError(f"{path}: produces.stages must be a list of plug-in names, got {stages!r}")
    return tuple(stages)


def send(stage: str, message: Any) -> None:
    """Send a ``StageMessage`` to ``stage``'s input queue (``PIPELINE_QUEUE_<STAGE>``)."""
    from .wiring.messages import sqs_attributes

    aws.client("sqs").send_message(
        QueueUrl=env.queue_url(stage), MessageBody=message.to_json(), MessageAttributes=sqs_attributes(message)
    )


def metric_dataset(dataset: str) -> str:
    """The ``dataset`` dimension value: the dataset, or ``_unknown`` for names no contract could
    have (keeps arbitrary key prefixes from creating metric dimensions)."""
    return dataset if _DIMENSION_RE.match(dataset) else "_unknown"


def emit_file_metrics(dataset: str, counts: Mapping[str, int] | None = None, **files: int) -> None:
    """One EMF document for one file: ``counts`` (see ``COUNT_METRICS``) plus file counters given as
    keywords (``FilesQuarantined=1``), with dimensions ``service`` and ``dataset``."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics()
    metrics.add_dimension(name="dataset", value=metric_dataset(dataset))
    added = 0
    for key, value in (counts or {}).items():
        if key in COUNT_METRICS:
            name, unit = COUNT_METRICS[key]
            metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)
            added += 1
    for name, value in files.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        added += 1
    if added:
        metrics.flush_metrics()


class SqsBatch:
    """Powertools ``BatchProcessor(EventType.SQS)`` + ``process_partial_response`` for one handler.

    The batch utility (asyncio and every event data class, ~50 ms) is imported on the first batch,
    not with the handler. Each record goes to ``record_handler(record: SQSRecord)``; a record that
    raises is reported in ``batchItemFailures`` (the event source mapping must enable
    ``ReportBatchItemFailures``) and the others are deleted from the queue. A batch in which every
    record failed is *returned* (all listed), not raised, which SQS treats the same way. Adds the
    ``MessagesProcessed``/``MessagesFailed`` metrics to ``metrics`` when given. Like Lambda, one
    batch at a time per instance."""

    def __init__(self) -> None:
        self._processor: Any = None

    def process(
        self, event: dict[str, Any], context: Any, record_handler: Callable[[Any], Any], *, metrics: Any = None
    ) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        if self._processor is None:
            self._processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=self._processor, context=context
        )
        if metrics is not None:
            from aws_lambda_powertools.metrics import MetricUnit

            failed = len(response.get("batchItemFailures", []))
            metrics.add_metric(
                name="MessagesProcessed", unit=MetricUnit.Count, value=len(event.get("Records", [])) - failed
            )
            metrics.add_metric(name="MessagesFailed", unit=MetricUnit.Count, value=failed)
        return dict(response)


def handle_stage_record(record: Any, *, logger: Any, process: Callable[[dict], dict],
                        check: Callable[[Any], None], duplicate_note: str) -> dict:
    """The body of every stage's ``record_handler``: parse the ``StageMessage``, ``check`` it
    (raise to refuse), run ``process`` (an ``IdempotentStep``) with the correlation id set to the
    object key, and log a redelivery. Any exception is logged and re-raised, so the batch
    processor reports the record as failed and it stays on the queue for a retry."""
    from .wiring.messages import StageMessage

    logger.set_correlation_id(record.message_id)
    with logger.append_context_keys(message_id=record.message_id):
        try:
            message = StageMessage.from_json(record.body)
            check(message)
            logger.set_correlation_id(message.key)
            with logger.append_context_keys(file_id=message.file_id, dataset=message.dataset, object_key=message.key):
                outcome = process(message.to_dict())
                if outcome.get(DUPLICATE_MARK):
                    logger.info(f"duplicate delivery: {duplicate_note}, nothing done")
                return outcome
        except Exception:
            logger.exception("record failed; it stays on the queue for a retry")
            raise


def expect_status(plugin: str, *statuses: str) -> Callable[[Any], None]:
    """A ``check`` for ``handle_stage_record``: the message must carry one of ``statuses``."""
    def check(message: Any) -> None:
        if message.status not in statuses:
            wanted = "' or '".join(statuses)
            raise ValueError(f"{plugin} takes '{wanted}' messages, got '{message.status}' from {message.produced_by}")
    return check
