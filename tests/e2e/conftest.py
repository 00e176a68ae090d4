"""One emulator per test session (moto server on 127.0.0.1, a free port), reset between tests
that need a clean slate, stopped at the end. Deployments run the kit itself in a subprocess
(`python -m kit deploy --env local`) with real Terraform, in a work folder of their own."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    #: More environment for every run (e.g. PIPELINE_KIT_ENVIRONMENTS).
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PIPELINE_KIT_WORKDIR=str(self.workdir), EMULATOR_PORT=str(self.emulator.port),
                   JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", **self.extra_env)
        return env

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "kit", *args], cwd=ROOT, env={**self.env(), **(env or {})},
                              text=True, capture_output=True, timeout=2400)
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


class NotificationReceiver:
    """A tiny HTTP server on 127.0.0.1 (a thread) standing in for a client's HTTPS endpoint: it
    answers 200 to every POST and records the JSON bodies (SNS envelopes) in ``bodies``."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsed": raw.decode("utf-8", "replace")}
                with receiver._lock:
                    receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="notification-receiver", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/pipeline-events"

    def received(self) -> list[dict]:
        with self._lock:
            return list(self.bodies)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@dataclass(frozen=True)
class LocalNotifications:
    """The ``[notifications]`` the session's `local` deployment adds to the shipped local.toml:
    an e-mail alarm subscriber; on pipeline-events, an SQS "client" queue (created on the
    emulator before the deploy) filtered to one dataset and ``processed``, and an HTTP subscriber
    (the receiver)."""

    receiver: NotificationReceiver
    alarm_email: str = "e2e-oncall@example.com"
    client_queue: str = "e2e-client-events"  # not under the stack's prefix: destroy leaves it alone
    #: A dataset other than the smoke test's: the queue must not exist for a deploy's smoke test
    #: to publish (a reset emulator forgets it, and the emulator fails Publish to a missing queue).
    dataset: str = ""
    status: str = "processed"
    https_retries: int = 3

    def add_to(self, local_toml: str, queue_arn: str) -> str:
        """``local_toml`` with these subscribers (and ``https_retries``) added."""
        header = "\n[notifications]\n"
        setting = f"https_retries = {self.https_retries}\n"
        if header in local_toml:  # the shipped file has the (empty) section: set the key in it
            local_toml = local_toml.replace(header, header + setting, 1)
        else:
            local_toml += header + setting
        return local_toml + (
            "\n# added by tests/e2e/conftest.py (deployed)\n"
            f"[[notifications.alarms]]\nprotocol = \"email\"\nendpoint = \"{self.alarm_email}\"\n\n"
            f"[[notifications.events]]\nprotocol = \"sqs\"\nendpoint = \"{queue_arn}\"\n"
            f"datasets = [\"{self.dataset}\"]\nstatuses = [\"{self.status}\"]\nraw_message_delivery = true\n\n"
            f"[[notifications.events]]\nprotocol = \"https\"\nendpoint = \"{self.receiver.url}\"\n"
        )


@pytest.fixture(scope="session")
def local_notifications():
    import main
    from kit.smoke import DATASET as SMOKE_DATASET

    receiver = NotificationReceiver()
    yield LocalNotifications(receiver=receiver, dataset=next(d for d in main.dataset_names() if d != SMOKE_DATASET))
    receiver.stop()


@pytest.fixture(scope="session")
def deployed(kit_factory, local_notifications):
    """`local` deployed once per session on the session emulator (a fresh one: reset first),
    with the subscribers of ``local_notifications``: the shipped environment files are copied
    into the kit's work folder (``PIPELINE_KIT_ENVIRONMENTS``, for every run of this kit) and
    local.toml gets the subscribers appended; the client queue is created after the reset.

    Modules run in file order: test_deploy_local (checks the deployment), test_pipeline_local
    (drives the pipeline), test_pipeline_notifications_local (what the subscribers received),
    test_redeploy_destroy (re-plan, reset + redeploy, destroy: last)."""
    kit = kit_factory("local-deploy")
    environments = kit.workdir / "environments"
    environments.mkdir()
    for path in (ROOT / "environments").glob("*.toml"):
        shutil.copy(path, environments / path.name)
    kit.extra_env["PIPELINE_KIT_ENVIRONMENTS"] = str(environments)
    kit.emulator.reset()
    sqs = kit.client("sqs")
    queue_url = sqs.create_queue(QueueName=local_notifications.client_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    local_toml = environments / "local.toml"
    local_toml.write_text(local_notifications.add_to(local_toml.read_text(encoding="utf-8"), queue_arn), encoding="utf-8")
    proc = kit.run("deploy", "--env", "local")
    return kit, proc
