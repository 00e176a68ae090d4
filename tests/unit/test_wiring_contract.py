"""The runtime contract (``pipeline_shared.wiring``) is the one place the wiring and the runtime agree:

- every environment variable the kit sets is spelled once, in ``wiring/env.py``: a ``PIPELINE_*``
  literal (or one the contract defines) anywhere else in the kit's code is an error, and so is a
  ``PIPELINE_KIT_*`` variable spelled twice;
- Athena SQL is built in ``wiring/queries.py`` only;
- what the wiring writes, the runtime reads back (names the test makes, values the test picks).

Each checker also runs on a fake tree in ``tmp_path`` holding one violation.
"""

from __future__ import annotations

import ast
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_shared.wiring import api, env

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_ENV = "lambdas/_shared/pipeline_shared/wiring/env.py"
CONTRACT_QUERIES = "lambdas/_shared/pipeline_shared/wiring/queries.py"
#: The kit's own code (tests excluded: they set variables by name on purpose).
LAYERS = ("lambdas", "modules", "environments", "kit", "glue", "main.py")
SKIPPED_DIRS = frozenset({"build", "cdktf.out", "node_modules", "__pycache__"})
_VARIABLE_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+_?$")
_SQL_RE = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b")
#: SQL that is not Athena's, with the reason.
OTHER_SQL = {
    "modules/redshift.py": "Redshift's own setup procedure (roles, grants), not an Athena query",
    "lambdas/_shared/pipeline_shared/dedupe.py": "the SQLite de-duplication index of the cleanse stage",
}


def sources(root: Path) -> Iterator[tuple[str, ast.Module]]:
    for layer in LAYERS:
        base = root / layer
        if base.is_file():
            yield layer, ast.parse(base.read_text(encoding="utf-8"))
            continue
        for folder, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
            for name in sorted(files):
                if name.endswith(".py"):
                    path = Path(folder, name)
                    yield path.relative_to(root).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def string_literals(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every string constant, and every f-string as a template (``f"PIPELINE_X_{y}"`` → ``PIPELINE_X_{}``)."""
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            yield node.lineno, node.value
        elif isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)


def contract_names(root: Path) -> set[str]:
    """The variable names ``wiring/env.py`` defines (its string constants that look like one)."""
    tree = ast.parse((root / CONTRACT_ENV).read_text(encoding="utf-8"))
    return {value for _, value in string_literals(tree) if _VARIABLE_RE.fullmatch(value)}


def variable_spellings(root: Path) -> list[str]:
    """``<file>:<line>: spells <name> (...)`` for each environment-variable name written outside
    the contract: a ``PIPELINE_*`` name or prefix, or a name the contract defines; and each
    ``PIPELINE_KIT_*`` name (the kit's own switches) spelled in more than one place."""
    defined = contract_names(root)
    found, kit_names = [], Counter()
    for rel, tree in sources(root):
        if rel == CONTRACT_ENV:
            continue
        for line, text in string_literals(tree):
            value = text.split("{}", 1)[0]  # an f-string's leading text: a name or a name's prefix
            if value.startswith("PIPELINE_KIT_") and _VARIABLE_RE.fullmatch(value):
                kit_names[value] += 1
                if kit_names[value] > 1:
                    found.append(f"{rel}:{line}: spells {value} again (the kit's own variable: one constant)")
            elif (value.startswith("PIPELINE_") and _VARIABLE_RE.fullmatch(value)) or value in defined:
                found.append(f"{rel}:{line}: spells {value} (environment-variable names live in {CONTRACT_ENV})")
    return found


def sql_outside_the_contract(root: Path) -> list[str]:
    found = []
    for rel, tree in sources(root):
        if rel == CONTRACT_QUERIES or rel in OTHER_SQL:
            continue
        found += [f"{rel}:{line}: builds SQL (Athena queries come from {CONTRACT_QUERIES})"
                  for line, value in string_literals(tree) if _SQL_RE.search(value)]
    return found


# ------------------------------------------------------------------------------------------------
# the repository keeps the contract


def test_no_environment_variable_name_is_spelled_outside_the_contract() -> None:
    assert variable_spellings(ROOT) == []


def test_athena_sql_is_built_in_the_contract_only() -> None:
    assert sql_outside_the_contract(ROOT) == []


def test_the_other_sql_exemptions_name_files_that_hold_sql() -> None:
    for rel in OTHER_SQL:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        assert any(_SQL_RE.search(v) for _, v in string_literals(tree)), rel


def test_the_contract_defines_the_variables_the_wiring_sets() -> None:
    assert {"PIPELINE_ENV", "PIPELINE_BUCKET_", "PIPELINE_API_SYNC_MAX_BYTES", "PIPELINE_BATCH_JOB_QUEUE",
            "POWERTOOLS_SERVICE_NAME"} <= contract_names(ROOT)


# ------------------------------------------------------------------------------------------------
# the checkers catch a violation (a fake tree)


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write(tmp_path, CONTRACT_ENV, 'BUCKET_PREFIX = "PIPELINE_BUCKET_"\nSERVICE = "POWERTOOLS_SERVICE_NAME"\n')
    write(tmp_path, "main.py", 'WORKDIR = "PIPELINE_KIT_WORKDIR"\n')
    return tmp_path


@pytest.mark.parametrize(("source", "name"), [
    ('x = "PIPELINE_NEW_LIMIT"\n', "PIPELINE_NEW_LIMIT"),
    ('x = f"PIPELINE_BUCKET_{purpose}"\n', "PIPELINE_BUCKET_"),
    ('env = {"POWERTOOLS_SERVICE_NAME": name}\n', "POWERTOOLS_SERVICE_NAME"),
])
def test_the_spelling_checker_reports_a_name_outside_the_contract(tree: Path, source: str, name: str) -> None:
    write(tree, "modules/stage.py", "import os\n" + source)
    assert variable_spellings(tree) == [
        f"modules/stage.py:2: spells {name} (environment-variable names live in {CONTRACT_ENV})"]


def test_the_spelling_checker_reports_a_kit_variable_spelled_twice(tree: Path) -> None:
    write(tree, "kit/x.py", 'import os\nos.environ.get("PIPELINE_KIT_WORKDIR")\n')
    assert variable_spellings(tree) == [
        "main.py:1: spells PIPELINE_KIT_WORKDIR again (the kit's own variable: one constant)"]


def test_the_spelling_checker_ignores_prose_and_other_names(tree: Path) -> None:
    write(tree, "lambdas/x/core.py", '"""Reads ``PIPELINE_API_*`` (see the contract)."""\nA = "AWS_REGION"\n')
    assert variable_spellings(tree) == []


def test_the_sql_checker_reports_a_query_outside_the_contract(tree: Path) -> None:
    write(tree, "lambdas/api/core.py", 'SQL = (\n    "SELECT a\\n"\n    "FROM t"\n)\nB = "SELECT"\n')
    write(tree, CONTRACT_QUERIES, 'SQL = "SELECT a FROM t"\n')
    assert sql_outside_the_contract(tree) == [
        f"lambdas/api/core.py:2: builds SQL (Athena queries come from {CONTRACT_QUERIES})"]


# ------------------------------------------------------------------------------------------------
# what the wiring writes, the runtime reads


@pytest.mark.parametrize(("helper", "accessor", "name", "variable"), [
    (env.bucket_var, env.bucket, "raw-zone", "PIPELINE_BUCKET_RAW_ZONE"),
    (env.queue_var, env.queue_url, "enrich_v2", "PIPELINE_QUEUE_ENRICH_V2"),
    (env.topic_var, env.topic_arn, "client-feeds", "PIPELINE_TOPIC_CLIENT_FEEDS"),
    (env.table_var, env.table, "lookups", "PIPELINE_TABLE_LOOKUPS"),
    (env.parameter_var, env.parameter, "api.key-2", "PIPELINE_PARAM_API.KEY_2"),
])
def test_a_name_the_wiring_writes_is_the_one_the_runtime_reads(monkeypatch, helper, accessor, name, variable):
    assert helper(name) == variable
    monkeypatch.setenv(helper(name), "value-of-" + name)
    assert accessor(name) == "value-of-" + name


def test_a_missing_variable_names_itself_and_the_manifest_field(monkeypatch):
    monkeypatch.delenv("PIPELINE_TABLE_LOOKUPS", raising=False)
    with pytest.raises(env.ConfigurationError, match=re.escape(
            "environment variable PIPELINE_TABLE_LOOKUPS is not set (the lookups table; the manifest's "
            "permissions.tables must name it)")):
        env.table("lookups")


def test_the_api_limits_the_config_writes_are_the_ones_the_function_reads():
    from environments.sections.api import ApiConfig

    picked = ApiConfig(sync_max_bytes=2048, sync_max_rows=7, presign_expiry_seconds=61, upload_max_bytes=99)
    variables = picked.environment()
    assert sorted(variables) == sorted(limit.variable for limit in api.LIMITS.values())
    assert api.ApiLimits.from_environment(variables) == api.ApiLimits(2048, 7, 61, 99)


@pytest.mark.parametrize("name", sorted(api.LIMITS))
def test_the_config_refuses_what_the_function_would_refuse(name):
    import dataclasses

    from environments.sections.api import ApiConfig

    limit = api.LIMITS[name]
    check = next(f for f in dataclasses.fields(ApiConfig) if f.name == name).metadata["check"]
    for value in (limit.minimum - 1, limit.maximum + 1):
        with pytest.raises(ValueError, match=re.escape(limit.variable)):
            api.ApiLimits.from_environment({limit.variable: str(value)})
        assert check(value) == f"must be between {limit.minimum} and {limit.maximum}, got {value}"
    assert check(limit.minimum) is None and check(limit.maximum) is None
