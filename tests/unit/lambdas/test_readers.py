"""Streaming readers: gzip, encoding, size limits, CSV structure and JSON Lines."""

from __future__ import annotations

import gzip
import io

import pytest
from pipeline_shared.contracts import load_contract
from pipeline_shared.readers import InputRejected, RecordReader

ORDERS = load_contract("orders")
EVENTS = load_contract("events")
HEADER = b"order_id,customer_id,email,order_date,amount,currency,status,express\n"
ROW = b"ORD-000001,C00001,a@example.com,2024-05-01,1.00,EUR,paid,true\n"


class Trickle(io.RawIOBase):
    """A stream that returns at most 7 bytes per read, like a slow network body."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._data.read(min(n, 7) if n and n > 0 else 7)


def read(data: bytes, *, contract=ORDERS, key="orders/x.csv", max_bytes=10_000, trickle=False):
    reader = RecordReader(
        Trickle(data) if trickle else io.BytesIO(data), key=key, contract=contract, max_bytes=max_bytes
    )
    return reader, list(reader)


def rejected(data: bytes, **kwargs) -> InputRejected:
    with pytest.raises(InputRejected) as caught:
        read(data, **kwargs)
    return caught.value


def test_csv_rows_map_header_names_to_values():
    reader, records = read(HEADER + ROW + ROW)
    assert [(r.row, r.line) for r in records] == [(1, 2), (2, 3)]
    assert records[0].values["email"] == "a@example.com"
    assert reader.bytes_read == len(HEADER) + 2 * len(ROW) and not reader.compressed


def test_header_columns_may_come_in_any_order():
    header = b"express,order_id,customer_id,email,order_date,amount,currency,status\n"
    _, records = read(header + b"true,ORD-000001,C00001,a@example.com,2024-05-01,1.00,EUR,paid\n")
    assert records[0].values["express"] == "true" and records[0].values["order_id"] == "ORD-000001"


def test_bom_and_crlf_are_handled():
    _, records = read(b"\xef\xbb\xbf" + (HEADER + ROW).replace(b"\n", b"\r\n"))
    assert records[0].values["order_id"] == "ORD-000001"


def test_quoted_field_with_newline_keeps_line_numbers():
    quoted = b'ORD-000002,C00002,"multi\nline@example.com",2024-05-01,1.00,EUR,paid,true\n'
    _, records = read(HEADER + quoted + ROW)
    assert [(r.row, r.line) for r in records] == [(1, 2), (2, 4)]


def test_blank_lines_are_skipped():
    _, records = read(HEADER + b"\n" + ROW + b"\n\n")
    assert len(records) == 1


def test_gzip_is_detected_by_magic_bytes():
    data = gzip.compress(HEADER + ROW)
    reader, records = read(data, key="orders/no-suffix.csv", trickle=True)
    assert len(records) == 1 and reader.compressed
    assert reader.bytes_read == len(data) and reader.bytes_decoded == len(HEADER + ROW)


def test_gz_suffix_on_plain_data_is_rejected():
    assert rejected(HEADER + ROW, key="orders/x.csv.gz").reason == (
        "corrupt gzip input: the key ends in '.gz' but the data does not start with the gzip magic bytes"
    )


def test_truncated_gzip_is_rejected():
    data = gzip.compress(HEADER + ROW * 50)
    exc = rejected(data[: len(data) // 2], key="orders/x.csv.gz")
    assert exc.rule == "gzip" and exc.reason.startswith("corrupt gzip input near line")


def test_empty_object_is_rejected():
    exc = rejected(b"")
    assert (exc.rule, exc.reason) == ("empty", "empty file: the object has 0 bytes")


def test_header_only_is_rejected_as_empty():
    assert rejected(HEADER).reason == "empty file: a header but no data rows"


def test_empty_gzip_is_rejected_as_empty():
    assert rejected(gzip.compress(b""), key="orders/x.csv.gz").reason == "empty file: no header row"


def test_non_utf8_bytes_are_rejected_with_the_line():
    exc = rejected(HEADER + ROW + b"ORD-000002,C00002,caf\xe9@example.com,2024-05-01,1.00,EUR,paid,true\n")
    assert exc.rule == "encoding"
    assert exc.reason == "not valid UTF-8: byte 0xe9 at line 3, byte 22 of the line (files must be UTF-8 encoded)"


def test_header_mismatch_names_missing_and_unexpected_columns():
    exc = rejected(HEADER.replace(b"email", b"e_mail") + ROW)
    assert exc.rule == "header"
    assert exc.reason == (
        "header mismatch: missing column(s) email; unexpected column(s) 'e_mail' (the orders contract "
        "expects: order_id, customer_id, email, order_date, amount, currency, status, express)"
    )


def test_duplicate_header_column_is_rejected():
    assert rejected(HEADER.rstrip(b"\n") + b",email\n" + ROW).reason == "header mismatch: column(s) named twice: email"


def test_ragged_row_is_a_row_violation():
    _, records = read(HEADER + b"ORD-000001,C00001\n" + ROW)
    assert records[0].values is None
    assert [(v.rule, v.message) for v in records[0].violations] == [
        ("column_count", "ragged row: expected 8 fields, got 2")
    ]
    assert records[1].violations == []


def test_oversized_raw_input_is_rejected():
    exc = rejected(HEADER + ROW * 100, max_bytes=500)
    assert exc.rule == "oversized"
    assert (
        exc.reason
        == "oversized input: the object exceeds the limit of 500 bytes (500 bytes, PIPELINE_MAX_OBJECT_BYTES)"
    )


def test_gzip_bomb_is_stopped_by_the_decompressed_limit():
    bomb = gzip.compress(HEADER + ROW * 2000)
    assert len(bomb) < 2000
    exc = rejected(bomb, key="orders/x.csv.gz", max_bytes=2000)
    assert exc.reason.startswith("oversized input: the decompressed data exceeds the limit of 2.0 KiB")


def test_non_utf8_deep_in_a_large_file_reports_its_exact_line():
    exc = rejected(HEADER + ROW * 2000 + b"\xff\n", max_bytes=1 << 20)
    assert exc.reason.startswith("not valid UTF-8: byte 0xff at line 2002,")


def test_bare_carriage_return_line_endings_make_the_csv_malformed():
    exc = rejected((HEADER + ROW + ROW).replace(b"\n", b"\r"))
    assert exc.rule == "csv"
    assert exc.reason == (
        "malformed CSV at line 1: a carriage return (\\r) inside an unquoted field (line endings must be \\n or \\r\\n)"
    )


def test_line_longer_than_the_limit_is_rejected(monkeypatch):
    from pipeline_shared import readers

    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 100)
    exc = rejected(HEADER + b"ORD-000001," + b"x" * 200 + b"\n")
    assert (exc.rule, exc.reason) == ("line_length", "line 2 is longer than 100 bytes")


def test_jsonl_records_and_blank_lines():
    _, records = read(
        b'{"event_id": "e", "event_type": "x", "occurred_at": "t"}\n\n   \n'
        b'{"event_id": "f", "event_type": "y", "occurred_at": "u"}\n',
        contract=EVENTS,
        key="events/a.jsonl",
    )
    assert [(r.row, r.line, r.values["event_id"]) for r in records] == [(1, 1, "e"), (2, 4, "f")]


@pytest.mark.parametrize(
    ("line", "rule", "message", "column"),
    [
        (b'{"event_id": "e",', "json", "not valid JSON: Expecting property name enclosed in double quotes", None),
        (b'["a"]', "json_object", "expected a JSON object, got list", None),
        (
            b'{"event_id": "e", "event_type": "x"}',
            "schema",
            "JSON Schema: data must contain ['occurred_at'] properties",
            None,
        ),
        (
            b'{"event_id": "e", "event_type": "x", "occurred_at": "t", "browser": "ff"}',
            "schema",
            "JSON Schema: data must not contain {'browser'} properties",
            None,
        ),
        (
            b'{"event_id": "e", "event_type": "x", "occurred_at": "t", "item_count": -1}',
            "schema",
            "JSON Schema: data.item_count must be bigger than or equal to 0",
            "item_count",
        ),
    ],
)
def test_jsonl_record_problems_are_row_violations(line, rule, message, column):
    _, records = read(line + b"\n", contract=EVENTS, key="events/a.jsonl")
    (violation,) = records[0].violations
    assert (violation.rule, violation.column) == (rule, column)
    assert violation.message.startswith(message)


def test_jsonl_broken_line_is_redacted_when_the_dataset_has_pii():
    _, records = read(b'{"user_id": "secret-person",\n', contract=EVENTS, key="events/a.jsonl")
    assert records[0].violations[0].value.startswith("<redacted")


def test_jsonl_with_only_blank_lines_is_empty():
    assert rejected(b"\n\n", contract=EVENTS, key="events/a.jsonl").reason == "empty file: no JSON records"


# -- block decoding: lines split over reads give the same records, numbers and errors


TRICKY = (
    b"\xef\xbb\xbf"
    + HEADER.replace(b"\n", b"\r\n")
    + ROW
    + b"\n   \n"
    + b'ORD-000002,C00002,"multi\nline@example.com",2024-05-01,1.00,EUR,paid,true\r\n'
    + b"ORD-000003,C00003\n"
    + ROW * 3
    + b'ORD-000004,C00004,"q""uote@x.com",2024-05-01,1.00,EUR,paid,true\n'
    + ROW.rstrip(b"\n")
)


def as_tuples(records):
    return [(r.row, r.line, r.values, r.raw, [v.to_dict() for v in r.violations]) for r in records]


@pytest.mark.parametrize("buffer_bytes", [1, 7, 64, 1 << 20])
def test_records_do_not_depend_on_how_the_data_is_split_into_blocks(monkeypatch, buffer_bytes):
    from pipeline_shared import readers

    _, expected = read(TRICKY)
    monkeypatch.setattr(readers, "BUFFER_BYTES", buffer_bytes)
    _, records = read(TRICKY)
    assert as_tuples(records) == as_tuples(expected)
    assert [(r.row, r.line) for r in records][:3] == [(1, 2), (2, 5), (3, 7)]


@pytest.mark.parametrize("buffer_bytes", [5, 100, 1 << 20])
def test_fast_runs_number_their_rows_and_lines_like_records(monkeypatch, buffer_bytes):
    from pipeline_shared import readers

    monkeypatch.setattr(readers, "BUFFER_BYTES", buffer_bytes)
    expected = as_tuples(read(TRICKY)[1])
    reader = RecordReader(io.BytesIO(TRICKY), key="orders/x.csv", contract=ORDERS, max_bytes=10_000)
    got, runs = [], 0
    for item in reader.scan(fast=True):
        if isinstance(item, readers.FastRun):
            runs += 1
            for i, line in enumerate(item.text[item.start : item.end].splitlines()):
                fields = line.split(",")
                got.append(
                    (item.first_row + i, item.first_line + i, dict(zip(ORDERS.column_names, fields)), fields, [])
                )
        else:
            got.append(as_tuples([item])[0])
    assert got == expected
    assert runs >= 2 and reader.fast_rows == 4  # the last line has no line break: slow path


@pytest.mark.parametrize("buffer_bytes", [3, 50])
def test_line_errors_are_the_same_whatever_the_block_size(monkeypatch, buffer_bytes):
    from pipeline_shared import readers

    bad_utf8 = HEADER + ROW * 20 + b"ORD-000002,C00002,caf\xe9@x.com,2024-05-01,1.00,EUR,paid,true\n" + ROW
    bare_cr = HEADER + ROW * 5 + b"ORD-000002,C00002,a\rb@x.com,2024-05-01,1.00,EUR,paid,true\n" + ROW
    too_long = HEADER + ROW + b"ORD-000001," + b"x" * 200 + b"\n"
    truncated = gzip.compress(HEADER + ROW * 400)[:-30]
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 150)
    expected = [
        rejected(d, key=k).reason
        for d, k in (
            (bad_utf8, "orders/x.csv"),
            (bare_cr, "orders/x.csv"),
            (too_long, "orders/x.csv"),
            (truncated, "orders/x.csv.gz"),
        )
    ]
    monkeypatch.setattr(readers, "BUFFER_BYTES", buffer_bytes)
    got = [
        rejected(d, key=k, max_bytes=1 << 20).reason
        for d, k in (
            (bad_utf8, "orders/x.csv"),
            (bare_cr, "orders/x.csv"),
            (too_long, "orders/x.csv"),
            (truncated, "orders/x.csv.gz"),
        )
    ]
    assert expected[0] == "not valid UTF-8: byte 0xe9 at line 22, byte 22 of the line (files must be UTF-8 encoded)"
    assert expected[2] == "line 3 is longer than 150 bytes"
    assert got[:3] == expected[:3]
    assert got[3].startswith("corrupt gzip input near line")


def test_records_before_a_bad_line_are_all_delivered_first():
    reader = RecordReader(
        io.BytesIO(HEADER + ROW * 3 + b"\xff\n" + ROW), key="orders/x.csv", contract=ORDERS, max_bytes=10_000
    )
    seen = []
    with pytest.raises(InputRejected, match="at line 5"):
        for item in reader.scan(fast=False):
            seen.append(item.row)
    assert seen == [1, 2, 3]
