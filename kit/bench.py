"""``make bench``: the kit's performance figures, measured in one run on this machine.

Synth: wall-clock time of ``python main.py`` (every environment, a fresh interpreter, the same
way users run it) next to a fresh interpreter doing nothing but the bare import of one
bindings submodule (``import cdktf_cdktf_provider_aws.s3_bucket``: the eager package import
that the kit's lazy loader avoids). Target ratio: <= 0.30.

Then the plug-in figures (``kit.bench_plugins``): zip size and cold import time of each plug-in,
validate+cleanse throughput next to a plain ``csv.reader`` pass, and peak memory at 10 MB, 100 MB
and 1 GB (``BENCH_QUICK=1`` skips the 1 GB file). Each figure is printed on one line with its
target and ``ok`` or ``ABOVE TARGET``/``BELOW TARGET`` (each handler import: ``PASS``/``FAIL``);
the exit status is 1 when any target is missed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTH_TARGET_RATIO = 0.30


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(f"{' '.join(cmd[1:3])} failed: {lines[-1]}")
    return time.perf_counter() - started


def bench_synth(repeat: int = 3) -> dict[str, float]:
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory() as tmp:
        synth = [_timed([sys.executable, "main.py", "--outdir", tmp], env) for _ in range(repeat)]
    bare = [_timed([sys.executable, "-c", "import cdktf_cdktf_provider_aws.s3_bucket"], env) for _ in range(repeat)]
    s, b = statistics.median(synth), statistics.median(bare)
    return {"synth_all_s": s, "bare_import_s": b, "ratio": s / b}


def main() -> int:
    print(f"pipeline-kit benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    missed = 0
    try:
        r = bench_synth()
    except RuntimeError as exc:  # a broken synth must not hide the other figures
        print(f"{'synth, all 5 environments (python main.py)':55s} FAILED: {exc}")
        missed += 1
    else:
        verdict = "ok" if r["ratio"] <= SYNTH_TARGET_RATIO else "ABOVE TARGET"
        missed += r["ratio"] > SYNTH_TARGET_RATIO
        print(f"{'synth, all 5 environments (python main.py)':55s} {r['synth_all_s']:7.2f} s  (median of 3)")
        print(f"{'bare import of one bindings submodule (eager)':55s} {r['bare_import_s']:7.2f} s  (median of 3)")
        print(f"{'ratio synth / bare import':55s} {r['ratio']:7.2f}    target <= {SYNTH_TARGET_RATIO:.2f}: {verdict}")
    from kit import bench_plugins

    missed += bench_plugins.main()
    if missed:
        print(f"{missed} target(s) missed (see FAIL / ABOVE TARGET above; on a loaded machine, run again quiet)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
