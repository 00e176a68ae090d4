"""validate — Lambda handler (thin): S3 object-created notifications from the validate queue.

Per object: pre-check (dataset, size); an object above the Batch threshold is handed to an AWS
Batch job (``pipeline_shared.batch``: SubmitJob, outcome ``routed-to-batch``) which runs the same
``process_object`` (``run_batch``, via ``pipeline_shared.batch_job``); otherwise stream the object
through ``core.validate_stream``, then
either quarantine the whole file (copy in full, verified + report, message ``quarantined`` to
notify, then the object version is deleted from landing) or quarantine its bad rows (rows +
report) and send ``validated`` to cleanse. (Routing is by outcome,
so validate names its two targets, which its manifest's ``produces.stages`` must list.) Idempotent per
``file_id``; the ``s3:TestEvent`` is acknowledged and ignored.

Version-exact: the event's object version (derived from ``ListObjectVersions`` when the event
carries none, as the emulator's do) is the file. If it was deleted before validate reads it (the
version no longer exists; or a delete marker is the key's latest version and no newer version
exists; or, in an unversioned bucket, the key no longer holds the event's ETag), the file is
acknowledged with a warning and a ``gone`` message to notify (its status record). An overwrite is
not a deletion: the older version is a file of its own and is validated. The SHA-256 of the bytes
read is passed on (``StageMessage.sha256``) and verifies every copy (quarantine here, archive later).

Environment: PIPELINE_BUCKET_LANDING, PIPELINE_BUCKET_QUARANTINE, PIPELINE_QUEUE_CLEANSE,
PIPELINE_QUEUE_NOTIFY, PIPELINE_TABLE_IDEMPOTENCY, PIPELINE_MAX_OBJECT_BYTES (optional),
PIPELINE_IDEMPOTENCY_TTL_SECONDS (optional), PIPELINE_BATCH_JOB_QUEUE, PIPELINE_BATCH_JOB_DEFINITION,
PIPELINE_BATCH_ROUTE_ABOVE_BYTES (optional, all three or no routing), POWERTOOLS_*.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import core
from aws_lambda_powertools import Logger, Metrics
from pipeline_shared import aws, keys
from pipeline_shared import batch as batch_routing
from pipeline_shared.runtime import DUPLICATE_MARK, IdempotentStep, SqsBatch, emit_file_metrics, send
from pipeline_shared.tracing import tracer
from pipeline_shared.wiring import env
from pipeline_shared.wiring.messages import GONE, QUARANTINED, VALIDATED, StageMessage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from pipeline_shared import s3

PLUGIN = "validate"
#: Rejected rows are spooled in memory up to this size, then to /tmp.
SPOOL_BYTES = 8 * 1024 * 1024

logger = Logger()
metrics = Metrics()
batch = SqsBatch()


def _message(obj: core.LandedObject, status: str, **fields: Any) -> StageMessage:
    return StageMessage(
        file_id=obj.file_id,
        dataset=obj.dataset,
        status=status,
        produced_by=PLUGIN,
        bucket=obj.ref.bucket,
        key=obj.ref.key,
        version_id=obj.ref.version_id,
        etag=obj.ref.etag,
        size=obj.ref.size,
        received_at=obj.event_time,
        **fields,
    )


def _put_report(bucket: str, key: str, report: dict[str, Any]) -> None:
    """The readable report beside the quarantined data, and a one-line copy where Athena's
    ``quarantine_reports`` table reads it (partitioned by dataset and landing date)."""
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key=key, ContentType="application/json",
                  Body=json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8"))
    landed = keys.landed_date((report.get("source") or {}).get("event_time"))
    s3.put_object(Bucket=bucket, Key=keys.report_log_key(report["dataset"], landed, report["file_id"]),
                  ContentType="application/json",
                  Body=(json.dumps(report, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))


def _remove_from_landing(ref: s3.ObjectRef) -> str:
    """Delete the object a whole-file quarantine copied (and verified) from landing, so that no raw
    copy of a rejected file is left there: exactly its version when it has one (``DeleteObject``
    with ``VersionId``: that version is removed for good, no delete marker, and a newer version of
    the key is never touched); without a version id (unversioned bucket) a plain delete, only if
    the key still holds that object (its ETag): a newer upload under the same key has its own event
    and is left alone. Returns ``deleted``, ``superseded`` (left in place) or ``absent``."""
    client = aws.client("s3")
    if ref.version_id:
        client.delete_object(Bucket=ref.bucket, Key=ref.key, VersionId=ref.version_id)
        return "deleted"
    try:
        current = client.head_object(Bucket=ref.bucket, Key=ref.key)
    except Exception as exc:
        if aws.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return "absent"
        raise
    if keys.normalise_etag(current.get("ETag")) != keys.normalise_etag(ref.etag):
        logger.warning("landing key holds a newer object; left in place (it has its own event)")
        return "superseded"
    client.delete_object(Bucket=ref.bucket, Key=ref.key)
    return "deleted"


def _quarantine_file(
    obj: core.LandedObject, check: core.Precheck | None, result: core.ValidationResult | None, rule: str, reason: str
) -> dict[str, Any]:
    """Copy the whole object to quarantine (verified), write the report, tell notify, then delete
    the object (that version) from landing. The delete comes last: a retry after any earlier step
    finds the object still in landing and repeats the (idempotent) steps; notify records the
    outcome once per file and status."""
    from pipeline_shared import s3  # at the first file, not at import (cold start)

    bucket = env.bucket("quarantine")
    original = keys.quarantine_original_key(obj.dataset, obj.file_id, obj.ref.key)
    report_key = keys.quarantine_report_key(obj.dataset, obj.file_id)
    digest = result.sha256 if result else None
    try:
        digest = s3.copy_verified(aws.client("s3"), obj.ref, bucket=bucket, key=original, sha256=digest).sha256
    except s3.ObjectGone as gone:
        return _gone(obj, gone, before="it could be quarantined", counts=result.counts if result else None,
                     rejected=reason, sha256=digest)
    locations = {
        "landing": obj.ref.uri,
        "quarantine": keys.s3_uri(bucket, original),
        "quarantine_report": keys.s3_uri(bucket, report_key),
    }
    contract = check.contract if check else None
    _put_report(
        bucket,
        report_key,
        core.build_report(
            obj, status=QUARANTINED, rule=rule, reason=reason, result=result, contract=contract, locations=locations
        ),
    )
    counts = result.counts if result else {"records_in": 0, "valid": 0, "rejected": 0, "bytes_in": 0}
    send("notify", _message(obj, QUARANTINED, counts=counts, locations=locations, reason=reason, sha256=digest))
    landing = _remove_from_landing(obj.ref)
    emit_file_metrics(obj.dataset, counts, FilesQuarantined=1)
    logger.warning("file quarantined", extra={"rule": rule, "reason": reason, "counts": counts, "landing": landing})
    return {"status": QUARANTINED, "rule": rule, "reason": reason, "counts": counts, "landing": landing}


def _gone(
    obj: core.LandedObject,
    gone: s3.ObjectGone,
    *,
    before: str = "validation",
    counts: dict[str, int] | None = None,
    rejected: str | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """The object was deleted before validate could read (or quarantine) it: acknowledge the event
    with a warning and tell notify (``gone``), which records the file's status. Unless an earlier
    attempt quarantined it and removed it from landing itself (``_quarantined_earlier``)."""
    earlier = _quarantined_earlier(obj)
    if earlier is not None:
        return earlier
    reason = gone.reason(before=before)
    if rejected:
        reason += f"; it was to be quarantined as a whole: {rejected}"
    send("notify", _message(obj, GONE, counts=counts or {}, locations={"landing": obj.ref.uri}, reason=reason,
                            sha256=sha256))
    logger.warning("file gone before validate could finish it; acknowledged, status recorded",
                   extra={"reason": reason, "kind": gone.kind})
    return {"status": GONE, "reason": reason}


def _quarantined_earlier(obj: core.LandedObject) -> dict[str, Any] | None:
    """The outcome of an earlier attempt that quarantined this file as a whole and deleted it from
    landing, then died before its idempotency record was saved (its report in quarantine says
    ``quarantined``), else None. Its ``quarantined`` message is sent again (notify records a file's
    status once), so the file does not end ``gone`` because validate itself removed it."""
    bucket = env.bucket("quarantine")
    try:
        raw = aws.client("s3").get_object(Bucket=bucket, Key=keys.quarantine_report_key(obj.dataset, obj.file_id))
    except Exception as exc:
        code = aws.error_code(exc)
        if code in ("403", "AccessDenied"):  # without s3:ListBucket S3 answers 403 for a missing key
            logger.warning("quarantine report not readable: an earlier quarantine cannot be seen",
                           extra={"error": code})
        if code in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied"):
            return None
        raise
    report = json.loads(raw["Body"].read())
    locations = report.get("locations") or {}
    if report.get("status") != QUARANTINED or not locations.get("quarantine"):
        return None
    counts = report.get("counts") or {"records_in": 0, "valid": 0, "rejected": 0, "bytes_in": 0}
    reason = report.get("reason") or ""
    send("notify", _message(obj, QUARANTINED, counts=counts, locations=locations, reason=reason))
    logger.info("already quarantined (and removed from landing) by an earlier attempt", extra={"rule": report.get("rule")})
    return {"status": QUARANTINED, "rule": report.get("rule"), "reason": reason, "counts": counts, "landing": "absent"}


def _ensure_not_deleted(obj: core.LandedObject) -> None:
    """Raise ``ObjectGone`` when the event's version was deleted before validation: it no longer
    exists, or a delete marker is the key's latest version and no newer version of the key exists
    (``core.version_fate``). An object named by its ETag only (unversioned bucket) is checked by
    the read itself (``IfMatch``). Needs ``s3:ListBucketVersions``; without it, a warning and the
    read decides."""
    from pipeline_shared import s3  # at the first file, not at import (cold start)

    ref = obj.ref
    if not ref.version_id:
        return
    client = aws.client("s3")
    try:
        if client.head_object(Bucket=ref.bucket, Key=ref.key).get("VersionId") == ref.version_id:
            return  # the key's current object: the common case, one HEAD
    except Exception as exc:
        if aws.error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise
    try:
        pages = client.get_paginator("list_object_versions").paginate(Bucket=ref.bucket, Prefix=ref.key)
        fate = core.version_fate(pages, ref.key, ref.version_id)
    except Exception as exc:
        if aws.error_code(exc) not in ("AccessDenied", "AccessDeniedException"):
            raise
        logger.warning("s3:ListBucketVersions denied: a deletion before validation cannot be seen",
                       extra={"object_key": ref.key})
        return
    if fate == core.DELETED:
        raise s3.ObjectGone(ref, s3.ObjectGone.DELETED, f"{ref.uri} version {ref.version_id} is hidden by a delete "
                            "marker, the key's latest version (the file was deleted; its version was never read)")
    if fate == core.MISSING:
        raise s3.ObjectGone(ref, s3.ObjectGone.VERSION_GONE)


@tracer.capture_method
def process_object(data: dict[str, Any]) -> dict[str, Any]:
    """Validate one landed object (the idempotent unit of work, keyed by ``file_id``)."""
    from pipeline_shared import s3  # at the first file, not at import (cold start)

    obj = core.LandedObject.from_dict(data)
    try:
        _ensure_not_deleted(obj)
    except s3.ObjectGone as gone:
        return _gone(obj, gone)
    check = core.precheck(obj, max_bytes=env.max_object_bytes())
    if check.rejected:
        return _quarantine_file(obj, check, None, check.rule or "precheck", check.reason or "")
    assert check.contract is not None
    client = aws.client("s3")
    try:
        body = s3.open_body(client, obj.ref)
    except s3.ObjectGone as gone:
        return _gone(obj, gone)
    import tempfile  # at the first file, not at import (cold start)

    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as sink:
        try:
            result = core.validate_stream(
                body, key=obj.ref.key, contract=check.contract, max_bytes=env.max_object_bytes(), rejected_sink=sink
            )
        finally:
            body.close()
        if not result.accepted:
            return _quarantine_file(obj, check, result, result.rule or "invalid", result.reason or "")
        locations: dict[str, Any] = {"landing": obj.ref.uri}
        if result.rejected:
            bucket = env.bucket("quarantine")
            rows_key = keys.quarantine_rows_key(obj.dataset, obj.file_id, check.contract.extension)
            report_key = keys.quarantine_report_key(obj.dataset, obj.file_id)
            sink.seek(0)
            client.upload_fileobj(
                sink,
                bucket,
                rows_key,
                ExtraArgs={
                    "ContentType": "text/csv; charset=utf-8"
                    if check.contract.format == "csv"
                    else "application/x-ndjson"
                },
            )
            locations.update(
                quarantine_rows=keys.s3_uri(bucket, rows_key), quarantine_report=keys.s3_uri(bucket, report_key)
            )
            _put_report(
                bucket,
                report_key,
                core.build_report(
                    obj,
                    status=VALIDATED,
                    rule=None,
                    reason=None,
                    result=result,
                    contract=check.contract,
                    locations=locations,
                ),
            )
    send("cleanse", _message(obj, VALIDATED, counts=result.counts, locations=locations, sha256=result.sha256))
    emit_file_metrics(obj.dataset, result.counts, FilesAccepted=1)
    logger.info("file validated", extra={"counts": result.counts, "compressed": result.compressed})
    return {"status": VALIDATED, "counts": result.counts}


def _routable_size(data: dict[str, Any]) -> int | None:
    """The object's size: a large object goes to AWS Batch even when the pre-check rejects it,
    because quarantining it means hashing it (``s3.copy_verified`` streams a source whose digest
    was not computed while reading it, and a copy above 5 GiB), which outlasts a Lambda."""
    return core.LandedObject.from_dict(data).ref.size


#: Lambda: route above the threshold, else do the work; the outcome (routed or done) is what the
#: idempotency record keeps, so a redelivery neither submits nor validates twice.
_process = IdempotentStep(PLUGIN, batch_routing.routed(PLUGIN, process_object, size_of=_routable_size, logger=logger))
_process_on_batch = batch_routing.job_step(PLUGIN, process_object)


def run_batch(payload: dict[str, Any]) -> dict[str, Any]:
    """The AWS Batch job's unit of work (``python -m pipeline_shared.batch_job``): the landed-object
    dict the Lambda routed, validated by the same ``process_object`` (idempotency namespace
    ``validate:batch``)."""
    obj = core.LandedObject.from_dict(payload)
    with logger.append_context_keys(file_id=obj.file_id, dataset=obj.dataset, object_key=obj.ref.key):
        return _process_on_batch(obj.to_dict())


def _with_derived_version(obj: core.LandedObject) -> core.LandedObject:
    """An event without ``versionId`` (the emulator's; S3's own carry it on a versioned bucket):
    the version is derived from ``ListObjectVersions`` (``core.choose_version``), so two uploads to
    one key, even of the same bytes, are two files. Unversioned bucket, or no such version left:
    the ETag identifies the object, as before. Needs ``s3:ListBucketVersions`` on landing; without
    it the ETag is used, with a warning."""
    if obj.ref.version_id:
        return obj
    client = aws.client("s3")
    try:
        pages = client.get_paginator("list_object_versions").paginate(Bucket=obj.ref.bucket, Prefix=obj.ref.key)
        version = core.choose_version(pages, obj)
    except Exception as exc:
        if aws.error_code(exc) not in ("AccessDenied", "AccessDeniedException"):
            raise
        logger.warning("event without a version id and s3:ListBucketVersions denied: the ETag identifies the object",
                       extra={"object_key": obj.ref.key})
        return obj
    if version is None:
        return obj
    logger.info("version id derived from S3 (the event carried none)", extra={"version_id": version})
    return core.with_version(obj, version)


@tracer.capture_method
def record_handler(record: SQSRecord) -> list[dict[str, Any]]:
    logger.set_correlation_id(record.message_id)
    with logger.append_context_keys(message_id=record.message_id):
        try:
            objects = core.parse_notification(record.body)
            if objects is None:
                logger.info("s3:TestEvent acknowledged and ignored")
                return []
            landing = env.bucket("landing")
            outcomes = []
            for obj in objects:
                if obj.ref.bucket != landing:
                    raise ValueError(
                        f"event for bucket {obj.ref.bucket!r}, but this function's landing bucket is "
                        f"{landing!r} (PIPELINE_BUCKET_LANDING)"
                    )
                if keys.is_folder_placeholder(obj.ref.key):
                    logger.info("folder placeholder ignored", extra={"object_key": obj.ref.key})
                    continue
                obj = _with_derived_version(obj)
                logger.set_correlation_id(obj.ref.key)
                with logger.append_context_keys(file_id=obj.file_id, dataset=obj.dataset, object_key=obj.ref.key):
                    outcome = _process(obj.to_dict())
                    if outcome.get(DUPLICATE_MARK):
                        logger.info(
                            "duplicate delivery: already validated, nothing done",
                            extra={"status": outcome.get("status")},
                        )
                    outcomes.append(outcome)
            return outcomes
        except Exception:
            logger.exception("record failed; it stays on the queue for a retry")
            raise


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _process.register_context(context)
    return batch.process(event, context, record_handler, metrics=metrics)
