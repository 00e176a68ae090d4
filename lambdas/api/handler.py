"""api — Lambda handler (thin) behind API Gateway (REST, Lambda proxy integration, IAM auth).

Routes (Powertools ``APIGatewayRestResolver``; validation, SQL and response shapes in ``core``)::

    GET  /files/{id}              → 200 the file's status item · 400 malformed id · 404 unknown/expired
    GET  /datasets/{name}/stats   → 200 counts by status + row totals (``?days=7``, 1..90) · 404 unknown dataset
    POST /queries                 → 202 {"id", "state": "QUEUED", ...} (allow-listed query, Athena) · 400 · 429
    GET  /queries/{id}            → 200 {"state", ...}; SUCCEEDED: {"columns", "rows", "next_token"}
                                    (``?max_results=100&next_token=...``); FAILED/CANCELLED: "reason" · 404
    POST /datasets/{name}/files   → 201 {"file_id", "key", "upload": {"method": "PUT", "url", "headers"},
                                    "expires_at", "status_url"} · 400 · 404 unknown dataset
    POST /datasets/{name}/cleanse → 200 {"dataset", "rows_in", "valid", "rejected", "duplicates", "accepted",
                                    "records", "rejections"} · 400 · 404 · 413 (too large: use the upload) · 415

``GET /files/{id}`` of an upload (``awaiting_upload``) answers the newest pipeline record of its key
once the pipeline has seen the file (with ``upload_id`` and ``files``); a processed or quarantined
file gets ``downloads``: presigned GETs of its clean outputs, quarantine report and rejected rows.
Presigned URLs are signed with the function role's credentials (Signature Version 4): an upload
URL signs Content-Type, the exact Content-Length and SSE-KMS with the environment key.

Errors are ``{"message": "..."}`` with 400/404/405/429; anything unexpected is logged and answered
500 ``{"message": "internal error (request id ...)"}``. Queries run asynchronously because API
Gateway gives an integration 29-30 s at most: the caller polls ``GET /queries/{id}``.

Environment: PIPELINE_TABLE_STATUS, PIPELINE_ATHENA_WORKGROUP, PIPELINE_GLUE_DATABASE, PIPELINE_ENV,
PIPELINE_BUCKET_LANDING (uploads), PIPELINE_BUCKET_CLEAN / _QUARANTINE (downloads),
PIPELINE_KMS_KEY_ARN (the environment key uploads are encrypted with), PIPELINE_PARAM_TOKENISATION_KEY,
PIPELINE_STATUS_TTL_DAYS, the ``[api]`` limits PIPELINE_API_SYNC_MAX_BYTES, PIPELINE_API_SYNC_MAX_ROWS,
PIPELINE_API_PRESIGN_EXPIRY_SECONDS, PIPELINE_API_UPLOAD_MAX_BYTES (unset: ``[api]``'s defaults),
optional PIPELINE_ATHENA_CLEAN_TABLE (template with ``{dataset}``, default ``clean_{dataset}``),
PIPELINE_ATHENA_REPORTS_TABLE (default ``quarantine_reports``), PIPELINE_ATHENA_STATUS_TABLE
(default ``file_status``), POWERTOOLS_*. (PIPELINE_BUCKET_ATHENA_RESULTS is set by the wiring; the
workgroup enforces the result location, so the code does not read it.)
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import core
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pipeline_shared import aws
from pipeline_shared.tracing import tracer
from pipeline_shared.wiring import env

if TYPE_CHECKING:
    from pathlib import Path

    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError

PLUGIN = "api"
STATUS_INDEX = "by-dataset"
#: Athena errors that mean "no such query (for you)": an unknown id, or (with the role scoped to
#: the workgroup) a query of another workgroup.
_NO_SUCH_QUERY = ("InvalidRequestException", "ResourceNotFoundException", "AccessDeniedException")

#: Where the dataset contracts are read (None: the ones packaged with ``pipeline_shared``).
CONTRACTS_DIR: Path | None = None
#: Pages of the by-dataset index read to follow one upload at most.
MAX_FOLLOW_PAGES = 20

logger = Logger()
metrics = Metrics()
_keys: dict[str, bytes] = {}
#: (method, rule, function) of every route, registered on the resolver when it is built (``resolver``).
_ROUTES: list[tuple[str, str, Callable[..., Response]]] = []
# Most requests emit no metric of their own (API Gateway counts them): that is not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def _route(method: str, rule: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Like Powertools' ``app.get``/``app.post``: the route is registered when ``resolver`` builds the app."""

    def register(function: Callable[..., Response]) -> Callable[..., Response]:
        _ROUTES.append((method, rule, function))
        return function

    return register


@functools.cache
def resolver() -> APIGatewayRestResolver:
    """The Powertools ``APIGatewayRestResolver`` with every route and error handler, built at the
    first request: importing ``aws_lambda_powertools.event_handler`` loads all of Powertools'
    resolvers (AppSync and asyncio among them), too much for the cold-start import budget."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    app = APIGatewayRestResolver()
    for method, rule, function in _ROUTES:
        app.route(rule, method)(function)
    app.exception_handler(core.ApiError)(api_error)
    app.not_found(route_not_found)
    app.exception_handler(Exception)(internal_error)
    return app


def workgroup() -> str:
    return env.athena_workgroup()


def tables() -> core.Tables:
    return core.Tables.from_environment(os.environ, database=env.glue_database())


def known_datasets() -> tuple[str, ...]:
    """Datasets with a contract (packaged with ``pipeline_shared``), read once per container."""
    return _known_in(CONTRACTS_DIR)


@functools.cache
def _known_in(directory: Path | None) -> tuple[str, ...]:
    from pipeline_shared.contracts import known_datasets as from_contracts

    return from_contracts(directory)


def dataset_contract(name: str) -> Any:
    """The contract of the dataset in the path: 400 malformed, 404 unknown."""
    from pipeline_shared.contracts import load_contract

    dataset = core.parse_dataset(name, known_datasets(), field="dataset", unknown=core.NotFound)
    return load_contract(dataset, CONTRACTS_DIR)


def limits() -> core.ApiLimits:
    try:
        return core.ApiLimits.from_environment(os.environ)
    except ValueError as exc:
        raise env.ConfigurationError(str(exc)) from None


def kms_key_id() -> str:
    return env.kms_key_arn()


def tokenisation_key() -> bytes:
    """The HMAC key from the SecureString parameter (GetParameter WithDecryption), once per container."""
    from pipeline_shared.cleansing import key_from_parameter

    name = env.parameter("tokenisation-key")
    key = _keys.get(name)
    if key is None:
        value = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        key = _keys[name] = key_from_parameter(value, name)
    return key


def raw_body() -> bytes:
    """The request body as bytes (API Gateway base64-encodes binary media types)."""
    event = resolver().current_event
    body = event.body
    if body is None:
        return b""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise core.BadRequest("the request body is marked base64-encoded but is not valid base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise core.BadRequest("the request body is not UTF-8 text") from None


def presign_get(expiry_seconds: int) -> Any:
    def _sign(bucket: str, key: str) -> str:
        return aws.client(aws.PRESIGN).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expiry_seconds
        )

    return _sign


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    from aws_lambda_powertools.event_handler import Response, content_types

    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


# ------------------------------------------------------------------------------------------------
# routes
# ------------------------------------------------------------------------------------------------


@_route("GET", "/files/<file_id>")
@tracer.capture_method
def get_file(file_id: str) -> Response:
    fid = core.parse_file_id(file_id)
    now = datetime.now(UTC)
    found = aws.client("dynamodb").get_item(TableName=env.table("status"), Key={"file_id": {"S": fid}})
    item = core.from_item(found["Item"]) if "Item" in found else None
    view = core.file_status(item, now=now)
    if view is None or item is None:
        raise core.NotFound(f"no status for file {fid} (unknown, or expired)")
    if item.get("status") == core.AWAITING_UPLOAD:
        view = core.follow_upload(item, _records_since(item), now=now)
    if view.get("status") in ("processed", "quarantined"):
        links = core.downloads(
            view, clean_bucket=env.bucket("clean"), quarantine_bucket=env.bucket("quarantine"),
            presign=presign_get(limits().presign_expiry_seconds),
        )
        if links:
            view["downloads"] = links
    return _json(200, view)


def _records_since(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Status items of the upload's dataset updated since it was handed out, of its key."""
    client = aws.client("dynamodb")
    request: dict[str, Any] = {
        "TableName": env.table("status"),
        "IndexName": STATUS_INDEX,
        "KeyConditionExpression": "#d = :d AND #u >= :u",
        "FilterExpression": "#k = :k",
        "ExpressionAttributeNames": {"#d": "dataset", "#u": "updated_at", "#k": "key"},
        "ExpressionAttributeValues": {
            ":d": {"S": str(item["dataset"])}, ":u": {"S": str(item["updated_at"])}, ":k": {"S": str(item["key"])},
        },
    }
    records: list[dict[str, Any]] = []
    for _ in range(MAX_FOLLOW_PAGES):
        page = client.query(**request)
        records.extend(core.from_item(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page or len(records) >= core.MAX_FOLLOW_ITEMS:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return records


@_route("POST", "/datasets/<name>/files")
@tracer.capture_method
def request_upload(name: str) -> Response:
    contract = dataset_contract(name)
    api = limits()
    request = core.parse_upload_request(
        raw_body(), dataset=contract.name, file_format=contract.format, max_bytes=api.upload_max_bytes
    )
    import uuid

    bucket, key_id, table = env.bucket("landing"), kms_key_id(), env.table("status")
    ddb = aws.client("dynamodb")
    for attempt in range(3):
        now = datetime.now(UTC)
        upload_id = uuid.uuid4().hex
        key = core.upload_key(contract.name, upload_id, request.filename, now=now)
        item = core.upload_item(
            upload_id=upload_id, dataset=contract.name, bucket=bucket, key=key, request=request, now=now,
            expiry_seconds=api.presign_expiry_seconds, ttl_days=env.status_ttl_days(),
            environment=env.environment_name(),
        )
        try:
            ddb.put_item(TableName=table, Item=core.to_item(item), ConditionExpression="attribute_not_exists(file_id)")
            break
        except Exception as exc:  # a random 128-bit id already taken: draw another
            if aws.error_code(exc) != "ConditionalCheckFailedException" or attempt == 2:
                raise
    put = core.presigned_put(request, bucket=bucket, key=key, kms_key_id=key_id)
    url = aws.client(aws.PRESIGN).generate_presigned_url(
        "put_object", Params=put.params, ExpiresIn=api.presign_expiry_seconds
    )
    metrics.add_metric(name="UploadsRequested", unit=MetricUnit.Count, value=1)
    logger.info("upload handed out", extra={"upload_id": upload_id, "key": key, "size": request.size})
    return _json(201, core.upload_response(
        upload_id=upload_id, key=key, url=url, put=put, expires_at=item["upload_expires_at"]
    ))


@_route("POST", "/datasets/<name>/cleanse")
@tracer.capture_method
def cleanse(name: str) -> Response:
    contract = dataset_contract(name)
    api = limits()
    request = core.parse_cleanse_body(
        raw_body(), resolver().current_event.headers.get("Content-Type"), contract=contract,
        max_bytes=api.sync_max_bytes, max_rows=api.sync_max_rows,
    )
    tokenise = None
    if contract.pii_columns:
        from pipeline_shared.cleansing import Tokeniser

        tokenise = Tokeniser(tokenisation_key())
    answer = core.cleanse_records(request, contract=contract, tokenise=tokenise, today=datetime.now(UTC).date())
    metrics.add_metric(name="RowsCleansedSync", unit=MetricUnit.Count, value=answer["rows_in"])
    logger.info("body cleansed", extra={k: answer[k] for k in ("dataset", "rows_in", "valid", "rejected", "duplicates")})
    return _json(200, answer)


@_route("GET", "/datasets/<name>/stats")
@tracer.capture_method
def get_dataset_stats(name: str) -> Response:
    dataset = core.parse_dataset(name, known_datasets(), field="dataset", unknown=core.NotFound)
    days = core.parse_days(resolver().current_event.get_query_string_value("days"))
    since, until = core.stats_window(datetime.now(UTC), days)
    client = aws.client("dynamodb")
    request: dict[str, Any] = {
        "TableName": env.table("status"),
        "IndexName": STATUS_INDEX,
        "KeyConditionExpression": "#d = :d AND #u BETWEEN :since AND :until",
        "ProjectionExpression": "#s, #c, #u",
        "ExpressionAttributeNames": {"#d": "dataset", "#u": "updated_at", "#s": "status", "#c": "counts"},
        "ExpressionAttributeValues": {":d": {"S": dataset}, ":since": {"S": since}, ":until": {"S": until}},
    }
    items: list[dict[str, Any]] = []
    truncated = False
    while True:
        page = client.query(**request)
        items.extend(core.from_item(i) for i in page.get("Items", []))
        if len(items) >= core.MAX_STATS_ITEMS:
            truncated = len(items) > core.MAX_STATS_ITEMS or "LastEvaluatedKey" in page
            items = items[: core.MAX_STATS_ITEMS]
            break
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return _json(200, core.summarise(items, dataset=dataset, days=days, since=since, until=until, truncated=truncated))


@_route("POST", "/queries")
@tracer.capture_method
def start_query() -> Response:
    request = core.parse_query_request(
        resolver().current_event.decoded_body, known_datasets=known_datasets(), today=datetime.now(UTC).date()
    )
    names = tables()
    sql = core.build_sql(request, names)
    try:
        started = aws.client("athena").start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": names.database},
            WorkGroup=workgroup(),
        )
    except Exception as exc:
        if aws.error_code(exc) == "TooManyRequestsException":
            raise core.TooManyRequests("too many queries are running: retry in a little while") from exc
        raise
    query_id = started["QueryExecutionId"]
    metrics.add_metric(name="QueriesStarted", unit=MetricUnit.Count, value=1)
    logger.info("query started", extra={"query_id": query_id, **request.to_dict()})
    return _json(202, {"id": query_id, "state": "QUEUED", **request.to_dict()})


@_route("GET", "/queries/<query_id>")
@tracer.capture_method
def get_query(query_id: str) -> Response:
    qid = core.parse_query_id(query_id)
    event = resolver().current_event
    page = core.parse_page(event.get_query_string_value("max_results"), event.get_query_string_value("next_token"))
    athena = aws.client("athena")
    try:
        execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    except Exception as exc:
        code = aws.error_code(exc)
        if code in _NO_SUCH_QUERY:
            if code == "AccessDeniedException":  # expected for other workgroups' queries; else the role is wrong
                logger.warning("GetQueryExecution denied: answered 404", extra={"query_id": qid})
            raise core.NotFound(f"no query {qid}") from exc
        raise
    if not core.belongs_to(execution, workgroup()):
        raise core.NotFound(f"no query {qid}")
    view = core.execution_view(execution)
    if view["state"] == "SUCCEEDED":
        request: dict[str, Any] = {"QueryExecutionId": qid, "MaxResults": page.max_results}
        if page.next_token:
            request["NextToken"] = page.next_token
        try:
            results = athena.get_query_results(**request)
        except Exception as exc:
            if page.next_token and aws.error_code(exc) == "InvalidRequestException":
                raise core.BadRequest("next_token is not valid for this query") from exc
            raise
        view.update(core.result_page(results, first_page=page.next_token is None))
    elif view["state"] == "FAILED":
        metrics.add_metric(name="QueriesFailed", unit=MetricUnit.Count, value=1)
    return _json(200, view)


# ------------------------------------------------------------------------------------------------
# errors: {"message": ...}
# ------------------------------------------------------------------------------------------------


def api_error(error: core.ApiError) -> Response:
    logger.info("request refused", extra={"status_code": error.status_code, "reason": error.message})
    metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    return _json(error.status_code, error.body(), error.headers or None)


def route_not_found(_: NotFoundError) -> Response:
    event = resolver().current_event
    return api_error(core.no_route(event.http_method.upper(), event.path))


def internal_error(_: Exception) -> Response:
    logger.exception("request failed")
    request_id = resolver().current_event.request_context.request_id
    return _json(500, {"message": f"internal error (request id {request_id})"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    identity = (event.get("requestContext") or {}).get("identity") or {}
    logger.append_keys(caller=identity.get("userArn"), route=f"{event.get('httpMethod')} {event.get('resource')}")
    return resolver().resolve(event, context)
