r"""Catch a contract change that breaks BACKWARD compatibility before deploy.

Every dataset's JSON Schema is registered in the Glue Schema Registry with compatibility
``BACKWARD``: a consumer using the **new** schema must be able to read records written with the
**old** one (the latest version only, not every earlier one: that would be ``BACKWARD_ALL``).
AWS applies that check when the new version is registered, at apply time, and the AWS provider
has been seen to report success while Glue marked the new version ``FAILURE`` (hashicorp/
terraform-provider-aws#35152); the emulator checks nothing. So the kit checks first:
``schemas.lock.json`` (beside the contracts) records the last accepted schema of every dataset,
and ``python -m kit.schema_check`` compares each contract's current schema
(``glue.specs.contract_json_schema``) with it.

Exit codes: 0 no breaking change (compatible changes not yet recorded are listed, with the command
that records them); 1 a breaking change (each named: contract file, column, rule, what to do),
or ``--update-lock`` refused; 2 a contract or the lock cannot be read.

``--update-lock`` rewrites the lock with the current schemas; it refuses while a change is breaking,
unless ``--force`` (for a deliberate break, e.g. data wiped in every environment).

The rules (``check_backward(old, new)``), reasoning on "can every record valid under OLD be read
with NEW", as a JSON Schema validator using NEW would decide:

1. **Types** (``type``, a name or a list). Every old type must still be accepted. ``integer`` →
   ``number`` is compatible (JSON Schema: every integer is a number); ``number`` → ``integer``
   breaks; a type removed breaks; a type added (widening) is compatible. The kit's decimal,
   date and timestamp are strings told apart by ``pattern``/``format``: changing one into
   another, or a string into one of them, breaks; the reverse (decimal/date/timestamp →
   string) is compatible. Integer → decimal breaks: clean JSON Lines hold integers as numbers and
   decimals as strings.
2. **Null** — dropping ``"null"`` from a type (optional → required) breaks; adding it is fine.
3. **Required** — a property newly listed in ``required`` breaks: old records may lack it. That
   covers both "optional column became required" and "new required column".
4. **New property** — compatible when OLD was closed (``additionalProperties: false``, as every
   generated schema is): no old record can hold it. In an open OLD schema, old records may already
   hold that name with any value, so the new property's schema must accept what OLD's
   ``additionalProperties`` accepted (anything, if absent): otherwise it breaks.
5. **Removed property** — compatible when NEW is open (old values are then "additional"); breaks
   when NEW is closed (``additionalProperties: false``: old records carrying it are rejected).
   Generated schemas are closed, so removing a contract column breaks: keep it as an optional
   column (it reads as null from then on) or bump the dataset name.
6. **additionalProperties** — open → closed breaks; closed → open is compatible; a schema-valued
   one is compared like a property.
7. **enum**/**const** — every old value must stay allowed (narrowing breaks, widening is fine);
   adding an enum where there was none breaks.
8. **pattern** and **format** — adding or changing one breaks (whether one pattern accepts
   everything another did cannot be decided; ``format`` is treated as an assertion since
   consumers parse by it); removing one is compatible.
9. **Bounds** — ``maxLength``/``maximum``/``exclusiveMaximum``/``maxItems``/``maxProperties``
   lowered or added break; ``minLength``/``minimum``/``exclusiveMinimum``/``minItems``/
   ``minProperties``/``multipleOf`` raised, changed or added break; loosening is compatible.
10. **Nested** objects and ``items`` are compared by the same rules.
11. **Annotations** (``title``, ``description``, ``$schema``, ``$id``, ``$comment``, ``default``,
    ``examples``, ``readOnly``, ``writeOnly``, ``deprecated``) never matter. Any other keyword
    that changes (``allOf``, ``$ref``, ``if`` …) breaks: the check cannot prove it compatible.

A dataset missing from the lock is new: fine. A dataset in the lock with no contract any more
is reported (its registry schema is deleted on the next deploy) and recorded by ``--update-lock``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from glue.specs import CONTRACTS_DIR, DECIMAL_PATTERN, contract_json_schema, load_specs

LOCK_PATH = CONTRACTS_DIR / "schemas.lock.json"
LOCK_FORMAT = 1
UPDATE_COMMAND = "python -m kit.schema_check --update-lock"

_BREAKS = "breaks BACKWARD compatibility"
_WHY_VALUES = "data already written cannot be read with the new schema"
_FIX_TYPE = "add a new column instead, or bump the dataset name"
_ANNOTATIONS = frozenset({"title", "description", "$schema", "$id", "$comment", "default", "examples",
                          "readOnly", "writeOnly", "deprecated"})
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_HANDLED = frozenset({"type", "enum", "const", "pattern", "format", "properties", "required",
                      "additionalProperties", "items", "multipleOf", *_UPPER_BOUNDS, *_LOWER_BOUNDS})
_MISSING = object()


# ---------------------------------------------------------------------------------------------
# the rule
# ---------------------------------------------------------------------------------------------


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    """The JSON types a schema accepts; None: any."""
    value = schema.get("type")
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _kind(schema: Any) -> str:
    """A human name of what a property holds: decimal, date, timestamp, or its JSON type(s)."""
    if not isinstance(schema, Mapping):
        return "anything" if schema is not False else "nothing"
    types = _types(schema)
    if types is None:
        return "any type"
    types = types - {"null"}
    if types == {"string"}:
        if schema.get("pattern") == DECIMAL_PATTERN:
            return "decimal"
        if schema.get("format") == "date":
            return "date"
        if schema.get("format") == "date-time":
            return "timestamp"
    return " or ".join(sorted(types)) or "null"


def _covered(old_type: str, new_types: set[str]) -> bool:
    return old_type in new_types or (old_type == "integer" and "number" in new_types)


def _show(values: Sequence[Any]) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False) for v in values)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, where: str, what: str, why: str = _WHY_VALUES, fix: str = _FIX_TYPE) -> None:
        self.problems.append(f"{where or 'schema'}: {what} — {_BREAKS} ({why}); {fix}")

    # -- one schema against its successor
    def compare(self, old: Any, new: Any, where: str) -> None:
        if new is True or new == {}:
            return
        if old is False:
            return
        if new is False:
            self.add(where, "the new schema accepts nothing here")
            return
        if old is True:
            old = {}
        if not isinstance(old, Mapping) or not isinstance(new, Mapping):
            self.add(where, "is not a JSON Schema object")
            return
        type_change = self._types(old, new, where)
        if type_change != "type":
            self._pattern_and_format(old, new, where)
        self._enum(old, new, where, null_reported=type_change == "null")
        self._bounds(old, new, where)
        if "properties" in new or "properties" in old or "required" in new or "additionalProperties" in new:
            self._object(old, new, where)
        if "items" in new:
            self.compare(old.get("items", True), new["items"], f"{where} (items)")
        for key in sorted(set(new) - _HANDLED - _ANNOTATIONS):
            if old.get(key, _MISSING) != new[key]:
                self.add(where, f"keyword {key!r} {'changed' if key in old else 'added'}",
                         "the check cannot prove it accepts every record the old schema accepted",
                         "revert it, or accept the break explicitly with --update-lock --force")

    def _types(self, old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> str | None:
        """Report a type change; returns "null" when only null was dropped, "type" for any other
        change, None when every old type is still accepted."""
        old_types, new_types = _types(old), _types(new)
        if new_types is None:
            return None
        if old_types is None:
            self.add(where, f"type restricted to {_kind(new)} (any type was allowed)")
            return "type"
        lost = sorted(t for t in old_types if not _covered(t, new_types))
        if not lost:
            return None
        if lost == ["null"]:
            self.add(where, "no longer accepts null (it became required)",
                     "records already written may hold null for it",
                     "keep it optional, or add a new required column instead")
            return "null"
        self.add(where, f"type changed from {_kind(old)} to {_kind(new)}")
        return "type"

    def _pattern_and_format(self, old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> None:
        changed = [k for k in ("format", "pattern") if k in new and old.get(k, _MISSING) != new[k]]
        if not changed:
            return
        if _kind(old) != _kind(new):
            self.add(where, f"type changed from {_kind(old)} to {_kind(new)}")
            return
        for key in changed:
            verb = "changed" if key in old else "added"
            self.add(where, f"{key} {verb} ({json.dumps(new[key])})",
                     "values already written may not match it", "revert it, or bump the dataset name")

    def _enum(self, old: Mapping[str, Any], new: Mapping[str, Any], where: str, *, null_reported: bool) -> None:
        def allowed(schema: Mapping[str, Any]) -> list[Any] | None:
            if "const" in schema:
                return [schema["const"]]
            return list(schema["enum"]) if "enum" in schema else None

        old_values, new_values = allowed(old), allowed(new)
        if new_values is None:
            return
        if old_values is None:
            self.add(where, f"allowed values restricted to {_show(new_values)} (any value was allowed)",
                     "values already written may be outside the list",
                     "drop the restriction, or bump the dataset name")
            return
        lost = [v for v in old_values if v not in new_values]
        if null_reported and None in lost:
            lost.remove(None)
        if lost == [None]:
            self.add(where, "no longer accepts null (it became required)",
                     "records already written may hold null for it",
                     "keep it optional, or add a new required column instead")
        elif lost:
            self.add(where, f"allowed value(s) removed: {_show(lost)}", "records already written may hold them",
                     "keep the values allowed (add new ones freely), or bump the dataset name")

    def _bounds(self, old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> None:
        for key in _UPPER_BOUNDS:
            if key in new and (key not in old or new[key] < old[key]):
                self.add(where, f"{key} {'lowered' if key in old else 'added'} ({new[key]})",
                         "values already written may exceed it", "keep the old bound, or bump the dataset name")
        for key in _LOWER_BOUNDS:
            if key in new and (key not in old or new[key] > old[key]):
                self.add(where, f"{key} {'raised' if key in old else 'added'} ({new[key]})",
                         "values already written may fall below it", "keep the old bound, or bump the dataset name")
        if "multipleOf" in new and old.get("multipleOf", _MISSING) != new["multipleOf"]:
            self.add(where, f"multipleOf {'changed' if 'multipleOf' in old else 'added'} ({new['multipleOf']})",
                     "values already written may not be multiples of it", "revert it, or bump the dataset name")

    def _object(self, old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> None:
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)

        def label(name: str) -> str:
            return f"column {name!r}" if not where else f"{where.rstrip(chr(39))}.{name}'"

        for name in new_props:
            here = label(name)
            if name in old_props:
                before = len(self.problems)
                self.compare(old_props[name], new_props[name], here)
                reported = any("became required" in p for p in self.problems[before:])
                if name in new_required and name not in old_required and not reported:
                    self.add(here, "became required", "records already written may lack it",
                             "keep it optional, or add a new required column instead")
                continue
            if name in new_required:
                self.add(here, "added as a required column", "records already written lack it",
                         "add it as optional (required = false) instead, or bump the dataset name")
            elif old_extra is not False:
                before = len(self.problems)
                self.compare(old_extra, new_props[name], here)
                if len(self.problems) > before:
                    self.problems[before:] = [
                        f"{here}: added to an open schema — {_BREAKS} (records already written may hold "
                        f"{name!r} with any value); declare it without constraints ({{}}), or bump the dataset name"
                    ]
        for name in sorted(set(new_required) - set(new_props)):
            if name not in old_required:
                self.add(label(name), "became required", "records already written may lack it",
                         "keep it optional, or bump the dataset name")
        for name in old_props:
            if name in new_props:
                continue
            here = label(name)
            if new_extra is False:
                self.add(here, "removed",
                         "records already written carry it, and the new schema allows no undeclared columns",
                         "keep it as an optional column (required = false) instead, or bump the dataset name")
            elif isinstance(new_extra, Mapping):
                self.compare(old_props[name], new_extra, here)
        if new_extra is False and old_extra is not False:
            extra = sorted(set(old_props) - set(new_props))
            if not extra:
                self.add(where, "now rejects undeclared properties (additionalProperties: false)",
                         "records already written may carry properties it does not declare",
                         "keep the schema open, or bump the dataset name")
        elif isinstance(new_extra, Mapping) and isinstance(old_extra, (Mapping, bool)) and old_extra is not False:
            self.compare(old_extra, new_extra, f"{where or 'schema'} (additional properties)")


def check_backward(old_schema: Mapping[str, Any], new_schema: Mapping[str, Any]) -> list[str]:
    """Why ``new_schema`` cannot read every record ``old_schema`` accepts (empty: BACKWARD
    compatible). One message per problem: ``column 'x': <change> — breaks BACKWARD compatibility
    (<why>); <what to do>``. The rules are in the module docstring."""
    checker = _Checker()
    checker.compare(old_schema, new_schema, "")
    return checker.problems


# ---------------------------------------------------------------------------------------------
# the lock and the command
# ---------------------------------------------------------------------------------------------


class CheckError(Exception):
    """A contract or the lock cannot be read (exit 2)."""


def current_schemas(contracts_dir: Path) -> dict[str, dict[str, Any]]:
    """``{dataset: JSON Schema}`` of every contract in ``contracts_dir``."""
    try:
        specs = load_specs(contracts_dir)
    except ValueError as exc:  # ContractError is a ValueError
        raise CheckError(f"invalid contract: {exc}") from None
    return {s.name: contract_json_schema(s) for s in specs}


def read_lock(lock_path: Path) -> dict[str, dict[str, Any]] | None:
    """The locked schemas, or None when the lock file does not exist."""
    try:
        data = json.loads(lock_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckError(f"{lock_path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != LOCK_FORMAT or not isinstance(data.get("schemas"), dict):
        raise CheckError(f"{lock_path}: not a schema lock (expected {{\"format\": {LOCK_FORMAT}, \"schemas\": {{...}}}})")
    return data["schemas"]


def lock_text(schemas: Mapping[str, Any]) -> str:
    """The lock file's content: stable, readable diffs."""
    body = {"format": LOCK_FORMAT,
            "about": f"Last accepted JSON Schema of each dataset (BACKWARD compatibility gate). "
                     f"Written by `{UPDATE_COMMAND}`; do not edit by hand.",
            "schemas": dict(schemas)}
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_lock(lock_path: Path, schemas: Mapping[str, Any]) -> None:
    lock_path.write_text(lock_text(schemas), encoding="utf-8")


def run(
    contracts_dir: Path = CONTRACTS_DIR,
    lock_path: Path = LOCK_PATH,
    *,
    update_lock: bool = False,
    force: bool = False,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] | None = None,
) -> int:
    """The whole check; returns the exit code. ``out``/``err`` receive the lines to print."""
    err = err or (lambda line: print(line, file=sys.stderr))
    try:
        current = current_schemas(contracts_dir)
        locked = read_lock(lock_path)
    except CheckError as exc:
        err(f"schema check: {exc}")
        return 2
    if locked is None:
        out(f"schema check: no lock file at {lock_path}: every dataset is new")
        locked = {}
    breaking: list[str] = []
    pending: list[str] = []
    for name, schema in sorted(current.items()):
        source = f"{name}.toml"
        if name not in locked:
            pending.append(f"{source}: new dataset")
        elif locked[name] != schema:
            problems = check_backward(locked[name], schema)
            breaking += [f"{source}: {p}" for p in problems]
            if not problems:
                pending.append(f"{source}: compatible change")
    for name in sorted(set(locked) - set(current)):
        pending.append(f"{name}.toml: dataset removed (its registry schema is deleted on the next deploy)")

    for line in breaking:
        err(line)
    if breaking and not (update_lock and force):
        count = f"{len(breaking)} breaking change{'s' if len(breaking) != 1 else ''}"
        if update_lock:
            err(f"schema check: {count}: refusing to update the lock (add --force to accept the break "
                "deliberately, e.g. when the dataset's data is rewritten everywhere)")
        else:
            err(f"schema check: {count} (compared with {lock_path.name})")
        return 1
    if update_lock:
        if pending or breaking:
            write_lock(lock_path, current)
            note = " (breaking changes accepted with --force)" if breaking else ""
            out(f"schema check: lock updated: {lock_path} ({len(current)} dataset(s)){note}")
            for line in pending:
                out(f"  {line}")
        else:
            out(f"schema check: the lock already matches the {len(current)} contract(s)")
        return 0
    if pending:
        out(f"schema check: no breaking change; {len(pending)} change(s) not yet in {lock_path.name}:")
        for line in pending:
            out(f"  {line}")
        out(f"run `{UPDATE_COMMAND}` to record them")
        return 0
    out(f"schema check: {len(current)} dataset schema(s) match {lock_path.name}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kit.schema_check",
        description="Check that the dataset contracts stay BACKWARD compatible with the locked schemas.")
    parser.add_argument("--contracts-dir", type=Path, default=CONTRACTS_DIR, help="folder of <dataset>.toml contracts")
    parser.add_argument("--lock", type=Path, default=LOCK_PATH, help="the schema lock file")
    parser.add_argument("--update-lock", action="store_true", help="record the current schemas in the lock")
    parser.add_argument("--force", action="store_true", help="with --update-lock: record even breaking changes")
    args = parser.parse_args(argv)
    if args.force and not args.update_lock:
        parser.error("--force only applies with --update-lock")
    return run(args.contracts_dir, args.lock, update_lock=args.update_lock, force=args.force)


if __name__ == "__main__":
    sys.exit(main())
