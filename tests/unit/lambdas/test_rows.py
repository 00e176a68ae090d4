"""The shared row check: normalisation, type standardisation and rule violations."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pipeline_shared.contracts import load_contract, parse_contract
from pipeline_shared.rows import RowChecker, canonical_text, excerpt


def checker_for(tmp_path, columns: str, fmt: str = "csv") -> RowChecker:
    path = tmp_path / "t.toml"
    path.write_text(f'[dataset]\nformat = "{fmt}"\n' + textwrap.dedent(columns), encoding="utf-8")
    return RowChecker(parse_contract(path))


def check(checker: RowChecker, **record):
    return checker.check(record, row=1, line=2)


ORDER = {
    "order_id": "ord-000001",
    "customer_id": "c00001",
    "email": " Alice@Example.COM ",
    "order_date": "02/05/2024",
    "amount": "19.90",
    "currency": "eur",
    "status": "Paid",
    "express": "Yes",
}


def test_good_order_row_is_normalised_and_standardised():
    values, violations = RowChecker(load_contract("orders")).check(ORDER, row=1, line=2)
    assert violations == []
    assert values == {
        "order_id": "ORD-000001",
        "customer_id": "C00001",
        "email": "alice@example.com",
        "order_date": date(2024, 5, 2),
        "amount": Decimal("19.90"),
        "currency": "EUR",
        "status": "paid",
        "express": True,
    }


def test_nfkc_turns_fullwidth_characters_into_ascii(tmp_path):
    c = checker_for(tmp_path, '[[columns]]\nname = "s"\nunicode = "NFKC"\n')
    assert check(c, s="ＡＢＣ１")[0]["s"] == "ABC1"


def test_nfc_composes_accents(tmp_path):
    c = checker_for(tmp_path, '[[columns]]\nname = "s"\nunicode = "NFC"\n')
    assert check(c, s="Mu\u0308ller")[0]["s"] == "M\u00fcller"


def test_trim_can_be_switched_off(tmp_path):
    c = checker_for(tmp_path, '[[columns]]\nname = "s"\ntrim = false\n')
    assert check(c, s="  x ")[0]["s"] == "  x "


@pytest.mark.parametrize(
    ("column", "raw", "expected"),
    [
        ('type = "integer"\nthousands_separator = ","', "1,234", 1234),
        ('type = "integer"', "-7", -7),
        ('type = "decimal"\ndecimal_separator = ","\nthousands_separator = "."', "1.500,50", Decimal("1500.50")),
        ('type = "decimal"', "1e3", Decimal("1E+3")),
        ('type = "date"\nformats = ["%d/%m/%Y"]', "31/12/2024", date(2024, 12, 31)),
        ('type = "timestamp"', "2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ('type = "timestamp"', "2024-05-01 10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        (
            'type = "timestamp"\nformats = ["%d.%m.%Y %H:%M"]',
            "15.02.2023 14:05",
            datetime(2023, 2, 15, 14, 5, tzinfo=UTC),
        ),
        ('type = "boolean"', "N", False),
        ('type = "boolean"', "1", True),
    ],
)
def test_types_are_parsed(tmp_path, column, raw, expected):
    c = checker_for(tmp_path, f'[[columns]]\nname = "v"\n{column}\n')
    values, violations = check(c, v=raw)
    assert violations == []
    assert values["v"] == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+3"), "1000"),
        (Decimal("19.90"), "19.90"),
        (True, "true"),
        (None, ""),
        (datetime(2024, 5, 1, 10, tzinfo=UTC), "2024-05-01T10:00:00Z"),
        (date(2024, 5, 1), "2024-05-01"),
    ],
)
def test_canonical_text(value, text):
    assert canonical_text(value) == text


@pytest.mark.parametrize(
    ("column", "raw", "rule", "message"),
    [
        ('type = "integer"', "12.5", "type", "v: expected an integer"),
        ('type = "decimal"', "NaN", "type", "v: expected a finite decimal number"),
        ('type = "decimal"', "ten", "type", "v: expected a decimal number"),
        ('type = "date"', "2024-13-45", "type", "v: expected a date (YYYY-MM-DD)"),
        ('type = "timestamp"', "yesterday", "type", "v: expected a timestamp (ISO-8601)"),
        ('type = "boolean"', "maybe", "type", "v: expected a boolean (true/false, yes/no, y/n, t/f, 1/0)"),
        ("pattern = '[A-Z]{2}'", "GBR", "pattern", "v: does not match pattern '[A-Z]{2}'"),
        ('allowed = ["a", "b"]', "c", "allowed", "v: not one of the allowed values (a, b)"),
        ("max_length = 3", "abcd", "max_length", "v: longer than 3 characters (4)"),
        ("required = true", "   ", "required", "v: a value is required"),
    ],
)
def test_violations_name_column_rule_and_reason(tmp_path, column, raw, rule, message):
    c = checker_for(tmp_path, f'[[columns]]\nname = "v"\n{column}\n')
    values, violations = check(c, v=raw)
    assert [(v.column, v.rule, v.message, v.row, v.line) for v in violations] == [("v", rule, message, 1, 2)]
    assert values["v"] is None


def test_every_bad_column_of_a_row_is_reported():
    bad = {**ORDER, "currency": "JPY", "status": "shipped", "amount": "x"}
    _, violations = RowChecker(load_contract("orders")).check(bad, row=3, line=4)
    assert [(v.column, v.rule) for v in violations] == [
        ("amount", "type"),
        ("currency", "allowed"),
        ("status", "allowed"),
    ]


def test_pii_values_are_redacted_in_violations():
    _, violations = RowChecker(load_contract("orders")).check({**ORDER, "email": "not-an-email"}, row=1, line=2)
    assert violations[0].value == "<redacted: 12 characters>"
    assert "not-an-email" not in repr(violations)


def test_non_pii_excerpt_is_shortened():
    assert excerpt("x" * 100) == "x" * 39 + "…"


def test_json_values_must_have_the_declared_type(tmp_path):
    c = checker_for(
        tmp_path,
        '[[columns]]\nname = "s"\n[[columns]]\nname = "n"\ntype = "integer"\n'
        '[[columns]]\nname = "d"\ntype = "decimal"\n',
        fmt="jsonl",
    )
    values, violations = check(c, s=5, n=3.0, d=0.1)
    assert [(v.column, v.message) for v in violations] == [("s", "s: expected a string, got int")]
    assert values["n"] == 3 and values["d"] == Decimal("0.1")


def test_missing_optional_value_is_none(tmp_path):
    c = checker_for(tmp_path, '[[columns]]\nname = "v"\ntype = "integer"\n')
    assert check(c, v="") == ({"v": None}, [])


# -- dates: a date column promises a calendar date, YYYY-MM-DD or one of the column's own formats


def date_checker(tmp_path, formats: str = "") -> RowChecker:
    return checker_for(tmp_path, f'[[columns]]\nname = "d"\ntype = "date"\nrequired = true\n{formats}\n')


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("2024-W03-1", "ISO week date"),
        ("2024W031", "compact ISO week date"),
        ("20240115", "compact calendar date"),
        ("2024-015", "ordinal date"),
    ],
)
def test_a_date_column_refuses_other_iso_8601_forms(tmp_path, raw, kind):
    values, violations = check(date_checker(tmp_path), d=raw)
    assert [(v.rule, v.message) for v in violations] == [("type", "d: expected a date (YYYY-MM-DD)")], kind
    assert values["d"] is None


@pytest.mark.parametrize("raw", ["2024-W03-1", "20240115"])
def test_a_date_column_with_formats_still_refuses_week_and_compact_dates(tmp_path, raw):
    _, violations = check(date_checker(tmp_path, 'formats = ["%d/%m/%Y"]'), d=raw)
    assert [v.message for v in violations] == ["d: expected a date (YYYY-MM-DD, %d/%m/%Y)"]


@pytest.mark.parametrize(
    ("formats", "raw", "expected"),
    [
        ("", "2024-01-15", date(2024, 1, 15)),
        ("", " 2024-02-29 ", date(2024, 2, 29)),
        ('formats = ["%d/%m/%Y"]', "15/01/2024", date(2024, 1, 15)),
        ('formats = ["%Y%m%d"]', "20240115", date(2024, 1, 15)),  # compact only when the contract says so
    ],
)
def test_a_date_column_accepts_the_documented_formats(tmp_path, formats, raw, expected):
    assert check(date_checker(tmp_path, formats), d=raw) == ({"d": expected}, [])
