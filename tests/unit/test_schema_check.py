"""``kit.schema_check``: each BACKWARD rule of ``check_backward`` (with its message), the command's
exit codes and output on temporary copies of the contracts and the lock, and that the shipped
contracts match the shipped lock."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from glue.specs import CONTRACTS_DIR, DECIMAL_PATTERN, contract_json_schema, shipped_specs
from kit import schema_check
from kit.schema_check import LOCK_PATH, check_backward

BREAKS = "breaks BACKWARD compatibility"


def obj(properties: dict, required: list[str] | None = None, closed: bool | dict = True, **extra) -> dict:
    schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = required
    if closed is False or isinstance(closed, dict):
        schema["additionalProperties"] = closed if isinstance(closed, dict) else True
    else:
        schema["additionalProperties"] = False
    return schema


def one(old: dict, new: dict) -> str:
    problems = check_backward(old, new)
    assert len(problems) == 1, problems
    return problems[0]


STRING = {"type": "string"}
OPT_STRING = {"type": ["string", "null"]}
DECIMAL = {"type": "string", "pattern": DECIMAL_PATTERN}
DATE = {"type": "string", "format": "date"}
TIMESTAMP = {"type": "string", "format": "date-time"}


# ======================================================================================
# rules
# ======================================================================================


def test_identical_schemas_are_compatible():
    schema = contract_json_schema(shipped_specs()[0])
    assert check_backward(schema, json.loads(json.dumps(schema))) == []


def test_adding_an_optional_column_to_a_closed_schema_is_compatible():
    assert check_backward(obj({"a": STRING}, ["a"]), obj({"a": STRING, "b": OPT_STRING}, ["a"])) == []


def test_adding_a_required_column_breaks():
    message = one(obj({"a": STRING}, ["a"]), obj({"a": STRING, "b": STRING}, ["a", "b"]))
    assert message == (f"column 'b': added as a required column — {BREAKS} (records already written lack it); "
                       "add it as optional (required = false) instead, or bump the dataset name")


def test_removing_a_column_from_a_closed_schema_breaks():
    message = one(obj({"a": STRING, "b": OPT_STRING}, ["a"]), obj({"a": STRING}, ["a"]))
    assert message.startswith(f"column 'b': removed — {BREAKS} (records already written carry it")
    assert message.endswith("keep it as an optional column (required = false) instead, or bump the dataset name")


def test_removing_a_property_from_an_open_schema_is_compatible():
    assert check_backward(obj({"a": STRING, "b": STRING}, closed=False), obj({"a": STRING}, closed=False)) == []


def test_adding_a_typed_property_to_an_open_schema_breaks():
    message = one(obj({"a": STRING}, closed=False), obj({"a": STRING, "b": {"type": "integer"}}, closed=False))
    assert message.startswith(f"column 'b': added to an open schema — {BREAKS} (records already written may hold 'b'")


def test_adding_an_unconstrained_property_to_an_open_schema_is_compatible():
    assert check_backward(obj({"a": STRING}, closed=False), obj({"a": STRING, "b": {}}, closed=False)) == []


def test_adding_a_property_that_additional_properties_already_allowed_is_compatible():
    old = obj({"a": STRING}, closed={"type": "string"})
    assert check_backward(old, obj({"a": STRING, "b": STRING}, closed={"type": "string"})) == []


def test_closing_an_open_schema_breaks_and_opening_a_closed_one_is_compatible():
    assert "now rejects undeclared properties" in one(obj({"a": STRING}, closed=False), obj({"a": STRING}))
    assert check_backward(obj({"a": STRING}), obj({"a": STRING}, closed=False)) == []


def test_changing_a_type_breaks_with_the_suggested_fix():
    message = one(obj({"amount": {"type": "number"}}), obj({"amount": STRING}))
    assert message == (f"column 'amount': type changed from number to string — {BREAKS} (data already written "
                       "cannot be read with the new schema); add a new column instead, or bump the dataset name")


def test_integer_to_number_is_a_compatible_widening_and_the_reverse_breaks():
    assert check_backward(obj({"n": {"type": "integer"}}), obj({"n": {"type": "number"}})) == []
    assert "type changed from number to integer" in one(obj({"n": {"type": "number"}}), obj({"n": {"type": "integer"}}))


def test_adding_a_type_is_compatible_and_removing_one_breaks():
    assert check_backward(obj({"v": STRING}), obj({"v": {"type": ["string", "integer"]}})) == []
    assert "type changed from integer or string to string" in one(obj({"v": {"type": ["string", "integer"]}}),
                                                                 obj({"v": STRING}))


def test_restricting_an_untyped_property_breaks():
    assert "type restricted to string (any type was allowed)" in one(obj({"v": {}}), obj({"v": STRING}))


def test_making_a_column_required_breaks_once():
    message = one(obj({"a": OPT_STRING}), obj({"a": STRING}, ["a"]))
    assert message.startswith(f"column 'a': no longer accepts null (it became required) — {BREAKS}")


def test_making_a_required_column_optional_is_compatible():
    assert check_backward(obj({"a": STRING}, ["a"]), obj({"a": OPT_STRING})) == []


def test_listing_an_existing_column_as_required_breaks():
    assert one(obj({"a": STRING}), obj({"a": STRING}, ["a"])).startswith(f"column 'a': became required — {BREAKS}")


def test_kit_types_are_named_in_messages():
    assert "type changed from date to timestamp" in one(obj({"d": DATE}), obj({"d": TIMESTAMP}))
    assert "type changed from string to decimal" in one(obj({"d": STRING}), obj({"d": DECIMAL}))
    assert "type changed from integer to decimal" in one(obj({"d": {"type": "integer"}}), obj({"d": DECIMAL}))


def test_kit_types_relaxed_to_string_are_compatible():
    for typed in (DECIMAL, DATE, TIMESTAMP):
        assert check_backward(obj({"d": typed}), obj({"d": STRING})) == []


def test_narrowing_an_enum_breaks_and_widening_is_compatible():
    old = obj({"s": {"type": "string", "enum": ["paid", "refunded"]}})
    assert check_backward(old, obj({"s": {"type": "string", "enum": ["paid", "pending", "refunded"]}})) == []
    message = one(old, obj({"s": {"type": "string", "enum": ["paid"]}}))
    assert message.startswith(f"column 's': allowed value(s) removed: \"refunded\" — {BREAKS}")


def test_adding_an_enum_breaks_and_dropping_it_is_compatible():
    assert "allowed values restricted to \"a\"" in one(obj({"s": STRING}), obj({"s": {"type": "string", "enum": ["a"]}}))
    assert check_backward(obj({"s": {"type": "string", "enum": ["a"]}}), obj({"s": STRING})) == []


def test_const_counts_as_a_one_value_enum():
    assert check_backward(obj({"s": {"const": "x"}}), obj({"s": {"enum": ["x", "y"]}})) == []
    assert "allowed value(s) removed: \"x\"" in one(obj({"s": {"enum": ["x", "y"]}}), obj({"s": {"const": "y"}}))


def test_pattern_added_or_changed_breaks_and_removed_is_compatible():
    assert "pattern added" in one(obj({"s": STRING}), obj({"s": {"type": "string", "pattern": "^a"}}))
    assert "pattern changed" in one(obj({"s": {"type": "string", "pattern": "^a"}}),
                                    obj({"s": {"type": "string", "pattern": "^b"}}))
    assert check_backward(obj({"s": {"type": "string", "pattern": "^a"}}), obj({"s": STRING})) == []


def test_format_added_breaks():
    assert "type changed from string to date" in one(obj({"s": STRING}), obj({"s": DATE}))
    assert "format added" in one(obj({"s": {}}), obj({"s": {"format": "email"}}))


def test_upper_bounds_may_only_loosen():
    old = obj({"s": {"type": "string", "maxLength": 10}})
    assert check_backward(old, obj({"s": {"type": "string", "maxLength": 20}})) == []
    assert check_backward(old, obj({"s": STRING})) == []
    assert "maxLength lowered (5)" in one(old, obj({"s": {"type": "string", "maxLength": 5}}))
    assert "maxLength added (5)" in one(obj({"s": STRING}), obj({"s": {"type": "string", "maxLength": 5}}))


def test_lower_bounds_may_only_loosen():
    old = obj({"n": {"type": "integer", "minimum": 0}})
    assert check_backward(old, obj({"n": {"type": "integer", "minimum": -5}})) == []
    assert "minimum raised (1)" in one(old, obj({"n": {"type": "integer", "minimum": 1}}))
    assert "multipleOf added (2)" in one(obj({"n": {"type": "integer"}}), obj({"n": {"type": "integer", "multipleOf": 2}}))


def test_nested_objects_are_compared_by_the_same_rules():
    old = obj({"a": obj({"b": {"type": "integer"}})})
    message = one(old, obj({"a": obj({"b": STRING})}))
    assert message.startswith("column 'a.b': type changed from integer to string")


def test_array_items_are_compared():
    old = obj({"tags": {"type": "array", "items": {"type": "integer"}}})
    assert "(items): type changed from integer to string" in one(old, obj({"tags": {"type": "array", "items": STRING}}))


def test_annotations_never_matter():
    old = obj({"a": {"type": "string", "description": "x"}}, title="t", description="d")
    new = obj({"a": {"type": "string", "description": "y", "examples": ["z"]}}, title="u", description="e")
    assert check_backward(old, new) == []


def test_unknown_keywords_are_not_assumed_compatible():
    message = one(obj({"a": STRING}), obj({"a": {"type": "string", "not": {"const": "x"}}}))
    assert message.startswith("column 'a': keyword 'not' added — ")
    assert "the check cannot prove it accepts every record the old schema accepted" in message


def test_boolean_schemas():
    assert check_backward(obj({"a": STRING}), obj({"a": True})) == []
    assert check_backward(obj({"a": False}), obj({"a": STRING})) == []
    assert "accepts nothing" in one(obj({"a": STRING}), obj({"a": False}))


def test_several_problems_are_all_reported():
    old = obj({"a": STRING, "b": {"type": "integer"}}, ["a"])
    new = obj({"a": {"type": "integer"}, "c": STRING}, ["a", "c"])
    problems = check_backward(old, new)
    assert [p.split(":")[0] for p in problems] == ["column 'a'", "column 'c'", "column 'b'"]


# ======================================================================================
# the command
# ======================================================================================


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the shipped contracts and of the shipped lock."""
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, contracts, ignore=shutil.ignore_patterns("schemas.lock.json"))
    lock = tmp_path / "schemas.lock.json"
    shutil.copy(LOCK_PATH, lock)
    return contracts, lock


def run(contracts: Path, lock: Path, **kw) -> tuple[int, list[str], list[str]]:
    out: list[str] = []
    err: list[str] = []
    code = schema_check.run(contracts, lock, out=out.append, err=err.append, **kw)
    return code, out, err


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


ORDERS_EXPRESS = '[[columns]]\nname = "express"\ntype = "boolean"\n'


def test_shipped_contracts_match_the_shipped_lock():
    assert schema_check.current_schemas(CONTRACTS_DIR) == schema_check.read_lock(LOCK_PATH)
    code, out, err = run(CONTRACTS_DIR, LOCK_PATH)
    count = len(list(CONTRACTS_DIR.glob("*.toml")))  # the shipped contracts and any a user adds
    assert (code, err) == (0, []) and out == [f"schema check: {count} dataset schema(s) match schemas.lock.json"]


def test_shipped_lock_is_in_its_canonical_form():
    assert LOCK_PATH.read_text() == schema_check.lock_text(schema_check.read_lock(LOCK_PATH))


def test_a_type_change_fails_with_the_contract_file_column_and_rule(repo):
    contracts, lock = repo
    edit(contracts / "orders.toml", ORDERS_EXPRESS, ORDERS_EXPRESS.replace("boolean", "integer"))
    code, out, err = run(contracts, lock)
    assert code == 1 and out == []
    assert err == [
        f"orders.toml: column 'express': type changed from boolean to integer — {BREAKS} (data already written "
        "cannot be read with the new schema); add a new column instead, or bump the dataset name",
        "schema check: 1 breaking change (compared with schemas.lock.json)",
    ]


def test_a_new_required_column_fails(repo):
    contracts, lock = repo
    edit(contracts / "orders.toml", ORDERS_EXPRESS, ORDERS_EXPRESS + '\n[[columns]]\nname = "channel"\nrequired = true\n')
    code, _, err = run(contracts, lock)
    assert code == 1 and err[0].startswith(f"orders.toml: column 'channel': added as a required column — {BREAKS}")


def test_narrowing_allowed_values_fails(repo):
    contracts, lock = repo
    edit(contracts / "orders.toml", '"pending", "refunded"]', '"pending"]')
    code, _, err = run(contracts, lock)
    assert code == 1
    assert err[0].startswith("orders.toml: column 'status': allowed value(s) removed: \"refunded\" — ")


def test_removing_a_column_fails_and_says_how_to_keep_it(repo):
    contracts, lock = repo
    edit(contracts / "orders.toml", ORDERS_EXPRESS, "")
    code, _, err = run(contracts, lock)
    assert code == 1 and err[0].startswith("orders.toml: column 'express': removed — ")
    assert "keep it as an optional column (required = false) instead" in err[0]


def test_a_compatible_change_passes_and_asks_for_the_lock_update(repo):
    contracts, lock = repo
    edit(contracts / "orders.toml", ORDERS_EXPRESS, ORDERS_EXPRESS + '\n[[columns]]\nname = "channel"\n')
    before = lock.read_text()
    code, out, err = run(contracts, lock)
    assert (code, err) == (0, [])
    assert out == ["schema check: no breaking change; 1 change(s) not yet in schemas.lock.json:",
                   "  orders.toml: compatible change",
                   "run `python -m kit.schema_check --update-lock` to record them"]
    assert lock.read_text() == before


def test_update_lock_records_a_compatible_change(repo):
    contracts, lock = repo
    edit(contracts / "orders.toml", '"paid", "pending"', '"paid", "partially_paid", "pending"')
    code, out, _ = run(contracts, lock, update_lock=True)
    assert code == 0 and out[0].startswith("schema check: lock updated: ")
    assert schema_check.read_lock(lock)["orders"]["properties"]["status"]["enum"] == [
        "cancelled", "paid", "partially_paid", "pending", "refunded"]
    count = len(list(contracts.glob("*.toml")))
    assert run(contracts, lock)[0:2] == (0, [f"schema check: {count} dataset schema(s) match schemas.lock.json"])


def test_update_lock_refuses_a_breaking_change_unless_forced(repo):
    contracts, lock = repo
    edit(contracts / "orders.toml", ORDERS_EXPRESS, ORDERS_EXPRESS.replace("boolean", "date"))
    before = lock.read_text()
    code, _, err = run(contracts, lock, update_lock=True)
    assert code == 1 and lock.read_text() == before
    assert err[-1].startswith("schema check: 1 breaking change: refusing to update the lock (add --force")
    code, out, _ = run(contracts, lock, update_lock=True, force=True)
    assert code == 0 and out[0].endswith("(breaking changes accepted with --force)")
    assert run(contracts, lock)[0] == 0


def test_a_new_dataset_is_fine(repo):
    contracts, lock = repo
    (contracts / "payments.toml").write_text('[dataset]\nformat = "csv"\n[[columns]]\nname = "id"\nrequired = true\n')
    code, out, _ = run(contracts, lock)
    assert code == 0 and "  payments.toml: new dataset" in out


def test_a_removed_dataset_is_reported(repo):
    contracts, lock = repo
    (contracts / "customers.toml").unlink()
    code, out, _ = run(contracts, lock)
    assert code == 0
    assert "  customers.toml: dataset removed (its registry schema is deleted on the next deploy)" in out


def test_without_a_lock_every_dataset_is_new(repo):
    contracts, lock = repo
    lock.unlink()
    code, out, _ = run(contracts, lock)
    assert code == 0 and out[0].startswith("schema check: no lock file at ")
    assert run(contracts, lock, update_lock=True)[0] == 0 and lock.exists()


def test_an_invalid_contract_exits_2_naming_it(repo):
    contracts, lock = repo
    edit(contracts / "orders.toml", ORDERS_EXPRESS, ORDERS_EXPRESS.replace("boolean", "bool"))
    code, _, err = run(contracts, lock)
    assert code == 2 and re.match(r"schema check: invalid contract: .*orders\.toml: columns\[7\] \(express\)\.type", err[0])


def test_a_corrupt_lock_exits_2(repo):
    contracts, lock = repo
    lock.write_text("{not json")
    assert run(contracts, lock)[0] == 2
    lock.write_text('{"schemas": []}')
    code, _, err = run(contracts, lock)
    assert code == 2 and "not a schema lock" in err[0]


def test_cli_exit_codes_and_force_needs_update(repo, capsys):
    contracts, lock = repo
    assert schema_check.main(["--contracts-dir", str(contracts), "--lock", str(lock)]) == 0
    edit(contracts / "orders.toml", ORDERS_EXPRESS, ORDERS_EXPRESS.replace("boolean", "integer"))
    assert schema_check.main(["--contracts-dir", str(contracts), "--lock", str(lock)]) == 1
    assert "orders.toml: column 'express': type changed from boolean to integer" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        schema_check.main(["--contracts-dir", str(contracts), "--lock", str(lock), "--force"])
    assert caught.value.code == 2
