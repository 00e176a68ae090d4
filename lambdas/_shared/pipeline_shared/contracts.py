r"""Per-dataset contracts: ``contracts/<dataset>.toml`` beside this module, loaded and validated.

The file name is the dataset name (the first segment of a landing key). Format::

    [dataset]
    description = "Orders exported nightly by the shop"
    format = "csv"                    # "csv" or "jsonl" (JSON Lines: one object per line)
    delimiter = ","                   # csv only: one character (default ",")
    quote_char = '"'                  # csv only (default '"')
    max_rejected_fraction = 0.05      # reject the whole file above this share of bad rows (0..1)
    key_columns = ["order_id"]        # duplicate rows by these columns are dropped by cleanse
    partition_column = "order_date"   # optional: a required date/timestamp column that chooses the
                                      # clean partition; default: the date the file landed
    json_schema = "events.schema.json"  # jsonl only, optional: JSON Schema file (beside the
                                      # contract) every line must satisfy; compiled once

    [[columns]]                       # in file order; a CSV header must name exactly these
    name = "email"                    # [A-Za-z_][A-Za-z0-9_]*
    type = "string"                   # string | integer | decimal | date | timestamp | boolean
    required = true                   # an empty/absent value is a violation (default false)
    pattern = '^[^@\s]+@[^@\s]+$'     # re.fullmatch on the normalised text (default none)
    allowed = ["paid", "refunded"]    # allowed normalised values (default any)
    max_length = 254                  # string only: longest value in characters
    pii = true                        # tokenised (HMAC-SHA256) by cleanse; redacted in reports
    trim = true                       # strip surrounding whitespace (default true)
    unicode = "NFKC"                  # "NFC" or "NFKC" normalisation (default none)
    case = "lower"                    # string only: "lower" or "upper" (default none)
    formats = ["%d/%m/%Y"]            # date/timestamp only: strptime formats tried after ISO-8601
                                      # (for a date: the calendar form YYYY-MM-DD only, never
                                      # week 2024-W03-1, ordinal 2024-015 or compact 20240115)
    decimal_separator = ","           # integer/decimal only: "." (default) or ","
    thousands_separator = "."         # integer/decimal only: "", ",", ".", " ", "'" or "_"

Loading checks the contract itself; a ``ContractError`` names the file and the field, e.g.
``contracts/orders.toml: columns[2].type: unknown type 'int' (allowed: string, integer, …)``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
FORMATS = ("csv", "jsonl")
TYPES = ("string", "integer", "decimal", "date", "timestamp", "boolean")
UNICODE_FORMS = ("NFC", "NFKC")
CASES = ("lower", "upper")
DECIMAL_SEPARATORS = (".", ",")
THOUSANDS_SEPARATORS = ("", ",", ".", " ", "'", "_")
_DATASET_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_COLUMN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_DATASET_KEYS = {
    "description",
    "format",
    "delimiter",
    "quote_char",
    "max_rejected_fraction",
    "key_columns",
    "partition_column",
    "json_schema",
}
_COLUMN_KEYS = {
    "name",
    "type",
    "required",
    "pattern",
    "allowed",
    "max_length",
    "pii",
    "trim",
    "unicode",
    "case",
    "formats",
    "decimal_separator",
    "thousands_separator",
    "description",
}


class ContractError(ValueError):
    """A malformed or missing contract; the message names the file and the field."""

    def __init__(self, path: Path | str, field_path: str, problem: str) -> None:
        self.path, self.field, self.problem = str(path), field_path, problem
        super().__init__(f"{path}: {field_path}: {problem}" if field_path else f"{path}: {problem}")


class UnknownDataset(ContractError):
    """No contract exists for the dataset."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    required: bool = False
    pattern: re.Pattern[str] | None = None
    allowed: frozenset[str] | None = None
    max_length: int | None = None
    pii: bool = False
    trim: bool = True
    unicode: str | None = None
    case: str | None = None
    formats: tuple[str, ...] = ()
    decimal_separator: str = "."
    thousands_separator: str = ""
    description: str = ""


@dataclass(frozen=True)
class Contract:
    name: str
    path: Path
    format: str
    columns: tuple[Column, ...]
    description: str = ""
    delimiter: str = ","
    quote_char: str = '"'
    max_rejected_fraction: float = 0.0
    key_columns: tuple[str, ...] = ()
    partition_column: str | None = None
    json_schema: dict[str, Any] | None = None
    schema_validator: Callable[[Any], Any] | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def pii_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.pii)

    @property
    def extension(self) -> str:
        return self.format

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _normalise_text(column: Column, text: str) -> str:
    if column.unicode:
        text = unicodedata.normalize(column.unicode, text)
    if column.trim:
        text = text.strip()
    if column.case == "lower":
        text = text.lower()
    elif column.case == "upper":
        text = text.upper()
    return text


def _expect(path: Path, dotted: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
        raise ContractError(path, dotted, f"must be {what}, got {value!r}")
    return value


def _str_list(path: Path, dotted: str, value: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContractError(path, dotted, f"must be a list of strings, got {value!r}")
    if not value and not allow_empty:
        raise ContractError(path, dotted, "must not be empty")
    if len(set(value)) != len(value):
        raise ContractError(path, dotted, "lists a value twice")
    return tuple(value)


def _column(path: Path, index: int, raw: Any) -> Column:
    where = f"columns[{index}]"
    if not isinstance(raw, dict):
        raise ContractError(path, where, "must be a table ([[columns]])")
    for key in raw:
        if key not in _COLUMN_KEYS:
            raise ContractError(path, f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(_COLUMN_KEYS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not _COLUMN_RE.match(name):
        raise ContractError(
            path, f"{where}.name", f"is required: letters, digits and '_', not starting with a digit; got {name!r}"
        )
    where = f"columns[{index}] ({name})"
    ctype = raw.get("type", "string")
    if ctype not in TYPES:
        raise ContractError(path, f"{where}.type", f"unknown type {ctype!r} (allowed: {', '.join(TYPES)})")
    flags = {
        k: _expect(path, f"{where}.{k}", raw.get(k, d), bool, "true or false")
        for k, d in (("required", False), ("pii", False), ("trim", True))
    }
    unicode_form = raw.get("unicode")
    if unicode_form is not None and unicode_form not in UNICODE_FORMS:
        raise ContractError(
            path, f"{where}.unicode", f"must be one of {', '.join(UNICODE_FORMS)}, got {unicode_form!r}"
        )
    case = raw.get("case")
    if case is not None:
        if case not in CASES:
            raise ContractError(path, f"{where}.case", f"must be one of {', '.join(CASES)}, got {case!r}")
        if ctype != "string":
            raise ContractError(path, f"{where}.case", f"applies to string columns only, this one is {ctype}")
    pattern = None
    if "pattern" in raw:
        source = _expect(path, f"{where}.pattern", raw["pattern"], str, "a regular expression string")
        try:
            pattern = re.compile(source)
        except re.error as exc:
            raise ContractError(path, f"{where}.pattern", f"is not a valid regular expression: {exc}") from None
    max_length = None
    if "max_length" in raw:
        if ctype != "string":
            raise ContractError(path, f"{where}.max_length", f"applies to string columns only, this one is {ctype}")
        max_length = _expect(path, f"{where}.max_length", raw["max_length"], int, "a positive integer")
        if max_length < 1:
            raise ContractError(path, f"{where}.max_length", f"must be a positive integer, got {max_length}")
    formats: tuple[str, ...] = ()
    if "formats" in raw:
        if ctype not in ("date", "timestamp"):
            raise ContractError(
                path, f"{where}.formats", f"applies to date and timestamp columns only, this one is {ctype}"
            )
        formats = _str_list(path, f"{where}.formats", raw["formats"])
        for f in formats:
            if "%" not in f:
                raise ContractError(path, f"{where}.formats", f"{f!r} is not a strptime format (no % directive)")
    separators = {}
    for key, allowed, default in (
        ("decimal_separator", DECIMAL_SEPARATORS, "."),
        ("thousands_separator", THOUSANDS_SEPARATORS, ""),
    ):
        if key in raw:
            if ctype not in ("integer", "decimal"):
                raise ContractError(
                    path, f"{where}.{key}", f"applies to integer and decimal columns only, this one is {ctype}"
                )
            if raw[key] not in allowed:
                raise ContractError(
                    path, f"{where}.{key}", f"must be one of {', '.join(map(repr, allowed))}, got {raw[key]!r}"
                )
        separators[key] = raw.get(key, default)
    if separators["decimal_separator"] == separators["thousands_separator"]:
        raise ContractError(path, f"{where}.thousands_separator", "must differ from decimal_separator")
    description = _expect(path, f"{where}.description", raw.get("description", ""), str, "a string")
    column = Column(
        name=name,
        type=ctype,
        required=flags["required"],
        pattern=pattern,
        max_length=max_length,
        pii=flags["pii"],
        trim=flags["trim"],
        unicode=unicode_form,
        case=case,
        formats=formats,
        description=description,
        **separators,
    )
    if "allowed" in raw:
        allowed_values = _str_list(path, f"{where}.allowed", raw["allowed"])
        for value in allowed_values:
            if _normalise_text(column, value) != value:
                raise ContractError(
                    path,
                    f"{where}.allowed",
                    f"value {value!r} can never match: values are compared "
                    f"after normalisation (trim/unicode/case), write {_normalise_text(column, value)!r}",
                )
        column = dataclasses.replace(column, allowed=frozenset(allowed_values))
    return column


def _json_schema(path: Path, reference: Any) -> tuple[dict[str, Any], Callable[[Any], Any]]:
    import fastjsonschema  # in the Powertools layer; imported only for JSON Lines contracts

    ref = _expect(path, "dataset.json_schema", reference, str, "a file name beside the contract")
    schema_path = (path.parent / ref).resolve()
    if schema_path.parent != path.parent.resolve():
        raise ContractError(path, "dataset.json_schema", f"must name a file in {path.parent}, got {ref!r}")
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(path, "dataset.json_schema", f"file {ref!r} does not exist") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(path, "dataset.json_schema", f"{ref} is not valid JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise ContractError(path, "dataset.json_schema", f"{ref} must hold a JSON object (a JSON Schema)")
    try:
        validator = fastjsonschema.compile(schema)
    except Exception as exc:  # JsonSchemaDefinitionException and compile errors of bad patterns
        raise ContractError(path, "dataset.json_schema", f"{ref} is not a valid JSON Schema: {exc}") from None
    return schema, validator


def parse_contract(path: Path) -> Contract:
    """Load and validate one contract file (not cached: use ``load_contract``)."""
    name = path.stem
    if not _DATASET_RE.match(name):
        raise ContractError(
            path,
            "",
            f"dataset name {name!r} (the file name) must be 1-63 characters of a-z, 0-9, '_' "
            "and '-', starting with a letter",
        )
    import tomllib  # only when a contract is first loaded: keeps the TOML parser out of cold-start imports

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnknownDataset(path, "", "no such contract") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ContractError(path, "", f"is not valid TOML: {exc}") from None
    for section in data:
        if section not in ("dataset", "columns"):
            raise ContractError(path, section, "unknown section (allowed: [dataset], [[columns]])")
    ds = data.get("dataset")
    if not isinstance(ds, dict):
        raise ContractError(path, "dataset", "is required: a [dataset] table")
    for key in ds:
        if key not in _DATASET_KEYS:
            raise ContractError(path, f"dataset.{key}", f"unknown key (allowed: {', '.join(sorted(_DATASET_KEYS))})")
    fmt = ds.get("format")
    if fmt not in FORMATS:
        raise ContractError(path, "dataset.format", f"is required: one of {', '.join(FORMATS)}, got {fmt!r}")
    description = _expect(path, "dataset.description", ds.get("description", ""), str, "a string")
    fraction = _expect(
        path, "dataset.max_rejected_fraction", ds.get("max_rejected_fraction", 0.0), (int, float), "a number"
    )
    if not 0.0 <= float(fraction) <= 1.0:
        raise ContractError(path, "dataset.max_rejected_fraction", f"must be between 0 and 1, got {fraction}")
    delimiter, quote_char = ds.get("delimiter", ","), ds.get("quote_char", '"')
    if fmt != "csv" and ("delimiter" in ds or "quote_char" in ds):
        raise ContractError(
            path, "dataset.delimiter" if "delimiter" in ds else "dataset.quote_char", "applies to csv datasets only"
        )
    for key, value in (("delimiter", delimiter), ("quote_char", quote_char)):
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
            raise ContractError(path, f"dataset.{key}", f"must be one character (not a line break), got {value!r}")
    if delimiter == quote_char:
        raise ContractError(path, "dataset.quote_char", "must differ from the delimiter")
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise ContractError(path, "columns", "is required: at least one [[columns]] table")
    columns = tuple(_column(path, i, c) for i, c in enumerate(raw_columns))
    names = [c.name for c in columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ContractError(path, "columns", f"column name(s) declared twice: {', '.join(dupes)}")
    keys = _str_list(path, "dataset.key_columns", ds.get("key_columns", []), allow_empty=True)
    for k in keys:
        if k not in names:
            raise ContractError(
                path, "dataset.key_columns", f"{k!r} is not a declared column (columns: {', '.join(names)})"
            )
    partition = ds.get("partition_column")
    if partition is not None:
        if partition not in names:
            raise ContractError(
                path,
                "dataset.partition_column",
                f"{partition!r} is not a declared column (columns: {', '.join(names)})",
            )
        pcol = columns[names.index(partition)]
        if pcol.type not in ("date", "timestamp") or not pcol.required:
            kind = f"{'required' if pcol.required else 'optional'} {pcol.type}"
            raise ContractError(
                path,
                "dataset.partition_column",
                f"{partition!r} must be a required date or timestamp column (it is {kind})",
            )
    schema = validator = None
    if "json_schema" in ds:
        if fmt != "jsonl":
            raise ContractError(path, "dataset.json_schema", "applies to jsonl datasets only")
        schema, validator = _json_schema(path, ds["json_schema"])
    return Contract(
        name=name,
        path=path,
        format=fmt,
        columns=columns,
        description=description,
        delimiter=delimiter,
        quote_char=quote_char,
        max_rejected_fraction=float(fraction),
        key_columns=keys,
        partition_column=partition,
        json_schema=schema,
        schema_validator=validator,
    )


_cache: dict[Path, Contract] = {}
_cache_lock = threading.Lock()


def known_datasets(directory: Path | None = None) -> tuple[str, ...]:
    directory = directory or CONTRACTS_DIR
    return tuple(sorted(p.stem for p in directory.glob("*.toml")))


def load_contract(dataset: str, directory: Path | None = None) -> Contract:
    """The contract of ``dataset``, loaded once per container. Raises ``UnknownDataset``."""
    directory = directory or CONTRACTS_DIR
    if not _DATASET_RE.match(dataset):
        raise UnknownDataset(
            directory,
            "",
            f"no contract for dataset {dataset!r} (known: {', '.join(known_datasets(directory)) or 'none'})",
        )
    path = directory / f"{dataset}.toml"
    found = _cache.get(path)
    if found is not None:
        return found
    if not path.is_file():
        raise UnknownDataset(
            directory,
            "",
            f"no contract for dataset {dataset!r} (known: {', '.join(known_datasets(directory)) or 'none'})",
        )
    with _cache_lock:
        found = _cache.get(path) or parse_contract(path)
        _cache[path] = found
    return found


def load_all(directory: Path | None = None) -> list[Contract]:
    """Every contract in ``directory``, each validated (the first error raises)."""
    return [load_contract(name, directory) for name in known_datasets(directory)]
