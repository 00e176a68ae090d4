"""The embedded AWS emulator (moto server) that ``local`` deploys onto.

``ensure_running`` starts ``python -m moto.server`` in the background on the configured host and
port if nothing answers there, waits until it answers, and applies the settings the pipeline needs
(Lambda and Batch without Docker: there is no Docker engine on a laptop-less CI). The server's pid
and log live in ``.state/emulator-<port>.{pid,log}``; ``stop`` ends it.

Every wait has a timeout that holds on a loaded machine: a reset reloads every AWS-managed IAM
policy (several seconds idle, much longer under load), so ``reset`` waits up to
``EMULATOR_RESET_TIMEOUT`` seconds (default 300), and a probe that times out means "busy", not
"down" (only a refused connection means nothing runs there).

The emulator holds everything in memory: a restarted or reset emulator is empty while Terraform's
local state still lists the old resources. ``Epoch`` ties a state file to the emulator instance it
describes: a random marker kept both next to the state and in the emulator (an SSM parameter),
written **before** anything is applied. When the markers differ (an emulator restarted, reset, or
a deploy interrupted before this rule existed), the kit asks the emulator whether it holds the
resources the state lists: if it does, the state is kept and re-marked; only a state whose
resources are all gone is moved aside.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from .ui import KitError, note

#: Seconds: a reset reloads every managed IAM policy (MOTO_IAM_LOAD_MANAGED_POLICIES).
RESET_TIMEOUT_SECONDS = 300.0
#: Seconds a start may take before the kit gives up (a loaded 2-core machine needs tens).
START_TIMEOUT_SECONDS = 180.0
#: Seconds one ordinary control request may take.
REQUEST_TIMEOUT_SECONDS = 60.0


def _env_seconds(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


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
    def _request(self, path: str, data: dict | None = None, timeout: float = REQUEST_TIMEOUT_SECONDS) -> bytes:
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=body, method="POST" if body else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()

    def probe(self, timeout: float = 5.0) -> str:
        """``"up"`` (a moto server answers), ``"down"`` (nothing listens there), ``"busy"`` (something
        accepted the connection but did not answer in time: a loaded emulator) or ``"other"``."""
        try:
            config = json.loads(self._request("/moto-api/config", timeout=timeout))
        except urllib.error.HTTPError:
            return "other"
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                return "busy"
            return "down"
        except (socket.timeout, TimeoutError):
            return "busy"
        except (OSError, ValueError):
            return "down"
        return "up" if isinstance(config, dict) and "lambda" in config else "other"

    def is_running(self, timeout: float | None = None) -> bool:
        """True when a moto server answers on host:port; a busy one is waited for (up to
        ``timeout`` seconds, default ``EMULATOR_WAIT_TIMEOUT`` or 120)."""
        limit = timeout if timeout is not None else _env_seconds("EMULATOR_WAIT_TIMEOUT", 120.0)
        deadline = time.monotonic() + limit
        per_try = 5.0
        while True:
            state = self.probe(timeout=per_try)
            if state != "busy" or time.monotonic() > deadline:
                return state == "up"
            per_try = min(per_try * 2, 30.0)

    def configure(self) -> None:
        self._request("/moto-api/config", EMULATOR_SETTINGS)

    def reset(self, timeout: float | None = None) -> None:
        """Wipe every service's data (the settings survive). Slow: it reloads every managed IAM
        policy, so the wait is long (``EMULATOR_RESET_TIMEOUT``, default 300 s)."""
        limit = timeout if timeout is not None else _env_seconds("EMULATOR_RESET_TIMEOUT", RESET_TIMEOUT_SECONDS)
        try:
            self._request("/moto-api/reset", {}, timeout=limit)
        except (socket.timeout, TimeoutError) as exc:
            raise KitError(f"the emulator at {self.url} did not finish a reset within {limit:.0f}s "
                           "(EMULATOR_RESET_TIMEOUT to wait longer)") from exc

    # -- lifecycle ---------------------------------------------------------------------
    def ensure_running(self, timeout: float | None = None) -> bool:
        """Start the emulator unless it already answers; True when this call started it."""
        timeout = timeout if timeout is not None else _env_seconds("EMULATOR_START_TIMEOUT", START_TIMEOUT_SECONDS)
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
            if self.probe(timeout=5.0) == "up":
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
    """Ties a local state file to the emulator instance it describes (see the module docstring)."""

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

    def _local(self) -> str | None:
        return self.marker_file.read_text().strip() if self.marker_file.exists() else None

    def marked(self) -> bool:
        """True when the state carries this emulator's marker."""
        local = self._local()
        return local is not None and local == self._remote()

    def state_is_stale(self) -> bool:
        """True when there is local state but the emulator holds none of what it lists."""
        resources = _state_resources(self.state_file)
        if not resources:
            return False
        if self.marked():
            return False
        return not state_matches(self.emulator, self.region, resources)

    def reconcile(self) -> str:
        """Make sure the state and the emulator belong together before anything is planned, and
        mark them so. Returns what was done: ``"current"`` (marked already), ``"fresh"`` (no
        state yet), ``"kept"`` (the markers differed but the emulator holds the state's resources:
        an interrupted deploy, or an older kit), or the path the stale state was moved to."""
        resources = _state_resources(self.state_file)
        if resources and self.marked():
            return "current"
        if not resources:
            self.record()
            return "fresh"
        if state_matches(self.emulator, self.region, resources):
            self.record()
            return "kept"
        moved = self.set_aside_stale_state()
        self.record()
        return str(moved)

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


def _state_resources(state_file: Path) -> list[dict]:
    """The managed resources a local state file lists ([] for none, an empty or unreadable file
    is treated as holding what it cannot show: see ``_unreadable``)."""
    if not state_file.exists():
        return []
    text = state_file.read_text()
    if not text.strip():
        return []  # Terraform creates the file empty before its first write
    try:
        data = json.loads(text)
    except ValueError:
        note(f"{state_file} is not valid JSON; treating it as stale")
        return [{"type": "_unreadable"}]
    return [r for r in data.get("resources", []) if r.get("mode") == "managed" and r.get("instances")]


def _exists(emulator: Emulator, region: str, rtype: str, attrs: dict) -> bool | None:
    """Does the emulator hold this resource? None: the kit does not probe this type."""
    from botocore.exceptions import ClientError

    client = emulator.client
    try:
        if rtype == "aws_s3_bucket" and attrs.get("bucket"):
            client("s3", region).head_bucket(Bucket=attrs["bucket"])
        elif rtype == "aws_sqs_queue" and attrs.get("name"):
            client("sqs", region).get_queue_url(QueueName=attrs["name"])
        elif rtype == "aws_iam_role" and attrs.get("name"):
            client("iam", region).get_role(RoleName=attrs["name"])
        elif rtype == "aws_dynamodb_table" and attrs.get("name"):
            client("dynamodb", region).describe_table(TableName=attrs["name"])
        elif rtype == "aws_lambda_function" and attrs.get("function_name"):
            client("lambda", region).get_function_configuration(FunctionName=attrs["function_name"])
        elif rtype == "aws_kms_key" and attrs.get("key_id"):
            client("kms", region).describe_key(KeyId=attrs["key_id"])
        else:
            return None
    except ClientError:
        return False
    return True


def state_matches(emulator: Emulator, region: str, resources: list[dict], *, sample: int = 12) -> bool:
    """True when the emulator holds at least one of (a sample of) the resources the state lists.
    A restarted or reset emulator holds none of them; an interrupted deploy's state matches."""
    probed = 0
    for resource in resources:
        for instance in resource.get("instances", []):
            found = _exists(emulator, region, resource.get("type", ""), instance.get("attributes") or {})
            if found is None:
                continue
            if found:
                return True
            probed += 1
            if probed >= sample:
                return False
    return False
