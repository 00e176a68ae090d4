"""Field validators shared by the environment schema's sections: ``metadata=`` helpers whose
``check`` returns an error string (or None) for a value of the right type."""

from __future__ import annotations

import re
import typing
from typing import Any


def _check(fn: typing.Callable[[Any], str | None]) -> dict[str, Any]:
    return {"check": fn}


def _between(lo: int, hi: int) -> dict[str, Any]:
    return _check(lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}, got {v}")


def _one_of(*allowed: Any) -> dict[str, Any]:
    return _check(lambda v: None if v in allowed else f"must be one of {', '.join(map(repr, allowed))}, got {v!r}")


def _matches(pattern: re.Pattern[str], what: str) -> dict[str, Any]:
    return _check(lambda v: None if pattern.match(v) else f"must be {what}, got {v!r}")


def _at_least(lo: int) -> dict[str, Any]:
    return _check(lambda v: None if v >= lo else f"must be at least {lo}, got {v}")


__all__ = ["_between", "_check", "_matches", "_one_of", "_at_least", "re"]
