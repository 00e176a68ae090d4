"""``make bench``: the kit's performance figures, measured in one run on this machine.

Synth: wall-clock time of ``python main.py`` (every environment, a fresh interpreter, the same
way users run it) next to a fresh interpreter doing nothing but the bare import of one
bindings submodule (``import cdktf_cdktf_provider_aws.s3_bucket``: the eager package import
that the kit's lazy loader avoids). Target ratio: <= 0.30.
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
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    r = bench_synth()
    verdict = "ok" if r["ratio"] <= SYNTH_TARGET_RATIO else "ABOVE TARGET"
    print(f"{'synth, all 5 environments (python main.py)':55s} {r['synth_all_s']:7.2f} s  (median of 3)")
    print(f"{'bare import of one bindings submodule (eager)':55s} {r['bare_import_s']:7.2f} s  (median of 3)")
    print(f"{'ratio synth / bare import':55s} {r['ratio']:7.2f}    target <= {SYNTH_TARGET_RATIO:.2f}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
