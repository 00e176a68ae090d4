"""api handler on moto: API Gateway (REST, Lambda proxy) events in, JSON responses out.

Status items are written in notify's exact layout (its own core builds them); the Athena workgroup
and the results bucket are created here. moto's Athena runs no SQL: a query SUCCEEDS on the first
poll, with the rows queued on the backend beforehand (empty otherwise).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from plugin_loader import load_plugin_module

import main

REGION = "eu-west-1"  # the functional conftest's region

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ACCOUNT = "123456789012"  # moto's default account
WORKGROUP = "pk-test-queries"
DATABASE = "pk_test"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
FILE_ID = "0123456789abcdef0123456789abcdef"
#: what the API lists as known: one dataset per contract file (the shipped ones and any a user adds)
KNOWN = ", ".join(main.dataset_names())


# --------------------------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture
def api_env(aws, monkeypatch: pytest.MonkeyPatch):
    """The pipeline's mocked account plus what the api plug-in needs: the athena-results bucket
    and the workgroup (results there, SSE-KMS), and its environment variables."""
    bucket = "pk-test-athena-results"
    aws.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    aws.client("athena").create_work_group(
        Name=WORKGROUP,
        Configuration={
            "ResultConfiguration": {
                "OutputLocation": f"s3://{bucket}/results/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": "alias/pk-test"},
            },
            "EnforceWorkGroupConfiguration": True,
            "BytesScannedCutoffPerQuery": 10_485_760,
        },
        Tags=[{"Key": "environment", "Value": "test"}],
    )
    monkeypatch.setenv("PIPELINE_BUCKET_ATHENA_RESULTS", bucket)
    monkeypatch.setenv("PIPELINE_ATHENA_WORKGROUP", WORKGROUP)
    monkeypatch.setenv("PIPELINE_GLUE_DATABASE", DATABASE)
    return aws


@pytest.fixture
def api(api_env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "api")
    return load_plugin_module("api", "handler")


@pytest.fixture
def call(api, context):
    """``call(method, path, ...)`` → (status code, parsed JSON body, headers)."""

    def _call(method: str, path: str, **kwargs: Any) -> tuple[int, Any, dict[str, Any]]:
        response = api.lambda_handler(rest_event(method, path, **kwargs), context)
        body = json.loads(response["body"]) if response.get("body") else None
        headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
        headers.update(response.get("headers") or {})
        return response["statusCode"], body, headers

    return _call


def rest_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    request_id: str = REQUEST_ID,
) -> dict[str, Any]:
    """A Lambda proxy event as API Gateway (REST, stage v1, IAM auth) sends it."""
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    headers = {
        "Accept": "application/json",
        "Host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "User-Agent": "python-requests/2.32",
        "X-Amz-Date": "20240531T120000Z",
        "X-Forwarded-For": "203.0.113.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": resource or path,
            "httpMethod": method,
            "extendedRequestId": "Xyz1AbCdoAMFpQw=",
            "requestTime": "31/May/2024:12:00:00 +0000",
            "path": f"/v1{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": "v1",
            "domainPrefix": "abc123",
            "requestTimeEpoch": 1717156800000,
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": ACCOUNT,
                "cognitoIdentityId": None,
                "caller": "AIDAEXAMPLE",
                "sourceIp": "203.0.113.10",
                "principalOrgId": None,
                "accessKey": "AKIAEXAMPLE",
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": f"arn:aws:iam::{ACCOUNT}:user/analyst",
                "userAgent": "python-requests/2.32",
                "user": "AIDAEXAMPLE",
            },
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "apiId": "abc123",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def put_status(aws, *, file_id: str = FILE_ID, dataset: str = "orders", status: str = "processed",
               counts: dict[str, int] | None = None, now: datetime | None = None, ttl_days: int = 30) -> None:
    """A status item exactly as notify writes it."""
    from pipeline_shared.wiring.messages import StageMessage

    notify = load_plugin_module("notify", "core")
    message = StageMessage(
        file_id=file_id, dataset=dataset, status=status,
        produced_by="archive" if status == "processed" else "validate",
        bucket="pk-test-landing", key=f"{dataset}/in/{file_id[:6]}.csv", etag="abc", size=42,
        received_at="2024-05-01T10:00:00.000Z",
        counts=counts if counts is not None else {"records_in": 5, "valid": 5, "rejected": 0, "out": 4},
        locations={"landing": f"s3://pk-test-landing/{dataset}/in/{file_id[:6]}.csv"},
        reason=None if status == "processed" else "header mismatch: missing column(s) email",
    )
    item = notify.status_item(message, environment="test", now=now or datetime.now(UTC), ttl_days=ttl_days)
    aws.client("dynamodb").put_item(TableName=aws.tables["status"], Item=notify.to_item(item))


def athena_backend():
    from moto.athena.models import athena_backends

    return athena_backends[ACCOUNT][REGION]


def queue_athena_result(rows: list[list[str | None]], columns: list[tuple[str, str]]) -> None:
    """The rows moto returns for the next query started (first row: the header, as Athena does)."""
    from moto.athena.models import QueryResults

    header = [{"VarCharValue": name} for name, _ in columns]
    data = [{"Data": header}] + [
        {"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows
    ]
    info = [{"Name": n, "Label": n, "Type": t, "CatalogName": "hive", "SchemaName": "", "TableName": "",
             "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False} for n, t in columns]
    athena_backend().query_results_queue.append(QueryResults(rows=data, column_info=info))


def start(call, **body: Any) -> str:
    status, answer, _ = call("POST", "/queries", body={"dataset": "orders", "query": "row_counts_per_day", **body})
    assert status == 202, answer
    return answer["id"]


# --------------------------------------------------------------------------------------------
# GET /files/{id}
# --------------------------------------------------------------------------------------------


def test_file_status_is_returned(api_env, call):
    put_status(api_env, status="quarantined", counts={"records_in": 0, "valid": 0, "rejected": 0, "bytes_in": 9})
    status, body, headers = call("GET", f"/files/{FILE_ID}", resource="/files/{id}", path_parameters={"id": FILE_ID})
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert {k: body[k] for k in ("file_id", "dataset", "status", "reason", "environment")} == {
        "file_id": FILE_ID, "dataset": "orders", "status": "quarantined",
        "reason": "header mismatch: missing column(s) email", "environment": "test",
    }
    assert body["counts"] == {"records_in": 0, "valid": 0, "rejected": 0, "bytes_in": 9}
    assert "expires_at" not in body


def test_unknown_file_is_404(api_env, call):
    status, body, _ = call("GET", f"/files/{FILE_ID}", resource="/files/{id}", path_parameters={"id": FILE_ID})
    assert (status, body) == (404, {"message": f"no status for file {FILE_ID} (unknown, or expired)"})


def test_expired_file_is_404(api_env, call):
    put_status(api_env, now=datetime.now(UTC) - timedelta(days=2), ttl_days=1)
    status, _, _ = call("GET", f"/files/{FILE_ID}", resource="/files/{id}", path_parameters={"id": FILE_ID})
    assert status == 404


def test_malformed_file_id_is_400(api_env, call):
    status, body, _ = call("GET", "/files/abc", resource="/files/{id}", path_parameters={"id": "abc"})
    assert (status, body) == (400, {"message": "file id 'abc' is not valid: a file id is 32 hexadecimal characters"})


# --------------------------------------------------------------------------------------------
# GET /datasets/{name}/stats
# --------------------------------------------------------------------------------------------


def test_dataset_stats_count_statuses_and_rows(api_env, call):
    now = datetime.now(UTC)
    put_status(api_env, file_id="a" * 32, counts={"records_in": 5, "valid": 5, "rejected": 0, "out": 4}, now=now)
    put_status(api_env, file_id="b" * 32, counts={"records_in": 11, "valid": 10, "rejected": 1, "out": 10},
               now=now - timedelta(days=1))
    put_status(api_env, file_id="c" * 32, status="quarantined", counts={"records_in": 2, "valid": 0, "rejected": 2},
               now=now - timedelta(days=2))
    put_status(api_env, file_id="d" * 32, now=now - timedelta(days=20))  # outside the window
    put_status(api_env, file_id="e" * 32, dataset="events", now=now)  # another dataset
    status, body, _ = call("GET", "/datasets/orders/stats", resource="/datasets/{name}/stats",
                           path_parameters={"name": "orders"}, query={"days": "7"})
    assert status == 200
    assert {k: body[k] for k in ("dataset", "days", "files", "by_status", "rows", "truncated")} == {
        "dataset": "orders", "days": 7, "files": 3,
        "by_status": {"processed": 2, "quarantined": 1},
        "rows": {"records_in": 18, "valid": 15, "rejected": 3, "duplicates": 0, "out": 14},
        "truncated": False,
    }
    assert body["last_updated_at"].startswith(now.strftime("%Y-%m-%dT"))


def test_stats_of_an_unknown_dataset_is_404(api_env, call):
    status, body, _ = call("GET", "/datasets/payroll/stats", resource="/datasets/{name}/stats",
                           path_parameters={"name": "payroll"})
    assert (status, body) == (404, {"message": f"unknown dataset 'payroll' (known: {KNOWN})"})


def test_stats_days_out_of_range_is_400(api_env, call):
    status, body, _ = call("GET", "/datasets/orders/stats", resource="/datasets/{name}/stats",
                           path_parameters={"name": "orders"}, query={"days": "365"})
    assert (status, body) == (400, {"message": "days must be a whole number from 1 to 90, got '365'"})


# --------------------------------------------------------------------------------------------
# POST /queries
# --------------------------------------------------------------------------------------------


def test_query_is_started_in_the_workgroup_and_answered_202(api_env, call):
    status, body, _ = call("POST", "/queries", body={"dataset": "orders", "query": "row_counts_per_day",
                                                      "from": "2024-05-01", "to": "2024-05-31"})
    assert status == 202
    assert body == {"id": body["id"], "state": "QUEUED", "query": "row_counts_per_day", "dataset": "orders",
                    "from": "2024-05-01", "to": "2024-05-31", "limit": 100}
    execution = api_env.client("athena").get_query_execution(QueryExecutionId=body["id"])["QueryExecution"]
    assert execution["WorkGroup"] == WORKGROUP
    assert execution["QueryExecutionContext"] == {"Database": DATABASE}
    assert execution["Query"].startswith('SELECT "date" AS day, count(*) AS row_count')
    assert 'FROM "pk_test"."clean_orders"' in execution["Query"]
    assert "BETWEEN '2024-05-01' AND '2024-05-31'" in execution["Query"]


def test_clean_table_name_comes_from_the_environment(api_env, call, monkeypatch):
    monkeypatch.setenv("PIPELINE_ATHENA_CLEAN_TABLE", "{dataset}_parquet")
    query_id = start(call)
    execution = api_env.client("athena").get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert 'FROM "pk_test"."orders_parquet"' in execution["Query"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, 'a JSON request body is required, e.g. {"dataset": "orders", "query": "row_counts_per_day"}'),
        ("not json", "the request body is not valid JSON (Expecting value: line 1 column 1 (char 0)); "
                     'expected e.g. {"dataset": "orders", "query": "row_counts_per_day"}'),
        ({"dataset": "orders", "query": "row_counts_per_day", "sql": "SELECT * FROM secrets"},
         "unknown field(s) 'sql' (allowed: dataset, query, from, to, limit); "
         "queries are chosen by name, SQL is never accepted"),
        ({"dataset": "orders' OR '1'='1", "query": "row_counts_per_day"},
         "field 'dataset' \"orders' OR '1'='1\" is not a dataset name (lower-case letters, digits, '_' and '-'; "
         f"known: {KNOWN})"),
        ({"dataset": "orders", "query": "drop_everything"},
         "field 'query' must be one of latest_status_per_file, rejected_rows_by_reason, row_counts_per_day; "
         "got 'drop_everything'"),
    ],
)
def test_bad_query_requests_are_400_and_start_nothing(api_env, call, body, message):
    status, answer, _ = call("POST", "/queries", body=body)
    assert (status, answer) == (400, {"message": message})
    assert api_env.client("athena").list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"] == []


def test_missing_workgroup_setting_is_a_500_that_names_no_secret(api_env, call, monkeypatch):
    monkeypatch.delenv("PIPELINE_ATHENA_WORKGROUP")
    status, body, _ = call("POST", "/queries", body={"dataset": "orders", "query": "row_counts_per_day"})
    assert (status, body) == (500, {"message": f"internal error (request id {REQUEST_ID})"})


# --------------------------------------------------------------------------------------------
# GET /queries/{id}
# --------------------------------------------------------------------------------------------


def test_succeeded_query_returns_typed_rows(api_env, call):
    queue_athena_result([["2024-05-02", "7", "2"], ["2024-05-01", "10", "3"]],
                        [("day", "varchar"), ("row_count", "bigint"), ("files", "bigint")])
    query_id = start(call)
    status, body, _ = call("GET", f"/queries/{query_id}", resource="/queries/{id}", path_parameters={"id": query_id})
    assert status == 200
    assert (body["id"], body["state"], body["finished"]) == (query_id, "SUCCEEDED", True)
    assert body["columns"] == [{"name": "day", "type": "varchar"}, {"name": "row_count", "type": "bigint"},
                               {"name": "files", "type": "bigint"}]
    assert body["rows"] == [{"day": "2024-05-02", "row_count": 7, "files": 2},
                            {"day": "2024-05-01", "row_count": 10, "files": 3}]
    assert body["next_token"] is None


def test_running_query_returns_its_state_only(api_env, call):
    from moto.moto_api import state_manager

    query_id = start(call)
    state_manager.set_transition(model_name="athena::execution", transition={"progression": "manual", "times": 99})
    try:
        status, body, _ = call("GET", f"/queries/{query_id}", resource="/queries/{id}",
                               path_parameters={"id": query_id})
    finally:
        state_manager.unset_transition(model_name="athena::execution")
    assert (status, body["state"], body["finished"]) == (200, "QUEUED", False)
    assert "rows" not in body


def test_failed_query_returns_the_reason(api_env, call):
    query_id = start(call)
    athena_backend().executions[query_id].status = "FAILED"
    status, body, _ = call("GET", f"/queries/{query_id}", resource="/queries/{id}", path_parameters={"id": query_id})
    assert (status, body["state"], body["reason"]) == (200, "FAILED", "query failed")
    assert "rows" not in body


def test_query_of_another_workgroup_is_404(api_env, call):
    athena = api_env.client("athena")
    athena.create_work_group(Name="someone-else", Configuration={}, Tags=[{"Key": "k", "Value": "v"}])
    other = athena.start_query_execution(QueryString="SELECT 1", WorkGroup="someone-else")["QueryExecutionId"]
    status, body, _ = call("GET", f"/queries/{other}", resource="/queries/{id}", path_parameters={"id": other})
    assert (status, body) == (404, {"message": f"no query {other}"})


def test_unknown_query_id_is_404(api_env, api, call, monkeypatch):
    # moto answers an unknown id with a server error; Athena answers InvalidRequestException.
    from botocore.exceptions import ClientError
    from pipeline_shared import aws as shared_aws

    def not_found(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "InvalidRequestException",
                                     "Message": "QueryExecution 6631cd35-... was not found"}}, "GetQueryExecution")

    monkeypatch.setattr(shared_aws.client("athena"), "get_query_execution", not_found)
    unknown = "6631cd35-a8a0-4b83-9f23-331e15165234"
    status, body, _ = call("GET", f"/queries/{unknown}", resource="/queries/{id}", path_parameters={"id": unknown})
    assert (status, body) == (404, {"message": f"no query {unknown}"})


def test_malformed_query_id_is_400(api_env, call):
    status, body, _ = call("GET", "/queries/1;DROP", resource="/queries/{id}", path_parameters={"id": "1;DROP"})
    assert status == 400
    assert body["message"].startswith("query id '1;DROP' is not valid")


# --------------------------------------------------------------------------------------------
# routing, logging
# --------------------------------------------------------------------------------------------


def test_unknown_route_is_404_json(api_env, call):
    status, body, _ = call("GET", "/admin")
    assert status == 404
    assert body["message"].startswith("no route for GET '/admin' (routes: ")


def test_wrong_method_is_405_with_allow(api_env, call):
    status, body, headers = call("DELETE", "/queries")
    assert (status, headers["Allow"]) == (405, "POST")
    assert body == {"message": "method DELETE is not allowed on '/queries' (allowed: POST)"}


def test_log_lines_carry_the_api_gateway_request_id(api_env, api, call, logs):
    logs.attach(api)
    start(call)
    entries = [e for e in logs("api") if e.get("message") == "query started"]
    assert entries and entries[0]["correlation_id"] == REQUEST_ID
    assert entries[0]["query"] == "row_counts_per_day"
