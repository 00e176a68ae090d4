"""cleanse — pure core: normalise, standardise, de-duplicate and tokenise one validated file.

The rows are re-read from landing and run through the **same** ``RowChecker`` validate used, so a
row validate quarantined never reaches clean, and every kept row comes out normalised (trim,
Unicode, case as declared) and standardised (ISO-8601 dates and UTC timestamps, plain decimals
with '.', ``true``/``false``). Then:

- **duplicates** by the contract's ``key_columns`` are dropped, first occurrence wins. Memory is
  bounded by the number of *distinct keys* in the file: one 16-byte digest per key (roughly 100
  bytes each with set overhead, so ~100 MB for a million distinct keys). Without key columns
  nothing is de-duplicated;
- **PII columns** are replaced by ``HMAC-SHA256(key, normalised value)`` in hex: stable across
  files (joinable), irreversible without the key; empty values stay empty;
- rows are written per **partition** date — the contract's ``partition_column`` or, without one,
  the date the file landed — as CSV (comma-separated, with header) or JSON Lines, to sinks the
  caller provides (no I/O here).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

from pipeline_shared.contracts import Contract
from pipeline_shared.readers import InputRejected, RecordReader
from pipeline_shared.rows import RowChecker, canonical_text

MIN_KEY_BYTES = 32


class CleanseError(RuntimeError):
    """The file cannot be cleansed (it no longer reads as it did when validated)."""


class Tokeniser:
    """Keyed HMAC-SHA256 (hex) of a value's UTF-8 bytes. The key never appears in repr or errors."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"tokenisation key is too short: {len(key)} bytes, at least {MIN_KEY_BYTES} required")
        self._key = key

    def __call__(self, value: str) -> str:
        return hmac.digest(self._key, value.encode("utf-8"), "sha256").hex()  # OpenSSL one-shot

    def __repr__(self) -> str:
        return "Tokeniser(<key redacted>)"


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
        self._names = contract.column_names
        self._text = io.TextIOWrapper(sink, encoding="utf-8", newline="")
        self._csv = None
        if contract.format == "csv":
            self._csv = csv.writer(self._text, lineterminator="\n")
            self._csv.writerow(self._names)

    def write(self, values: dict[str, Any]) -> None:
        if self._csv is not None:
            self._csv.writerow([canonical_text(values[n]) for n in self._names])
        else:
            self._text.write(
                json.dumps({n: _json_value(values[n]) for n in self._names}, ensure_ascii=False, separators=(",", ":"))
            )
            self._text.write("\n")
        self.rows += 1

    def close(self) -> int:
        self._text.flush()
        size = self.sink.tell()
        self._text.detach()
        return size


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


def cleanse_stream(
    source: BinaryIO | Any,
    *,
    key: str,
    contract: Contract,
    max_bytes: int,
    tokenise: Callable[[str], str] | None,
    default_partition: date,
    open_partition: Callable[[date], BinaryIO],
) -> CleanseResult:
    """Cleanse every good row of ``source`` into the sinks ``open_partition(date)`` returns (one
    call per partition date). Raises ``CleanseError`` if the file cannot be read as a whole."""
    pii = contract.pii_columns
    if pii and tokenise is None:
        raise CleanseError(
            f"the {contract.name} contract declares PII column(s) {', '.join(pii)} but no tokeniser was given"
        )
    reader = RecordReader(source, key=key, contract=contract, max_bytes=max_bytes)
    checker = RowChecker(contract)
    key_columns = contract.key_columns
    partition_column = contract.partition_column
    seen: set[bytes] = set()
    writers: dict[date, _PartitionWriter] = {}
    result = CleanseResult()
    try:
        for record in reader:
            result.records_in += 1
            if record.violations:
                result.rejected += 1
                continue
            values, violations = checker.check(record.values or {}, row=record.row, line=record.line)
            if violations:
                result.rejected += 1
                continue
            result.valid += 1
            if key_columns:
                identity = repr(tuple(canonical_text(values[k]) for k in key_columns))  # unambiguous
                digest = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                if digest in seen:
                    result.duplicates += 1
                    continue
                seen.add(digest)
            if partition_column is not None:
                when = values[partition_column]
                partition = when.date() if isinstance(when, datetime) else when
            else:
                partition = default_partition
            for name in pii:
                if values[name] is not None:
                    values[name] = tokenise(canonical_text(values[name]))  # type: ignore[misc]
            writer = writers.get(partition)
            if writer is None:
                writer = writers[partition] = _PartitionWriter(open_partition(partition), contract)
            writer.write(values)
            result.out += 1
    except InputRejected as exc:
        raise CleanseError(f"cannot cleanse {key}: {exc.reason}") from None
    finally:
        for partition, writer in writers.items():
            size = writer.close()
            result.partitions[partition] = (writer.rows, size)
            result.bytes_out += size
        result.bytes_in = reader.bytes_read
    return result
