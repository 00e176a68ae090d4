"""The embedded AWS emulator (moto server) that ``local`` deploys onto.

``ensure_running`` starts ``python -m moto.server`` in the background on the configured host and
port if nothing answers there, waits until it answers, and applies the settings the pipeline needs
(Lambda and Batch without Docker: there is no Docker engine on a laptop-less CI). The server's pid
and log live in ``.state/emulator-<port>.{pid,log}``; ``stop`` ends it.

The emulator holds everything in memory: a restarted or reset emulator is empty while Terraform's
local state still lists the old resources. ``Epoch`` detects that: after each deploy the kit stores
a random marker both in the state folder and in the emulator (an SSM parameter); when the marker
is missing from the emulator, the old local state is stale and is moved aside before planning.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from .ui import KitError, note

EMULATOR_SETTINGS = {"lambda": {"use_docker": False}, "batch": {"use_docker": False}}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


@dataclass(frozen=True)
class Emulator:
    host: str
    port: int
    state_dir: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"emulator-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"emulator-{self.port}.log"

    # -- probing -----------------------------------------------------------------------
    def _request(self, path: str, data: dict | None = None, timeout: float = 2.0) -> bytes:
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=body, method="POST" if body else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()

    def is_running(self) -> bool:
        """True when a moto server answers on host:port."""
        try:
            config = json.loads(self._request("/moto-api/config", timeout=1.0))
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return isinstance(config, dict) and "lambda" in config

    def configure(self) -> None:
        self._request("/moto-api/config", EMULATOR_SETTINGS)

    def reset(self) -> None:
        """Wipe every service's data (the settings survive)."""
        self._request("/moto-api/reset", {})

    # -- lifecycle ---------------------------------------------------------------------
    def ensure_running(self, timeout: float = 30.0) -> bool:
        """Start the emulator unless it already answers; True when this call started it."""
        if self.is_running():
            self.configure()
            return False
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KitError(
                    f"the emulator exited at start (exit {proc.returncode}); is port {self.port} taken? "
                    f"See {self.log_file}, or choose another port with EMULATOR_PORT=<port>"
                )
            if self.is_running():
                self.configure()
                return True
            time.sleep(0.2)
        proc.terminate()
        raise KitError(f"the emulator did not answer on {self.url} within {timeout:.0f}s; see {self.log_file}")

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the emulator this kit started on this port; True when one was stopped."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return False
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return False
        except PermissionError:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    # -- clients -----------------------------------------------------------------------
    def client(self, service: str, region: str):
        import boto3

        return boto3.client(
            service, region_name=region, endpoint_url=self.url,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


class Epoch:
    """Ties a local state file to the emulator instance it describes."""

    def __init__(self, emulator: Emulator, *, env: str, region: str, state_file: Path) -> None:
        self.emulator = emulator
        self.region = region
        self.state_file = state_file
        self.marker_file = state_file.parent / "emulator-epoch"
        self.parameter = f"/pipeline-kit/emulator-epoch/{env}"

    def _remote(self) -> str | None:
        ssm = self.emulator.client("ssm", self.region)
        try:
            return ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return None

    def state_is_stale(self) -> bool:
        """True when there is local state but the emulator is not the one it was applied to."""
        if not self.state_file.exists() or not _state_has_resources(self.state_file):
            return False
        local = self.marker_file.read_text().strip() if self.marker_file.exists() else None
        return local is None or local != self._remote()

    def set_aside_stale_state(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.state_file.with_name(f"{self.state_file.name}.stale-{stamp}")
        self.state_file.rename(target)
        backup = self.state_file.with_name(self.state_file.name + ".backup")
        backup.unlink(missing_ok=True)
        self.marker_file.unlink(missing_ok=True)
        return target

    def record(self) -> None:
        token = uuid.uuid4().hex
        self.emulator.client("ssm", self.region).put_parameter(
            Name=self.parameter, Value=token, Type="String", Overwrite=True,
            Description="pipeline-kit: identifies this emulator instance for the local Terraform state")
        self.marker_file.parent.mkdir(parents=True, exist_ok=True)
        self.marker_file.write_text(token)

    def forget(self) -> None:
        self.marker_file.unlink(missing_ok=True)


def _state_has_resources(state_file: Path) -> bool:
    try:
        data = json.loads(state_file.read_text() or "{}")
    except ValueError:
        note(f"{state_file} is not valid JSON; treating it as stale")
        return True
    return bool(data.get("resources"))
