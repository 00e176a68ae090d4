"""api — pure core: request validation, the query allow-list and its SQL, response shaping.

No boto3 here (the handler does the AWS calls). Everything a caller sends is checked before it goes
anywhere, and a refusal says what was wrong and what is accepted: the handler turns ``ApiError``s
into ``{"message": ...}`` responses with their status code.

Routes (API Gateway notation, also what the ``RestApi`` construct is given)::

    GET  /files/{id}               the file's status item (404 if unknown or expired)
    GET  /datasets/{name}/stats    counts by status and row totals over the last ``days`` (query string)
    POST /queries                  start an allow-listed Athena query → 202 {"id": ...}
    GET  /queries/{id}             its state; when SUCCEEDED a page of rows (+ next_token)

**No SQL from the caller, ever.** ``POST /queries`` names a query from ``QUERIES`` and a dataset; the
SQL is built here from fixed text, identifiers that come from the deployment (database, tables:
validated and double-quoted) and literals that are validated values (known dataset names, real
calendar dates, bounded integers), single-quoted with quotes doubled.

Athena tables the queries read (defined with the Glue catalog, not by this plug-in; schemas in
``modules/athena.py``): per dataset the clean table (``PIPELINE_ATHENA_CLEAN_TABLE``, a template
with ``{dataset}``, default ``clean_{dataset}``, partition ``date``), the quarantine reports table
(``PIPELINE_ATHENA_REPORTS_TABLE``, default ``quarantine_reports``) and the file status history
table (``PIPELINE_ATHENA_STATUS_TABLE``, default ``file_status``), both partitioned by ``dataset``
and ``date``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

# ------------------------------------------------------------------------------------------------
# routes and errors
# ------------------------------------------------------------------------------------------------

#: (method, path) in API Gateway notation: the API's whole surface.
ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/files/{id}"),
    ("GET", "/datasets/{name}/stats"),
    ("POST", "/queries"),
    ("GET", "/queries/{id}"),
)


class ApiError(Exception):
    """A request the API refuses; ``status_code`` and ``message`` become the response."""

    status_code = 400

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


class BadRequest(ApiError):
    status_code = 400


class NotFound(ApiError):
    status_code = 404


class MethodNotAllowed(ApiError):
    status_code = 405


class TooManyRequests(ApiError):
    status_code = 429


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def allowed_methods(path: str, routes: Sequence[tuple[str, str]] = ROUTES) -> list[str]:
    """The methods some route serves at ``path`` (``{x}`` matches one non-empty segment)."""
    parts = _segments(path)
    found: list[str] = []
    for method, template in routes:
        pattern = _segments(template)
        if len(pattern) == len(parts) and all(
            p.startswith("{") or p == s for p, s in zip(pattern, parts)
        ):
            found.append(method)
    return sorted(set(found))


def no_route(method: str, path: str, routes: Sequence[tuple[str, str]] = ROUTES) -> ApiError:
    """405 (with ``Allow``) when the path exists under another method, else 404."""
    methods = allowed_methods(path, routes)
    shown = _show(path, 100)
    if methods:
        return MethodNotAllowed(
            f"method {method} is not allowed on {shown} (allowed: {', '.join(methods)})",
            headers={"Allow": ", ".join(methods)},
        )
    listing = ", ".join(f"{m} {p}" for m, p in routes)
    return NotFound(f"no route for {method} {shown} (routes: {listing})")


def _show(value: Any, limit: int = 60) -> str:
    """A caller's value, quoted and cut short, for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------------
# identifiers and literals
# ------------------------------------------------------------------------------------------------

FILE_ID_RE = re.compile(r"^[0-9a-fA-F]{32}$")
#: Dataset names as the contracts define them (``pipeline_shared.contracts``).
DATASET_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
QUERY_ID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE_RE = re.compile(DATE_PATTERN)
#: Glue database/table names we accept from the deployment (Glue lower-cases; '-' needs quoting).
_IDENTIFIER_RE = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,254}$")


def quote_identifier(name: str) -> str:
    """``name`` as an Athena (Trino) delimited identifier. Only letters, digits, '_' and '-' are
    accepted, so the result cannot close the quotes or reach another object."""
    if not isinstance(name, str):
        raise ValueError(f"an Athena identifier must be a string, got {type(name).__name__}")
    lowered = name.lower()
    if not _IDENTIFIER_RE.fullmatch(lowered):
        raise ValueError(
            f"invalid Athena identifier {_show(name)}: 1-255 characters of a-z, 0-9, '_' and '-'"
        )
    return f'"{lowered}"'


def qualified_table(database: str, table: str) -> str:
    return f"{quote_identifier(database)}.{quote_identifier(table)}"


def quote_literal(value: str) -> str:
    """``value`` as a SQL string literal: single-quoted, quotes doubled; control characters refused."""
    if not isinstance(value, str):
        raise ValueError(f"a SQL string literal must be a string, got {type(value).__name__}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"refusing a SQL literal with control characters: {_show(value)}")
    return "'" + value.replace("'", "''") + "'"


def date_literal(day: date) -> str:
    return quote_literal(day.isoformat())


# ------------------------------------------------------------------------------------------------
# GET /files/{id}
# ------------------------------------------------------------------------------------------------

#: Status-item fields returned (the item layout is notify's, see lambdas/notify/core.py).
FILE_FIELDS = (
    "file_id", "dataset", "status", "updated_at", "received_at", "reason", "counts", "locations",
    "bucket", "key", "size", "etag", "version_id", "environment",
)


def parse_file_id(raw: str | None) -> str:
    if not isinstance(raw, str) or not FILE_ID_RE.fullmatch(raw):
        raise BadRequest(f"file id {_show(raw)} is not valid: a file id is 32 hexadecimal characters")
    return raw.lower()


def from_attribute_value(value: Mapping[str, Any]) -> Any:
    """One DynamoDB wire-format value as plain Python (numbers: int when integral, else float)."""
    (kind, inner), = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        number = Decimal(inner)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_attribute_value(v) for k, v in inner.items()}
    if kind == "L":
        return [from_attribute_value(v) for v in inner]
    if kind == "SS":
        return sorted(inner)
    if kind == "NS":
        return sorted(from_attribute_value({"N": n}) for n in inner)
    raise ValueError(f"unsupported DynamoDB attribute type {kind!r}")


def from_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {k: from_attribute_value(v) for k, v in item.items()}


def file_status(item: Mapping[str, Any] | None, *, now: datetime) -> dict[str, Any] | None:
    """The response for a status item (plain values), or None when there is none or its TTL has
    passed (DynamoDB deletes expired items up to a few days late; they are gone for the API)."""
    if not item:
        return None
    expires_at = item.get("expires_at")
    if isinstance(expires_at, (int, float)) and expires_at <= now.timestamp():
        return None
    return {name: item[name] for name in FILE_FIELDS if name in item}


# ------------------------------------------------------------------------------------------------
# GET /datasets/{name}/stats
# ------------------------------------------------------------------------------------------------

DEFAULT_STATS_DAYS = 7
MAX_STATS_DAYS = 90
#: Status items read for one answer at most (then ``truncated`` is true).
MAX_STATS_ITEMS = 20_000
ROW_COUNTS = ("records_in", "valid", "rejected", "duplicates", "out")
BYTE_COUNTS = ("bytes_in", "bytes_out")


def parse_dataset(
    raw: Any, known: Iterable[str], *, field: str = "dataset", unknown: type[ApiError] = BadRequest
) -> str:
    """A dataset name the pipeline has a contract for: malformed → 400, unknown → ``unknown``
    (404 for a name in the path, 400 for a field of a body)."""
    known = sorted(known)
    listing = ", ".join(known) or "none"
    if not isinstance(raw, str) or not DATASET_RE.fullmatch(raw):
        raise BadRequest(
            f"{field} {_show(raw)} is not a dataset name (lower-case letters, digits, '_' and '-'; known: {listing})"
        )
    if raw not in known:
        raise unknown(f"unknown dataset {raw!r} (known: {listing})")
    return raw


def parse_days(raw: str | None) -> int:
    """The ``days`` query-string parameter: 1..MAX_STATS_DAYS, default DEFAULT_STATS_DAYS."""
    if raw is None or raw == "":
        return DEFAULT_STATS_DAYS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_STATS_DAYS:
        raise BadRequest(f"days must be a whole number from 1 to {MAX_STATS_DAYS}, got {_show(raw)}")
    return int(raw)


def iso(moment: datetime) -> str:
    """The timestamp format of the status items (``updated_at``): sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stats_window(now: datetime, days: int) -> tuple[str, str]:
    """(since, until) as status-item timestamps: the last ``days`` days up to ``now``."""
    return iso(now - timedelta(days=days)), iso(now)


def summarise(
    items: Iterable[Mapping[str, Any]], *, dataset: str, days: int, since: str, until: str, truncated: bool
) -> dict[str, Any]:
    """The stats response from status items (plain values; ``status``, ``counts``, ``updated_at``).

    ``files``: status items updated in the window; ``by_status``: how many are in each status
    (``processed``, ``quarantined``, ...); ``rows``: sums of their ``counts`` (records_in, valid,
    rejected, duplicates, out); ``bytes``: sums of bytes_in/bytes_out; ``last_updated_at``: the
    newest item's ``updated_at``; ``truncated``: more than MAX_STATS_ITEMS items, the sums cover
    the first ones only."""
    by_status: dict[str, int] = {}
    rows = dict.fromkeys(ROW_COUNTS, 0)
    byte_sums = dict.fromkeys(BYTE_COUNTS, 0)
    files = 0
    last: str | None = None
    for item in items:
        files += 1
        status = str(item.get("status") or "unknown")
        by_status[status] = by_status.get(status, 0) + 1
        counts = item.get("counts") or {}
        for name in ROW_COUNTS:
            value = counts.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                rows[name] += value
        for name in BYTE_COUNTS:
            value = counts.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                byte_sums[name] += value
        updated = item.get("updated_at")
        if isinstance(updated, str) and (last is None or updated > last):
            last = updated
    return {
        "dataset": dataset,
        "days": days,
        "from": since,
        "to": until,
        "files": files,
        "by_status": dict(sorted(by_status.items())),
        "rows": rows,
        "bytes": byte_sums,
        "last_updated_at": last,
        "truncated": truncated,
    }


# ------------------------------------------------------------------------------------------------
# POST /queries: the allow-list
# ------------------------------------------------------------------------------------------------

DEFAULT_QUERY_DAYS = 30
MAX_QUERY_DAYS = 366
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_BODY_BYTES = 4096
REQUEST_FIELDS = ("dataset", "query", "from", "to", "limit")

DEFAULT_CLEAN_TABLE = "clean_{dataset}"
DEFAULT_REPORTS_TABLE = "quarantine_reports"
DEFAULT_STATUS_TABLE = "file_status"


@dataclass(frozen=True)
class QueryRequest:
    query: str
    dataset: str
    date_from: date
    date_to: date
    limit: int = DEFAULT_LIMIT

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "dataset": self.dataset,
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "limit": self.limit,
        }


@dataclass(frozen=True)
class Tables:
    """Where the queries read: the Glue database and table names (validated when used)."""

    database: str
    clean: str = DEFAULT_CLEAN_TABLE  # a template with {dataset}
    reports: str = DEFAULT_REPORTS_TABLE
    status: str = DEFAULT_STATUS_TABLE

    def clean_table(self, dataset: str) -> str:
        return clean_table_name(dataset, self.clean)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], *, database: str) -> Tables:
        """From the optional ``PIPELINE_ATHENA_{CLEAN,REPORTS,STATUS}_TABLE`` variables."""
        return cls(
            database=database,
            clean=environ.get("PIPELINE_ATHENA_CLEAN_TABLE", "").strip() or DEFAULT_CLEAN_TABLE,
            reports=environ.get("PIPELINE_ATHENA_REPORTS_TABLE", "").strip() or DEFAULT_REPORTS_TABLE,
            status=environ.get("PIPELINE_ATHENA_STATUS_TABLE", "").strip() or DEFAULT_STATUS_TABLE,
        )


def clean_table_name(dataset: str, template: str = DEFAULT_CLEAN_TABLE) -> str:
    """The clean table of ``dataset``: ``template`` with ``{dataset}`` ('-' becomes '_', as Glue
    table names should not hold '-')."""
    if "{dataset}" not in template:
        raise ValueError(f"the clean table template {template!r} must contain {{dataset}}")
    return template.replace("{dataset}", dataset.replace("-", "_"))


#: The partition column of every table the queries read (a keyword: always quoted).
DATE_COLUMN = '"date"'


def _window(column: str, request: QueryRequest) -> str:
    return f"{column} BETWEEN {date_literal(request.date_from)} AND {date_literal(request.date_to)}"


def row_counts_per_day_sql(request: QueryRequest, tables: Tables) -> str:
    table = qualified_table(tables.database, tables.clean_table(request.dataset))
    return (
        'SELECT "date" AS day, count(*) AS row_count, count(DISTINCT "$path") AS files\n'
        f"FROM {table}\n"
        f"WHERE {_window(DATE_COLUMN, request)}\n"
        'GROUP BY "date"\n'
        'ORDER BY "date" DESC\n'
        f"LIMIT {int(request.limit)}"
    )


def rejected_rows_by_reason_sql(request: QueryRequest, tables: Tables) -> str:
    table = qualified_table(tables.database, tables.reports)
    dataset = quote_literal(request.dataset)
    return (
        "SELECT reason, column_name, sum(row_count) AS rejected_rows, count(DISTINCT file_id) AS files\n"
        "FROM (\n"
        "    SELECT file_id, rule AS reason, CAST(NULL AS varchar) AS column_name,\n"
        "           coalesce(counts.records_in, 0) AS row_count\n"
        f"    FROM {table}\n"
        f"    WHERE dataset = {dataset} AND {_window(DATE_COLUMN, request)} AND status = 'quarantined'\n"
        "    UNION ALL\n"
        "    SELECT r.file_id, v.reason, v.column_name, 1 AS row_count\n"
        f"    FROM {table} AS r\n"
        '    CROSS JOIN UNNEST(transform(r.violations, x -> x.rule), transform(r.violations, x -> x."column"))\n'
        "        AS v (reason, column_name)\n"
        f"    WHERE r.dataset = {dataset} AND {_window('r.' + DATE_COLUMN, request)}"
        " AND r.status = 'validated'\n"
        ") AS rejected\n"
        "GROUP BY reason, column_name\n"
        "ORDER BY rejected_rows DESC, reason, column_name\n"
        f"LIMIT {int(request.limit)}"
    )


def latest_status_per_file_sql(request: QueryRequest, tables: Tables) -> str:
    table = qualified_table(tables.database, tables.status)
    return (
        'SELECT file_id, status, updated_at, "key" AS object_key, reason,\n'
        '       counts.records_in AS records_in, counts."out" AS records_out, counts.rejected AS rejected\n'
        "FROM (\n"
        '    SELECT file_id, status, updated_at, "key", reason, counts,\n'
        "           row_number() OVER (PARTITION BY file_id ORDER BY updated_at DESC) AS rn\n"
        f"    FROM {table}\n"
        f"    WHERE dataset = {quote_literal(request.dataset)} AND {_window(DATE_COLUMN, request)}\n"
        ") AS latest\n"
        "WHERE rn = 1\n"
        "ORDER BY updated_at DESC\n"
        f"LIMIT {int(request.limit)}"
    )


@dataclass(frozen=True)
class AllowedQuery:
    name: str
    description: str
    #: which table it reads: "clean" (per dataset), "reports" or "status"
    source: str
    build: Callable[[QueryRequest, Tables], str]


#: The only queries the API runs.
QUERIES: dict[str, AllowedQuery] = {
    q.name: q
    for q in (
        AllowedQuery(
            "row_counts_per_day",
            "rows and files per day of the dataset's clean table (partition date)",
            "clean",
            row_counts_per_day_sql,
        ),
        AllowedQuery(
            "rejected_rows_by_reason",
            "rejected rows by rule (and column): whole-file rejections and row-level violations",
            "reports",
            rejected_rows_by_reason_sql,
        ),
        AllowedQuery(
            "latest_status_per_file",
            "each file's latest status in the window, newest first",
            "status",
            latest_status_per_file_sql,
        ),
    )
}

#: The request body as a JSON Schema (draft-04, what an API Gateway model takes): the gateway
#: checks the shape, ``parse_query_request`` everything (known datasets, real dates, range).
QUERY_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "QueryRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["dataset", "query"],
    "properties": {
        "dataset": {"type": "string", "pattern": DATASET_RE.pattern},
        "query": {"type": "string", "enum": sorted(QUERIES)},
        "from": {"type": "string", "pattern": DATE_PATTERN},
        "to": {"type": "string", "pattern": DATE_PATTERN},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
}


def _parse_date(data: Mapping[str, Any], name: str) -> date | None:
    if name not in data or data[name] is None:
        return None
    raw = data[name]
    if not isinstance(raw, str) or not _DATE_RE.fullmatch(raw):
        raise BadRequest(f"field '{name}' must be a date written YYYY-MM-DD, got {_show(raw)}")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"field '{name}' is not a calendar date: {_show(raw)}") from None


def parse_query_request(body: str | bytes | None, *, known_datasets: Iterable[str], today: date) -> QueryRequest:
    """The body of ``POST /queries``: ``{"dataset": "orders", "query": "row_counts_per_day",
    "from": "2024-05-01", "to": "2024-05-31", "limit": 100}``. ``from``/``to`` are inclusive
    partition dates (default: the 30 days up to today, UTC), at most MAX_QUERY_DAYS apart;
    ``limit`` 1..MAX_LIMIT (default 100)."""
    example = '{"dataset": "orders", "query": "row_counts_per_day"}'
    known_datasets = tuple(known_datasets)
    if body is None or (isinstance(body, (str, bytes)) and not body.strip()):
        raise BadRequest(f"a JSON request body is required, e.g. {example}")
    if len(body.encode("utf-8") if isinstance(body, str) else body) > MAX_BODY_BYTES:
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON ({exc}); expected e.g. {example}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, got {type(data).__name__}; e.g. {example}")
    unknown = sorted(set(data) - set(REQUEST_FIELDS))
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(_show(u, 40) for u in unknown)} (allowed: {', '.join(REQUEST_FIELDS)}); "
            "queries are chosen by name, SQL is never accepted"
        )
    names = ", ".join(sorted(QUERIES))
    if "query" not in data:
        raise BadRequest(f"field 'query' is required: one of {names}")
    query = data["query"]
    if not isinstance(query, str) or query not in QUERIES:
        raise BadRequest(f"field 'query' must be one of {names}; got {_show(query)}")
    if "dataset" not in data:
        raise BadRequest(f"field 'dataset' is required: one of {', '.join(sorted(known_datasets)) or 'none'}")
    dataset = parse_dataset(data["dataset"], known_datasets, field="field 'dataset'")
    date_to = _parse_date(data, "to") or today
    date_from = _parse_date(data, "from") or date_to - timedelta(days=DEFAULT_QUERY_DAYS - 1)
    if date_from > date_to:
        raise BadRequest(f"'from' ({date_from.isoformat()}) is after 'to' ({date_to.isoformat()})")
    span = (date_to - date_from).days + 1
    if span > MAX_QUERY_DAYS:
        raise BadRequest(f"the date range covers {span} days, more than the {MAX_QUERY_DAYS} allowed")
    limit = data.get("limit", DEFAULT_LIMIT)
    if limit is None:
        limit = DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"field 'limit' must be a whole number from 1 to {MAX_LIMIT}, got {_show(limit)}")
    return QueryRequest(query=query, dataset=dataset, date_from=date_from, date_to=date_to, limit=limit)


def build_sql(request: QueryRequest, tables: Tables) -> str:
    """The SQL of an allow-listed query (``ValueError`` if the deployment's names are invalid)."""
    allowed = QUERIES.get(request.query)
    if allowed is None:  # parse_query_request never lets this through
        raise BadRequest(f"unknown query {_show(request.query)}")
    if not DATASET_RE.fullmatch(request.dataset):
        raise BadRequest(f"invalid dataset {_show(request.dataset)}")
    return allowed.build(request, tables)


# ------------------------------------------------------------------------------------------------
# GET /queries/{id}
# ------------------------------------------------------------------------------------------------

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000  # GetQueryResults' MaxResults limit
MAX_NEXT_TOKEN = 1024
FINISHED_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


def parse_query_id(raw: str | None) -> str:
    if not isinstance(raw, str) or not QUERY_ID_RE.fullmatch(raw):
        raise BadRequest(f"query id {_show(raw)} is not valid: a query id is a UUID as returned by POST /queries")
    return raw.lower()


@dataclass(frozen=True)
class PageRequest:
    max_results: int
    next_token: str | None


def parse_page(max_results: str | None, next_token: str | None) -> PageRequest:
    size = DEFAULT_PAGE_SIZE
    if max_results not in (None, ""):
        if not max_results.isdigit() or not 1 <= int(max_results) <= MAX_PAGE_SIZE:
            raise BadRequest(f"max_results must be a whole number from 1 to {MAX_PAGE_SIZE}, got {_show(max_results)}")
        size = int(max_results)
    token = next_token or None
    if token is not None and (len(token) > MAX_NEXT_TOKEN or not token.isprintable()):
        raise BadRequest(f"next_token is not valid (at most {MAX_NEXT_TOKEN} printable characters)")
    return PageRequest(max_results=size, next_token=token)


def belongs_to(execution: Mapping[str, Any], workgroup: str) -> bool:
    """Only queries of the API's own workgroup are shown (others are "not found")."""
    return execution.get("WorkGroup") == workgroup


def _timestamp(value: Any) -> str | None:
    if isinstance(value, datetime):
        return iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return iso(datetime.fromtimestamp(value, UTC))
    return None


def execution_view(execution: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /queries/{id}`` without rows: id, state, times, statistics; the reason when the query
    FAILED or was CANCELLED. (The SQL is not echoed.)"""
    status = execution.get("Status") or {}
    stats = execution.get("Statistics") or {}
    state = str(status.get("State") or "UNKNOWN")
    view: dict[str, Any] = {
        "id": execution.get("QueryExecutionId"),
        "state": state,
        "finished": state in FINISHED_STATES,
        "submitted_at": _timestamp(status.get("SubmissionDateTime")),
        "completed_at": _timestamp(status.get("CompletionDateTime")),
        "statistics": {
            "data_scanned_bytes": stats.get("DataScannedInBytes"),
            "execution_time_ms": stats.get("TotalExecutionTimeInMillis"),
        },
    }
    if state in ("FAILED", "CANCELLED"):
        error = status.get("AthenaError") or {}
        view["reason"] = status.get("StateChangeReason") or error.get("ErrorMessage") or f"query {state.lower()}"
        if error:
            view["error"] = {
                "category": error.get("ErrorCategory"),
                "type": error.get("ErrorType"),
                "retryable": error.get("Retryable"),
            }
    return view


_INTEGER_TYPES = ("tinyint", "smallint", "integer", "int", "bigint")
_FLOAT_TYPES = ("double", "float", "real")


def convert_cell(value: str | None, column_type: str) -> Any:
    """An Athena result cell (text) as JSON: integers and floats as numbers, booleans as booleans;
    decimals, dates, timestamps and the rest stay text (no precision lost)."""
    if value is None:
        return None
    kind = column_type.lower().split("(", 1)[0].strip()
    try:
        if kind in _INTEGER_TYPES:
            return int(value)
        if kind in _FLOAT_TYPES:
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value.lower() == "true"
    return value


def result_page(results: Mapping[str, Any], *, first_page: bool) -> dict[str, Any]:
    """A ``GetQueryResults`` page as ``{"columns": [...], "rows": [{column: value}], "next_token"}``.

    Athena's first page of a SELECT starts with a row of column names: dropped."""
    result_set = results.get("ResultSet") or {}
    info = (result_set.get("ResultSetMetadata") or {}).get("ColumnInfo") or []
    columns = [{"name": c.get("Label") or c.get("Name"), "type": c.get("Type", "varchar")} for c in info]
    names = [c["name"] for c in columns]
    raw_rows = [[cell.get("VarCharValue") for cell in row.get("Data", [])] for row in result_set.get("Rows", [])]
    if first_page and raw_rows and names and raw_rows[0] == names:
        raw_rows = raw_rows[1:]
    rows = []
    for cells in raw_rows:
        if not columns:
            columns = [{"name": f"_col{i}", "type": "varchar"} for i in range(len(cells))]
            names = [c["name"] for c in columns]
        rows.append({c["name"]: convert_cell(v, c["type"]) for c, v in zip(columns, cells)})
    return {"columns": columns, "rows": rows, "next_token": results.get("NextToken")}
