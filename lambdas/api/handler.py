"""api — Lambda handler (thin) behind API Gateway (REST, Lambda proxy integration, IAM auth).

Routes (Powertools ``APIGatewayRestResolver``; validation, SQL and response shapes in ``core``)::

    GET  /files/{id}              → 200 the file's status item · 400 malformed id · 404 unknown/expired
    GET  /datasets/{name}/stats   → 200 counts by status + row totals (``?days=7``, 1..90) · 404 unknown dataset
    POST /queries                 → 202 {"id", "state": "QUEUED", ...} (allow-listed query, Athena) · 400 · 429
    GET  /queries/{id}            → 200 {"state", ...}; SUCCEEDED: {"columns", "rows", "next_token"}
                                    (``?max_results=100&next_token=...``); FAILED/CANCELLED: "reason" · 404

Errors are ``{"message": "..."}`` with 400/404/405/429; anything unexpected is logged and answered
500 ``{"message": "internal error (request id ...)"}``. Queries run asynchronously because API
Gateway gives an integration 29-30 s at most: the caller polls ``GET /queries/{id}``.

Environment: PIPELINE_TABLE_STATUS, PIPELINE_ATHENA_WORKGROUP, PIPELINE_GLUE_DATABASE, PIPELINE_ENV,
optional PIPELINE_ATHENA_CLEAN_TABLE (template with ``{dataset}``, default ``clean_{dataset}``),
PIPELINE_ATHENA_REPORTS_TABLE (default ``quarantine_reports``), PIPELINE_ATHENA_STATUS_TABLE
(default ``file_status``), POWERTOOLS_*. (PIPELINE_BUCKET_ATHENA_RESULTS is set by the wiring; the
workgroup enforces the result location, so the code does not read it.)
"""

from __future__ import annotations

import functools
import os
import warnings
from datetime import UTC, datetime
from typing import Any

import core
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pipeline_shared import aws, env
from pipeline_shared.tracing import tracer

PLUGIN = "api"
STATUS_INDEX = "by-dataset"
#: Athena errors that mean "no such query (for you)": an unknown id, or (with the role scoped to
#: the workgroup) a query of another workgroup.
_NO_SUCH_QUERY = ("InvalidRequestException", "ResourceNotFoundException", "AccessDeniedException")

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
# Most requests emit no metric of their own (API Gateway counts them): that is not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def _required(name: str, hint: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise env.ConfigurationError(f"environment variable {name} is not set ({hint})")
    return value


def workgroup() -> str:
    return _required("PIPELINE_ATHENA_WORKGROUP", "the Athena workgroup queries run in")


def tables() -> core.Tables:
    database = _required("PIPELINE_GLUE_DATABASE", "the Glue database the queries read")
    return core.Tables.from_environment(os.environ, database=database)


@functools.cache
def known_datasets() -> tuple[str, ...]:
    """Datasets with a contract (packaged with ``pipeline_shared``), read once per container."""
    from pipeline_shared.contracts import known_datasets as from_contracts

    return from_contracts()


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


# ------------------------------------------------------------------------------------------------
# routes
# ------------------------------------------------------------------------------------------------


@app.get("/files/<file_id>")
@tracer.capture_method
def get_file(file_id: str) -> Response:
    fid = core.parse_file_id(file_id)
    found = aws.client("dynamodb").get_item(TableName=env.table("status"), Key={"file_id": {"S": fid}})
    view = core.file_status(core.from_item(found["Item"]) if "Item" in found else None, now=datetime.now(UTC))
    if view is None:
        raise core.NotFound(f"no status for file {fid} (unknown, or expired)")
    return _json(200, view)


@app.get("/datasets/<name>/stats")
@tracer.capture_method
def get_dataset_stats(name: str) -> Response:
    dataset = core.parse_dataset(name, known_datasets(), field="dataset", unknown=core.NotFound)
    days = core.parse_days(app.current_event.get_query_string_value("days"))
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


@app.post("/queries")
@tracer.capture_method
def start_query() -> Response:
    request = core.parse_query_request(
        app.current_event.decoded_body, known_datasets=known_datasets(), today=datetime.now(UTC).date()
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


@app.get("/queries/<query_id>")
@tracer.capture_method
def get_query(query_id: str) -> Response:
    qid = core.parse_query_id(query_id)
    page = core.parse_page(
        app.current_event.get_query_string_value("max_results"), app.current_event.get_query_string_value("next_token")
    )
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


@app.exception_handler(core.ApiError)
def api_error(error: core.ApiError) -> Response:
    logger.info("request refused", extra={"status_code": error.status_code, "reason": error.message})
    metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    return _json(error.status_code, error.body(), error.headers or None)


@app.not_found
def route_not_found(_: NotFoundError) -> Response:
    event = app.current_event
    return api_error(core.no_route(event.http_method.upper(), event.path))


@app.exception_handler(Exception)
def internal_error(_: Exception) -> Response:
    logger.exception("request failed")
    request_id = app.current_event.request_context.request_id
    return _json(500, {"message": f"internal error (request id {request_id})"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    identity = (event.get("requestContext") or {}).get("identity") or {}
    logger.append_keys(caller=identity.get("userArn"), route=f"{event.get('httpMethod')} {event.get('resource')}")
    return app.resolve(event, context)
