"""Field validators shared by the environment schema's sections: ``metadata=`` helpers whose
``check`` returns an error string (or None) for a value of the right type, and whose
``constraint`` says in words what the check accepts (the README's configuration reference,
``kit/config_reference.py``, prints it)."""

from __future__ import annotations

import re
import typing
from typing import Any


def _check(fn: typing.Callable[[Any], str | None], constraint: str | None = None) -> dict[str, Any]:
    return {"check": fn, **({"constraint": constraint} if constraint else {})}


def _between(lo: int, hi: int) -> dict[str, Any]:
    return _check(lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}, got {v}",
                  f"{lo} to {hi}")


def _one_of(*allowed: Any) -> dict[str, Any]:
    return _check(lambda v: None if v in allowed else f"must be one of {', '.join(map(repr, allowed))}, got {v!r}",
                  "one of " + ", ".join(map(_literal, allowed)))


def _matches(pattern: re.Pattern[str], what: str) -> dict[str, Any]:
    return _check(lambda v: None if pattern.match(v) else f"must be {what}, got {v!r}", what)


def _at_least(lo: int) -> dict[str, Any]:
    return _check(lambda v: None if v >= lo else f"must be at least {lo}, got {v}", f"at least {lo}")


def _literal(value: Any) -> str:
    """``value`` as it is written in a TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


__all__ = ["_between", "_check", "_matches", "_one_of", "_at_least", "re"]
