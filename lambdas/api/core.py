"""api — pure core: request validation, the query allow-list and its SQL, response shaping.

No boto3 here (the handler does the AWS calls). Everything a caller sends is checked before it goes
anywhere, and a refusal says what was wrong and what is accepted: the handler turns ``ApiError``s
into ``{"message": ...}`` responses with their status code.

Routes (API Gateway notation, also what the ``RestApi`` construct is given)::

    GET  /files/{id}               the file's status item (404 if unknown or expired)
    GET  /datasets/{name}/stats    counts by status and row totals over the last ``days`` (query string)
    POST /queries                  start an allow-listed Athena query → 202 {"id": ...}
    GET  /queries/{id}             its state; when SUCCEEDED a page of rows (+ next_token)
    POST /datasets/{name}/files    a presigned S3 PUT into landing → 201 {"file_id", "key", "upload", ...};
                                   the file then flows through the stages; GET /files/{id} follows it
                                   and, once processed/quarantined, adds presigned GET "downloads"
    POST /datasets/{name}/cleanse  a small body (JSON array, CSV, JSON Lines) validated, cleansed and
                                   tokenised with the stages' code → 200 clean records + rejections;
                                   413 above [api] sync_max_bytes / sync_max_rows (use the upload)

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

from pipeline_shared.dynamo_items import to_attribute_value, to_item  # noqa: F401 - the items' encoding
from pipeline_shared.wiring import env as wiring
from pipeline_shared.wiring.api import (  # noqa: F401 - the API's contract, served here
    CONTENT_TYPE_RE,
    DATASET_RE,
    DATE_PATTERN,
    DEFAULT_LIMIT,
    FILENAME_RE,
    FORMAT_CONTENT_TYPES,
    MAX_FILENAME,
    MAX_LIMIT,
    QUERY_REQUEST_SCHEMA,
    REQUEST_FIELDS,
    ROUTES,
    UPLOAD_FIELDS,
    UPLOAD_REQUEST_SCHEMA,
    ApiLimits,
    upload_route,
)
from pipeline_shared.wiring.queries import (  # noqa: F401 - quoting re-exported for the handler
    DEFAULT_CLEAN_TABLE,
    DEFAULT_REPORTS_TABLE,
    DEFAULT_STATUS_TABLE,
    QUERIES,
    between,
    clean_table_name,
    qualified_table,
    quote_identifier,
    quote_literal,
)

# ------------------------------------------------------------------------------------------------
# routes and errors
# ------------------------------------------------------------------------------------------------

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
QUERY_ID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE_RE = re.compile(DATE_PATTERN)
# ------------------------------------------------------------------------------------------------
# GET /files/{id}
# ------------------------------------------------------------------------------------------------

#: Status-item fields returned (the item layout is notify's, see lambdas/notify/core.py).
FILE_FIELDS = (
    "file_id", "dataset", "status", "updated_at", "received_at", "reason", "counts", "locations",
    "bucket", "key", "size", "etag", "version_id", "environment", "upload_expires_at",
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
MAX_BODY_BYTES = 4096

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
            clean=environ.get(wiring.ATHENA_CLEAN_TABLE, "").strip() or DEFAULT_CLEAN_TABLE,
            reports=environ.get(wiring.ATHENA_REPORTS_TABLE, "").strip() or DEFAULT_REPORTS_TABLE,
            status=environ.get(wiring.ATHENA_STATUS_TABLE, "").strip() or DEFAULT_STATUS_TABLE,
        )


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
    data = _json_object(body, example=example)
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
    """The SQL of an allow-listed query (``pipeline_shared.wiring.queries``) over the request's
    window and limit (``ValueError`` if the deployment's names are invalid)."""
    allowed = QUERIES.get(request.query)
    if allowed is None:  # parse_query_request never lets this through
        raise BadRequest(f"unknown query {_show(request.query)}")
    if not DATASET_RE.fullmatch(request.dataset):
        raise BadRequest(f"invalid dataset {_show(request.dataset)}")
    table = {"clean": tables.clean_table(request.dataset), "reports": tables.reports, "status": tables.status}
    return allowed.build(qualified_table(tables.database, table[allowed.source]), dataset=request.dataset,
                         window=between(request.date_from, request.date_to), limit=int(request.limit))


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


# ------------------------------------------------------------------------------------------------
# the submission routes: limits ([api] in the environment file, PIPELINE_API_* in the function)
# ------------------------------------------------------------------------------------------------


class PayloadTooLarge(ApiError):
    """413, pointing the caller to the presigned upload route."""

    status_code = 413

    def __init__(self, message: str, *, upload_route: str) -> None:
        super().__init__(message)
        self.upload_route = upload_route

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "upload_route": self.upload_route}


class UnsupportedMediaType(ApiError):
    status_code = 415


# ------------------------------------------------------------------------------------------------
# POST /datasets/{name}/files: a presigned PUT into landing
# ------------------------------------------------------------------------------------------------

#: Status of an upload handed out and not (yet) seen by the pipeline.
AWAITING_UPLOAD = "awaiting_upload"
GZIP_CONTENT_TYPE = "application/gzip"
#: Server-side encryption every upload must ask for (with the environment key).
SSE_KMS = "aws:kms"

@dataclass(frozen=True)
class UploadRequest:
    filename: str
    size: int
    content_type: str


def _json_object(body: str | bytes | None, *, example: str, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    if body is None or (isinstance(body, (str, bytes)) and not body.strip()):
        raise BadRequest(f"a JSON request body is required, e.g. {example}")
    if len(body.encode("utf-8") if isinstance(body, str) else body) > max_bytes:
        raise BadRequest(f"the request body is larger than {max_bytes} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON ({exc}); expected e.g. {example}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, got {type(data).__name__}; e.g. {example}")
    return data


def parse_upload_request(body: str | bytes | None, *, dataset: str, file_format: str, max_bytes: int) -> UploadRequest:
    """The body of ``POST /datasets/{name}/files``: ``{"filename": "a.csv", "size": 1234,
    "content_type": "text/csv"}``. ``filename``: letters, digits, '.', '_' and '-', ending in the
    dataset format's extension (``.csv`` / ``.jsonl``), optionally ``.gz``; ``size``: the exact
    byte count the client will PUT, 1..``max_bytes``; ``content_type`` (optional): the format's
    (``text/csv``, ``application/x-ndjson``; ``application/gzip`` for ``.gz``)."""
    extension = f".{file_format}"
    example = f'{{"filename": "data{extension}", "size": 1234}}'
    data = _json_object(body, example=example)
    unknown = sorted(set(data) - set(UPLOAD_FIELDS))
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(_show(u, 40) for u in unknown)} (allowed: {', '.join(UPLOAD_FIELDS)})"
        )
    filename = data.get("filename")
    if filename is None:
        raise BadRequest(f"field 'filename' is required, e.g. {example}")
    if (
        not isinstance(filename, str)
        or not 1 <= len(filename) <= MAX_FILENAME
        or not FILENAME_RE.fullmatch(filename)
        or ".." in filename
    ):
        raise BadRequest(
            f"field 'filename' {_show(filename)} is not valid: 1-{MAX_FILENAME} letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (no path)"
        )
    lowered = filename.lower()
    compressed = lowered.endswith(".gz")
    stem = lowered[:-3] if compressed else lowered
    if not stem.endswith(extension) or len(stem) == len(extension):
        raise BadRequest(
            f"field 'filename' {_show(filename)} must end in {extension} or {extension}.gz "
            f"(dataset {dataset} is {file_format})"
        )
    size = data.get("size")
    if size is None:
        raise BadRequest(f"field 'size' is required: the file's exact size in bytes (1 to {max_bytes})")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= max_bytes:
        raise BadRequest(
            f"field 'size' must be the file's exact size in bytes, a whole number from 1 to {max_bytes}, got {_show(size)}"
        )
    content_type = data.get("content_type")
    if content_type is None:
        content_type = GZIP_CONTENT_TYPE if compressed else FORMAT_CONTENT_TYPES.get(file_format, "application/octet-stream")
    elif not isinstance(content_type, str) or len(content_type) > 100 or not CONTENT_TYPE_RE.fullmatch(content_type):
        raise BadRequest(f"field 'content_type' {_show(content_type)} is not a media type such as text/csv")
    return UploadRequest(filename=filename, size=size, content_type=content_type)


def parse_upload_id(raw: str) -> str:
    if not FILE_ID_RE.fullmatch(raw):
        raise ValueError(f"an upload id is 32 hexadecimal characters, got {raw!r}")
    return raw.lower()


def upload_key(dataset: str, upload_id: str, filename: str, *, now: datetime) -> str:
    """``<dataset>/api/<yyyy>/<mm>/<dd>/<upload id>/<filename>``: the dataset prefix validate reads
    the contract from, and one folder per upload (two clients' ``a.csv`` never collide)."""
    return f"{dataset}/api/{now.astimezone(UTC):%Y/%m/%d}/{parse_upload_id(upload_id)}/{filename}"


@dataclass(frozen=True)
class PresignedPut:
    """What the handler signs (``params`` of S3 PutObject) and what the client must send
    (``headers``: the same values under their HTTP names, each one signed)."""

    params: dict[str, Any]
    headers: dict[str, str]


def presigned_put(request: UploadRequest, *, bucket: str, key: str, kms_key_id: str) -> PresignedPut:
    """The PutObject parameters whose headers the presigned URL signs: ``Content-Type``, the exact
    ``Content-Length`` (S3 refuses a PUT of another size: the signature no longer matches) and
    SSE-KMS with the environment key (a PUT without them, or with another key, is refused too)."""
    if not kms_key_id:
        raise ValueError("the environment's KMS key is not known: cannot sign an upload with SSE-KMS")
    params = {
        "Bucket": bucket,
        "Key": key,
        "ContentType": request.content_type,
        "ContentLength": request.size,
        "ServerSideEncryption": SSE_KMS,
        "SSEKMSKeyId": kms_key_id,
    }
    headers = {
        "Content-Type": request.content_type,
        "Content-Length": str(request.size),
        "x-amz-server-side-encryption": SSE_KMS,
        "x-amz-server-side-encryption-aws-kms-key-id": kms_key_id,
    }
    return PresignedPut(params=params, headers=headers)


def upload_item(
    *,
    upload_id: str,
    dataset: str,
    bucket: str,
    key: str,
    request: UploadRequest,
    now: datetime,
    expiry_seconds: int,
    ttl_days: int,
    environment: str,
) -> dict[str, Any]:
    """The status item of an upload handed out (notify's layout; ``status`` awaiting_upload):
    it lives until the URL expired plus the status TTL days, as a file's item does."""
    url_expires = now + timedelta(seconds=expiry_seconds)
    return {
        "file_id": parse_upload_id(upload_id),
        "status": AWAITING_UPLOAD,
        "dataset": dataset,
        "bucket": bucket,
        "key": key,
        "size": request.size,
        "updated_at": iso(now),
        "received_at": iso(now),
        "upload_expires_at": iso(url_expires),
        "expires_at": int((url_expires + timedelta(days=ttl_days)).timestamp()),
        "environment": environment,
    }


def upload_response(*, upload_id: str, key: str, url: str, put: PresignedPut, expires_at: str) -> dict[str, Any]:
    """The 201 body of ``POST /datasets/{name}/files``."""
    return {
        "file_id": upload_id,
        "key": key,
        "upload": {"method": "PUT", "url": url, "headers": dict(put.headers)},
        "expires_at": expires_at,
        "status_url": f"/files/{upload_id}",
    }


# ------------------------------------------------------------------------------------------------
# GET /files/{id}: an upload followed to its pipeline records; download URLs
# ------------------------------------------------------------------------------------------------

#: How far ``GET /files/{id}`` reads the by-dataset index to follow one upload (items).
MAX_FOLLOW_ITEMS = 5_000


def follow_upload(item: Mapping[str, Any], records: Iterable[Mapping[str, Any]], *, now: datetime) -> dict[str, Any]:
    """The answer for an ``awaiting_upload`` item (plain values, not expired), given the status
    items of its dataset updated since (the by-dataset index): the newest pipeline record of the
    upload's key with ``upload_id`` and ``files`` (every file id of that key since, oldest first),
    or the upload item itself when the pipeline has not seen the file yet."""
    upload_id = item["file_id"]
    seen: dict[str, Mapping[str, Any]] = {}
    for record in records:
        fid = record.get("file_id")
        if (
            record.get("key") != item.get("key")
            or fid == upload_id
            or record.get("status") == AWAITING_UPLOAD
            or not isinstance(fid, str)
            or file_status(record, now=now) is None
        ):
            continue
        if fid not in seen or str(record.get("updated_at", "")) > str(seen[fid].get("updated_at", "")):
            seen[fid] = record
    if not seen:
        return file_status(item, now=now) or {}
    ordered = sorted(seen.values(), key=lambda r: (str(r.get("updated_at", "")), str(r.get("file_id"))))
    view = file_status(ordered[-1], now=now) or {}
    view["upload_id"] = upload_id
    view["files"] = [str(r["file_id"]) for r in ordered]
    return view


def split_s3_uri(uri: Any) -> tuple[str, str] | None:
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    bucket, sep, key = uri[5:].partition("/")
    return (bucket, key) if bucket and sep and key else None


def downloads(
    view: Mapping[str, Any], *, clean_bucket: str, quarantine_bucket: str, presign: Callable[[str, str], str]
) -> dict[str, Any] | None:
    """Presigned GETs (``presign(bucket, key)``) of what a file's ``locations`` name: when it is
    processed, its clean outputs (``clean``); when it is quarantined or had rows rejected, its
    quarantine report (``quarantine_report``) and rejected rows (``rejected_rows``). Only objects
    of the environment's clean and quarantine buckets are signed. None when there is nothing."""
    locations = view.get("locations") or {}
    status = view.get("status")
    out: dict[str, Any] = {}

    def entry(uri: Any, bucket: str) -> dict[str, str] | None:
        found = split_s3_uri(uri)
        if found is None or found[0] != bucket:
            return None
        return {"key": found[1], "url": presign(found[0], found[1])}

    if status == "processed":
        clean = locations.get("clean") or []
        entries = [e for e in (entry(u, clean_bucket) for u in (clean if isinstance(clean, list) else [clean])) if e]
        if entries:
            out["clean"] = entries
    if status in ("processed", "quarantined"):
        for name, location in (("quarantine_report", "quarantine_report"), ("rejected_rows", "quarantine_rows")):
            found = entry(locations.get(location), quarantine_bucket)
            if found:
                out[name] = found
    return out or None


# ------------------------------------------------------------------------------------------------
# POST /datasets/{name}/cleanse: a small body through the stages' own check and cleansing
# ------------------------------------------------------------------------------------------------

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
NDJSON_TYPE = "application/x-ndjson"
#: Media types of a cleanse body per dataset format (JSON: an array of records, always accepted).
BODY_TYPES = {"csv": (JSON_TYPE, CSV_TYPE), "jsonl": (JSON_TYPE, NDJSON_TYPE)}


@dataclass(frozen=True)
class CleanseInput:
    """A cleanse body as the dataset's file format: ``data`` (UTF-8 bytes of a CSV file with its
    header or of JSON Lines), ``rows`` (the 1-based request row of each data row of ``data``),
    ``rows_in`` (records in the request) and ``rejections`` found before (JSON records that cannot
    be written as a CSV row: not an object, an unknown column, a nested value)."""

    media_type: str
    data: bytes
    rows: tuple[int, ...] | None
    rows_in: int
    rejections: tuple[dict[str, Any], ...] = ()


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    if not content_type or not content_type.strip():
        return "", None
    main, *params = (p.strip() for p in content_type.split(";"))
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return main.lower(), charset


def _rejection(row: int, column: str | None, rule: str, message: str) -> dict[str, Any]:
    return {"row": row, "column": column, "rule": rule, "message": message}


def _data_lines(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.strip())


def _csv_cell(value: Any) -> str | None:
    """A JSON value as the text of a CSV cell, None for an array or an object."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return None


def _records_as_csv(records: list[Any], contract: Any) -> tuple[bytes, tuple[int, ...], list[dict[str, Any]]]:
    import csv
    import io

    names = list(contract.column_names)
    known = set(names)
    text = io.StringIO()
    writer = csv.writer(text, delimiter=contract.delimiter, quotechar=contract.quote_char, lineterminator="\n")
    writer.writerow(names)
    rows: list[int] = []
    rejections: list[dict[str, Any]] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            rejections.append(_rejection(number, None, "json_object", f"expected a JSON object, got {_json_type(record)}"))
            continue
        unknown = [k for k in record if k not in known]
        if unknown:
            rejections.append(_rejection(
                number, unknown[0], "column",
                f"unknown column(s) {', '.join(_show(u, 40) for u in unknown)} "
                f"(the {contract.name} contract has: {', '.join(names)})",
            ))
            continue
        cells = []
        for name in names:
            cell = _csv_cell(record.get(name))
            if cell is None:
                rejections.append(_rejection(
                    number, name, "type", f"{name}: a JSON {_json_type(record[name])} is not a {contract.column(name).type} value"
                ))
                break
            cells.append(cell)
        else:
            writer.writerow(cells)
            rows.append(number)
    return text.getvalue().encode("utf-8"), tuple(rows), rejections


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )


def parse_cleanse_body(
    body: bytes | None, content_type: str | None, *, contract: Any, max_bytes: int, max_rows: int
) -> CleanseInput:
    """Check a ``POST /datasets/{name}/cleanse`` body before any row is read: its size (413 above
    ``max_bytes``, pointing to the upload route), media type (415 unless one the dataset's format
    takes: ``application/json`` always, ``text/csv`` for a CSV dataset, ``application/x-ndjson``
    for a JSON Lines one; charset UTF-8 if named), UTF-8 text, JSON (an array of records) and the
    row count (413 above ``max_rows``)."""
    dataset, file_format = contract.name, contract.format
    route = upload_route(dataset)
    accepted = BODY_TYPES.get(file_format, (JSON_TYPE,))
    body = body or b""
    if len(body) > max_bytes:
        raise PayloadTooLarge(
            f"the body is {len(body)} bytes, more than the {max_bytes} this route cleanses synchronously; "
            f"use POST {route} (presigned upload) for larger data",
            upload_route=route,
        )
    media, charset = _media_type(content_type)
    if media not in accepted:
        shown = f"Content-Type {_show(content_type)}" if media else "a request without Content-Type"
        raise UnsupportedMediaType(
            f"{shown} is not accepted for dataset {dataset} ({file_format}): send {' or '.join(accepted)}"
        )
    if charset not in (None, "utf-8", "utf8"):
        raise UnsupportedMediaType(f"charset {charset!r} is not accepted: the body must be UTF-8 (charset=utf-8)")
    if not body.strip():
        raise BadRequest(f"the request body is empty: send {' or '.join(accepted)} data of dataset {dataset}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the request body is not UTF-8 text (invalid byte at offset {exc.start})") from None

    def too_many(rows: int) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the body holds {rows} rows, more than the {max_rows} this route cleanses synchronously; "
            f"use POST {route} (presigned upload) for larger data",
            upload_route=route,
        )

    if media == JSON_TYPE:
        try:
            records = json.loads(text)
        except ValueError as exc:
            raise BadRequest(f"the request body is not valid JSON ({exc}); send a JSON array of records") from None
        if not isinstance(records, list):
            raise BadRequest(f"the request body must be a JSON array of records, got a JSON {_json_type(records)}")
        if not records:
            raise BadRequest("the request body is an empty JSON array: send at least one record")
        if len(records) > max_rows:
            raise too_many(len(records))
        if file_format == "csv":
            data, rows, rejections = _records_as_csv(records, contract)
            return CleanseInput(media, data, rows, len(records), tuple(rejections))
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        return CleanseInput(media, lines.encode("utf-8"), None, len(records))
    rows = _data_lines(text) - (1 if media == CSV_TYPE else 0)
    if rows > max_rows:
        raise too_many(rows)
    return CleanseInput(media, body, None, rows)


def _clean_records(sink: bytes, contract: Any) -> list[dict[str, Any]]:
    import csv
    import io

    text = sink.decode("utf-8")
    if contract.format == "jsonl":
        return [json.loads(line) for line in text.split("\n") if line]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    return [{n: (v if v != "" else None) for n, v in zip(header, row)} for row in reader]


def cleanse_records(
    request: CleanseInput, *, contract: Any, tokenise: Callable[[str], str] | None, today: date
) -> dict[str, Any]:
    """Validate and cleanse a checked body with the stages' own code (``pipeline_shared.validation``
    and ``pipeline_shared.cleansing``): the 200 body ``{"dataset", "rows_in", "valid", "rejected",
    "duplicates", "accepted", "records", "rejections"}``. ``records``: the clean rows as the clean
    bucket would hold them (tokenised; for a CSV dataset the standardised text, null for empty),
    grouped by clean partition; ``rejections``: every broken rule, ``row`` counted from 1 over the
    request's records (JSON) or data rows (CSV without its header, blank lines not counted);
    ``accepted`` false (with ``reason``) when the pipeline would quarantine the data as a file
    (more rejected rows than the contract's max_rejected_fraction). Nothing is written anywhere."""
    import io

    from pipeline_shared.cleansing import cleanse_stream
    from pipeline_shared.validation import validate_stream

    key = f"{contract.name}/api/request.{contract.extension}"
    rejections = list(request.rejections)
    valid = duplicates = 0
    records: list[dict[str, Any]] = []
    if request.rows is None or request.rows:
        checked = validate_stream(
            io.BytesIO(request.data), key=key, contract=contract, max_bytes=len(request.data) + 1,
            max_violations=len(request.data) + 1,
        )
        if checked.reason is not None and checked.rule != "threshold":
            raise BadRequest(f"the body cannot be read as {contract.name} data ({contract.format}): {checked.reason}")
        valid = checked.valid
        for violation in checked.violations:
            row = request.rows[violation.row - 1] if request.rows is not None else violation.row
            rejections.append(_rejection(row, violation.column, violation.rule, violation.message))
        sinks: dict[date, io.BytesIO] = {}

        def open_partition(partition: date) -> io.BytesIO:
            sinks[partition] = io.BytesIO()
            return sinks[partition]

        cleansed = cleanse_stream(
            io.BytesIO(request.data), key=key, contract=contract, max_bytes=len(request.data) + 1,
            tokenise=tokenise, default_partition=today, open_partition=open_partition,
        )
        duplicates = cleansed.duplicates
        for sink in sinks.values():
            records.extend(_clean_records(sink.getvalue(), contract))
        if request.rows is None:
            rows_in = checked.records_in
        else:
            rows_in = request.rows_in
    else:
        rows_in = request.rows_in
    rejections.sort(key=lambda r: r["row"])
    rejected = rows_in - valid
    answer: dict[str, Any] = {
        "dataset": contract.name,
        "rows_in": rows_in,
        "valid": valid,
        "rejected": rejected,
        "duplicates": duplicates,
        "accepted": True,
        "records": records,
        "rejections": rejections,
    }
    share = rejected / rows_in if rows_in else 0.0
    if share > contract.max_rejected_fraction:
        answer["accepted"] = False
        answer["reason"] = (
            f"{rejected} of {rows_in} rows ({share:.1%}) break the {contract.name} contract, more than its "
            f"max_rejected_fraction of {contract.max_rejected_fraction:.1%}: as a file, the pipeline would "
            "quarantine it whole"
        )
    return answer


