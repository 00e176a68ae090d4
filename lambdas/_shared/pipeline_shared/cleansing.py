"""The cleansing shared by cleanse (its stage) and the API (``POST /datasets/{name}/cleanse``):
normalise, standardise, de-duplicate and tokenise one validated file. No boto3 here.

In the stage the rows are re-read from landing and run through the **same** row check validate used,
so a row validate quarantined never reaches clean, and every kept row comes out normalised (trim, Unicode,
case as declared) and standardised (ISO-8601 dates and UTC timestamps, plain decimals with '.',
``true``/``false``). Runs of lines the contract's fast path accepts (``fastpath``:
good rows whose fields are already standard, but for ASCII case) are processed column-wise at C
speed; every other row goes through ``RowChecker``. Both give the same bytes. Then:

- **duplicates** by the contract's ``key_columns`` are dropped, first occurrence wins. Memory is
  bounded whatever the number of distinct keys: ``dedupe.KeySet`` keeps up to
  ``dedupe.MEMORY_KEYS`` keys in memory and spills to a SQLite table in the temporary directory
  beyond. Without key columns nothing is de-duplicated;
- **PII columns** are replaced by ``HMAC-SHA256(key, normalised value)`` in hex: stable across
  files (joinable), irreversible without the key; empty values stay empty. Tokens are memoised in
  a bounded cache (a customer's e-mail recurs on each of their orders);
- rows are written per **partition** date — the contract's ``partition_column`` or, without one,
  the date the file landed — as CSV (comma-separated, with header) or JSON Lines, to sinks the
  caller provides (cleanse's ``PartitionSpool`` spools them in bounded memory, then in temporary
  files; the API writes them to memory), in batches of ``BATCH_ROWS``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import compress
from operator import itemgetter
from typing import TYPE_CHECKING, Any, BinaryIO

from .contracts import Contract
from .readers import FastRun, InputRejected, Record, RecordReader
from .rows import RowChecker, canonical_text

if TYPE_CHECKING:
    from .dedupe import KeySet
    from .fastpath import FastPath

MIN_KEY_BYTES = 32
#: Rows formatted before they are de-duplicated, grouped by partition and written.
BATCH_ROWS = 16384
#: Tokens memoised (value → token); the cache is emptied when full (~15 MB at the bound).
TOKEN_CACHE_ENTRIES = 1 << 16
_SHA256_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_DAY = itemgetter(slice(0, 10))


class CleanseError(RuntimeError):
    """The file cannot be cleansed (it no longer reads as it did when validated)."""


class Tokeniser:
    """Keyed HMAC-SHA256 (hex) of a value's UTF-8 bytes (RFC 2104 with the inner and outer pads
    hashed once). The key never appears in repr or errors."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"tokenisation key is too short: {len(key)} bytes, at least {MIN_KEY_BYTES} required")
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def __call__(self, value: str) -> str:
        inner = self._inner.copy()
        inner.update(value.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def __repr__(self) -> str:
        return "Tokeniser(<key redacted>)"


class _Tokens(dict):  # type: ignore[type-arg]
    """value → token, memoised in two generations of up to ``limit`` entries each: when the current
    one is full it becomes the old one, and a value found there is promoted, so frequent values
    (a regular customer's e-mail) stay cached. ``""`` stays ``""``."""

    __slots__ = ("_tokenise", "_limit", "_old")

    def __init__(self, tokenise: Callable[[str], str], limit: int) -> None:
        super().__init__({"": ""})
        self._tokenise, self._limit = tokenise, max(limit, 1)
        self._old: dict[str, str] = {}

    def __missing__(self, value: str) -> str:
        token = self._old.get(value)
        if token is None:
            token = self._tokenise(value)
        if len(self) > self._limit:
            self._old = dict(self)
            self.clear()
            self[""] = ""
        self[value] = token
        return token


def key_from_parameter(value: str, parameter_name: str) -> bytes:
    """The HMAC key held by the SecureString ``parameter_name`` (its UTF-8 bytes, ≥ 32)."""
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"SSM parameter {parameter_name} holds a {len(key)}-byte tokenisation key; at least "
            f"{MIN_KEY_BYTES} bytes are required (e.g. 64 random hex characters)"
        )
    return key


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (Decimal, date)):
        return canonical_text(value)
    return str(value)


class _PartitionWriter:
    def __init__(self, sink: BinaryIO, contract: Contract) -> None:
        self.sink = sink
        self.rows = 0
        self._text = io.TextIOWrapper(sink, encoding="utf-8", newline="")
        if contract.format == "csv":
            csv.writer(self._text, lineterminator="\n").writerow(contract.column_names)

    def write_rows(self, rows: list[str]) -> None:
        """Rows already formatted, without their line terminator."""
        self._text.write("\n".join(rows))
        self._text.write("\n")
        self.rows += len(rows)

    def close(self) -> int:
        self._text.flush()
        size = self.sink.tell()
        self._text.detach()
        return size


class _Line:
    """A file-like that keeps the one line ``csv.writer.writerow`` writes."""

    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line = ""

    def write(self, text: str) -> None:
        self.line = text


@dataclass
class CleanseResult:
    records_in: int = 0
    valid: int = 0
    rejected: int = 0
    duplicates: int = 0
    out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    #: partition date → (rows, bytes) written to the sink of that partition
    partitions: dict[date, tuple[int, int]] = field(default_factory=dict)
    #: diagnostics, not part of ``counts``: rows taken by the fast path, keys spilled to disk
    fast_rows: int = 0
    spilled_keys: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {
            "records_in": self.records_in,
            "valid": self.valid,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "out": self.out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }


class _Cleanser:
    """The state of one ``cleanse_stream`` call. Rows are de-duplicated as they come (before they
    are tokenised and formatted), then batched with their partitions, grouped and written every
    ``BATCH_ROWS``."""

    def __init__(
        self,
        contract: Contract,
        *,
        tokens: _Tokens | None,
        default_partition: date,
        open_partition: Callable[[date], BinaryIO],
        result: CleanseResult,
        keys: KeySet | None,
    ) -> None:
        self.contract = contract
        self.names = contract.column_names
        self.tokens = tokens
        self.default_partition = default_partition
        self.default_label = default_partition.isoformat()
        self.open_partition = open_partition
        self.result = result
        self.keys = keys
        self.key_columns = contract.key_columns
        self.pii = contract.pii_columns
        self.partition_column = contract.partition_column
        self.writers: dict[str, _PartitionWriter] = {}
        self.parts: list[str] = []
        self.rows: list[str] = []
        self.checker = RowChecker(contract)
        from .dedupe import identities, identity  # with the key set: at the first file

        self._identity, self._identities = identity, identities
        names = self.names
        self._key_index = [names.index(k) for k in self.key_columns]
        self._pii_index = [names.index(k) for k in self.pii]
        self._partition_index = names.index(self.partition_column) if self.partition_column else -1
        self._partition_is_timestamp = bool(self.partition_column) and (
            contract.column(self.partition_column).type == "timestamp"  # type: ignore[arg-type]
        )
        self._line = _Line()
        self._csv = csv.writer(self._line, lineterminator="\n") if contract.format == "csv" else None

    # -- slow path: one parsed record through the row check
    def record(self, record: Record) -> None:
        result = self.result
        if record.violations:
            result.rejected += 1
            return
        values, violations = self.checker.check(record.values or {}, row=record.row, line=record.line)
        if violations:
            result.rejected += 1
            return
        result.valid += 1
        if (
            self.keys is not None
            and not self.keys.first_seen([self._identity([canonical_text(values[k]) for k in self.key_columns])])[0]
        ):
            result.duplicates += 1
            return
        if self.partition_column is not None:
            when = values[self.partition_column]
            self.parts.append((when.date() if isinstance(when, datetime) else when).isoformat())
        if self.pii:
            tokens = self.tokens
            assert tokens is not None
            for name in self.pii:
                if values[name] is not None:
                    values[name] = tokens[canonical_text(values[name])]
        if self._csv is not None:
            self._csv.writerow([canonical_text(values[n]) for n in self.names])
            self.rows.append(self._line.line[:-1])
        else:
            self.rows.append(
                json.dumps({n: _json_value(values[n]) for n in self.names}, ensure_ascii=False, separators=(",", ":"))
            )
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    # -- fast path: a run of good lines, column by column
    def run(self, run: FastRun, fast: FastPath) -> None:
        n, width = run.rows, fast.width
        chunk = run.text[run.start : run.end]
        if "\r" in chunk:
            chunk = chunk.replace("\r\n", "\n")
        delimiter = fast.delimiter
        cells = chunk.replace("\n", delimiter).split(delimiter)
        total = n * width
        columns = []
        for i, case in zip(fast.index, fast.case):
            column = cells[i:total:width]
            if case is not None:
                joined = "\n".join(column)
                mapped = joined.lower() if case == "lower" else joined.upper()
                if mapped != joined:
                    column = mapped.split("\n")
            columns.append(column)
        self.result.valid += n
        if self.keys is not None:
            if len(self._key_index) == 1:
                ids = self._identities(columns[self._key_index[0]])
            else:
                ids = [self._identity(texts) for texts in zip(*(columns[i] for i in self._key_index))]
            flags = self.keys.first_seen(ids)
            kept = sum(flags)
            if kept < n:
                self.result.duplicates += n - kept
                if not kept:
                    return
                columns = [list(compress(column, flags)) for column in columns]
        if self._partition_index >= 0:
            column = columns[self._partition_index]
            if self._partition_is_timestamp:
                column = list(map(_DAY, column))  # canonical UTC timestamp: its date is its first 10 characters
            self.parts.extend(column)
        if self._pii_index:
            get = self.tokens.__getitem__  # type: ignore[union-attr]
            for j in self._pii_index:
                columns[j] = list(map(get, columns[j]))
        self.rows.extend(map(",".join, zip(*columns)))
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        rows, parts = self.rows, self.parts
        if not rows:
            return
        self.rows, self.parts = [], []
        self.result.out += len(rows)
        if not parts:
            self._writer(self.default_label).write_rows(rows)
        elif parts[0] == parts[-1] and parts.count(parts[0]) == len(parts):
            self._writer(parts[0]).write_rows(rows)
        elif parts == sorted(parts):  # rows in date order (the usual export): slice each date out
            start = 0
            for label in sorted(set(parts)):
                end = bisect_right(parts, label, start)
                self._writer(label).write_rows(rows[start:end])
                start = end
        else:
            groups: dict[str, list[str]] = {}
            for label, row in zip(parts, rows):
                group = groups.get(label)
                if group is None:
                    group = groups[label] = []
                group.append(row)
            for label, group in groups.items():
                self._writer(label).write_rows(group)

    def _writer(self, label: str) -> _PartitionWriter:
        writer = self.writers.get(label)
        if writer is None:
            partition = self.default_partition if label == self.default_label else date.fromisoformat(label)
            writer = self.writers[label] = _PartitionWriter(self.open_partition(partition), self.contract)
        return writer

    def close(self) -> None:
        for label, writer in self.writers.items():
            size = writer.close()
            partition = self.default_partition if label == self.default_label else date.fromisoformat(label)
            self.result.partitions[partition] = (writer.rows, size)
            self.result.bytes_out += size


def cleanse_stream(
    source: BinaryIO | Any,
    *,
    key: str,
    contract: Contract,
    max_bytes: int,
    tokenise: Callable[[str], str] | None,
    default_partition: date,
    open_partition: Callable[[date], BinaryIO],
    fast_path: bool = True,
    dedupe_memory_keys: int | None = None,
    token_cache: int = TOKEN_CACHE_ENTRIES,
) -> CleanseResult:
    """Cleanse every good row of ``source`` into the sinks ``open_partition(date)`` returns (one
    call per partition date, in the order partitions first appear). Raises ``CleanseError`` if the
    file cannot be read as a whole. ``fast_path=False`` takes every row the slow way (same output),
    ``dedupe_memory_keys`` bounds the keys held in memory (default ``dedupe.MEMORY_KEYS``)."""
    pii = contract.pii_columns
    if pii and tokenise is None:
        raise CleanseError(
            f"the {contract.name} contract declares PII column(s) {', '.join(pii)} but no tokeniser was given"
        )
    reader = RecordReader(source, key=key, contract=contract, max_bytes=max_bytes)
    result = CleanseResult()
    keys = None
    if contract.key_columns:
        from . import dedupe

        keys = dedupe.KeySet(dedupe_memory_keys or dedupe.MEMORY_KEYS)
    state = _Cleanser(
        contract,
        tokens=_Tokens(tokenise, token_cache) if tokenise is not None and pii else None,
        default_partition=default_partition,
        open_partition=open_partition,
        result=result,
        keys=keys,
    )
    try:
        for item in reader.scan(fast=fast_path):
            result.records_in += item.rows if item.__class__ is FastRun else 1  # type: ignore[union-attr]
            if item.__class__ is FastRun:
                assert reader.fast_path is not None
                state.run(item, reader.fast_path)  # type: ignore[arg-type]
            else:
                state.record(item)  # type: ignore[arg-type]
        state.flush()
    except InputRejected as exc:
        raise CleanseError(f"cannot cleanse {key}: {exc.reason}") from None
    finally:
        state.close()
        result.bytes_in = reader.bytes_read
        result.fast_rows = reader.fast_rows
        if keys is not None:
            result.spilled_keys = keys.spilled
            keys.close()
    return result
