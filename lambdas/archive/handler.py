"""archive — Lambda handler (thin): ``cleansed`` messages from the archive queue.

Copies the raw object (that exact version) from landing to the archive bucket, verifies the copy
by SHA-256 (S3's checksum of the copy against ``StageMessage.sha256``, the digest validate computed
from the bytes; never the ETag), only then deletes it from landing (that exact version, for good;
unversioned: only if the key still holds it), and sends ``processed`` to every
stage in its manifest's ``produces.stages`` (notify). A failed verification leaves landing untouched
and fails the record (retried, then dead-lettered). A raw object gone from landing that no earlier
attempt archived is acknowledged with a warning and ``gone`` (its status record says the clean data
was written and the raw file is lost). Idempotent per ``file_id``.

Environment: PIPELINE_BUCKET_LANDING, PIPELINE_BUCKET_ARCHIVE, PIPELINE_QUEUE_<STAGE> (NOTIFY),
PIPELINE_TABLE_IDEMPOTENCY, PIPELINE_IDEMPOTENCY_TTL_SECONDS (optional), POWERTOOLS_*.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import core
from aws_lambda_powertools import Logger, Metrics
from pipeline_shared import aws, keys
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
from pipeline_shared.wiring.messages import CLEANSED, GONE, PROCESSED, StageMessage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from pipeline_shared import s3

PLUGIN = "archive"

logger = Logger()
metrics = Metrics()
batch = SqsBatch()


def _remove_from_landing(client: Any, message: StageMessage) -> str:
    """Delete the archived object from landing, never a newer one: with a version id, exactly that
    version (``DeleteObject`` with ``VersionId`` removes it for good, leaves no delete marker, and
    cannot touch a newer version of the key, which has its own event); without one (unversioned
    bucket), a plain delete only if the key still holds the archived object (``core.landing_disposition``)."""
    if message.version_id:
        client.delete_object(Bucket=message.bucket, Key=message.key, VersionId=message.version_id)
        return "deleted"
    try:
        current = client.head_object(Bucket=message.bucket, Key=message.key)
    except Exception as exc:
        if aws.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return "absent"
        raise
    if core.landing_disposition(message, current) == core.SUPERSEDED:
        logger.warning("landing key holds a newer object; left in place (it has its own event)")
        return core.SUPERSEDED
    client.delete_object(Bucket=message.bucket, Key=message.key)
    return "deleted"


@tracer.capture_method
def process_file(data: dict[str, Any]) -> dict[str, Any]:
    """Archive one cleansed file (the idempotent unit of work, keyed by ``file_id``)."""
    from pipeline_shared import s3  # at the first file, not at import (cold start)

    message = StageMessage.from_dict(data)
    landing = env.bucket("landing")
    if message.bucket != landing:
        raise ValueError(
            f"message names bucket {message.bucket!r}, but the landing bucket is {landing!r} (PIPELINE_BUCKET_LANDING)"
        )
    archive_bucket = env.bucket("archive")
    dest_key = core.archive_key(message)
    ref = s3.ObjectRef(
        bucket=message.bucket, key=message.key, version_id=message.version_id, etag=message.etag, size=message.size
    )
    client = aws.client("s3")
    try:
        copied = s3.copy_verified(
            client, ref, bucket=archive_bucket, key=dest_key, tags=core.archive_tags(message), sha256=message.sha256
        )
    except s3.ObjectGone as gone:
        # An earlier attempt may have archived and removed it, then died before finishing.
        try:
            existing = client.head_object(Bucket=archive_bucket, Key=dest_key, ChecksumMode="ENABLED")
        except Exception as exc:
            if aws.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return _raw_gone(message, gone)
            raise
        copy_ref = s3.ObjectRef(bucket=archive_bucket, key=dest_key, etag=keys.normalise_etag(existing.get("ETag")))
        digest = s3.object_sha256(client, copy_ref, existing) if message.sha256 else None
        problems = core.matches_message(existing, message, copy_sha256=digest)
        if problems:
            raise s3.CopyVerificationError(
                f"{gone}; the archive copy s3://{archive_bucket}/{dest_key} does not match: {'; '.join(problems)}"
            ) from None
        landing_result, size = "absent", existing.get("ContentLength", 0)
        logger.info("already archived by an earlier attempt")
    else:
        landing_result, size = _remove_from_landing(client, message), copied.source.get("ContentLength", 0)
        message = message.evolve(sha256=copied.sha256)  # the same digest, or the one computed for the copy
    location = keys.s3_uri(archive_bucket, dest_key)
    outgoing = message.evolve(status=PROCESSED, produced_by=PLUGIN, locations={"archive": location})
    for stage in produced_stages(__file__):  # notify, and any other consumer named in the manifest
        send(stage, outgoing)
    emit_file_metrics(message.dataset, FilesArchived=1, BytesArchived=size)
    logger.info("file archived", extra={"archive": location, "landing": landing_result, "bytes": size})
    return {"status": PROCESSED, "archive": location, "landing": landing_result}


def _raw_gone(message: StageMessage, gone: s3.ObjectGone) -> dict[str, Any]:
    """The raw object vanished from landing before archive could copy it, and no earlier attempt
    archived it: acknowledge with a warning and a ``gone`` outcome that says so (no retry: the
    bytes will not come back)."""
    reason = core.gone_reason(message, gone.reason(before="archiving"))
    outgoing = message.evolve(status=GONE, produced_by=PLUGIN, reason=reason)
    for stage in produced_stages(__file__):
        send(stage, outgoing)
    logger.warning("raw file gone before archiving; acknowledged, status recorded",
                   extra={"reason": reason, "kind": gone.kind})
    return {"status": GONE, "reason": reason}


_process = IdempotentStep(PLUGIN, process_file)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    return handle_stage_record(record, logger=logger, process=_process, check=expect_status(PLUGIN, CLEANSED),
                               duplicate_note="already archived")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _process.register_context(context)
    return batch.process(event, context, record_handler, metrics=metrics)
