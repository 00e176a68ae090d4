"""cleanse — Lambda handler (thin): ``validated`` messages from the cleanse queue.

Re-reads the landing object (that exact version), runs ``core.cleanse_stream`` (normalise,
standardise, de-duplicate, tokenise PII with the key from SSM), writes one object per partition to
``clean`` as ``dataset=<name>/date=<YYYY-MM-DD>/<file_id>.<csv|jsonl>`` and sends ``cleansed`` to
every stage in its manifest's ``produces.stages`` (archive). Idempotent per ``file_id``. A file above
the Batch threshold is handed to an AWS Batch job instead (``pipeline_shared.batch``: SubmitJob,
outcome ``routed-to-batch``), which runs the same ``process_file`` (``run_batch``).

Environment: PIPELINE_BUCKET_LANDING, PIPELINE_BUCKET_CLEAN, PIPELINE_QUEUE_<STAGE> (ARCHIVE),
PIPELINE_PARAM_TOKENISATION_KEY, PIPELINE_TABLE_IDEMPOTENCY, PIPELINE_MAX_OBJECT_BYTES (optional),
PIPELINE_IDEMPOTENCY_TTL_SECONDS (optional), PIPELINE_BATCH_JOB_QUEUE, PIPELINE_BATCH_JOB_DEFINITION,
PIPELINE_BATCH_ROUTE_ABOVE_BYTES (optional, all three or no routing), POWERTOOLS_*.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import core
from aws_lambda_powertools import Logger, Metrics
from pipeline_shared import aws, keys
from pipeline_shared import batch as batch_routing
from pipeline_shared.runtime import (
    IdempotentStep,
    SqsBatch,
    emit_file_metrics,
    expect_status,
    handle_stage_record,
    produced_stages,
    send,
)
from pipeline_shared.tracing import tracer
from pipeline_shared.wiring import env
from pipeline_shared.wiring.messages import CLEANSED, VALIDATED, StageMessage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

PLUGIN = "cleanse"
#: Each partition's output is spooled in memory up to this size, then to /tmp; at most
#: SPOOL_MEMORY_BYTES are spooled in memory in all (further partitions go straight to /tmp).
SPOOL_BYTES = 4 * 1024 * 1024
SPOOL_MEMORY_BYTES = 32 * 1024 * 1024

logger = Logger()
metrics = Metrics()
batch = SqsBatch()
_keys: dict[str, bytes] = {}


def tokenisation_key() -> bytes:
    """The HMAC key from the SecureString parameter (GetParameter WithDecryption), once per container."""
    name = env.parameter("tokenisation-key")
    key = _keys.get(name)
    if key is None:
        value = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        key = _keys[name] = core.key_from_parameter(value, name)
    return key


@tracer.capture_method
def process_file(data: dict[str, Any]) -> dict[str, Any]:
    """Cleanse one validated file (the idempotent unit of work, keyed by ``file_id``)."""
    from pipeline_shared import s3  # these at the first file, not at import (cold start)
    from pipeline_shared.contracts import load_contract

    message = StageMessage.from_dict(data)
    landing = env.bucket("landing")
    if message.bucket != landing:
        raise ValueError(
            f"message names bucket {message.bucket!r}, but the landing bucket is {landing!r} (PIPELINE_BUCKET_LANDING)"
        )
    contract = load_contract(message.dataset)
    clean_bucket = env.bucket("clean")
    tokenise = core.Tokeniser(tokenisation_key()) if contract.pii_columns else None
    ref = s3.ObjectRef(
        bucket=message.bucket, key=message.key, version_id=message.version_id, etag=message.etag, size=message.size
    )
    client = aws.client("s3")
    body = s3.open_body(client, ref)  # ObjectGone fails the record: the file must still be in landing
    spool = core.PartitionSpool(spool_bytes=SPOOL_BYTES, memory_bytes=SPOOL_MEMORY_BYTES)  # closed below
    sinks = spool.sinks
    try:
        try:
            result = core.cleanse_stream(
                body,
                key=message.key,
                contract=contract,
                max_bytes=env.max_object_bytes(),
                tokenise=tokenise,
                default_partition=keys.landed_date(message.received_at),
                open_partition=spool,
            )
        finally:
            body.close()
        written = []
        for partition in sorted(sinks):
            key = keys.clean_key(message.dataset, partition, message.file_id, contract.extension)
            sinks[partition].seek(0)
            client.upload_fileobj(
                sinks[partition],
                clean_bucket,
                key,
                ExtraArgs={
                    "ContentType": "text/csv; charset=utf-8" if contract.format == "csv" else "application/x-ndjson",
                    "Metadata": {"file-id": message.file_id, "dataset": message.dataset},
                },
            )
            written.append(keys.s3_uri(clean_bucket, key))
    finally:
        spool.close()
    expected = message.counts.get("rejected")
    if expected is not None and expected != result.rejected:
        logger.warning(
            "rejected-row count differs from validate's", extra={"validate": expected, "cleanse": result.rejected}
        )
    counts = {"duplicates": result.duplicates, "out": result.out, "bytes_out": result.bytes_out}
    outgoing = message.evolve(status=CLEANSED, produced_by=PLUGIN, counts=counts, locations={"clean": written})
    for stage in produced_stages(__file__):  # archive, and any other consumer named in the manifest
        send(stage, outgoing)
    emit_file_metrics(
        message.dataset, {**counts, "records_in": result.records_in, "bytes_in": result.bytes_in}, FilesCleansed=1
    )
    logger.info("file cleansed", extra={"counts": result.counts, "partitions": len(written)})
    return {"status": CLEANSED, "counts": result.counts, "clean": written}


def _size(data: dict[str, Any]) -> int | None:
    size = data.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) else None


#: Lambda: route above the threshold, else do the work; the outcome (routed or done) is what the
#: idempotency record keeps, so a redelivery neither submits nor cleanses twice.
_process = IdempotentStep(PLUGIN, batch_routing.routed(PLUGIN, process_file, size_of=_size, logger=logger))
_process_on_batch = batch_routing.job_step(PLUGIN, process_file)
_check = expect_status(PLUGIN, VALIDATED)


def run_batch(payload: dict[str, Any]) -> dict[str, Any]:
    """The AWS Batch job's unit of work (``python -m pipeline_shared.batch_job``): the ``validated``
    stage message the Lambda routed, cleansed by the same ``process_file`` (idempotency namespace
    ``cleanse:batch``)."""
    message = StageMessage.from_dict(payload)
    _check(message)
    with logger.append_context_keys(file_id=message.file_id, dataset=message.dataset, object_key=message.key):
        return _process_on_batch(message.to_dict())


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    return handle_stage_record(record, logger=logger, process=_process, check=_check,
                               duplicate_note="already cleansed")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _process.register_context(context)
    return batch.process(event, context, record_handler, metrics=metrics)
