"""The streaming file check shared by validate (its stage) and the API (``POST /datasets/{name}/cleanse``).

``validate_stream`` reads any binary file object against a dataset contract in one pass and writes
the rejected rows to any binary sink, so it runs the same in the validate Lambda, in an AWS Batch
job, behind the REST API and in unit tests. No boto3 here.

The outcome: **rejected as a whole** (``accepted`` false, ``rule`` and ``reason`` set) when the
input cannot be read (not UTF-8, corrupt gzip, header mismatch, malformed CSV, empty, oversized)
or more than the contract's ``max_rejected_fraction`` of its rows break the contract; otherwise
**accepted**, bad rows (ragged, invalid JSON, JSON Schema, type, pattern, allowed, required,
max_length) counted and reported as ``violations``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .contracts import Contract
from .readers import FastRun, InputRejected, Record, RecordReader
from .rows import RowChecker, Violation
from .s3 import Sha256Reader

#: Violations kept in one result by default (all are counted; the rows themselves all go to the sink).
MAX_REPORT_VIOLATIONS = 1000


@dataclass
class ValidationResult:
    accepted: bool
    rule: str | None = None
    reason: str | None = None
    records_in: int = 0
    valid: int = 0
    rejected: int = 0
    bytes_in: int = 0
    bytes_decoded: int = 0
    compressed: bool = False
    violations: list[Violation] = field(default_factory=list)
    violations_total: int = 0
    #: rows the fast path accepted without parsing them (a diagnostic; not part of ``counts``)
    fast_rows: int = 0
    #: SHA-256 (hex) of the bytes as stored, when the whole object was read (else None)
    sha256: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {
            "records_in": self.records_in,
            "valid": self.valid,
            "rejected": self.rejected,
            "bytes_in": self.bytes_in,
        }


class _RejectedRowWriter:
    """Writes bad rows to a binary sink in the file's own format (CSV with its header, or lines)."""

    def __init__(self, sink: BinaryIO | None, contract: Contract, header: list[str]) -> None:
        self._text = io.TextIOWrapper(sink, encoding="utf-8", newline="") if sink is not None else None
        self._csv = None
        if self._text is not None and contract.format == "csv":
            self._csv = csv.writer(
                self._text, delimiter=contract.delimiter, quotechar=contract.quote_char, lineterminator="\n"
            )
            self._csv.writerow(header)
        self.written = 0

    def write(self, record: Record) -> None:
        if self._text is None:
            return
        if self._csv is not None:
            self._csv.writerow(record.raw)
        else:
            self._text.write(f"{record.raw}\n")
        self.written += 1

    def close(self) -> None:
        if self._text is not None:
            self._text.flush()
            self._text.detach()  # leave the sink open for the caller


def validate_stream(
    source: BinaryIO | Any,
    *,
    key: str,
    contract: Contract,
    max_bytes: int,
    rejected_sink: BinaryIO | None = None,
    fast_path: bool = True,
    max_violations: int = MAX_REPORT_VIOLATIONS,
) -> ValidationResult:
    """Check every record of ``source`` against ``contract`` in one streaming pass.

    Bad rows are written to ``rejected_sink`` (if given); the result says whether the file is
    accepted and, if not, why (``reason``) and which rule (``rule``) rejected it. Runs of lines the
    contract's fast path accepts are counted as good without being parsed (``fast_path=False``
    checks every row the slow way: same result, for tests and comparisons). The bytes are hashed
    as they are read: ``sha256`` is their SHA-256 when the stream was read to its end (a file
    rejected before its end has none). At most ``max_violations`` violations are kept (all are
    counted in ``violations_total``)."""
    hashing = Sha256Reader(source)
    reader = RecordReader(hashing, key=key, contract=contract, max_bytes=max_bytes)
    checker = RowChecker(contract)
    result = ValidationResult(accepted=False)
    writer: _RejectedRowWriter | None = None
    try:
        for record in reader.scan(fast=fast_path):
            if record.__class__ is FastRun:
                result.records_in += record.rows  # type: ignore[union-attr]
                result.valid += record.rows  # type: ignore[union-attr]
                continue
            assert isinstance(record, Record)
            result.records_in += 1
            violations = record.violations or checker.check(record.values or {}, row=record.row, line=record.line)[1]
            if not violations:
                result.valid += 1
                continue
            result.rejected += 1
            result.violations_total += len(violations)
            room = max_violations - len(result.violations)
            if room > 0:
                result.violations.extend(violations[:room])
            if writer is None:
                writer = _RejectedRowWriter(rejected_sink, contract, reader.header)
            writer.write(record)
    except InputRejected as exc:
        result.rule, result.reason = exc.rule, exc.reason
    finally:
        if writer is not None:
            writer.close()
        result.bytes_in, result.bytes_decoded, result.compressed = (
            reader.bytes_read,
            reader.bytes_decoded,
            reader.compressed,
        )
        result.fast_rows = reader.fast_rows
        result.sha256 = hashing.hexdigest() if hashing.complete else None
    if result.reason is not None:
        return result
    share = result.rejected / result.records_in
    if share > contract.max_rejected_fraction:
        result.rule = "threshold"
        result.reason = (
            f"{result.rejected} of {result.records_in} rows ({share:.1%}) break the {contract.name} contract, "
            f"more than its max_rejected_fraction of {contract.max_rejected_fraction:.1%}"
        )
        return result
    result.accepted = True
    return result
