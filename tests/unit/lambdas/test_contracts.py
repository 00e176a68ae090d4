"""Dataset contracts: the shipped ones load; a malformed one fails naming the file and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pipeline_shared import contracts
from pipeline_shared.contracts import ContractError, UnknownDataset, load_contract, parse_contract

MINIMAL = """
[dataset]
format = "csv"

[[columns]]
name = "id"
"""


def write(tmp_path: Path, text: str, name: str = "things") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_shipped_contracts_all_load():
    import main

    loaded = {c.name: c for c in contracts.load_all()}
    assert sorted(loaded) == main.dataset_names()  # the shipped contracts and any a user adds
    assert loaded["orders"].pii_columns == ("email",)
    assert loaded["events"].schema_validator is not None


def test_minimal_contract_gets_defaults(tmp_path):
    c = parse_contract(write(tmp_path, MINIMAL))
    assert (c.name, c.format, c.delimiter, c.max_rejected_fraction, c.key_columns) == ("things", "csv", ",", 0.0, ())
    assert c.columns[0].type == "string" and c.columns[0].trim and not c.columns[0].required


def test_unknown_dataset_lists_the_known_ones(tmp_path):
    write(tmp_path, MINIMAL, "beta")
    write(tmp_path, MINIMAL, "alpha")
    with pytest.raises(UnknownDataset, match=r"no contract for dataset 'payroll' \(known: alpha, beta\)"):
        load_contract("payroll", tmp_path)


def test_load_contract_is_cached():
    assert load_contract("orders") is load_contract("orders")


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (MINIMAL.replace('format = "csv"', 'format = "xml"'), "dataset.format", "one of csv, jsonl, got 'xml'"),
        (MINIMAL + 'type = "int"\n', "columns[0] (id).type", "unknown type 'int' (allowed: string, integer, decimal"),
        (MINIMAL + 'colour = "red"\n', "columns[0].colour", "unknown key"),
        (MINIMAL + "pattern = '[a-z'\n", "columns[0] (id).pattern", "is not a valid regular expression"),
        (MINIMAL + 'case = "title"\n', "columns[0] (id).case", "must be one of lower, upper"),
        (MINIMAL + 'type = "integer"\ncase = "lower"\n', "columns[0] (id).case", "applies to string columns only"),
        (MINIMAL + 'type = "string"\nformats = ["%Y"]\n', "columns[0] (id).formats", "date and timestamp columns only"),
        (MINIMAL + 'type = "date"\nformats = ["YYYY"]\n', "columns[0] (id).formats", "is not a strptime format"),
        (MINIMAL + 'case = "lower"\nallowed = ["Paid"]\n', "columns[0] (id).allowed", "can never match"),
        (
            MINIMAL + 'type = "decimal"\ndecimal_separator = ","\nthousands_separator = ","\n',
            "columns[0] (id).thousands_separator",
            "must differ from decimal_separator",
        ),
        (MINIMAL + 'required = "yes"\n', "columns[0] (id).required", "must be true or false"),
        (MINIMAL + '\n[[columns]]\nname = "id"\n', "columns", "declared twice: id"),
        (
            MINIMAL.replace('format = "csv"', 'format = "csv"\nkey_columns = ["nope"]'),
            "dataset.key_columns",
            "'nope' is not a declared column",
        ),
        (
            MINIMAL.replace('format = "csv"', 'format = "csv"\npartition_column = "id"'),
            "dataset.partition_column",
            "must be a required date or timestamp column (it is optional string)",
        ),
        (
            MINIMAL.replace('format = "csv"', 'format = "csv"\nmax_rejected_fraction = 1.5'),
            "dataset.max_rejected_fraction",
            "between 0 and 1",
        ),
        (
            MINIMAL.replace('format = "csv"', 'format = "csv"\ndelimiter = ";;"'),
            "dataset.delimiter",
            "must be one character",
        ),
        (
            MINIMAL.replace('format = "csv"', 'format = "csv"\njson_schema = "x.json"'),
            "dataset.json_schema",
            "applies to jsonl datasets only",
        ),
        (
            MINIMAL.replace('format = "csv"', 'format = "jsonl"\njson_schema = "missing.json"'),
            "dataset.json_schema",
            "file 'missing.json' does not exist",
        ),
        ("[dataset]\nformat = 'csv'\n", "columns", "at least one [[columns]] table"),
        ("[[columns]]\nname = 'id'\n", "dataset", "a [dataset] table"),
    ],
)
def test_malformed_contract_names_file_and_field(tmp_path, body, field, problem):
    path = write(tmp_path, body)
    with pytest.raises(ContractError) as caught:
        parse_contract(path)
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{path}: {field}: ")


def test_invalid_toml_is_reported_with_the_file(tmp_path):
    path = write(tmp_path, "[dataset\n")
    with pytest.raises(ContractError, match=r"things.toml: is not valid TOML"):
        parse_contract(path)


def test_invalid_json_schema_is_reported(tmp_path):
    (tmp_path / "bad.schema.json").write_text('{"type": "no-such-type"}', encoding="utf-8")
    path = write(tmp_path, MINIMAL.replace('format = "csv"', 'format = "jsonl"\njson_schema = "bad.schema.json"'))
    with pytest.raises(ContractError, match=r"dataset.json_schema: bad.schema.json is not a valid JSON Schema"):
        parse_contract(path)


def test_dataset_name_comes_from_the_file_name(tmp_path):
    with pytest.raises(ContractError, match=r"dataset name 'Bad Name'"):
        parse_contract(write(tmp_path, MINIMAL, name="Bad Name"))
