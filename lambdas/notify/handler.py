"""notify — Lambda handler (thin): final outcomes from validate (``quarantined``, ``gone``) and
archive (``processed``, ``gone``) on the notify queue.

Writes the file's status item (status table), then publishes one outcome per file to the
pipeline-events topic with ``dataset``/``status``/``environment`` message attributes. Idempotent
per (``file_id``, ``status``): a redelivered message writes and publishes nothing.

Environment: PIPELINE_TOPIC_PIPELINE_EVENTS, PIPELINE_TABLE_STATUS, PIPELINE_TABLE_IDEMPOTENCY,
PIPELINE_STATUS_TTL_DAYS, PIPELINE_ENV, PIPELINE_IDEMPOTENCY_TTL_SECONDS (optional),
PIPELINE_STATUS_GRAPHQL_URL (optional: the AppSync status API, whose ``publishStatus`` mutation
notify calls after each status write so that subscribers hear of it), POWERTOOLS_*.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import core
from aws_lambda_powertools import Logger, Metrics
from pipeline_shared import aws, graphql, keys
from pipeline_shared.runtime import IdempotentStep, SqsBatch, emit_file_metrics, handle_stage_record
from pipeline_shared.tracing import tracer
from pipeline_shared.wiring import env
from pipeline_shared.wiring.messages import StageMessage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

PLUGIN = "notify"

logger = Logger()
metrics = Metrics()
batch = SqsBatch()


def _announce(item: dict[str, Any]) -> None:
    """Tell the status API's subscribers (only when ``[services.appsync]`` is on). Best effort: the
    status is already in the table, so a failed announcement is a warning and a metric, never a
    retry of the whole record."""
    url = graphql.status_url()
    if url is None:
        return
    try:
        graphql.post(url, graphql.publish_status_request(item))
    except graphql.GraphqlError as exc:
        logger.warning("status not announced to the status API's subscribers", extra={"error": str(exc)})
        metrics.add_metric(name="StatusAnnouncementsFailed", unit="Count", value=1)


@tracer.capture_method
def process_outcome(data: dict[str, Any]) -> dict[str, Any]:
    """Record and announce one file's outcome (idempotent per file_id and status)."""
    message = StageMessage.from_dict(data)
    core.require_final(message)
    now = datetime.now(UTC)
    environment = env.environment_name()
    item = core.status_item(message, environment=environment, now=now, ttl_days=env.status_ttl_days())
    aws.client("dynamodb").put_item(TableName=env.table("status"), Item=core.to_item(item))
    _announce(item)
    document = core.outcome(message, environment=environment, now=now)
    # The status history Athena reads (table file_status): one JSON line per outcome.
    aws.client("s3").put_object(
        Bucket=env.bucket("clean"),
        Key=keys.status_log_key(message.dataset, now.date(), message.file_id, message.status),
        ContentType="application/json",
        Body=(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"),
    )
    published = aws.client("sns").publish(
        TopicArn=env.topic_arn("pipeline-events"),
        Message=json.dumps(document, ensure_ascii=False),
        Subject=core.subject(message, environment=environment),
        MessageAttributes=core.message_attributes(message, environment=environment),
    )
    emit_file_metrics(message.dataset, **{core.FILE_METRIC[message.status]: 1})
    logger.info("outcome published", extra={"status": message.status, "sns_message_id": published.get("MessageId")})
    return {"status": message.status, "sns_message_id": published.get("MessageId"), "updated_at": item["updated_at"]}


_process = IdempotentStep(PLUGIN, process_outcome, key="[file_id, status]")


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    return handle_stage_record(record, logger=logger, process=_process, check=core.require_final,
                               duplicate_note="outcome already published")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _process.register_context(context)
    return batch.process(event, context, record_handler, metrics=metrics)
