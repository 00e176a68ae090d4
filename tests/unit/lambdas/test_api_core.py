"""api core: request validation (with its messages), the query allow-list and its SQL, identifier
and literal quoting, injection attempts refused, response shaping. Pure: no AWS."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from plugin_loader import load_plugin_module

KNOWN = ("customers", "events", "orders")
TODAY = date(2024, 5, 31)
NOW = datetime(2024, 5, 31, 12, 0, 0, tzinfo=UTC)
FILE_ID = "0123456789abcdef0123456789abcdef"
QUERY_ID = "6631cd35-a8a0-4b83-9f23-331e15165234"


@pytest.fixture(scope="module")
def core():
    return load_plugin_module("api", "core")


@pytest.fixture
def parse(core):
    def _parse(body):
        return core.parse_query_request(
            body if isinstance(body, (str, bytes)) or body is None else json.dumps(body),
            known_datasets=KNOWN,
            today=TODAY,
        )

    return _parse


def refused(core, call, *args, **kwargs):
    with pytest.raises(core.ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


# --------------------------------------------------------------------------------------------
# routes
# --------------------------------------------------------------------------------------------


def test_routes_are_the_documented_six(core):
    assert core.ROUTES == (
        ("GET", "/files/{id}"),
        ("GET", "/datasets/{name}/stats"),
        ("POST", "/queries"),
        ("GET", "/queries/{id}"),
        ("POST", "/datasets/{name}/files"),
        ("POST", "/datasets/{name}/cleanse"),
    )


def test_allowed_methods_match_path_templates(core):
    assert core.allowed_methods("/queries") == ["POST"]
    assert core.allowed_methods("/queries/abc") == ["GET"]
    assert core.allowed_methods("/datasets/orders/stats") == ["GET"]
    assert core.allowed_methods("/datasets/orders") == []


def test_wrong_method_on_a_known_path_is_405_with_allow(core):
    error = core.no_route("DELETE", "/queries/abc")
    assert (error.status_code, error.headers) == (405, {"Allow": "GET"})
    assert error.message == "method DELETE is not allowed on '/queries/abc' (allowed: GET)"


def test_unknown_path_is_404_listing_the_routes(core):
    error = core.no_route("GET", "/nope")
    assert error.status_code == 404
    assert error.message.startswith("no route for GET '/nope' (routes: GET /files/{id}, ")


# --------------------------------------------------------------------------------------------
# GET /files/{id}
# --------------------------------------------------------------------------------------------


def test_file_id_is_lower_cased(core):
    assert core.parse_file_id(FILE_ID.upper()) == FILE_ID


@pytest.mark.parametrize("raw", ["abc", FILE_ID + "0", "g" * 32, "' OR '1'='1", None])
def test_malformed_file_id_is_400(core, raw):
    error = refused(core, core.parse_file_id, raw)
    assert error.status_code == 400
    assert "is not valid: a file id is 32 hexadecimal characters" in error.message


def test_dynamodb_item_becomes_plain_values(core):
    item = {
        "file_id": {"S": FILE_ID},
        "size": {"N": "42"},
        "ratio": {"N": "0.5"},
        "counts": {"M": {"records_in": {"N": "5"}}},
        "flags": {"L": [{"BOOL": True}, {"NULL": True}]},
    }
    assert core.from_item(item) == {
        "file_id": FILE_ID, "size": 42, "ratio": 0.5, "counts": {"records_in": 5}, "flags": [True, None],
    }


def test_file_status_keeps_the_documented_fields_only(core):
    item = {"file_id": FILE_ID, "status": "processed", "dataset": "orders", "expires_at": 9_999_999_999, "x": 1}
    assert core.file_status(item, now=NOW) == {"file_id": FILE_ID, "status": "processed", "dataset": "orders"}


def test_expired_status_item_counts_as_missing(core):
    assert core.file_status({"file_id": FILE_ID, "expires_at": int(NOW.timestamp()) - 1}, now=NOW) is None


# --------------------------------------------------------------------------------------------
# GET /datasets/{name}/stats
# --------------------------------------------------------------------------------------------


def test_unknown_dataset_in_the_path_is_404(core):
    error = refused(core, core.parse_dataset, "payroll", KNOWN, unknown=core.NotFound)
    assert (error.status_code, error.message) == (404, "unknown dataset 'payroll' (known: customers, events, orders)")


def test_malformed_dataset_name_is_400(core):
    error = refused(core, core.parse_dataset, "Orders;--", KNOWN, unknown=core.NotFound)
    assert error.status_code == 400
    assert error.message.startswith("dataset 'Orders;--' is not a dataset name")


def test_days_default_and_bounds(core):
    assert core.parse_days(None) == core.DEFAULT_STATS_DAYS
    assert core.parse_days("90") == 90


@pytest.mark.parametrize("raw", ["0", "91", "-1", "7.5", "seven"])
def test_days_out_of_range_is_400(core, raw):
    assert refused(core, core.parse_days, raw).message == f"days must be a whole number from 1 to 90, got {raw!r}"


def test_stats_window_uses_the_status_item_timestamp_format(core):
    assert core.stats_window(NOW, 7) == ("2024-05-24T12:00:00.000000Z", "2024-05-31T12:00:00.000000Z")


def test_summarise_counts_statuses_and_sums_rows(core):
    items = [
        {"status": "processed", "updated_at": "2024-05-30T00:00:00.000000Z",
         "counts": {"records_in": 5, "valid": 5, "rejected": 0, "duplicates": 1, "out": 4, "bytes_in": 100}},
        {"status": "processed", "updated_at": "2024-05-31T00:00:00.000000Z",
         "counts": {"records_in": 11, "valid": 10, "rejected": 1, "out": 10, "bytes_out": 80}},
        {"status": "quarantined", "updated_at": "2024-05-29T00:00:00.000000Z",
         "counts": {"records_in": 2, "valid": 0, "rejected": 2}},
    ]
    stats = core.summarise(items, dataset="orders", days=7, since="s", until="u", truncated=False)
    assert stats == {
        "dataset": "orders", "days": 7, "from": "s", "to": "u", "files": 3,
        "by_status": {"processed": 2, "quarantined": 1},
        "rows": {"records_in": 18, "valid": 15, "rejected": 3, "duplicates": 1, "out": 14},
        "bytes": {"bytes_in": 100, "bytes_out": 80},
        "last_updated_at": "2024-05-31T00:00:00.000000Z",
        "truncated": False,
    }


# --------------------------------------------------------------------------------------------
# POST /queries: request validation
# --------------------------------------------------------------------------------------------


def test_minimal_request_gets_the_default_window_and_limit(core, parse):
    request = parse({"dataset": "orders", "query": "row_counts_per_day"})
    assert request == core.QueryRequest(
        query="row_counts_per_day", dataset="orders", date_from=date(2024, 5, 2), date_to=TODAY, limit=100
    )


def test_full_request_is_taken_as_given(core, parse):
    request = parse({"dataset": "events", "query": "latest_status_per_file", "from": "2024-01-01",
                     "to": "2024-01-31", "limit": 5})
    assert request.to_dict() == {"query": "latest_status_per_file", "dataset": "events", "from": "2024-01-01",
                                 "to": "2024-01-31", "limit": 5}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, 'a JSON request body is required, e.g. {"dataset": "orders", "query": "row_counts_per_day"}'),
        ("   ", 'a JSON request body is required, e.g. {"dataset": "orders", "query": "row_counts_per_day"}'),
        ('{"dataset": ', "the request body is not valid JSON (Expecting value: line 1 column 13 (char 12)); "
                         'expected e.g. {"dataset": "orders", "query": "row_counts_per_day"}'),
        ("[1, 2]", "the request body must be a JSON object, got list; "
                   'e.g. {"dataset": "orders", "query": "row_counts_per_day"}'),
        ({"dataset": "orders"}, "field 'query' is required: one of latest_status_per_file, "
                                "rejected_rows_by_reason, row_counts_per_day"),
        ({"query": "row_counts_per_day"}, "field 'dataset' is required: one of customers, events, orders"),
        ({"dataset": "orders", "query": "everything"},
         "field 'query' must be one of latest_status_per_file, rejected_rows_by_reason, row_counts_per_day; "
         "got 'everything'"),
        ({"dataset": "payroll", "query": "row_counts_per_day"},
         "unknown dataset 'payroll' (known: customers, events, orders)"),
        ({"dataset": "orders", "query": "row_counts_per_day", "from": "01/05/2024"},
         "field 'from' must be a date written YYYY-MM-DD, got '01/05/2024'"),
        ({"dataset": "orders", "query": "row_counts_per_day", "to": "2024-02-30"},
         "field 'to' is not a calendar date: '2024-02-30'"),
        ({"dataset": "orders", "query": "row_counts_per_day", "from": "2024-06-01", "to": "2024-05-01"},
         "'from' (2024-06-01) is after 'to' (2024-05-01)"),
        ({"dataset": "orders", "query": "row_counts_per_day", "from": "2022-01-01", "to": "2024-01-01"},
         "the date range covers 731 days, more than the 366 allowed"),
        ({"dataset": "orders", "query": "row_counts_per_day", "limit": 0},
         "field 'limit' must be a whole number from 1 to 1000, got 0"),
        ({"dataset": "orders", "query": "row_counts_per_day", "limit": True},
         "field 'limit' must be a whole number from 1 to 1000, got True"),
        ({"dataset": "orders", "query": "row_counts_per_day", "limit": "10"},
         "field 'limit' must be a whole number from 1 to 1000, got '10'"),
    ],
)
def test_bad_requests_are_400_with_a_clear_message(core, parse, body, message):
    error = refused(core, parse, body)
    assert (error.status_code, error.message) == (400, message)


def test_oversized_body_is_400(core, parse):
    error = refused(core, parse, json.dumps({"dataset": "orders", "query": "x" * 5000}))
    assert error.message == "the request body is larger than 4096 bytes"


# --------------------------------------------------------------------------------------------
# POST /queries: injection attempts never reach SQL
# --------------------------------------------------------------------------------------------


def test_raw_sql_field_is_refused(core, parse):
    error = refused(core, parse, {"dataset": "orders", "query": "row_counts_per_day", "sql": "DROP TABLE x"})
    assert error.message == (
        "unknown field(s) 'sql' (allowed: dataset, query, from, to, limit); "
        "queries are chosen by name, SQL is never accepted"
    )


@pytest.mark.parametrize(
    "dataset",
    ["orders' OR '1'='1", "orders; DROP TABLE clean_orders", 'orders"."secrets', "orders --", "orders\n", "ORDERS", ""],
)
def test_dataset_injection_is_refused(core, parse, dataset):
    error = refused(core, parse, {"dataset": dataset, "query": "row_counts_per_day"})
    assert error.status_code == 400
    assert " is not a dataset name (lower-case letters, digits, '_' and '-'; known: customers, events, orders)" in (
        error.message
    )


@pytest.mark.parametrize("date_value", ["2024-05-01' OR '1'='1", "2024-05-01; --", "2024-05-01\n"])
def test_date_injection_is_refused(core, parse, date_value):
    error = refused(core, parse, {"dataset": "orders", "query": "row_counts_per_day", "from": date_value})
    assert error.message.startswith("field 'from' must be a date written YYYY-MM-DD")


def test_query_name_with_sql_is_refused(core, parse):
    error = refused(core, parse, {"dataset": "orders", "query": "row_counts_per_day; DROP TABLE x"})
    assert error.message.startswith("field 'query' must be one of ")


# --------------------------------------------------------------------------------------------
# identifiers and literals
# --------------------------------------------------------------------------------------------


def test_identifiers_are_lower_cased_and_double_quoted(core):
    assert core.qualified_table("PK-Dev-Catalog", "clean_orders") == '"pk-dev-catalog"."clean_orders"'


@pytest.mark.parametrize("name", ['a"b', "a.b", "a b", "", "a;b", "x" * 256, "tåble"])
def test_identifiers_outside_the_safe_set_are_refused(core, name):
    with pytest.raises(ValueError, match="invalid Athena identifier"):
        core.quote_identifier(name)


def test_literals_double_their_quotes(core):
    assert core.quote_literal("o'brien") == "'o''brien'"
    assert core.quote_literal("' OR '1'='1") == "''' OR ''1''=''1'"


def test_literals_with_control_characters_are_refused(core):
    with pytest.raises(ValueError, match="refusing a SQL literal with control characters"):
        core.quote_literal("a\x00b")


def test_clean_table_template(core):
    assert core.clean_table_name("web-orders") == "clean_web_orders"
    assert core.clean_table_name("orders", "{dataset}_parquet") == "orders_parquet"


def test_clean_table_template_needs_the_placeholder(core):
    with pytest.raises(ValueError, match=r"must contain \{dataset\}"):
        core.clean_table_name("orders", "clean")


def test_tables_from_environment_defaults_and_overrides(core):
    assert core.Tables.from_environment({}, database="db") == core.Tables(
        database="db", clean="clean_{dataset}", reports="quarantine_reports", status="file_status"
    )
    assert core.Tables.from_environment({"PIPELINE_ATHENA_STATUS_TABLE": "status_v2"}, database="db").status == (
        "status_v2"
    )


def test_a_bad_table_name_from_the_deployment_fails_the_build(core):
    request = core.QueryRequest("row_counts_per_day", "orders", date(2024, 5, 1), date(2024, 5, 31))
    with pytest.raises(ValueError, match="invalid Athena identifier"):
        core.build_sql(request, core.Tables(database="db", clean='x"; DROP TABLE y; --{dataset}'))


# --------------------------------------------------------------------------------------------
# the allow-list's SQL
# --------------------------------------------------------------------------------------------

WINDOW = "BETWEEN '2024-05-01' AND '2024-05-31'"


def sql_of(core, name, dataset="orders", limit=50):
    request = core.QueryRequest(name, dataset, date(2024, 5, 1), date(2024, 5, 31), limit)
    return core.build_sql(request, core.Tables(database="pk_dev"))


def test_allow_list_is_the_three_named_queries(core):
    assert sorted(core.QUERIES) == ["latest_status_per_file", "rejected_rows_by_reason", "row_counts_per_day"]


def test_row_counts_per_day_reads_the_clean_table_by_partition(core):
    assert sql_of(core, "row_counts_per_day") == (
        'SELECT "date" AS day, count(*) AS row_count, count(DISTINCT "$path") AS files\n'
        'FROM "pk_dev"."clean_orders"\n'
        f'WHERE "date" {WINDOW}\n'
        'GROUP BY "date"\n'
        'ORDER BY "date" DESC\n'
        "LIMIT 50"
    )


def test_rejected_rows_by_reason_combines_file_and_row_rejections(core):
    sql = sql_of(core, "rejected_rows_by_reason")
    assert 'FROM "pk_dev"."quarantine_reports"' in sql
    assert f"WHERE dataset = 'orders' AND \"date\" {WINDOW} AND status = 'quarantined'" in sql
    assert 'CROSS JOIN UNNEST(transform(r.violations, x -> x.rule), transform(r.violations, x -> x."column"))' in sql
    assert f"WHERE r.dataset = 'orders' AND r.\"date\" {WINDOW} AND r.status = 'validated'" in sql
    assert sql.endswith("GROUP BY reason, column_name\nORDER BY rejected_rows DESC, reason, column_name\nLIMIT 50")


def test_latest_status_per_file_keeps_the_newest_row_per_file(core):
    sql = sql_of(core, "latest_status_per_file")
    assert 'FROM "pk_dev"."file_status"' in sql
    assert "row_number() OVER (PARTITION BY file_id ORDER BY updated_at DESC) AS rn" in sql
    assert f"WHERE dataset = 'orders' AND \"date\" {WINDOW}" in sql
    assert sql.endswith("WHERE rn = 1\nORDER BY updated_at DESC\nLIMIT 50")


def test_every_query_is_a_single_select(core):
    for name in core.QUERIES:
        sql = sql_of(core, name)
        assert sql.startswith("SELECT ") and ";" not in sql and "--" not in sql


def test_build_sql_refuses_a_request_not_from_the_parser(core):
    request = core.QueryRequest("row_counts_per_day", "orders' --", date(2024, 5, 1), date(2024, 5, 31))
    assert refused(core, core.build_sql, request, core.Tables(database="db")).message == (
        "invalid dataset \"orders' --\""
    )


# --------------------------------------------------------------------------------------------
# the API Gateway model mirrors the parser
# --------------------------------------------------------------------------------------------


def test_request_schema_is_draft4_and_closed(core):
    schema = core.QUERY_REQUEST_SCHEMA
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["dataset", "query"]
    assert set(schema["properties"]) == set(core.REQUEST_FIELDS)
    assert schema["properties"]["query"]["enum"] == sorted(core.QUERIES)


@pytest.mark.parametrize(
    "body",
    [
        {"dataset": "orders", "query": "row_counts_per_day"},
        {"dataset": "orders", "query": "row_counts_per_day", "from": "2024-05-01", "to": "2024-05-02", "limit": 9},
        {"dataset": "orders", "query": "drop"},
        {"dataset": "orders", "query": "row_counts_per_day", "sql": "x"},
        {"dataset": "Orders", "query": "row_counts_per_day"},
        {"dataset": "orders", "query": "row_counts_per_day", "limit": 1001},
        {"query": "row_counts_per_day"},
    ],
)
def test_what_the_schema_refuses_the_parser_refuses_too(core, parse, body):
    import jsonschema

    schema_ok = jsonschema.Draft4Validator(core.QUERY_REQUEST_SCHEMA).is_valid(body)
    try:
        parse(body)
        parser_ok = True
    except core.ApiError:
        parser_ok = False
    assert schema_ok == parser_ok


# --------------------------------------------------------------------------------------------
# GET /queries/{id}
# --------------------------------------------------------------------------------------------


def test_query_id_must_be_a_uuid(core):
    assert core.parse_query_id(QUERY_ID.upper()) == QUERY_ID
    error = refused(core, core.parse_query_id, "../etc/passwd")
    assert error.message == (
        "query id '../etc/passwd' is not valid: a query id is a UUID as returned by POST /queries"
    )


def test_page_parameters(core):
    assert core.parse_page(None, None) == core.PageRequest(max_results=100, next_token=None)
    assert core.parse_page("1000", "tok") == core.PageRequest(max_results=1000, next_token="tok")


def test_page_size_out_of_range_is_400(core):
    assert refused(core, core.parse_page, "1001", None).message == (
        "max_results must be a whole number from 1 to 1000, got '1001'"
    )


def test_only_queries_of_the_own_workgroup_are_shown(core):
    assert core.belongs_to({"WorkGroup": "pk-dev"}, "pk-dev")
    assert not core.belongs_to({"WorkGroup": "primary"}, "pk-dev")


def test_running_execution_view(core):
    view = core.execution_view({
        "QueryExecutionId": QUERY_ID,
        "Status": {"State": "RUNNING", "SubmissionDateTime": NOW},
        "Statistics": {"DataScannedInBytes": 10, "TotalExecutionTimeInMillis": 5},
    })
    assert view == {
        "id": QUERY_ID, "state": "RUNNING", "finished": False,
        "submitted_at": "2024-05-31T12:00:00.000000Z", "completed_at": None,
        "statistics": {"data_scanned_bytes": 10, "execution_time_ms": 5},
    }


def test_failed_execution_view_carries_the_reason(core):
    view = core.execution_view({
        "QueryExecutionId": QUERY_ID,
        "Status": {
            "State": "FAILED",
            "StateChangeReason": "Query exhausted resources: bytes scanned limit exceeded",
            "AthenaError": {"ErrorCategory": 2, "ErrorType": 1106, "Retryable": False},
        },
    })
    assert view["reason"] == "Query exhausted resources: bytes scanned limit exceeded"
    assert view["error"] == {"category": 2, "type": 1106, "retryable": False}
    assert view["finished"] is True


def test_cancelled_execution_without_reason_says_so(core):
    assert core.execution_view({"Status": {"State": "CANCELLED"}})["reason"] == "query cancelled"


def test_result_page_drops_the_header_row_and_types_the_cells(core):
    results = {
        "ResultSet": {
            "Rows": [
                {"Data": [{"VarCharValue": "day"}, {"VarCharValue": "row_count"}, {"VarCharValue": "ok"}]},
                {"Data": [{"VarCharValue": "2024-05-01"}, {"VarCharValue": "10"}, {"VarCharValue": "true"}]},
                {"Data": [{"VarCharValue": "2024-05-02"}, {}, {"VarCharValue": "false"}]},
            ],
            "ResultSetMetadata": {"ColumnInfo": [
                {"Name": "day", "Label": "day", "Type": "varchar"},
                {"Name": "row_count", "Label": "row_count", "Type": "bigint"},
                {"Name": "ok", "Label": "ok", "Type": "boolean"},
            ]},
        },
        "NextToken": "next",
    }
    assert core.result_page(results, first_page=True) == {
        "columns": [{"name": "day", "type": "varchar"}, {"name": "row_count", "type": "bigint"},
                    {"name": "ok", "type": "boolean"}],
        "rows": [{"day": "2024-05-01", "row_count": 10, "ok": True},
                 {"day": "2024-05-02", "row_count": None, "ok": False}],
        "next_token": "next",
    }


def test_later_pages_keep_their_first_row(core):
    results = {"ResultSet": {
        "Rows": [{"Data": [{"VarCharValue": "day"}]}],
        "ResultSetMetadata": {"ColumnInfo": [{"Name": "day", "Type": "varchar"}]},
    }}
    assert core.result_page(results, first_page=False)["rows"] == [{"day": "day"}]


def test_decimals_stay_text(core):
    assert core.convert_cell("12.30", "decimal(10,2)") == "12.30"
    assert core.convert_cell("1.5", "double") == 1.5
