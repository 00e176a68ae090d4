"""Streaming record readers shared by validate and cleanse.

``RecordReader`` reads a binary stream (an S3 ``StreamingBody`` or any file object) once, front to
back, in bounded memory: bytes are counted (and capped at ``max_bytes``, raw and decompressed);
gzip is recognised by its ``1f 8b`` magic bytes, whatever the key (a ``.gz`` key whose data lacks
them is rejected as corrupt); each physical line (at most ``MAX_LINE_BYTES``) is decoded as strict
UTF-8 (a leading BOM is dropped) and parsed as CSV (``csv.reader``) or JSON Lines.

Lines are decoded a block at a time (``BUFFER_BYTES`` of whole lines), not one by one; errors still
name the exact line and are raised only once every line before it was consumed. ``scan`` also
yields ``FastRun``s: runs of whole lines that the contract's fast path (``fastpath.py``) accepted
at C speed; iterating the reader yields ``Record``s only.

Problems that make the file unreadable raise ``InputRejected`` with a clear ``reason`` (empty
file, oversized input, non-UTF-8 bytes, corrupt gzip, header mismatch, malformed CSV). Problems
of one record are reported on the ``Record`` (ragged row, invalid JSON, JSON Schema violation) so
the caller can quarantine that row and continue.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from .contracts import Contract
from .rows import Violation, excerpt

if TYPE_CHECKING:
    from .fastpath import FastPath

GZIP_MAGIC = b"\x1f\x8b"
BUFFER_BYTES = 1 << 20
#: Longest physical line; beyond it the file is rejected rather than buffered in memory.
MAX_LINE_BYTES = 16 * 1024 * 1024
csv.field_size_limit(MAX_LINE_BYTES)


class InputRejected(Exception):
    """The file as a whole cannot be accepted; ``reason`` says why, ``rule`` classifies it."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule, self.reason = rule, reason


@dataclass
class Record:
    """One data record. ``values`` maps names to raw values (None when the record is structurally
    broken); ``raw`` is what the record looked like (CSV fields or the JSON line) for quarantine."""

    row: int
    line: int
    values: dict[str, Any] | None
    raw: list[str] | str
    violations: list[Violation] = field(default_factory=list)


class FastRun:
    """``rows`` consecutive whole lines the fast path accepted: ``text[start:end]``, each line ending
    in ``\\n`` (``\\r\\n`` possible). They are rows ``first_row``… and start at physical line
    ``first_line``; each is a good row (see ``fastpath.py``)."""

    __slots__ = ("text", "start", "end", "rows", "first_row", "first_line")

    def __init__(self, text: str, start: int, end: int, rows: int, first_row: int, first_line: int) -> None:
        self.text, self.start, self.end = text, start, end
        self.rows, self.first_row, self.first_line = rows, first_row, first_line


class _Lines:
    """The physical lines of a binary stream, decoded as strict UTF-8 one block of whole lines at a
    time. Iterating yields one line (ending kept, as ``csv`` wants); ``text``/``pos`` expose the
    current block to the fast path, ``line`` counts the lines consumed.

    A problem of a line (not UTF-8, longer than ``MAX_LINE_BYTES``) is raised only when every line
    before it was consumed, with the same message as when reading line by line."""

    __slots__ = ("_stream", "text", "pos", "line", "_carry", "_error", "_eof", "_started")

    def __init__(self, stream: io.BufferedReader) -> None:
        self._stream = stream
        self.text = ""
        self.pos = 0
        self.line = 0
        self._carry = bytearray()
        self._error: InputRejected | None = None
        self._eof = False
        self._started = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        text, pos = self.text, self.pos
        if pos >= len(text):
            if not self.fill():
                raise StopIteration
            text, pos = self.text, self.pos
        end = text.find("\n", pos) + 1 or len(text)
        self.pos = end
        self.line += 1
        return text[pos:end]

    def _too_long(self, number: int) -> InputRejected:
        return InputRejected("line_length", f"line {number} is longer than {MAX_LINE_BYTES} bytes")

    def fill(self) -> bool:
        """Replace the (consumed) block with the next one; False at the end of the data."""
        while True:
            if self._error is not None:
                raise self._error
            if self._eof:
                return False
            data = self._stream.read1(BUFFER_BYTES)
            if not data:
                self._eof = True
                if not self._carry:
                    return False
                block = bytes(self._carry)  # the last line, without a line break
                self._carry = bytearray()
            else:
                nl = data.rfind(b"\n")
                if nl < 0:
                    self._carry += data
                    if len(self._carry) > MAX_LINE_BYTES:
                        raise self._too_long(self.line + 1)
                    continue
                block = bytes(self._carry) + data[: nl + 1] if self._carry else data[: nl + 1]
                self._carry = bytearray(data[nl + 1 :])
            if self._load(block):
                return True

    def _load(self, block: bytes) -> bool:
        if len(block) > MAX_LINE_BYTES:  # only then can a line of it be too long
            start = 0
            for number in range(self.line + 1, self.line + block.count(b"\n") + 2):
                end = block.find(b"\n", start) + 1 or len(block)
                if end - start > MAX_LINE_BYTES:
                    self._error = self._too_long(number)
                    block = block[:start]
                    break
                start = end
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            line_start = block.rfind(b"\n", 0, exc.start) + 1
            number = self.line + block.count(b"\n", 0, line_start) + 1
            self._error = InputRejected(
                "encoding",
                f"not valid UTF-8: byte 0x{block[exc.start]:02x} at line {number}, "
                f"byte {exc.start - line_start + 1} of the line (files must be UTF-8 encoded)",
            )
            text = block[:line_start].decode("utf-8")
        if not self._started and text:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        self.text, self.pos = text, 0
        if not text and self._error is not None:
            raise self._error
        return True


def _human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


class _CountingRaw(io.RawIOBase):
    """Counts the bytes read from ``source`` and rejects the input beyond ``limit``."""

    def __init__(self, source: Any, limit: int, what: str) -> None:
        self._source, self._limit, self._what = source, limit, what
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.count > self._limit:
            raise InputRejected(
                "oversized",
                f"oversized input: {self._what} exceeds the limit of {_human(self._limit)} "
                f"({self._limit} bytes, PIPELINE_MAX_OBJECT_BYTES)",
            )
        return n


class RecordReader:
    """Iterate the records of ``source`` according to ``contract`` (see the module docstring)."""

    def __init__(self, source: BinaryIO | Any, *, key: str, contract: Contract, max_bytes: int) -> None:
        self.contract = contract
        self.key = key
        self.header: list[str] = []
        self.compressed = False
        self._raw = _CountingRaw(source, max_bytes, "the object")
        self._decoded: _CountingRaw | None = None
        self._max_bytes = max_bytes
        self._lines: _Lines | None = None
        #: the fast path in use (CSV with a supported contract), and how many rows it took
        self.fast_path: FastPath | None = None
        self.fast_rows = 0

    @property
    def bytes_read(self) -> int:
        """Bytes read from the source as stored (compressed when gzip)."""
        return self._raw.count

    @property
    def bytes_decoded(self) -> int:
        """Bytes of (decompressed) text read."""
        return self._decoded.count if self._decoded is not None else self._raw.count

    def _open_binary(self) -> io.BufferedIOBase:
        buffered = io.BufferedReader(self._raw, buffer_size=BUFFER_BYTES)
        magic = buffered.peek(2)[:2]
        if not magic:
            raise InputRejected("empty", "empty file: the object has 0 bytes")
        if magic == GZIP_MAGIC:
            self.compressed = True
            self._decoded = _CountingRaw(
                gzip.GzipFile(fileobj=buffered, mode="rb"), self._max_bytes, "the decompressed data"
            )
            return io.BufferedReader(self._decoded, buffer_size=BUFFER_BYTES)
        if self.key.lower().endswith(".gz"):
            raise InputRejected(
                "gzip",
                "corrupt gzip input: the key ends in '.gz' but the data does not start with the gzip magic bytes",
            )
        return buffered

    def scan(self, *, fast: bool = True) -> Iterator[Record | FastRun]:
        """The file's records in order; with ``fast``, runs of lines the contract's fast path
        accepts come as ``FastRun``s (good rows, not parsed) instead of one ``Record`` each."""
        try:
            self._lines = _Lines(self._open_binary())
            if self.contract.format == "csv":
                yield from self._csv(self._lines, fast)
            else:
                yield from self._jsonl(self._lines)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            line = self._lines.line if self._lines is not None else 0
            raise InputRejected("gzip", f"corrupt gzip input near line {line + 1}: {exc}") from None

    def __iter__(self) -> Iterator[Record]:
        return self.scan(fast=False)  # type: ignore[return-value]

    def _csv(self, lines: _Lines, fast: bool) -> Iterator[Record | FastRun]:
        c = self.contract
        reader = csv.reader(lines, delimiter=c.delimiter, quotechar=c.quote_char)
        rows = 0
        try:
            header = next(reader, None)
            while header is not None and not header:  # leading blank lines
                header = next(reader, None)
            if header is None:
                raise InputRejected("empty", "empty file: no header row")
            self.header = [h.strip() for h in header]
            self._check_header()
            names = self.header if self.header == list(c.column_names) else None
            index = {name: self.header.index(name) for name in c.column_names}
            width = len(self.header)
            if fast:
                from .fastpath import fast_path_for  # compiled at the first CSV file, not at import

                self.fast_path = fast_path_for(c, self.header)
            run = self.fast_path.run.match if self.fast_path is not None else None
            while True:
                if run is not None:  # at a record boundary: try a run of good lines first
                    text, pos = lines.text, lines.pos
                    if pos >= len(text):
                        if not lines.fill():
                            break
                        continue
                    m = run(text, pos)
                    if m is not None:
                        end = m.end()
                        n = text.count("\n", pos, end)
                        lines.pos = end
                        first_line = lines.line + 1
                        lines.line += n
                        self.fast_rows += n
                        yield FastRun(text, pos, end, n, rows + 1, first_line)
                        rows += n
                        continue
                start = lines.line + 1
                fields = next(reader, None)
                if fields is None:
                    break
                if not fields or (len(fields) == 1 and not fields[0].strip() and width > 1):
                    continue  # blank line
                rows += 1
                if len(fields) != width:
                    yield Record(
                        rows,
                        start,
                        None,
                        fields,
                        [
                            Violation(
                                rows,
                                start,
                                None,
                                "column_count",
                                f"ragged row: expected {width} fields, got {len(fields)}",
                            )
                        ],
                    )
                    continue
                values = (
                    dict(zip(names, fields, strict=True)) if names else {name: fields[i] for name, i in index.items()}
                )
                yield Record(rows, start, values, fields)
        except csv.Error as exc:
            problem = str(exc)
            if "new-line character seen in unquoted field" in problem:
                problem = "a carriage return (\\r) inside an unquoted field (line endings must be \\n or \\r\\n)"
            raise InputRejected("csv", f"malformed CSV at line {lines.line}: {problem}") from None
        if rows == 0:
            raise InputRejected("empty", "empty file: a header but no data rows")

    def _check_header(self) -> None:
        expected = list(self.contract.column_names)
        seen: set[str] = set()
        dupes = sorted({h for h in self.header if h in seen or seen.add(h)})  # type: ignore[func-returns-value]
        if dupes:
            raise InputRejected("header", f"header mismatch: column(s) named twice: {', '.join(dupes)}")
        missing = [n for n in expected if n not in self.header]
        unexpected = [h for h in self.header if h not in expected]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected column(s) {', '.join(repr(u) for u in unexpected)}")
            raise InputRejected(
                "header",
                f"header mismatch: {'; '.join(parts)} (the {self.contract.name} contract "
                f"expects: {', '.join(expected)})",
            )

    def _jsonl(self, lines: _Lines) -> Iterator[Record]:
        validator = self.contract.schema_validator
        pii = set(self.contract.pii_columns)
        rows = 0
        for line in lines:
            number = lines.line
            stripped = line.strip()
            if not stripped:
                continue
            rows += 1
            try:
                obj = json.loads(stripped)
            except ValueError as exc:
                yield Record(
                    rows,
                    number,
                    None,
                    stripped,
                    [Violation(rows, number, None, "json", f"not valid JSON: {exc}", excerpt(stripped, pii=bool(pii)))],
                )
                continue
            if not isinstance(obj, dict):
                yield Record(
                    rows,
                    number,
                    None,
                    stripped,
                    [
                        Violation(
                            rows,
                            number,
                            None,
                            "json_object",
                            f"expected a JSON object, got {type(obj).__name__}",
                            excerpt(stripped, pii=bool(pii)),
                        )
                    ],
                )
                continue
            if validator is not None:
                try:
                    validator(obj)
                except Exception as exc:  # fastjsonschema.JsonSchemaValueException
                    path = [p for p in getattr(exc, "path", [])[1:] if isinstance(p, str)]
                    column = path[0] if path else None
                    yield Record(
                        rows,
                        number,
                        None,
                        stripped,
                        [
                            Violation(
                                rows,
                                number,
                                column,
                                "schema",
                                f"JSON Schema: {getattr(exc, 'message', exc)}",
                                excerpt(getattr(exc, "value", None), pii=column in pii) if column else None,
                            )
                        ],
                    )
                    continue
            yield Record(rows, number, obj, stripped)
        if rows == 0:
            raise InputRejected("empty", "empty file: no JSON records")
