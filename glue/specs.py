"""A dataset contract reduced to what the catalog, the schema registry and the ETL need.

``DatasetSpec.of(contract)`` takes a loaded contract (``pipeline_shared.contracts.Contract``, read
by attribute, so this module imports nothing from ``lambdas/``) or a ``DatasetSpec``. Everything here
is pure, standard library only, and runs on Python 3.10 (the Glue 4.0 runtime ships this module).

**Clean data** (what cleanse writes, ``lambdas/cleanse/core.py``): ``dataset=<name>/date=<YYYY-MM-DD>/
<file_id>.csv|.jsonl``. CSV: comma-separated whatever the landing delimiter, a header row,
``csv`` minimal quoting (``"`` doubled inside quoted values), ``\\n`` line ends, a missing value
is an empty field. JSON Lines: every column present, a missing value is ``null``; integers and
booleans are JSON numbers/booleans, decimals, dates and timestamps are strings. Values are
standardised: decimals plain with ``.``, ISO dates, UTC timestamps ending in ``Z``,
``true``/``false``; PII columns hold ``HMAC-SHA256`` tokens (64 lower-case hex characters).

**Glue/Athena column types** (``glue_columns``): string → ``string``, integer → ``bigint``,
decimal → ``decimal(38,9)``, date → ``date``, timestamp → ``timestamp``, boolean → ``boolean``;
PII columns are ``string`` (tokens). ``decimal(38,9)``: 38 is the largest precision Athena, Spark
and Parquet share; a scale of 9 keeps nine fractional digits (sub-cent money, rates, coordinates)
and 29 integer digits. The contracts do not declare a scale, so one default serves every
dataset; compaction rejects a value with more than 9 fractional digits (it is not rounded).
Column names are lower-cased (Glue and Athena store them so).

**JSON Schema** (``contract_json_schema``), draft-07, describing one clean record:

- a closed object (``additionalProperties: false``): a clean record holds exactly the contract's
  columns, so a column added later cannot already exist, with another type, in old records;
- ``required``: the contract's required columns; an optional column may be absent or ``null``
  (its ``type`` includes ``"null"``);
- string → ``{"type": "string"}`` plus ``maxLength`` (``max_length``) and ``enum`` (``allowed``);
  integer → ``integer``; decimal → a string matching ``DECIMAL_PATTERN``; date → string, format
  ``date``; timestamp → string, format ``date-time``; boolean → ``boolean``; a PII column → a
  string matching ``TOKEN_PATTERN`` (its contract text rules applied to the raw value, not the
  token);
- the contract's ``pattern`` is left out: whether one regular expression accepts everything
  another accepts cannot be decided in general, so a pattern fix would always look breaking.
  validate enforces patterns at ingestion.

``json.dumps(schema, sort_keys=True, separators=(",", ":"))`` (``schema_text``) is the registered
definition: the same contract always gives the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

#: Largest precision Athena, Spark and Parquet share, and the default scale (see the module doc).
DECIMAL_PRECISION = 38
DECIMAL_SCALE = 9
DECIMAL_TYPE = f"decimal({DECIMAL_PRECISION},{DECIMAL_SCALE})"

GLUE_TYPES = {
    "string": "string",
    "integer": "bigint",
    "decimal": DECIMAL_TYPE,
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "boolean",
}
CONTRACT_TYPES = tuple(GLUE_TYPES)
FORMATS = ("csv", "jsonl")

#: The text of a standardised decimal (``format(Decimal, "f")``) and of a PII token.
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
TOKEN_PATTERN = r"^[0-9a-f]{64}$"
JSON_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"

#: The partition key of every clean and compacted table (``date=<YYYY-MM-DD>`` in the key).
PARTITION_KEY = "date"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str = "string"
    required: bool = False
    pii: bool = False
    #: allowed (normalised) values, sorted; None: any
    allowed: tuple[str, ...] | None = None
    max_length: int | None = None
    #: the contract's regular expression (its source text); not part of the JSON Schema
    pattern: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in GLUE_TYPES:
            raise ValueError(f"column {self.name!r}: unknown type {self.type!r} (allowed: {', '.join(CONTRACT_TYPES)})")

    @property
    def glue_name(self) -> str:
        return self.name.lower()

    @property
    def glue_type(self) -> str:
        return "string" if self.pii else GLUE_TYPES[self.type]


@dataclass(frozen=True)
class DatasetSpec:
    """What the catalog, the registry and the ETL need to know about one dataset."""

    name: str
    format: str
    columns: tuple[ColumnSpec, ...]
    key_columns: tuple[str, ...] = ()
    partition_column: str | None = None
    description: str = ""
    #: the contract file name, for messages (``orders.toml``)
    source: str = ""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"dataset {self.name!r}: unknown format {self.format!r} (allowed: {', '.join(FORMATS)})")
        names = [c.name for c in self.columns]
        for k in self.key_columns:
            if k not in names:
                raise ValueError(f"dataset {self.name!r}: key column {k!r} is not a declared column")
        if self.partition_column is not None and self.partition_column not in names:
            raise ValueError(f"dataset {self.name!r}: partition column {self.partition_column!r} is not declared")

    @property
    def table_name(self) -> str:
        """A valid Glue/Athena table name: lower-case letters, digits and ``_``."""
        return self.name.lower().replace("-", "_")

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @classmethod
    def of(cls, contract: Any) -> "DatasetSpec":
        """A ``DatasetSpec`` from a loaded contract (read by attribute), or the spec itself."""
        if isinstance(contract, DatasetSpec):
            return contract
        columns = tuple(
            ColumnSpec(
                name=c.name,
                type=c.type,
                required=bool(c.required),
                pii=bool(c.pii),
                allowed=tuple(sorted(c.allowed)) if getattr(c, "allowed", None) is not None else None,
                max_length=getattr(c, "max_length", None),
                pattern=c.pattern.pattern if getattr(c, "pattern", None) is not None else None,
                description=getattr(c, "description", "") or "",
            )
            for c in contract.columns
        )
        path = getattr(contract, "path", None)
        return cls(
            name=contract.name,
            format=contract.format,
            columns=columns,
            key_columns=tuple(getattr(contract, "key_columns", ()) or ()),
            partition_column=getattr(contract, "partition_column", None),
            description=getattr(contract, "description", "") or "",
            source=Path(path).name if path else f"{contract.name}.toml",
        )

    # -- the compact form passed to the Glue job (``--dataset-specs``)
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "format": self.format,
            "columns": [{"name": c.name, "type": c.type, "required": c.required, "pii": c.pii} for c in self.columns],
            "key_columns": list(self.key_columns),
            "partition_column": self.partition_column,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DatasetSpec":
        return cls(
            name=data["name"],
            format=data["format"],
            columns=tuple(
                ColumnSpec(name=c["name"], type=c["type"], required=bool(c.get("required", False)),
                           pii=bool(c.get("pii", False)))
                for c in data["columns"]
            ),
            key_columns=tuple(data.get("key_columns") or ()),
            partition_column=data.get("partition_column"),
        )


def specs_json(datasets: Iterable[Any]) -> str:
    """The ``--dataset-specs`` job argument: compact JSON, datasets sorted by name."""
    specs = sorted((DatasetSpec.of(d) for d in datasets), key=lambda s: s.name)
    return json.dumps([s.to_dict() for s in specs], sort_keys=True, separators=(",", ":"))


def specs_from_json(text: str) -> dict[str, DatasetSpec]:
    """``{name: DatasetSpec}`` from ``specs_json`` output."""
    return {d["name"]: DatasetSpec.from_dict(d) for d in json.loads(text)}


# ---------------------------------------------------------------------------------------------
# Glue column types
# ---------------------------------------------------------------------------------------------


def glue_columns(contract: Any) -> list[tuple[str, str]]:
    """``[(column name, Glue type)]`` in contract order (see the module doc for the mapping).

    Raises ``ValueError`` when two columns differ only by case (Glue lower-cases names) or a
    column is named like the partition key ``date``."""
    spec = DatasetSpec.of(contract)
    seen: dict[str, str] = {}
    out = []
    for c in spec.columns:
        lowered = c.glue_name
        if lowered in seen:
            raise ValueError(
                f"{spec.source or spec.name}: columns {seen[lowered]!r} and {c.name!r} have the same "
                "Glue name (Glue lower-cases column names)"
            )
        if lowered == PARTITION_KEY:
            raise ValueError(
                f"{spec.source or spec.name}: column {c.name!r} collides with the partition key "
                f"{PARTITION_KEY!r} of the clean zone (rename the column)"
            )
        seen[lowered] = c.name
        out.append((lowered, c.glue_type))
    return out


# ---------------------------------------------------------------------------------------------
# JSON Schema
# ---------------------------------------------------------------------------------------------


def _property(c: ColumnSpec) -> dict[str, Any]:
    prop: dict[str, Any]
    if c.pii:
        prop = {"type": "string", "pattern": TOKEN_PATTERN}
    elif c.type == "string":
        prop = {"type": "string"}
        if c.max_length is not None:
            prop["maxLength"] = c.max_length
        if c.allowed is not None:
            prop["enum"] = list(c.allowed)
    elif c.type == "integer":
        prop = {"type": "integer"}
    elif c.type == "decimal":
        prop = {"type": "string", "pattern": DECIMAL_PATTERN}
    elif c.type == "date":
        prop = {"type": "string", "format": "date"}
    elif c.type == "timestamp":
        prop = {"type": "string", "format": "date-time"}
    else:  # boolean
        prop = {"type": "boolean"}
    if not c.required:
        prop["type"] = [prop["type"], "null"]
        if "enum" in prop:
            prop["enum"] = [*prop["enum"], None]
    description = c.description
    if c.pii:
        description = (f"{description} " if description else "") + "(PII: HMAC-SHA256 token, hex)"
    if description:
        prop["description"] = description
    return prop


def contract_json_schema(contract: Any) -> dict[str, Any]:
    """The JSON Schema (draft-07) of one clean record of ``contract`` (see the module doc)."""
    spec = DatasetSpec.of(contract)
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DRAFT,
        "title": spec.name,
        "type": "object",
        "additionalProperties": False,
        "properties": {c.name: _property(c) for c in spec.columns},
    }
    required = [c.name for c in spec.columns if c.required]
    if required:
        schema["required"] = required
    if spec.description:
        schema["description"] = spec.description
    return schema


def schema_text(schema: Mapping[str, Any]) -> str:
    """The registered definition: deterministic, compact JSON."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Loading the repository's contracts (infrastructure and kit only; never called in Glue)
# ---------------------------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT / "lambdas" / "_shared"
CONTRACTS_DIR = SHARED_DIR / "pipeline_shared" / "contracts"


def _contracts_module() -> Any:
    from pipeline_shared import contracts  # lambdas/_shared is importable: the venv's .pth (make venv)

    return contracts


def contract_paths(directory: Path | None = None) -> list[Path]:
    return sorted((directory or CONTRACTS_DIR).glob("*.toml"))


def load_specs(directory: Path | None = None) -> list[DatasetSpec]:
    """Every contract of ``directory`` (default: the shipped contracts), validated by the
    contract loader and reduced to a ``DatasetSpec``, sorted by name. Raises its ``ContractError``."""
    contracts = _contracts_module()
    return [DatasetSpec.of(contracts.parse_contract(p)) for p in contract_paths(directory)]


def shipped_specs() -> list[DatasetSpec]:
    """The shipped datasets (``lambdas/_shared/pipeline_shared/contracts/*.toml``)."""
    return load_specs(CONTRACTS_DIR)


# ---------------------------------------------------------------------------------------------
# shared by the Glue job scripts (compact_clean.py, stream_events.py): pure, no Spark import
# ---------------------------------------------------------------------------------------------


def job_arguments(argv: Any) -> dict[str, str]:
    """A Glue job's ``--name value`` / ``--name=value`` arguments (``-`` and ``_`` in names are the
    same) as ``{name: value}``; a flag without a value maps to ``""``."""
    found: dict[str, str] = {}
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("--"):
            name, eq, value = item[2:].partition("=")
            key = name.replace("_", "-")
            if eq:
                found[key] = value
            elif i + 1 < len(items) and not items[i + 1].startswith("--"):
                found[key] = items[i + 1]
                i += 1
            else:
                found[key] = ""
        i += 1
    return found


def spark_type(types: Any, glue_type: str) -> Any:
    """The Spark SQL type (from the ``pyspark.sql.types`` module given) of a Glue column type."""
    simple = {"string": types.StringType, "bigint": types.LongType, "date": types.DateType,
              "timestamp": types.TimestampType, "boolean": types.BooleanType}
    if glue_type in simple:
        return simple[glue_type]()
    if glue_type.startswith("decimal(") and glue_type.endswith(")"):
        precision, scale = (int(part) for part in glue_type[len("decimal("):-1].split(","))
        return types.DecimalType(precision, scale)
    raise ValueError(f"no Spark type for Glue type {glue_type!r}")
