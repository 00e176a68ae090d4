"""Commands of the local emulator: start and stop it, and drive the pipeline on it (``make run``)."""

from __future__ import annotations

from pathlib import Path

from ..deploy import Target, state_root
from ..ui import KitError, step, warn


def run_pipeline(t: Target, *, samples: Path | None, timeout: float, quiet: bool) -> None:
    """Upload ``samples`` (None: nothing, drain what is queued) and process every queue on the
    emulator; a file without a final status or a dead-lettered message is an error."""
    from .. import runner

    emu = t.emulator
    if emu is None:
        raise KitError(f"`make run` drives the pipeline on the emulator; {t.name} runs in AWS "
                       "(rehearse it with TARGET=emulator)")
    if not emu.is_running():
        raise KitError(f"no emulator at {emu.url}: run `make deploy` first")
    if timeout <= 0:
        raise KitError(f"--timeout must be a positive number of seconds, got {timeout:g}")
    outcome = runner.run(t.cfg, emu, samples=samples, state_dir=state_root(), timeout=timeout, quiet=quiet)
    problems = outcome.problems(redrive=f"make redrive ENV={t.name}"
                                + (" TARGET=emulator" if t.cfg.is_rehearsal else ""))
    if problems:
        raise KitError("; ".join(problems))


def emulator_up(t: Target) -> None:
    emu = t.emulator
    if emu is None:
        raise KitError(f"{t.name} does not deploy onto the emulator")
    started = emu.ensure_running()
    step(f"emulator {'started' if started else 'already running'} at {emu.url}")


def down(t: Target) -> None:
    emu = t.emulator
    if emu is None:
        raise KitError(f"{t.name} does not deploy onto the emulator: nothing to stop")
    if emu.stop():
        step(f"emulator at {emu.url} stopped (its data is gone; the next deploy starts afresh)")
    elif emu.is_running():
        warn(f"an emulator answers at {emu.url} but this kit did not start it; leaving it alone")
    else:
        step(f"no emulator running at {emu.url}")
