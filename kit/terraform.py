"""Running real Terraform: provider mirror discovery, the CLI config, init/plan/apply/destroy.

Provider installation, in order:
1. ``TF_PROVIDER_MIRROR``: a filesystem mirror you name (the folder that holds
   ``registry.terraform.io/``). It must hold hashicorp/aws at the pinned version.
2. A mirror found in the usual places: Terraform's implied local mirror folders
   (``~/.terraform.d/plugins``, ``$XDG_DATA_HOME/terraform/plugins``,
   ``/usr/local/share/terraform/plugins``, ``/usr/share/terraform/plugins``) and one folder level
   below ``/opt``, ``/usr/local`` and ``$HOME``.
3. Otherwise the public registry, as Terraform does by default.

The kit writes its CLI config to ``.state/terraformrc`` (never committed) and points
``TF_CLI_CONFIG_FILE`` at it for the Terraform processes it starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from modules.providers import AWS_PROVIDER_VERSION

from .ui import KitError, note, warn

PROVIDER_SUBPATH = Path("registry.terraform.io") / "hashicorp" / "aws" / AWS_PROVIDER_VERSION


def _platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def _holds_provider(root: Path) -> bool:
    candidate = root / PROVIDER_SUBPATH
    if (candidate / _platform()).is_dir():  # unpacked layout
        return True
    packed = root / "registry.terraform.io" / "hashicorp" / "aws"
    return any(packed.glob(f"terraform-provider-aws_{AWS_PROVIDER_VERSION}_{_platform()}.zip"))


def candidate_mirrors() -> list[Path]:
    home = Path.home()
    xdg = Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share"))
    fixed = [home / ".terraform.d" / "plugins", xdg / "terraform" / "plugins",
             Path("/usr/local/share/terraform/plugins"), Path("/usr/share/terraform/plugins")]
    scanned: list[Path] = []
    for parent in (Path("/opt"), Path("/usr/local"), home):
        try:
            scanned += sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            continue
    return fixed + scanned


def find_mirror() -> Path | None:
    explicit = os.environ.get("TF_PROVIDER_MIRROR")
    if explicit:
        root = Path(explicit).expanduser()
        if not _holds_provider(root):
            raise KitError(
                f"TF_PROVIDER_MIRROR={explicit} does not hold hashicorp/aws {AWS_PROVIDER_VERSION} for {_platform()} "
                f"(expected {root / PROVIDER_SUBPATH / _platform()})"
            )
        return root
    for root in candidate_mirrors():
        if _holds_provider(root):
            return root
    return None


def write_cli_config(state_dir: Path, mirror: Path | None) -> Path | None:
    """Write the CLI config for ``mirror``; None means: use the registry (no config needed)."""
    if mirror is None:
        return None
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "terraformrc"
    mirror_s = str(mirror).replace("\\", "/")
    path.write_text(
        "# Written by pipeline-kit (kit/terraform.py); regenerated on every run.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror_s}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )
    return path


#: How long an interrupted Terraform run may take to stop cleanly (it finishes the calls it has
#: started and saves the state) before the kit stops waiting; ``TF_STOP_TIMEOUT`` overrides.
STOP_TIMEOUT_SECONDS = 600
#: How long the kit waits for a Terraform run left behind by an earlier, killed kit process.
PREVIOUS_RUN_TIMEOUT_SECONDS = 1800
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class TerraformInterrupted(KitError):
    """The kit was interrupted (Ctrl-C, SIGTERM) while Terraform ran; Terraform was stopped cleanly."""


@dataclass(frozen=True)
class RunRecord:
    """What the kit writes while a Terraform process of its own runs in a working directory: if the
    kit is killed, the next run finds the record, waits for that Terraform to finish (it runs in its
    own process group and carries on) and knows the previous run was cut short."""

    path: Path

    def write(self, pid: int, args: Sequence[str], workdir: Path) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"pid": pid, "args": list(args), "workdir": str(workdir),
                                         "user": _who(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}))

    def read(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _who() -> str:
    import getpass
    import socket

    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return f"uid{os.getuid()}@{socket.gethostname()}"


def process_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def runs_in(pid: int, workdir: Path | str, settle: float = 2.0) -> bool:
    """True when ``pid`` is a terraform the kit started in ``workdir`` (its command line carries
    ``-chdir=<workdir>``, as every run of the kit's does); a recorded pid may since have been reused.

    A process in the middle of exec shows an empty command line for a moment (the kernel closes the
    parent's exec pipe before it sets the new arguments), so an empty one is read again for up to
    ``settle`` seconds before it counts as another process (a kernel thread's stays empty)."""
    if not os.path.isdir("/proc/self"):
        return True  # no /proc (macOS): trust the record
    chdir = f"-chdir={workdir}".encode()
    deadline = time.monotonic() + settle
    while True:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except FileNotFoundError:
            return False  # it has ended
        except OSError:
            return True  # not ours to read: trust the record
        if cmdline or time.monotonic() >= deadline or not process_alive(pid):
            return chdir in cmdline.split(b"\0")
        time.sleep(0.02)


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str


def lock_id(stderr: str) -> str | None:
    """The lock ID of an "Error acquiring the state lock" message, if that is what failed."""
    if "Error acquiring the state lock" not in stderr:
        return None
    match = re.search(r"^\s*ID:\s+(\S+)", _ANSI.sub("", stderr), re.MULTILINE)
    return match.group(1) if match else None


@dataclass
class Terraform:
    """Terraform in one working directory (a synthesized stack).

    Every command runs in its **own process group**: a Ctrl-C or SIGTERM reaches the kit, which
    asks Terraform to stop cleanly (one SIGINT: Terraform finishes the calls it has started and
    saves the state) and waits for it, instead of the default of killing it mid-call, which leaves
    resources that exist but are not in the state. A second Ctrl-C makes Terraform exit at once.
    While it runs, a run record (``<state dir>/runs/<stack>.json``) names its pid, so that a kit
    killed outright is followed by one that waits for the Terraform it left behind."""

    workdir: Path
    cli_config: Path | None
    binary: str = "terraform"
    state_dir: Path | None = None

    @classmethod
    def for_stack(cls, workdir: Path, state_dir: Path) -> "Terraform":
        binary = os.environ.get("TERRAFORM", "terraform")
        if shutil.which(binary) is None:
            raise KitError(f"terraform not found on PATH (looked for {binary!r}); install Terraform >= 1.6")
        mirror = find_mirror()
        config = write_cli_config(state_dir, mirror)
        if mirror is not None:
            note(f"providers from the filesystem mirror {mirror}")
        else:
            note("providers from the Terraform registry (no filesystem mirror found; set TF_PROVIDER_MIRROR to use one)")
        return cls(workdir=workdir, cli_config=config, binary=binary, state_dir=state_dir)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.cli_config is not None:
            env["TF_CLI_CONFIG_FILE"] = str(self.cli_config)
        elif env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).exists():
            env.pop("TF_CLI_CONFIG_FILE")  # a dangling setting only produces a warning
        env.setdefault("TF_IN_AUTOMATION", "1")
        env.setdefault("CHECKPOINT_DISABLE", "1")
        return env

    # -- runs of this kit and of a kit killed before --------------------------------------------
    @property
    def run_record(self) -> RunRecord | None:
        if self.state_dir is None:
            return None
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(self.workdir.resolve()).strip("/"))[-120:]
        return RunRecord(self.state_dir / "runs" / f"{slug}.json")

    def wait_for_previous_run(self, timeout: float | None = None) -> dict | None:
        """A Terraform run an earlier kit started here and did not see end (the kit was killed):
        wait for it if it still runs (it holds the state lock and is finishing its work), then
        forget it. Returns the record (None: the previous run ended normally)."""
        record = self.run_record
        data = record.read() if record is not None else None
        if record is None or data is None:
            return None
        pid = data["pid"]
        # The record names the working directory exactly as that run's `-chdir` spelled it.
        if process_alive(pid) and runs_in(pid, data.get("workdir", self.workdir)):
            limit = timeout if timeout is not None else float(
                os.environ.get("TF_PREVIOUS_RUN_TIMEOUT", PREVIOUS_RUN_TIMEOUT_SECONDS))
            warn(f"terraform {' '.join(data.get('args', [])[:1])} (pid {pid}, started {data.get('started')}) from an "
                 f"interrupted kit still runs in {self.workdir}: waiting for it to finish (up to {limit:.0f}s)")
            deadline = time.monotonic() + limit
            while process_alive(pid):
                if time.monotonic() > deadline:
                    raise KitError(f"terraform (pid {pid}) from an interrupted kit still runs after {limit:.0f}s; "
                                   f"stop it (`kill -INT {pid}`) or wait, then rerun")
                time.sleep(1)
            note(f"terraform (pid {pid}) finished")
        else:
            note(f"the previous terraform run here (pid {pid}, started {data.get('started')}) was cut short; "
                 "recovering from the state it saved")
        record.clear()
        return data

    # -- running ---------------------------------------------------------------------------------
    def run(self, *args: str, check: bool = True, capture: bool = False,
            ok_codes: Sequence[int] = (0,), tee: bool = False) -> subprocess.CompletedProcess:
        """Run ``terraform <args>`` in the working directory: output streamed (``capture``: kept
        instead; ``tee``: streamed and kept)."""
        cmd = [self.binary, f"-chdir={self.workdir}", *args]
        piped = capture or tee
        proc = subprocess.Popen(cmd, env=self.env(), text=True, start_new_session=True,
                                stdout=subprocess.PIPE if piped else None,
                                stderr=subprocess.PIPE if piped else None)
        record = self.run_record
        try:
            # Inside the try: a Ctrl-C while the record is written (slow on a loaded disk) still
            # stops terraform cleanly instead of leaving it running unrecorded.
            if record is not None:
                record.write(proc.pid, args, self.workdir)
            out, err = _collect(proc, echo=tee)
        except KeyboardInterrupt:
            _stop(proc, args[0])
            if record is not None:
                record.clear()
            raise TerraformInterrupted(
                f"interrupted: terraform {args[0]} was stopped cleanly and saved its state; rerun the same "
                "command to carry on (what was created so far is kept)") from None
        if record is not None:
            record.clear()
        result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
        if check and proc.returncode not in ok_codes:
            detail = f":\n{_ANSI.sub('', err).strip()}" if capture and err else ""
            raise TerraformError(f"terraform {args[0]} failed (exit {proc.returncode}) in {self.workdir}{detail}",
                                 result=result)
        return result

    def init(self, *, backend: bool = True, quiet: bool = False) -> None:
        args = ["init", "-input=false", "-reconfigure"]
        if quiet:
            args.append("-no-color")
        if not backend:
            args.append("-backend=false")
        self.run(*args, capture=quiet)

    def plan(self, plan_file: str, *, destroy: bool = False, extra: Sequence[str] = ()) -> bool:
        """Plan into ``plan_file``; True when the plan has changes."""
        args = ["plan", "-input=false", "-detailed-exitcode", f"-out={plan_file}", *extra]
        if destroy:
            args.append("-destroy")
        proc = self.run(*args, ok_codes=(0, 2), tee=True)
        return proc.returncode == 2

    def apply(self, plan_file: str) -> subprocess.CompletedProcess:
        """Apply a saved plan, streaming the output; a failure raises :class:`TerraformError`
        carrying the output (the kit reads the diagnostics to recover)."""
        return self.run("apply", "-input=false", "-auto-approve", plan_file, tee=True)

    def show_json(self, plan_file: str) -> dict:
        proc = self.run("show", "-json", plan_file, capture=True)
        return json.loads(proc.stdout)

    def validate(self) -> subprocess.CompletedProcess:
        return self.run("validate", "-no-color", check=False, capture=True)


class TerraformError(KitError):
    """A Terraform command failed; ``result`` holds its exit code and output."""

    def __init__(self, message: str, *, result: subprocess.CompletedProcess) -> None:
        super().__init__(message)
        self.result = result

    @property
    def output(self) -> str:
        return _ANSI.sub("", (self.result.stdout or "") + "\n" + (self.result.stderr or ""))


def _collect(proc: subprocess.Popen, *, echo: bool) -> tuple[str, str]:
    """Wait for ``proc``; with pipes, read both streams (echoing them when ``echo``)."""
    if proc.stdout is None:
        proc.wait()
        return "", ""
    chunks: dict[str, list[str]] = {"out": [], "err": []}

    def pump(stream, name: str, sink) -> None:
        for line in iter(stream.readline, ""):
            chunks[name].append(line)
            if echo:
                sink.write(line)
                sink.flush()
        stream.close()

    threads = [threading.Thread(target=pump, args=(proc.stdout, "out", sys.stdout), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, "err", sys.stderr), daemon=True)]
    for t in threads:
        t.start()
    while proc.poll() is None:
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue
    for t in threads:
        t.join(timeout=10)
    return "".join(chunks["out"]), "".join(chunks["err"])


def _stop(proc: subprocess.Popen, command: str) -> None:
    """Ask Terraform to stop cleanly and wait; a second interrupt makes it exit at once."""
    if proc.poll() is not None:
        return
    limit = float(os.environ.get("TF_STOP_TIMEOUT", STOP_TIMEOUT_SECONDS))
    warn(f"interrupted: asking terraform {command} to stop cleanly (it finishes the calls it has started and "
         f"saves the state; up to {limit:.0f}s). Interrupt again to make it exit at once")
    _signal_group(proc, signal.SIGINT)
    deadline = time.monotonic() + limit
    forced = False
    while proc.poll() is None:
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline and not forced:
                forced = True
                warn(f"terraform did not stop within {limit:.0f}s: stopping it at once")
                _signal_group(proc, signal.SIGINT)
                deadline = time.monotonic() + 30
            elif time.monotonic() > deadline:
                _signal_group(proc, signal.SIGKILL)
        except KeyboardInterrupt:
            if not forced:
                forced = True
                warn("second interrupt: terraform exits at once; the next deploy adopts whatever it created "
                     "but did not record")
                _signal_group(proc, signal.SIGINT)
                deadline = time.monotonic() + 30
    if proc.stdout is not None:
        for stream in (proc.stdout, proc.stderr):
            try:
                rest = stream.read() if stream and not stream.closed else ""
            except (OSError, ValueError):
                rest = ""
            if rest:
                sys.stdout.write(rest)
    note(f"terraform {command} stopped (exit {proc.returncode})")


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM (a cancelled CI job, `kill`) is handled like Ctrl-C, so that
    Terraform is stopped cleanly rather than orphaned or killed mid-call. SIGINT is handled too
    even when the kit was started with it ignored (a shell starts background jobs so: `make
    deploy &` in a script, a CI step in the background), so an explicit interrupt always stops
    Terraform cleanly instead of being lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_int is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
