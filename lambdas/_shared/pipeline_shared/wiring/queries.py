"""The allow-listed Athena queries: their SQL, written once for the saved (named) queries the
stack creates (``modules/athena.py``) and for ``POST /queries`` of the REST API (``lambdas/api``).

**No SQL from a caller, ever.** A query is fixed text plus identifiers that come from the
deployment (database and table names: validated, lower-cased and double-quoted, so they cannot close
the quotes or reach another object) and literals that are validated values (known dataset names,
real calendar dates, bounded integers), single-quoted with quotes doubled.

Each builder takes the qualified table (``qualified_table``), the dataset, a *window* (a predicate on
the partition column: ``between`` two dates for the API, ``recent_days`` for the saved queries, which
run without parameters) and an optional ``LIMIT``. The tables' layouts are in ``modules/athena.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

#: The clean table of a dataset (a template: ``{dataset}``, '-' → '_'), the quarantine reports
#: table and the file-status history table, unless the deployment names others.
DEFAULT_CLEAN_TABLE = "clean_{dataset}"
DEFAULT_REPORTS_TABLE = "quarantine_reports"
DEFAULT_STATUS_TABLE = "file_status"
#: The partition column of every table the queries read (a keyword: always quoted).
DATE_COLUMN = '"date"'
#: Glue database/table names accepted from the deployment (Glue lower-cases; '-' needs quoting).
_IDENTIFIER_RE = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,254}$")

#: A predicate on a (qualified) partition column: ``column -> SQL``.
Window = Callable[[str], str]


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote_identifier(name: str) -> str:
    """``name`` as an Athena (Trino) delimited identifier. Only letters, digits, '_' and '-' are
    accepted, so the result cannot close the quotes or reach another object."""
    if not isinstance(name, str):
        raise ValueError(f"an Athena identifier must be a string, got {type(name).__name__}")
    lowered = name.lower()
    if not _IDENTIFIER_RE.fullmatch(lowered):
        raise ValueError(f"invalid Athena identifier {_show(name)}: 1-255 characters of a-z, 0-9, '_' and '-'")
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


def clean_table_name(dataset: str, template: str = DEFAULT_CLEAN_TABLE) -> str:
    """The clean table of ``dataset``: ``template`` with ``{dataset}`` ('-' becomes '_', as Glue
    table names should not hold '-')."""
    if "{dataset}" not in template:
        raise ValueError(f"the clean table template {template!r} must contain {{dataset}}")
    return template.replace("{dataset}", dataset.replace("-", "_"))


def between(date_from: date, date_to: date) -> Window:
    """Partitions from ``date_from`` to ``date_to``, inclusive (the API's window)."""
    low, high = quote_literal(date_from.isoformat()), quote_literal(date_to.isoformat())
    return lambda column: f"{column} BETWEEN {low} AND {high}"


def recent_days(days: int) -> Window:
    """Partitions of the last ``days`` days, relative to when the query runs (the saved queries')."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number of at least 1, got {days!r}")
    # a date cast to varchar is YYYY-MM-DD, the partition values' form
    return lambda column: f"{column} >= CAST(current_date - INTERVAL '{days}' DAY AS varchar)"


def _limit(limit: int | None) -> str:
    if limit is None:
        return ""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"a LIMIT must be a whole number of at least 1, got {limit!r}")
    return f"\nLIMIT {limit}"


def row_counts_per_day_sql(table: str, *, dataset: str, window: Window, limit: int | None = None) -> str:
    """Rows and files per day of the dataset's clean table (``table`` is that table: ``dataset`` is
    not a column of it)."""
    del dataset  # the table is the dataset's own
    return (
        'SELECT "date" AS day, count(*) AS row_count, count(DISTINCT "$path") AS files\n'
        f"FROM {table}\n"
        f"WHERE {window(DATE_COLUMN)}\n"
        'GROUP BY "date"\n'
        'ORDER BY "date" DESC' + _limit(limit)
    )


def rejected_rows_by_reason_sql(table: str, *, dataset: str, window: Window, limit: int | None = None) -> str:
    """Rejected rows by rule and column: whole-file rejections (quarantined: every row) and the
    row-level violations of validated files, from the quarantine reports table."""
    literal = quote_literal(dataset)
    return (
        "SELECT reason, column_name, sum(row_count) AS rejected_rows, count(DISTINCT file_id) AS files\n"
        "FROM (\n"
        "    SELECT file_id, rule AS reason, CAST(NULL AS varchar) AS column_name,\n"
        "           coalesce(counts.records_in, 0) AS row_count\n"
        f"    FROM {table}\n"
        f"    WHERE dataset = {literal} AND {window(DATE_COLUMN)} AND status = 'quarantined'\n"
        "    UNION ALL\n"
        "    SELECT r.file_id, v.reason, v.column_name, 1 AS row_count\n"
        f"    FROM {table} AS r\n"
        '    CROSS JOIN UNNEST(transform(r.violations, x -> x.rule), transform(r.violations, x -> x."column"))\n'
        "        AS v (reason, column_name)\n"
        f"    WHERE r.dataset = {literal} AND {window('r.' + DATE_COLUMN)} AND r.status = 'validated'\n"
        ") AS rejected\n"
        "GROUP BY reason, column_name\n"
        "ORDER BY rejected_rows DESC, reason, column_name" + _limit(limit)
    )


def latest_status_per_file_sql(table: str, *, dataset: str, window: Window, limit: int | None = None) -> str:
    """Each file's latest status in the window, newest first, from the file-status history table."""
    return (
        'SELECT file_id, status, updated_at, "key" AS object_key, reason,\n'
        '       counts.records_in AS records_in, counts."out" AS records_out, counts.rejected AS rejected\n'
        "FROM (\n"
        '    SELECT file_id, status, updated_at, "key", reason, counts,\n'
        "           row_number() OVER (PARTITION BY file_id ORDER BY updated_at DESC) AS rn\n"
        f"    FROM {table}\n"
        f"    WHERE dataset = {quote_literal(dataset)} AND {window(DATE_COLUMN)}\n"
        ") AS latest\n"
        "WHERE rn = 1\n"
        "ORDER BY updated_at DESC" + _limit(limit)
    )


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    #: the table it reads: "clean" (the dataset's own), "reports" or "status"
    source: str
    build: Callable[..., str]


#: The only queries there are: saved per dataset by the stack, run by name by the API.
QUERIES: dict[str, Query] = {
    q.name: q
    for q in (
        Query("row_counts_per_day", "rows and files per day of the dataset's clean table (partition date)",
              "clean", row_counts_per_day_sql),
        Query("rejected_rows_by_reason",
              "rejected rows by rule (and column): whole-file rejections and row-level violations",
              "reports", rejected_rows_by_reason_sql),
        Query("latest_status_per_file", "each file's latest status in the window, newest first",
              "status", latest_status_per_file_sql),
    )
}
QUERY_NAMES = tuple(QUERIES)
