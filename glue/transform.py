"""The compaction transform, pure: clean-zone records in, typed, de-duplicated rows out. No Spark.

The Glue job (``compact_clean.py``) reads each dataset's new clean files (job bookmarks) as plain
records and calls these functions from ``mapPartitions``/``reduceByKey``; the tests call them on
lists of dicts. Standard library only, Python 3.10 (the Glue 4.0 runtime).

A record is one clean row as a mapping: CSV gives every value as text (a missing value is ``""``,
so an empty string counts as missing), JSON Lines gives JSON values (``null`` when missing). The job adds ``SOURCE_FIELD``, the object's
S3 path, from which the partition date is read.

``cast_record`` turns a record into an output row: one value per contract column, keyed by its Glue
(lower-case) name, typed as the catalog declares it (``str``, ``int``, ``Decimal`` quantized to
``DECIMAL_SCALE``, ``date``, timezone-aware UTC ``datetime``, ``bool``; ``None`` when missing) plus
the partition value ``date`` (``YYYY-MM-DD``). The partition is the ``date=`` segment of the source
path (where cleanse put the row), else the contract's ``partition_column``. A record that cannot
be cast is rejected with a reason ``<rule>:<column>`` (or ``no_partition``), counted, never written:

================================  =============================================================
``missing_required:<col>``         a required column is empty or absent
``bad_integer:<col>``              not an integer (``12``, ``-3``), or outside bigint
``bad_decimal:<col>``              not a plain decimal number
``decimal_scale:<col>``            more fractional digits than ``DECIMAL_SCALE`` (never rounded)
``decimal_out_of_range:<col>``     more integer digits than ``decimal(38,9)`` holds
``bad_date:<col>``                 not ``YYYY-MM-DD``
``bad_timestamp:<col>``            not an ISO-8601 timestamp (a naive one is taken as UTC)
``bad_boolean:<col>``              not ``true``/``false``
``pii_not_tokenised:<col>``        a PII value that is not a 64-hex token (never let raw PII
                                   reach the Parquet zone)
``no_partition``                   no ``date=`` in the path and no partition column value
================================  =============================================================

**De-duplication** by the contract's ``key_columns``, within one batch (one job run): of the rows
sharing a key, the one with the smallest ``(date, source path, row)`` order wins — the earliest
partition, like cleanse's "first occurrence wins", and deterministic whatever order Spark
delivers rows in. Rows already compacted by earlier runs are not consulted. Without key columns
nothing is de-duplicated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

from .specs import DECIMAL_PRECISION, DECIMAL_SCALE, PARTITION_KEY, ColumnSpec, DatasetSpec, glue_columns

#: The column the job attaches to every record: the S3 path of the object it came from.
SOURCE_FIELD = "source_file"
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1

_INTEGER_RE = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL_RE = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TOKEN_RE = re.compile(r"^[0-9a-f]{64}$")
_PARTITION_RE = re.compile(r"(?:^|/)" + PARTITION_KEY + r"=([0-9]{4}-[0-9]{2}-[0-9]{2})(?:/|$)")
_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
_DECIMAL_LIMIT = Decimal(10) ** (DECIMAL_PRECISION - DECIMAL_SCALE)
_CONTEXT = Context(prec=DECIMAL_PRECISION + 30)


class Rejected(ValueError):
    """A value (or record) that cannot be cast; ``reason`` is the counted reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class CompactStats:
    """Counts of one batch: records read, rows written, duplicates dropped, rejections by reason."""

    records_in: int = 0
    rows_out: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + count

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        return {"records_in": self.records_in, "rows_out": self.rows_out, "duplicates": self.duplicates,
                "rejected": dict(sorted(self.rejected.items()))}


class Cast(NamedTuple):
    """``cast_record``'s result: a row, or the reason it was rejected; ``order`` ranks duplicates."""

    row: dict[str, Any] | None
    reason: str | None
    order: tuple[str, str, str]


# ---------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------


def _integer(c: ColumnSpec, value: Any) -> int:
    if isinstance(value, bool):
        raise Rejected(f"bad_integer:{c.name}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER_RE.match(value.strip()):
        number = int(value.strip())
    else:
        raise Rejected(f"bad_integer:{c.name}")
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise Rejected(f"bad_integer:{c.name}")
    return number


def _decimal(c: ColumnSpec, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise Rejected(f"bad_decimal:{c.name}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str) and _DECIMAL_RE.match(value.strip()):
        number = Decimal(value.strip())
    else:
        raise Rejected(f"bad_decimal:{c.name}")
    if not number.is_finite():
        raise Rejected(f"bad_decimal:{c.name}")
    try:
        quantized = number.quantize(_QUANTUM, context=_CONTEXT)
    except InvalidOperation:
        raise Rejected(f"decimal_out_of_range:{c.name}") from None
    if quantized != number:
        raise Rejected(f"decimal_scale:{c.name}")
    if quantized.copy_abs() >= _DECIMAL_LIMIT:
        raise Rejected(f"decimal_out_of_range:{c.name}")
    return quantized


def _date(c: ColumnSpec, value: Any) -> date:
    if isinstance(value, datetime):
        raise Rejected(f"bad_date:{c.name}")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_RE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Rejected(f"bad_date:{c.name}")


def _timestamp(c: ColumnSpec, value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        if len(text) < 19 or text[10] not in "Tt ":
            raise Rejected(f"bad_timestamp:{c.name}")
        try:
            parsed = datetime.fromisoformat(text)  # Python 3.10: [.ffffff|.fff][+HH:MM]
        except ValueError:
            raise Rejected(f"bad_timestamp:{c.name}") from None
    else:
        raise Rejected(f"bad_timestamp:{c.name}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _boolean(c: ColumnSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    raise Rejected(f"bad_boolean:{c.name}")


def _string(c: ColumnSpec, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if c.pii and not _TOKEN_RE.match(text):
        raise Rejected(f"pii_not_tokenised:{c.name}")
    return text


_CASTS = {
    "string": _string,
    "integer": _integer,
    "decimal": _decimal,
    "date": _date,
    "timestamp": _timestamp,
    "boolean": _boolean,
}


def cast_value(column: ColumnSpec, value: Any) -> Any:
    """``value`` as ``column``'s type (None when missing); raises ``Rejected``."""
    if value is None or (isinstance(value, str) and value == ""):
        if column.required:
            raise Rejected(f"missing_required:{column.name}")
        return None
    if column.pii:
        return _string(column, value)
    return _CASTS[column.type](column, value)


def canonical(value: Any) -> str:
    """The text of a cast value (keys and ordering): ISO dates, ``Z`` timestamps, plain decimals."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(_CONTEXT), "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------------


def partition_from_path(path: Any) -> str | None:
    """The ``YYYY-MM-DD`` of the ``date=`` segment of an S3 path or key, or None."""
    if not isinstance(path, str):
        return None
    match = _PARTITION_RE.search(path)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:
        return None


def _lookup(record: Mapping[str, Any], column: ColumnSpec) -> Any:
    if column.name in record:
        return record[column.name]
    return record.get(column.glue_name)


def cast_record(record: Mapping[str, Any], contract: Any) -> Cast:
    """One clean record → ``Cast(row, None, order)`` or ``Cast(None, reason, order)``."""
    spec = DatasetSpec.of(contract)
    source = record.get(SOURCE_FIELD)
    source_text = source if isinstance(source, str) else ""
    row: dict[str, Any] = {}
    try:
        for column in spec.columns:
            row[column.glue_name] = cast_value(column, _lookup(record, column))
    except Rejected as exc:
        return Cast(None, exc.reason, ("", source_text, ""))
    partition = partition_from_path(source)
    if partition is None and spec.partition_column is not None:
        when = row[spec.column(spec.partition_column).glue_name]
        if isinstance(when, datetime):
            partition = when.astimezone(timezone.utc).date().isoformat()
        elif isinstance(when, date):
            partition = when.isoformat()
    if partition is None:
        return Cast(None, "no_partition", ("", source_text, ""))
    row[PARTITION_KEY] = partition
    identity = json.dumps([canonical(row[c.glue_name]) for c in spec.columns], ensure_ascii=False)
    return Cast(row, None, (partition, source_text, identity))


def dedupe_key(row: Mapping[str, Any], contract: Any) -> tuple[str, ...] | None:
    """The key of ``row`` (canonical texts of the key columns), or None without key columns."""
    spec = DatasetSpec.of(contract)
    if not spec.key_columns:
        return None
    return tuple(canonical(row[spec.column(k).glue_name]) for k in spec.key_columns)


def prefer(a: tuple[tuple[str, str, str], dict[str, Any]],
           b: tuple[tuple[str, str, str], dict[str, Any]]) -> tuple[tuple[str, str, str], dict[str, Any]]:
    """Of two ``(order, row)`` sharing a key, the one that wins (smallest order); for reduceByKey."""
    return a if a[0] <= b[0] else b


def tag_records(records: Iterable[Mapping[str, Any]], contract: Any) -> Iterator[tuple[Any, ...]]:
    """For Spark's ``mapPartitions``: ``(None, key, order, row)`` per good record and
    ``(reason, None, None, None)`` per rejected one (rows are plain picklable values)."""
    spec = DatasetSpec.of(contract)
    for record in records:
        cast = cast_record(record, spec)
        if cast.row is None:
            yield (cast.reason, None, None, None)
        else:
            yield (None, dedupe_key(cast.row, spec), cast.order, cast.row)


def compact_rows(records: Iterable[Mapping[str, Any]], contract: Any,
                 stats: CompactStats | None = None) -> list[dict[str, Any]]:
    """The whole transform on one batch held in memory: cast, reject, de-duplicate.

    Rows come out sorted by partition, then by source path and value (deterministic)."""
    spec = DatasetSpec.of(contract)
    stats = stats if stats is not None else CompactStats()
    kept: dict[Any, tuple[tuple[str, str, str], dict[str, Any]]] = {}
    unkeyed: list[tuple[tuple[str, str, str], dict[str, Any]]] = []
    for reason, key, order, row in tag_records(_counted(records, stats), spec):
        if reason is not None:
            stats.reject(reason)
            continue
        if key is None:
            unkeyed.append((order, row))
            continue
        found = kept.get(key)
        if found is None:
            kept[key] = (order, row)
        else:
            stats.duplicates += 1
            kept[key] = prefer(found, (order, row))
    winners = sorted([*kept.values(), *unkeyed], key=lambda pair: pair[0])
    stats.rows_out += len(winners)
    return [row for _, row in winners]


def _counted(records: Iterable[Mapping[str, Any]], stats: CompactStats) -> Iterator[Mapping[str, Any]]:
    for record in records:
        stats.records_in += 1
        yield record


def output_fields(contract: Any) -> list[tuple[str, str]]:
    """``[(name, Glue type)]`` of an output row, partition key last (the job builds its Spark
    schema from it)."""
    return [*glue_columns(contract), (PARTITION_KEY, "string")]


def row_values(row: Mapping[str, Any], fields: Iterable[tuple[str, str]]) -> tuple[Any, ...]:
    """An output row as a tuple in ``fields`` order (for ``createDataFrame``)."""
    return tuple(row[name] for name, _ in fields)
