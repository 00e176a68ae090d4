"""One synth of all five environments per test session, shared by the synth assertions and
``terraform validate`` (about 4 s; each test reads the JSON, none re-synthesizes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from environments import ALL_ENVIRONMENTS

sys.path.insert(0, str(Path(__file__).resolve().parent))  # synth_helpers.py


@pytest.fixture(scope="session")
def synth_workroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The work folder of the session synth (``PIPELINE_KIT_WORKDIR``): generated files
    (cdktf.out, build artifacts, state paths) live here, never in the repository."""
    return tmp_path_factory.mktemp("workroot")


@pytest.fixture(scope="session")
def synth_dirs(synth_workroot: Path) -> dict[str, Path]:
    """``{env: stack working directory}`` of one synth of every environment, made with the
    default emulator port whatever the caller's shell says."""
    import main

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("EMULATOR_PORT", raising=False)
        mp.setenv("PIPELINE_KIT_WORKDIR", str(synth_workroot))
        return main.synth(list(ALL_ENVIRONMENTS), outdir=synth_workroot / "cdktf.out")


@pytest.fixture(scope="session")
def stack_texts(synth_dirs: dict[str, Path]) -> dict[str, str]:
    """``{env: cdk.tf.json text}`` (what cdktf's ``Testing`` matchers take)."""
    return {env: (d / "cdk.tf.json").read_text(encoding="utf-8") for env, d in synth_dirs.items()}


@pytest.fixture(scope="session")
def stacks(stack_texts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``{env: parsed cdk.tf.json}``."""
    return {env: json.loads(text) for env, text in stack_texts.items()}
