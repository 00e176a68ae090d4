"""One emulator per test session (moto server on 127.0.0.1, a free port), reset between tests
that need a clean slate, stopped at the end. Deployments run the kit itself in a subprocess
(`python -m kit deploy --env local`) with real Terraform, in a work folder of their own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for names.py


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Emulator:
    emu = Emulator(host="127.0.0.1", port=_free_port(), state_dir=tmp_path_factory.mktemp("emulator"))
    assert emu.ensure_running(), "a fresh emulator should have been started"
    yield emu
    emu.stop()


@dataclass
class Kit:
    """Runs `python -m kit ...` against the session emulator, in its own work folder."""

    workdir: Path
    emulator: Emulator

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PIPELINE_KIT_WORKDIR=str(self.workdir), EMULATOR_PORT=str(self.emulator.port),
                   JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
        return env

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "kit", *args], cwd=ROOT, env={**self.env(), **(env or {})},
                              text=True, capture_output=True, timeout=1200)
        if check and proc.returncode != 0:
            raise AssertionError(f"kit {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc

    def client(self, service: str, region: str = "us-east-1"):
        """A boto3 client on the emulator (us-east-1: local's region; the AWS environments use eu-west-1)."""
        return self.emulator.client(service, region)


@pytest.fixture(scope="session")
def kit_factory(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory):
    def make(name: str) -> Kit:
        return Kit(workdir=tmp_path_factory.mktemp(name), emulator=emulator)
    return make


@pytest.fixture(scope="session")
def deployed(kit_factory):
    """`local` deployed once per session on the session emulator (a fresh one: reset first).

    Modules run in file order: test_deploy_local (checks the deployment), test_pipeline_local
    (drives the pipeline), test_redeploy_destroy (re-plan, reset + redeploy, destroy: last)."""
    kit = kit_factory("local-deploy")
    kit.emulator.reset()
    proc = kit.run("deploy", "--env", "local")
    return kit, proc
