"""``terraform validate`` passes for every synthesized environment (real Terraform, providers from
the filesystem mirror the kit finds; no backend, no credentials).

Each init + validate takes 3-7 s, mostly Terraform loading the AWS provider schema; the selected
environments run concurrently in one module fixture and each parametrized test checks its own
result, so a failure still names its environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from environments import ALL_ENVIRONMENTS
from kit.terraform import Terraform

pytestmark = pytest.mark.skipif(
    shutil.which("terraform") is None,
    reason="terraform is not on PATH: install Terraform >= 1.6 to run terraform validate",
)


def _selected_envs(request: pytest.FixtureRequest) -> list[str]:
    """The environments of the validate tests pytest is about to run (all five unless deselected)."""
    envs = {item.callspec.params["env"] for item in request.session.items
            if getattr(item, "originalname", None) == "test_terraform_validate" and hasattr(item, "callspec")}
    return [env for env in ALL_ENVIRONMENTS if env in envs]


@pytest.fixture(scope="module")
def validations(request: pytest.FixtureRequest, synth_dirs: dict[str, Path],
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess | Exception]:
    """``{env: the finished `terraform validate`, or the exception init raised}``."""
    state_dir = tmp_path_factory.mktemp("tf-state")  # the kit's CLI config goes here, not into .state/
    # for_stack writes the shared CLI config file: once per stack, one after the other
    tfs = {env: Terraform.for_stack(synth_dirs[env], state_dir=state_dir) for env in _selected_envs(request)}

    def init_and_validate(tf: Terraform) -> subprocess.CompletedProcess | Exception:
        try:
            tf.init(backend=False, quiet=True)
        except Exception as exc:  # reported by the environment's own test
            return exc
        return tf.validate()

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(tfs, pool.map(init_and_validate, tfs.values())))


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_terraform_validate(validations: dict[str, subprocess.CompletedProcess | Exception], env: str) -> None:
    result = validations[env]
    if isinstance(result, Exception):
        raise AssertionError(f"terraform init {env} failed: {result}") from result
    assert result.returncode == 0, f"terraform validate {env} failed:\n{result.stdout}\n{result.stderr}"
    assert "Success" in result.stdout, result.stdout
