r"""The CSV fast path: one regular expression per contract and header order that accepts whole runs
of rows at C speed, so that only the rows it does not accept go through ``csv.reader`` + ``RowChecker``.

It is a *sound under-approximation* of the row check. A line it accepts:

- is a complete CSV record made of plain fields: printable ASCII only, no quote character, no
  delimiter inside a field, no ``,`` or ``"`` either (so the clean CSV needs no quoting), no ``\r``
  except in a ``\r\n`` line ending;
- has exactly the contract's columns, each already normalised and standardised: no surrounding
  spaces where ``trim`` applies; ISO dates, UTC timestamps ending in ``Z``, plain decimals and
  integers, ``true``/``false`` written exactly as ``canonical_text`` writes them; the column's
  ``pattern``, ``allowed`` and ``max_length`` satisfied. The one normalisation left is the ASCII
  ``case`` of string columns: ``FastPath.case`` says which, and a pattern or allowed list is
  checked on the case-mapped text, exactly like ``RowChecker`` does.

So ``RowChecker`` accepts every such row and its standardised values are the fields themselves
(case-mapped). Everything else (bad rows, quoted fields, non-ASCII text, other date formats,
padding…) takes the slow path, which alone produces violations: the fast path can make a file
faster, never change its outcome. ``tests/unit/lambdas/test_fastpath.py`` checks this property on
generated rows.

Contract patterns are embedded by rewriting them (``re._parser``): each character atom is replaced
by the explicit class of the raw characters that match it after the column's case mapping, limited
to the field alphabet, so the pattern can neither run over a delimiter nor see another field. A
pattern using anything else than characters, classes, groups, alternation and repetition (anchors,
look-arounds, back-references, ``(?i)``…) is not rewritten: the contract then has no fast path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .contracts import Column, Contract

#: Bounds that keep accepted numbers far from parser limits (``int`` refuses > 4300 digits).
_MAX_INT_DIGITS = 4000
_MAX_DECIMAL_DIGITS = 1000
_SUPPORTED_FLAGS = re.UNICODE | re.ASCII | re.VERBOSE | re.DOTALL | re.MULTILINE

_DATE = (
    r"(?:(?!0000)[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)"
    r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29)"
)
_TIME = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.(?!000000)[0-9]{6})?Z"
_INTEGER = rf"(?:0|-?[1-9][0-9]{{0,{_MAX_INT_DIGITS - 1}}})"
_DIGITS = rf"[0-9]{{1,{_MAX_DECIMAL_DIGITS}}}"
_LEAD = rf"[1-9][0-9]{{0,{_MAX_DECIMAL_DIGITS - 1}}}"
_DECIMAL = rf"(?:(?:0|{_LEAD})(?:\.{_DIGITS})?|-(?:{_LEAD}(?:\.{_DIGITS})?|0\.(?=[0-9]*[1-9]){_DIGITS}))"
_CANONICAL_TYPES = {
    "integer": _INTEGER,
    "date": _DATE,
    "timestamp": _DATE + _TIME,
    "boolean": "(?:true|false)",
}


class Unsupported(Exception):
    """The contract uses something the fast path does not prove safe (it then has no fast path)."""


@dataclass(frozen=True)
class FastPath:
    """``run.match(text, pos)`` matches one or more whole good lines starting at ``pos``.

    ``index[i]`` is the position in the file's fields of the contract's ``i``-th column; ``case[i]``
    is ``"lower"``/``"upper"`` when that column's text still needs its ASCII case mapping."""

    run: re.Pattern[str]
    width: int
    index: tuple[int, ...]
    case: tuple[str | None, ...]
    delimiter: str


def field_alphabet(contract: Contract) -> frozenset[str]:
    """Characters a fast field may hold: printable ASCII except the delimiter, the quote character
    and what the clean CSV would have to quote (``,`` and ``"``)."""
    excluded = {contract.delimiter, contract.quote_char, ",", '"'}
    return frozenset(chr(c) for c in range(0x20, 0x7F) if chr(c) not in excluded)


def _class(chars: set[str] | frozenset[str]) -> str:
    if not chars:
        return "(?!)"
    return "[" + "".join("\\" + c if c in "\\]^-[" else c for c in sorted(chars)) + "]"


def _transform(case: str | None) -> Any:
    return str.lower if case == "lower" else str.upper if case == "upper" else (lambda c: c)


class _PatternRewriter:
    """Re-emits a parsed pattern with every character atom replaced by an explicit class of raw
    characters (from ``alphabet``) whose case-mapped form the atom accepts."""

    def __init__(self, alphabet: frozenset[str], case: str | None) -> None:
        try:
            from re import _constants, _parser  # CPython's own regex parser (3.11+)
        except ImportError as exc:  # pragma: no cover - other interpreters
            raise Unsupported(f"no regex parser: {exc}") from None
        self.k, self.parser = _constants, _parser
        self.alphabet = alphabet
        self.mapped = {c: _transform(case)(c) for c in alphabet}

    def rewrite(self, source: str, flags: int = 0) -> str:
        try:
            parsed = self.parser.parse(source, flags)
        except Exception as exc:  # noqa: BLE001 - any parser trouble means "not supported"
            raise Unsupported(f"cannot parse {source!r}: {exc}") from None
        if parsed.state.flags & ~_SUPPORTED_FLAGS:
            raise Unsupported(f"flags of {source!r}")
        return self._emit(parsed)

    def _in(self, items: list[tuple[Any, Any]], c: str) -> bool:
        k = self.k
        negate = False
        hit = False
        o = ord(c)
        for op, av in items:
            if op is k.NEGATE:
                negate = True
            elif op is k.LITERAL:
                hit = hit or o == av
            elif op is k.RANGE:
                hit = hit or av[0] <= o <= av[1]
            elif op is k.CATEGORY:
                hit = hit or self._category(av, c)
            else:
                raise Unsupported(f"class item {op}")
        return hit != negate

    def _category(self, code: Any, c: str) -> bool:
        k = self.k
        table = {
            k.CATEGORY_DIGIT: lambda x: "0" <= x <= "9",
            k.CATEGORY_NOT_DIGIT: lambda x: not "0" <= x <= "9",
            k.CATEGORY_SPACE: str.isspace,
            k.CATEGORY_NOT_SPACE: lambda x: not x.isspace(),
            k.CATEGORY_WORD: lambda x: x.isalnum() or x == "_",
            k.CATEGORY_NOT_WORD: lambda x: not (x.isalnum() or x == "_"),
            k.CATEGORY_LINEBREAK: lambda x: x == "\n",
            k.CATEGORY_NOT_LINEBREAK: lambda x: x != "\n",
        }
        if code not in table:
            raise Unsupported(f"category {code}")
        return bool(table[code](c))

    def _atom(self, op: Any, av: Any) -> str:
        k = self.k
        if op is k.LITERAL:
            accepts = lambda m: ord(m) == av
        elif op is k.NOT_LITERAL:
            accepts = lambda m: ord(m) != av
        elif op is k.ANY:
            accepts = lambda m: m != "\n"
        elif op is k.IN:
            accepts = lambda m: self._in(av, m)
        else:  # pragma: no cover - guarded by the caller
            raise Unsupported(str(op))
        return _class({c for c, m in self.mapped.items() if accepts(m)})

    def _emit(self, sub: Any) -> str:
        k = self.k
        out = []
        for op, av in sub:
            if op in (k.LITERAL, k.NOT_LITERAL, k.ANY, k.IN):
                out.append(self._atom(op, av))
            elif op is k.BRANCH:
                out.append("(?:" + "|".join(self._emit(alt) for alt in av[1]) + ")")
            elif op is k.SUBPATTERN:
                _group, add_flags, del_flags, inner = av
                if (add_flags | del_flags) & ~_SUPPORTED_FLAGS:
                    raise Unsupported("local flags")
                out.append("(?:" + self._emit(inner) + ")")
            elif op in (k.MAX_REPEAT, k.MIN_REPEAT, k.POSSESSIVE_REPEAT):
                lo, hi, inner = av
                quant = f"{{{lo},{'' if hi == k.MAXREPEAT else hi}}}"
                suffix = "?" if op is k.MIN_REPEAT else "+" if op is k.POSSESSIVE_REPEAT else ""
                body = self._emit(inner)
                single = len(inner) == 1 and inner[0][0] in (k.LITERAL, k.NOT_LITERAL, k.ANY, k.IN)
                # a bare quantified class compiles to sre's fast single-character repeat
                out.append((body if single else "(?:" + body + ")") + quant + suffix)
            elif op is k.ATOMIC_GROUP:
                out.append("(?>" + self._emit(av) + ")")
            else:
                raise Unsupported(f"{op} in a pattern")
        return "".join(out)


def field_regex(column: Column, alphabet: frozenset[str]) -> str:
    """The expression one fast field of ``column`` must match (see the module docstring).
    Raises ``Unsupported``.

    The field is followed by the delimiter or the line end, which no field character can be, so
    whatever the expression matches is the whole field. Guards are only added where the body alone
    could accept something the row check refuses (an empty required value, edge spaces)."""
    B = _class(alphabet)
    end = f"(?!{B})"  # nothing of the field left: a delimiter or the line end follows
    is_string = column.type == "string"

    def rewrite(source: str, flags: int, chars: frozenset[str]) -> str:
        return _PatternRewriter(chars, column.case if is_string else None).rewrite(source, flags)

    def body_for(chars: frozenset[str]) -> tuple[str, list[str]]:
        checks = []
        allowed = pattern = None
        if column.allowed is not None:  # longest first: the first alternative that fits is the field
            values = sorted(column.allowed, key=lambda v: (-len(v), v))
            allowed = rewrite("|".join(re.escape(v) for v in values), 0, chars)
        if column.pattern is not None:
            pattern = rewrite(column.pattern.pattern, column.pattern.flags, chars)
        if column.max_length is not None:
            checks.append(f"(?={B}{{0,{column.max_length}}}+{end})")
        if not is_string:
            if column.type == "decimal":
                default_separators = column.decimal_separator == "." and not column.thousands_separator
                base = _DECIMAL if default_separators else rf"(?:0|-?[1-9][0-9]{{0,{_MAX_DECIMAL_DIGITS - 1}}})"
            else:
                base = _CANONICAL_TYPES[column.type]
            checks += [f"(?=(?:{rule}){end})" for rule in (allowed, pattern) if rule is not None]
            return base, checks
        if pattern is not None:
            if allowed is not None:
                checks.append(f"(?=(?:{allowed}){end})")
            # atomic, ending where the field ends: the first way the pattern covers the whole field
            # is kept, and no later field can make the engine retry this one
            return f"(?>(?:{pattern}){end})", checks
        if allowed is not None:
            return f"(?:{allowed})", checks
        return f"{_class(chars)}*+", checks

    body, checks = body_for(alphabet)
    if is_string and column.trim and " " in alphabet and body_for(alphabet - {" "})[0] != body:
        body = f"(?! ){body}(?<! )"  # the body can hold a space: not at either edge
    if column.required and re.fullmatch(body, "") is not None:
        checks.insert(0, f"(?={B})")
    field = "".join(checks) + body
    return field if column.required else f"(?:{field}|)"


def compile_fast_path(contract: Contract, header: list[str] | tuple[str, ...]) -> FastPath:
    """The fast path of ``contract`` for a file whose header lists the contract's columns in the
    order ``header``. Raises ``Unsupported`` (the caller then uses the slow path only)."""
    if contract.format != "csv":
        raise Unsupported("not a CSV contract")
    names = list(contract.column_names)
    if sorted(header) != sorted(names):
        raise Unsupported("header does not list exactly the contract's columns")
    alphabet = field_alphabet(contract)
    by_name = {c.name: c for c in contract.columns}
    fields = [field_regex(by_name[name], alphabet) for name in header]
    line = re.escape(contract.delimiter).join(fields) + r"\r?\n"
    if len(fields) == 1:
        line = r"(?!\r?\n)" + line  # csv.reader reads an empty line as no record at all
    try:
        run = re.compile(f"(?:{line})++")
    except (re.error, RecursionError, OverflowError) as exc:
        raise Unsupported(f"the line expression does not compile: {exc}") from None
    return FastPath(
        run=run,
        width=len(fields),
        index=tuple(list(header).index(name) for name in names),
        case=tuple(c.case if c.type == "string" else None for c in contract.columns),
        delimiter=contract.delimiter,
    )


_cache: dict[tuple[int, tuple[str, ...]], tuple[Contract, FastPath | None]] = {}


def fast_path_for(contract: Contract, header: list[str] | tuple[str, ...]) -> FastPath | None:
    """``compile_fast_path`` once per contract and header order (None when unsupported)."""
    key = (id(contract), tuple(header))
    hit = _cache.get(key)
    if hit is not None and hit[0] is contract:
        return hit[1]
    try:
        fast: FastPath | None = compile_fast_path(contract, header)
    except Unsupported:
        fast = None
    if len(_cache) >= 64:
        _cache.clear()
    _cache[key] = (contract, fast)
    return fast
