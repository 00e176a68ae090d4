"""Terraform runs that survive interruptions (kit/terraform.py): Terraform in its own process group,
a Ctrl-C or SIGTERM forwarded as one clean stop, a run left behind by a killed kit waited for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from kit.terraform import (
    RunRecord,
    Terraform,
    TerraformInterrupted,
    lock_id,
    process_alive,
    runs_in,
    sigterm_as_interrupt,
)

# A stand-in for terraform: announces itself, then runs until interrupted. The first SIGINT is
# recorded and, unless STUBBORN is set, ends it cleanly ("state saved"); a stubborn one needs two.
FAKE = textwrap.dedent("""\
    #!{python}
    import os, signal, sys, time
    out = os.environ["FAKE_DIR"]
    got = []
    def on_int(signum, frame):
        got.append(signum)
        open(os.path.join(out, "signals"), "a").write("INT\\n")
        if not os.environ.get("STUBBORN") or len(got) >= 2:
            print("state saved", flush=True)
            sys.exit(1)
    signal.signal(signal.SIGINT, on_int)
    print("started", flush=True)
    open(os.path.join(out, "started"), "w").write(str(os.getpid()))
    for _ in range(600):
        time.sleep(0.1)
    """)


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """These tests interrupt this very process: SIGINT must raise KeyboardInterrupt even when the
    test run was started with SIGINT ignored (a shell's background job)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture()
def fake_terraform(tmp_path, monkeypatch):
    binary = tmp_path / "bin" / "terraform"
    binary.parent.mkdir()
    binary.write_text(FAKE.format(python=sys.executable))
    binary.chmod(0o755)
    monkeypatch.setenv("FAKE_DIR", str(tmp_path))
    workdir = tmp_path / "stack"
    workdir.mkdir()
    return Terraform(workdir=workdir, cli_config=None, binary=str(binary), state_dir=tmp_path / "state"), tmp_path


def _interrupt_when_started(folder: Path, times: int = 1) -> threading.Thread:
    def go() -> None:
        deadline = time.monotonic() + 60
        while not (folder / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for n in range(times):
            os.kill(os.getpid(), signal.SIGINT)
            signals = folder / "signals"
            while n + 1 < times and (not signals.exists() or signals.read_text().count("INT") < n + 1):
                time.sleep(0.05)
    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_stops_terraform_cleanly_instead_of_killing_it(fake_terraform):
    tf, folder = fake_terraform
    _interrupt_when_started(folder)
    with pytest.raises(TerraformInterrupted, match="stopped cleanly and saved its state; rerun the same command"):
        tf.run("apply", "tfplan", tee=True)
    assert (folder / "signals").read_text() == "INT\n"  # one clean stop, no SIGKILL
    pid = int((folder / "started").read_text())
    assert not process_alive(pid)


def test_a_second_interrupt_makes_terraform_exit_at_once(fake_terraform, monkeypatch):
    tf, folder = fake_terraform
    monkeypatch.setenv("STUBBORN", "1")
    _interrupt_when_started(folder, times=2)
    with pytest.raises(TerraformInterrupted):
        tf.run("apply", "tfplan", tee=True)
    assert (folder / "signals").read_text() == "INT\nINT\n"


def test_the_run_record_names_terraform_while_it_runs_and_is_cleared_after(fake_terraform):
    tf, folder = fake_terraform
    seen: list[dict | None] = []

    def look() -> None:
        while not (folder / "started").exists():
            time.sleep(0.05)
        seen.append(tf.run_record.read())
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=look, daemon=True).start()
    with pytest.raises(TerraformInterrupted):
        tf.run("apply", "tfplan")
    assert seen[0]["pid"] == int((folder / "started").read_text()) and seen[0]["args"] == ["apply", "tfplan"]
    assert tf.run_record.read() is None


def test_a_terraform_left_running_by_a_killed_kit_is_waited_for(fake_terraform, tmp_path):
    tf, folder = fake_terraform
    orphan = subprocess.Popen([tf.binary, f"-chdir={tf.workdir}", "apply", "tfplan"], env={**os.environ, "FAKE_DIR": str(folder)}, stdout=subprocess.DEVNULL,
                              start_new_session=True)
    tf.run_record.write(orphan.pid, ["apply", "tfplan"], tf.workdir)
    threading.Timer(1.5, lambda: orphan.send_signal(signal.SIGINT)).start()
    started = time.monotonic()
    record = tf.wait_for_previous_run(timeout=60)
    assert record["pid"] == orphan.pid
    assert time.monotonic() - started >= 1.0  # it waited for the orphan to finish
    orphan.wait(timeout=10)
    assert tf.run_record.read() is None


def test_a_record_of_a_run_that_died_is_noted_and_forgotten(fake_terraform, capsys):
    tf, _ = fake_terraform
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tf.run_record.write(dead.pid, ["apply", "tfplan"], tf.workdir)
    assert tf.wait_for_previous_run(timeout=5)["pid"] == dead.pid
    assert "was cut short; recovering from the state it saved" in capsys.readouterr().out
    assert tf.run_record.read() is None


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
def test_a_terraform_caught_in_the_middle_of_exec_is_still_recognised(tmp_path):
    # Just after Popen returns, the child's /proc command line is often still empty (the child is
    # inside exec): that window must not make the kit's running terraform look like another process.
    binary = tmp_path / "terraform"
    binary.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    binary.chmod(0o755)
    misread = 0
    for _ in range(40):
        proc = subprocess.Popen([str(binary), f"-chdir={tmp_path}", "apply"], start_new_session=True)
        try:
            misread += not runs_in(proc.pid, tmp_path)
        finally:
            proc.kill()
            proc.wait()
    assert misread == 0


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
def test_a_recorded_pid_now_held_by_another_process_is_not_the_recorded_run(tmp_path):
    # The pid was reused, here even by a terraform of another working directory: not the run to wait for.
    binary = tmp_path / "terraform"
    binary.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    binary.chmod(0o755)
    other = subprocess.Popen([str(binary), f"-chdir={tmp_path / 'other'}", "apply"])
    try:
        assert runs_in(other.pid, tmp_path / "stack") is False
    finally:
        other.kill()
        other.wait()


def test_no_record_means_nothing_to_wait_for(fake_terraform):
    tf, _ = fake_terraform
    assert tf.wait_for_previous_run(timeout=1) is None


def test_an_unreadable_record_is_ignored(tmp_path):
    record = RunRecord(tmp_path / "r.json")
    record.path.write_text("{not json")
    assert record.read() is None


def test_the_lock_id_is_read_from_a_lock_error():
    stderr = ("Error: Error acquiring the state lock\n\nLock Info:\n  ID:        8c3c4f2e-1a2b-3c4d-5e6f-7a8b9c0d1e2f\n"
              "  Path:      pk-tfstate/dev.tfstate\n  Who:       runner@ci-host\n")
    assert lock_id(stderr) == "8c3c4f2e-1a2b-3c4d-5e6f-7a8b9c0d1e2f"
    assert lock_id("Error: something else\n  ID: x") is None


def test_sigterm_is_handled_like_ctrl_c_inside_the_block():
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler) or callable(
        signal.getsignal(signal.SIGTERM))


def test_an_interrupt_is_handled_even_when_the_kit_was_started_with_sigint_ignored():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # restored after the block
