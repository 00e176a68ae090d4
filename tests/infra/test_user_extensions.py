"""A user's own plug-in and dataset do not break the kit's gate.

In a scratch copy of the repository (what git tracks, plus new files it does not ignore), do what
a user does: ``make new-plugin`` (``python -m kit.scaffold``) and a new dataset contract with its
schema lock updated (``python -m kit.schema_check --update-lock``, as ``lambdas/README.md`` says).
Then the fast layer (``pytest -m "not infra and not e2e"``: this file is in the infra layer, so
the inner run never reaches it again) and a synth of every environment (``python main.py``) must
pass there. A test that hard-codes the shipped datasets or plug-ins fails here.

The names sort before the shipped ones (``accounts`` < ``customers``, ``alerts`` < ``api``), so
a test that indexes a sorted list breaks too. Slow: the inner fast layer takes 1-2 minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from environments import ALL_ENVIRONMENTS
from tests.scratch import scratch_copy

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "alerts"
DATASET = "accounts"
CONTRACTS = Path("lambdas") / "_shared" / "pipeline_shared" / "contracts"
CONTRACT = '''\
# A user's dataset (written by tests/infra/test_user_extensions.py)
[dataset]
description = "Customer accounts, one row per account"
format = "csv"
delimiter = ","
max_rejected_fraction = 0.05
key_columns = ["account_id"]
partition_column = "opened_on"

[[columns]]
name = "account_id"
type = "string"
required = true
case = "upper"
pattern = 'A[0-9]{7}'

[[columns]]
name = "holder_phone"
type = "string"
required = true
pii = true
max_length = 32

[[columns]]
name = "opened_on"
type = "date"
required = true

[[columns]]
name = "credit_limit"
type = "decimal"

[[columns]]
name = "tier"
type = "string"
case = "lower"
allowed = ["basic", "gold"]
'''


def run(args: list[str], cwd: Path, work: Path, timeout: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIPELINE_KIT_WORKDIR": str(work), "PYTHONDONTWRITEBYTECODE": "1",
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    for name in ("EMULATOR_PORT", "PIPELINE_KIT_ENVIRONMENTS", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def tail(proc: subprocess.CompletedProcess[str], lines: int = 40) -> str:
    """pytest's summary lines (``FAILED``/``ERROR`` …) if any, else the last lines of the output."""
    out = (proc.stdout + proc.stderr).splitlines()
    summary = [line for line in out if line.startswith(("FAILED ", "ERROR "))]
    return "\n".join(summary + out[-1:] if summary else out[-lines:])


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scratch copy with one scaffolded plug-in and one new dataset (lock updated)."""
    repo = scratch_copy(tmp_path_factory.mktemp("user-repo"), link_node_tools=True)
    work = tmp_path_factory.mktemp("user-work")
    scaffolded = run([sys.executable, "-m", "kit.scaffold", PLUGIN], repo, work, timeout=120)
    assert scaffolded.returncode == 0, tail(scaffolded)
    assert not (repo / CONTRACTS / f"{DATASET}.toml").exists()
    (repo / CONTRACTS / f"{DATASET}.toml").write_text(CONTRACT, encoding="utf-8")
    locked = run([sys.executable, "-m", "kit.schema_check", "--update-lock"], repo, work, timeout=120)
    assert locked.returncode == 0, tail(locked)
    assert DATASET in json.loads((repo / CONTRACTS / "schemas.lock.json").read_text())["schemas"]
    return repo


def test_the_fast_layer_passes_with_a_user_plugin_and_dataset(extended: Path, tmp_path: Path):
    report = tmp_path / "fast.xml"
    proc = run([sys.executable, "-m", "pytest", "-m", "not infra and not e2e", "-q", "-p", "no:cacheprovider",
                "--tb=short", f"--junitxml={report}"], extended, tmp_path / "work", timeout=1800)
    # 0 only: 1 is a failing test, 5 is "no tests collected" (a marker expression gone wrong)
    assert proc.returncode == 0, tail(proc)
    cases = ET.parse(report).getroot().iter("testcase")
    ran = {c.get("classname", "").rsplit(".", 1)[-1] for c in cases if c.find("skipped") is None}
    # the scaffolded plug-in's own tests ran (and passed, with everything else)
    assert {f"test_{PLUGIN}_core", f"test_{PLUGIN}_handler"} <= ran, sorted(ran)


def test_every_environment_synthesizes_with_a_user_plugin_and_dataset(extended: Path, tmp_path: Path):
    work = tmp_path / "work"
    proc = run([sys.executable, "main.py"], extended, work, timeout=900)
    assert proc.returncode == 0, tail(proc)
    for env in ALL_ENVIRONMENTS:
        stack = json.loads((work / "cdktf.out" / "stacks" / env / "cdk.tf.json").read_text())
        functions = {f["function_name"] for f in stack["resource"]["aws_lambda_function"].values()}
        tables = {t["name"] for t in stack["resource"]["aws_glue_catalog_table"].values()}
        assert (f"pk-{env}-{PLUGIN}" in functions, DATASET in tables) == (True, True), env
