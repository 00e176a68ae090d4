"""The row check shared by validate (which rows are bad) and cleanse (which rows to keep, and
their normalised, standardised values): one implementation, so the two stages never disagree.

For each declared column, in this order: Unicode normalisation, trim, case (strings); an empty
value is "missing" (a violation when ``required``); otherwise the value is parsed by its type and
standardised — integer → ``int``; decimal → ``Decimal`` written plainly with '.'; date → ISO
``YYYY-MM-DD`` (read from that calendar form or one of the column's ``formats``, never from ISO
week, ordinal or compact dates); timestamp → ISO-8601 in UTC with ``Z`` (naive input is taken as
UTC); boolean → ``True``/``False`` (accepts true/false, t/f, yes/no, y/n, 1/0). Then
``max_length``, ``pattern`` (``re.fullmatch``) and ``allowed`` are checked on the standardised text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .contracts import Column, Contract

EXCERPT_CHARS = 40
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
#: The one ISO-8601 form a date column accepts: a calendar date ``YYYY-MM-DD`` (``date.fromisoformat``
#: alone also takes week dates ``2024-W03-1``/``2024W031`` and compact ``20240115``).
_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule. ``row`` is the 1-based data row (header excluded), ``line`` the 1-based
    physical line where the row starts; ``value`` is an excerpt (redacted for PII columns)."""

    row: int
    line: int
    column: str | None
    rule: str
    message: str
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "message": self.message,
            "value": self.value,
        }


class _Invalid(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = rule, message


def excerpt(value: Any, *, pii: bool = False) -> str | None:
    """A short, log-safe rendering of a value; PII is never reproduced."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    if pii:
        return f"<redacted: {len(text)} characters>"
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def canonical_text(value: Any) -> str:
    """The standardised text of a parsed value (what a clean CSV holds)."""
    cls = value.__class__
    if cls is str:
        return value
    if value is None:
        return ""
    if cls is bool:
        return "true" if value else "false"
    if cls is Decimal:
        return format(value, "f")
    if cls is datetime:
        return value.isoformat().replace("+00:00", "Z")
    if cls is date:
        return value.isoformat()
    return str(value)


def _numeric_text(column: Column, text: str) -> str:
    if column.thousands_separator:
        text = text.replace(column.thousands_separator, "")
    if column.decimal_separator != ".":
        text = text.replace(column.decimal_separator, ".")
    return text


def _parse_integer(column: Column, value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("type", "expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _Invalid("type", "expected an integer, got a fractional number")
    text = _numeric_text(column, value)
    body = text[1:] if text[:1] in "+-" else text
    if not body.isascii() or not body.isdigit():
        raise _Invalid("type", "expected an integer")
    return int(text)


def _parse_decimal(column: Column, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _Invalid("type", "expected a decimal number, got a boolean")
    if isinstance(value, (int, float)):
        value = repr(value)
    else:
        value = _numeric_text(column, value)
        if not value.isascii() or "_" in value:
            raise _Invalid("type", "expected a decimal number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _Invalid("type", "expected a decimal number") from None
    if not number.is_finite():
        raise _Invalid("type", "expected a finite decimal number")
    if number == 0:
        number = abs(number)
    return number


#: ``strptime`` results by (formats, text): the same few dates recur on every row of a file, and
#: ``strptime`` is pure Python (~15 µs). Emptied when it reaches ``_STRPTIME_CACHE_SIZE``.
_STRPTIME_CACHE_SIZE = 4096
_strptime_cache: dict[tuple[tuple[str, ...], str], datetime | None] = {}


def _strptime(formats: tuple[str, ...], value: str) -> datetime | None:
    """The first of ``formats`` that parses ``value`` (naive), else None; memoised."""
    key = (formats, value)
    try:
        return _strptime_cache[key]
    except KeyError:
        pass
    parsed = None
    for fmt in formats:
        try:
            parsed = datetime.strptime(value, fmt)
            break
        except ValueError:
            continue
    if len(_strptime_cache) >= _STRPTIME_CACHE_SIZE:
        _strptime_cache.clear()
    _strptime_cache[key] = parsed
    return parsed


def _parse_date(column: Column, value: Any) -> date:
    if not isinstance(value, str):
        raise _Invalid("type", f"expected a date string, got {type(value).__name__}")
    if _CALENDAR_DATE.fullmatch(value) is not None:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    if column.formats:
        parsed = _strptime(column.formats, value)
        if parsed is not None:
            return parsed.date()
    accepted = ", ".join(("YYYY-MM-DD",) + column.formats)
    raise _Invalid("type", f"expected a date ({accepted})")


def _parse_timestamp(column: Column, value: Any) -> datetime:
    if not isinstance(value, str):
        raise _Invalid("type", f"expected a timestamp string, got {type(value).__name__}")
    parsed = None
    if len(value) >= 10:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None and column.formats:
        parsed = _strptime(column.formats, value)
    if parsed is None:
        accepted = ", ".join(("ISO-8601",) + column.formats)
        raise _Invalid("type", f"expected a timestamp ({accepted})")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_boolean(column: Column, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise _Invalid("type", "expected a boolean (true/false, yes/no, y/n, t/f, 1/0)")


def _parse_string(column: Column, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("type", f"expected a string, got {type(value).__name__}")
    return value


_PARSERS: dict[str, Callable[[Column, Any], Any]] = {
    "string": _parse_string,
    "integer": _parse_integer,
    "decimal": _parse_decimal,
    "date": _parse_date,
    "timestamp": _parse_timestamp,
    "boolean": _parse_boolean,
}


class _Plan:
    """What checking one column takes, worked out once per contract."""

    __slots__ = (
        "column",
        "name",
        "required",
        "pii",
        "form",
        "trim",
        "lower",
        "upper",
        "parse",
        "is_string",
        "max_length",
        "pattern",
        "allowed",
        "text_rules",
    )

    def __init__(self, column: Column) -> None:
        self.column = column
        self.name = column.name
        self.required = column.required
        self.pii = column.pii
        self.form = column.unicode
        self.trim = column.trim
        self.lower = column.case == "lower"
        self.upper = column.case == "upper"
        self.parse = _PARSERS[column.type]
        self.is_string = column.type == "string"
        self.max_length, self.pattern, self.allowed = column.max_length, column.pattern, column.allowed
        self.text_rules = self.max_length is not None or self.pattern is not None or self.allowed is not None


class RowChecker:
    """Checks and normalises one record (a mapping of column name → raw value) against a contract.

    ``check`` returns ``(values, violations)``: ``values`` maps every declared column to its parsed,
    standardised value (None when missing); the row is good when ``violations`` is empty.
    (The loop is inlined on purpose: it runs once per value of every file.)"""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self._plans = [_Plan(c) for c in contract.columns]

    def check(self, record: Mapping[str, Any], *, row: int, line: int) -> tuple[dict[str, Any], list[Violation]]:
        values: dict[str, Any] = {}
        violations: list[Violation] = []
        get = record.get
        normalize = unicodedata.normalize
        for plan in self._plans:
            raw = get(plan.name)
            value = raw
            if value.__class__ is str:
                if plan.form is not None and not value.isascii():  # NFC/NFKC leave ASCII unchanged
                    value = normalize(plan.form, value)
                if plan.trim:
                    value = value.strip()
                if plan.lower:
                    value = value.lower()
                elif plan.upper:
                    value = value.upper()
                if not value:
                    value = None
            if value is None:
                values[plan.name] = None
                if plan.required:
                    violations.append(Violation(row, line, plan.name, "required", f"{plan.name}: a value is required"))
                continue
            try:
                parsed = value if plan.is_string and value.__class__ is str else plan.parse(plan.column, value)
                if plan.text_rules:
                    text = parsed if parsed.__class__ is str else canonical_text(parsed)
                    if plan.max_length is not None and len(text) > plan.max_length:
                        raise _Invalid("max_length", f"longer than {plan.max_length} characters ({len(text)})")
                    if plan.pattern is not None and plan.pattern.fullmatch(text) is None:
                        raise _Invalid("pattern", f"does not match pattern {plan.pattern.pattern!r}")
                    if plan.allowed is not None and text not in plan.allowed:
                        raise _Invalid("allowed", f"not one of the allowed values ({', '.join(sorted(plan.allowed))})")
            except _Invalid as bad:
                values[plan.name] = None
                violations.append(
                    Violation(row, line, plan.name, bad.rule, f"{plan.name}: {bad.message}", excerpt(raw, pii=plan.pii))
                )
                continue
            values[plan.name] = parsed
        return values, violations
