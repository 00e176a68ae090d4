"""The README's configuration reference, generated from the environment schema.

``python -m kit.config_reference`` (``make config-reference``) rewrites the part of ``README.md``
between ``<!-- config-reference:start -->`` and ``<!-- config-reference:end -->``; ``--check``
(``make config-reference CHECK=1``, and ``tests/unit/test_config_reference.py``) writes nothing
and fails when that part is stale.

Every field of :class:`environments.config.EnvironmentConfig` is read recursively
(``dataclasses.fields``). A field's description is the ``#:`` comment right above it in its
class's source (the comment convention the schema already uses, read with ``ast``); a section
(a field whose type is a config dataclass) is described by its class docstring. The type, the
default and the constraint (``metadata["constraint"]``, set by the ``environments._fields``
helpers) come from the dataclass itself. One table per TOML section.
"""

from __future__ import annotations

import argparse
import ast
import collections.abc
import dataclasses
import inspect
import re
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from environments.config import EnvironmentConfig

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


@dataclass(frozen=True)
class Field:
    """One TOML key of a section."""

    key: str
    type: str
    default: str
    constraint: str
    description: str


@dataclass(frozen=True)
class Section:
    """One TOML table (``[a.b]``) or array of tables (``[[a.b]]``): ``paths`` lists every place
    the same class appears (``[[notifications.alarms]]`` and ``[[notifications.events]]``)."""

    cls: type
    paths: tuple[str, ...]
    array: bool
    optional: bool
    description: str
    notes: tuple[str, ...]
    fields: tuple[Field, ...]


# -- reading the schema --------------------------------------------------------------------


def _module_tree(module_name: str) -> tuple[ast.Module, tuple[str, ...]]:
    source = inspect.getsource(sys.modules[module_name])
    return ast.parse(source), tuple(source.splitlines())


def field_comments(cls: type) -> dict[str, str]:
    """``{field name: its #: comment}`` for the fields of ``cls`` that have one: the run of
    ``#:`` lines right above the field's line in the class body."""
    tree, lines = _module_tree(cls.__module__)
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__), None)
    if node is None:
        raise LookupError(f"{cls.__module__}: no top-level class {cls.__name__}")
    comments: dict[str, str] = {}
    for stmt in node.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        parts: list[str] = []
        i = stmt.lineno - 2  # the line above, 0-based
        while i >= 0 and lines[i].strip().startswith("#:"):
            parts.insert(0, lines[i].strip()[2:].strip())
            i -= 1
        if parts:
            comments[stmt.target.id] = " ".join(p for p in parts if p)
    return comments


def _docstring(cls: type) -> str:
    """The class's own docstring as one paragraph per blank-line-separated block."""
    doc = cls.__dict__.get("__doc__") or ""
    if not doc or doc.startswith(f"{cls.__name__}("):  # the signature dataclass() writes
        return ""
    return "\n\n".join(" ".join(block.split()) for block in inspect.cleandoc(doc).split("\n\n"))


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _section_class(tp: Any) -> tuple[type | None, bool, bool]:
    """``(dataclass, is an array of tables, is optional)`` when ``tp`` is a section."""
    inner, optional = _unwrap_optional(tp)
    if dataclasses.is_dataclass(inner):
        return inner, False, optional
    if typing.get_origin(inner) is tuple:
        args = typing.get_args(inner)
        if args and dataclasses.is_dataclass(args[0]):
            return args[0], True, optional
    return None, False, optional


_TYPE_NAMES = {str: "string", int: "integer", bool: "boolean", float: "number"}


def _type_name(tp: Any) -> str:
    inner, optional = _unwrap_optional(tp)
    if inner in _TYPE_NAMES:
        name = _TYPE_NAMES[inner]
    elif typing.get_origin(inner) is tuple:
        name = f"list of {_TYPE_NAMES.get(typing.get_args(inner)[0], 'value')}s"
    elif typing.get_origin(inner) in (collections.abc.Mapping, dict):
        name = "table of strings"
    else:
        name = str(inner)
    return f"{name} (optional)" if optional else name


def _literal(value: Any) -> str:
    """A default as it is written in a TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, collections.abc.Mapping):
        return "{" + ", ".join(f"{k} = {_literal(v)}" for k, v in value.items()) + "}"
    return str(value)


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return "unset" if f.default is None else _literal(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return _literal(f.default_factory())
    return "required"


def _constraint(f: dataclasses.Field, tp: Any) -> str:
    if "constraint" in f.metadata:
        return f.metadata["constraint"]
    inner, _ = _unwrap_optional(tp)
    if typing.get_origin(inner) is tuple and typing.get_args(inner)[0] is str and "item_check" not in f.metadata:
        return "IAM role ARNs"  # what environments.config checks a list of strings against by default
    return ""


def _is_toml_key(f: dataclasses.Field) -> bool:
    return not f.metadata.get("internal")


def sections(root: type = EnvironmentConfig) -> list[Section]:
    """Every section of the schema, depth first in field order (the top level first, as ``""``)."""
    found: dict[type, dict[str, Any]] = {}
    order: list[type] = []

    def visit(cls: type, path: str, *, array: bool, optional: bool, note: str) -> None:
        # A section's own comment is shown where the class docstring cannot say it: which of the
        # keys an array of tables is under, and when an optional section is there.
        note = (f"`{_heading_path(path, array)}`: {note}" if array else note) if note and (array or optional) else ""
        if cls in found:  # the same table under another key: one section, several paths
            found[cls]["paths"].append(path)
            found[cls]["notes"].extend([note] if note else [])
            return
        entry = found[cls] = {"paths": [path], "array": array, "optional": optional,
                              "notes": [note] if note else [], "fields": []}
        order.append(cls)
        hints = typing.get_type_hints(cls)
        comments = field_comments(cls)
        for f in dataclasses.fields(cls):
            if not _is_toml_key(f):
                continue
            sub, sub_array, sub_optional = _section_class(hints[f.name])
            dotted = f"{path}.{f.name}" if path else f.name
            if sub is not None:
                visit(sub, dotted, array=sub_array, optional=sub_optional, note=comments.get(f.name, ""))
                continue
            entry["fields"].append(Field(key=f.name, type=_type_name(hints[f.name]), default=_default(f),
                                         constraint=_constraint(f, hints[f.name]),
                                         description=comments.get(f.name, "")))

    visit(root, "", array=False, optional=False, note="")
    return [Section(cls=cls, paths=tuple(e["paths"]), array=e["array"], optional=e["optional"],
                    description=_without_own_key(_docstring(cls), e["paths"][0], e["array"]),
                    notes=tuple(e["notes"]), fields=tuple(e["fields"]))
            for cls, e in ((c, found[c]) for c in order)]


def _without_own_key(doc: str, path: str, array: bool) -> str:
    """A docstring that opens with the section's own key (``[ci]``: ...) without it: the heading
    says it already."""
    prefix = f"``{_heading_path(path, array)}``: "
    if path and doc.startswith(prefix):
        doc = doc[len(prefix):]
        return doc[:1].upper() + doc[1:]
    return doc


def missing_descriptions(root: type = EnvironmentConfig) -> list[str]:
    """Dotted names of the keys without a ``#:`` comment and the sections without a docstring."""
    missing: list[str] = []
    for section in sections(root):
        path = section.paths[0]
        if path and not section.description:
            missing.append(f"[{path}] ({section.cls.__module__}.{section.cls.__qualname__}: no docstring)")
        for f in section.fields:
            if not f.description:
                missing.append(f"{path}.{f.key}" if path else f.key)
    return missing


# -- rendering -----------------------------------------------------------------------------


def _heading_path(path: str, array: bool) -> str:
    return f"[[{path}]]" if array else f"[{path}]"


_ROLE = re.compile(r":[a-z]+:`([^`]+)`")


def _markdown(text: str) -> str:
    """reStructuredText-flavoured comment text as Markdown that is safe inside a table cell:
    ````x```` and ``:role:`x``` become code spans; outside them ``\\``, ``|``, ``<`` and ``>`` are
    escaped."""
    text = _ROLE.sub(r"``\1``", text).replace("``", "`")
    pieces = text.split("`")
    for i in range(0, len(pieces), 2):  # outside code spans
        pieces[i] = pieces[i].replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    for i in range(1, len(pieces), 2):  # inside: only the table's own delimiter needs care
        pieces[i] = pieces[i].replace("|", "\\|")
    return "`".join(pieces)


def _code(text: str) -> str:
    escaped = text.replace("|", "\\|")
    return f"`{escaped}`" if text else ""


def render(root: type = EnvironmentConfig) -> str:
    """The Markdown between the markers (without them): one table per section."""
    out: list[str] = [
        "<!-- Generated by `make config-reference` from environments/config.py and",
        "     environments/sections/*.py: edit the #: comments there, not this text. -->",
        "",
    ]
    for section in sections(root):
        if section.paths == ("",):
            title = "Top-level keys"
        else:
            title = ", ".join(f"`{_heading_path(p, section.array)}`" for p in section.paths)
        out.append(f"### {title}")
        out.append("")
        paragraphs = [_markdown(p) for p in section.description.split("\n\n") if p]
        paragraphs.extend(_markdown(n) for n in section.notes)
        if section.optional and not section.notes:
            paragraphs.append("Optional: the section may be left out.")
        for p in paragraphs:
            out.extend([p, ""])
        if not section.fields:
            continue
        out.append("| Key | Type | Default | Allowed | Description |")
        out.append("|---|---|---|---|---|")
        for f in section.fields:
            default = f.default if f.default in ("required", "unset") else _code(f.default)
            out.append(f"| `{f.key}` | {f.type} | {default} | {_markdown(f.constraint)} | {_markdown(f.description)} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def splice(readme: str, block: str) -> str:
    """``readme`` with ``block`` between the markers (exactly one pair, in order)."""
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        raise ValueError(f"README.md must hold one {START} ... {END} pair, in that order")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.config_reference", description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=README, help="the file to update (default README.md)")
    parser.add_argument("--check", action="store_true", help="write nothing: exit 1 when the reference is stale")
    args = parser.parse_args(argv)
    shown = args.readme.relative_to(ROOT) if args.readme.is_relative_to(ROOT) else args.readme
    missing = missing_descriptions()
    if missing:
        print("error: config fields without a description (add a #: comment above each; a docstring "
              f"to each section class): {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        current = args.readme.read_text(encoding="utf-8")
        text = splice(current, render())
    except (OSError, ValueError) as exc:
        print(f"error: {shown}: {exc}", file=sys.stderr)
        return 2
    if current == text:
        print(f"{shown}: the configuration reference is up to date")
        return 0
    if args.check:
        print(f"error: {shown}: the configuration reference is stale: run `make config-reference`", file=sys.stderr)
        return 1
    args.readme.write_text(text, encoding="utf-8")
    print(f"{shown}: wrote the configuration reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
