"""Plug-in benchmarks for ``make bench`` (called from ``kit.bench``): cold import, zip size,
validate+cleanse throughput and peak memory, each printed next to its target, all measured in the
same run on data generated into a temporary directory.

- **import**: wall time of a fresh ``python -c "import handler"`` minus a fresh ``python -c pass``
  (median of ``IMPORT_RUNS``), run the way Lambda loads a zip: from the unpacked artifact that
  ``kit.package`` builds (plug-in files + ``pipeline_shared``, no ``.pyc``: the code is compiled at
  each cold start like on Lambda), ``POWERTOOLS_*`` set; it also checks that no boto3 was imported.
  Each handler's line says PASS or FAIL against ``IMPORT_TARGET_MS``.
- **zip size** of each plug-in artifact (``kit.package.build_all``).
- **throughput**: a generated ``orders`` CSV of ``THROUGHPUT_MB`` (see ``generate_orders``); a plain
  ``csv.reader`` pass over it, then ``validate_stream`` and ``cleanse_stream`` exactly as the
  handlers run them (binary file object read like an S3 body; rejected rows and partitions to the
  same spooled temporary files the handlers use). Throughput = bytes / (validate + cleanse time).
- **memory**: max RSS of a fresh process running validate then cleanse over 10 MB, 100 MB and 1 GB
  (``BENCH_QUICK=1`` skips the 1 GB file, which is generated once and deleted afterwards). The
  orders key space (one million) fits the de-duplication bound, so the 100 MB file is also run
  with a lower bound (``SPILL_DEMO_KEYS``) to show memory and time when keys spill to disk.
"""

from __future__ import annotations

import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"
SHARED = LAMBDAS / "_shared"

IMPORT_TARGET_MS = 150.0
ZIP_TARGET_BYTES = 1024 * 1024
THROUGHPUT_TARGET_RATIO = 0.40
MEMORY_TARGET_MB = 200.0
IMPORT_RUNS = 7
THROUGHPUT_MB = 100
MEMORY_SIZES_MB = (10, 100, 1024)
#: A lower de-duplication bound used once on the 100 MB file, so the bench also shows the spill.
SPILL_DEMO_KEYS = 1 << 18
MB = 1024 * 1024

HEADER = "order_id,customer_id,email,order_date,amount,currency,status,express\n"
_FIRST = (
    "anna ben carla david emma felix greta hugo ines jonas karin lukas mia noah olga paul quinn rosa sven tina "
    "ugo vera willem xenia yusuf zoe"
).split()
_LAST = (
    "smith muller garcia rossi novak dubois jansen silva kowalski nielsen berg costa meyer fischer weber wagner "
    "becker hoffmann koch richter ahmed lopez martin kim"
).split()
_DOMAINS = ("example.com", "mail.example.org", "shop-mail.net", "example.co.uk", "post.example.de")


def _pick(rnd: random.Random, weighted: tuple[tuple[str, float], ...]) -> list[str]:
    """A pool of 1,000 values in the given proportions (cheap weighted choice per row)."""
    pool = [value for value, share in weighted for _ in range(round(share * 1000))]
    rnd.shuffle(pool)
    return pool


def generate_orders(path: Path, size_bytes: int, *, seed: int = 20240501) -> dict[str, int]:
    """Write a realistic ``orders`` CSV of about ``size_bytes`` and return what it holds.

    Order ids increase with time (``ORD-%06d``, wrapping after 999999: the contract's key space is
    one million orders, so files beyond ~90 MB repeat keys), about 12,000 orders a day, so dates
    run in order. 200,000 customers with a skewed popularity (a few order often), each with one
    e-mail; ~3 % of e-mails typed in mixed case and ~1 % of dates written ``dd/mm/yyyy`` (valid,
    normalised by cleanse); ~0.5 % re-exported orders (duplicate keys); ~0.3 % bad rows of several
    kinds (bad e-mail, unknown currency, impossible date, missing field, amount with 3 decimals);
    ~0.1 % rows with quoted fields. Generated in ~2 MB blocks, so 1 GB takes a few tens of seconds."""
    rnd = random.Random(seed)
    customers = []
    for i in range(200_000):
        local = f"{rnd.choice(_FIRST)}.{rnd.choice(_LAST)}{rnd.randrange(1000)}"
        customers.append((f"C{i % 100000:05d}", f"{local}@{rnd.choice(_DOMAINS)}"))
    currencies = _pick(rnd, (("EUR", 0.6), ("GBP", 0.25), ("USD", 0.15)))
    statuses = _pick(rnd, (("paid", 0.8), ("pending", 0.1), ("refunded", 0.06), ("cancelled", 0.04)))
    express = _pick(rnd, (("true", 0.2), ("false", 0.6), ("", 0.2)))
    bad_kinds = ("email", "currency", "date", "missing", "amount")
    start = date(2023, 1, 1)
    stats = {"rows": 0, "bad": 0, "duplicates_planted": 0, "mixed_case": 0, "other_date_format": 0, "quoted": 0}
    order = rnd.randrange(1_000_000)
    written = 0
    recent: list[str] = []
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        written += len(HEADER)
        n = 0
        while written < size_bytes:
            lines = []
            for _ in range(20_000):
                r = rnd.random()
                day = start + timedelta(days=n // 12_000)
                cid, email = customers[int(200_000 * rnd.random() ** 2.5)]
                if r < 0.03:
                    email = email.title()
                    stats["mixed_case"] += 1
                iso = day.isoformat()
                when = iso
                if 0.03 <= r < 0.04:
                    when = day.strftime("%d/%m/%Y")
                    stats["other_date_format"] += 1
                oid = f"ORD-{order:06d}"
                if 0.04 <= r < 0.045 and recent:
                    oid = rnd.choice(recent)  # the same order exported again
                    stats["duplicates_planted"] += 1
                else:
                    order = (order + 1) % 1_000_000
                    if len(recent) < 500:
                        recent.append(oid)
                    else:
                        recent[rnd.randrange(500)] = oid
                amount = f"{int(rnd.lognormvariate(3.5, 1.0)) % 100000}.{rnd.randrange(100):02d}"
                fields = [
                    oid,
                    cid,
                    email,
                    when,
                    amount,
                    currencies[n % 1000],
                    statuses[(n * 7) % 1000],
                    express[(n * 13) % 1000],
                ]
                if 0.045 <= r < 0.048:
                    kind = bad_kinds[n % len(bad_kinds)]
                    if kind == "email":
                        fields[2] = email.replace("@", " at ")
                    elif kind == "currency":
                        fields[5] = "JPY"
                    elif kind == "date":
                        fields[3] = f"{day.year}-02-30"
                    elif kind == "missing":
                        del fields[-1]
                    else:
                        fields[4] = amount + "5"
                    stats["bad"] += 1
                if 0.048 <= r < 0.049:
                    line = ",".join(f'"{f}"' for f in fields) + "\n"
                    stats["quoted"] += 1
                else:
                    line = ",".join(fields) + "\n"
                lines.append(line)
                n += 1
            block = "".join(lines)
            out.write(block)
            written += len(block.encode("utf-8"))
            stats["rows"] = n
    return stats


# --------------------------------------------------------------------------------------------
# import time and zip size


def _powertools_env(plugin: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "PYTHONPATH"))}
    env.update(
        POWERTOOLS_SERVICE_NAME=plugin,
        POWERTOOLS_METRICS_NAMESPACE="PipelineKit",
        POWERTOOLS_LOG_LEVEL="INFO",
        PYTHONDONTWRITEBYTECODE="1",  # like a Lambda zip without .pyc: our code compiles at each cold start
        PYTHONPATH=".",  # the unpacked zip (the child's working directory) first, as Lambda's task root
        AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
    )
    return env


def _timed_child(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    err = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if child.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])}… failed in {cwd}: {err.strip()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime


_IMPORT_PROBE = (
    "import sys; import handler; "
    "bad = [m for m in ('boto3', 'botocore.client', 'botocore.session') if m in sys.modules]; "
    "sys.exit('imported at import time: ' + ', '.join(bad) if bad else 0)"
)


def bench_imports(unpacked: dict[str, Path], runs: int = IMPORT_RUNS) -> dict[str, tuple[float, float]]:
    """For each plug-in: (wall ms, CPU ms) of importing its handler from its unpacked zip in a fresh
    interpreter, minus the same for a bare ``python -c pass``; medians of ``runs`` interleaved runs
    after a warm-up. The CPU figure is the same work without the waits a busy machine adds.
    Fails if the import pulled in boto3 or a botocore client/session (Powertools itself imports the
    light top-level ``botocore`` package to tag its user agent)."""
    walls: dict[str, list[float]] = {name: [] for name in unpacked}
    cpus: dict[str, list[float]] = {name: [] for name in unpacked}
    bare_wall: list[float] = []
    bare_cpu: list[float] = []
    for name, folder in unpacked.items():  # warm-up (file cache) and the boto3 check
        _timed_child([sys.executable, "-c", _IMPORT_PROBE], folder, _powertools_env(name))
    for _ in range(runs):
        wall, cpu = _timed_child([sys.executable, "-c", "pass"], ROOT, _powertools_env("bare"))
        bare_wall.append(wall)
        bare_cpu.append(cpu)
        for name, folder in unpacked.items():
            wall, cpu = _timed_child([sys.executable, "-c", _IMPORT_PROBE], folder, _powertools_env(name))
            walls[name].append(wall)
            cpus[name].append(cpu)
    bw, bc = statistics.median(bare_wall), statistics.median(bare_cpu)
    return {
        name: ((statistics.median(walls[name]) - bw) * 1000, (statistics.median(cpus[name]) - bc) * 1000)
        for name in unpacked
    }


def build_and_unpack(workdir: Path, plugins: list[Path] | None = None) -> tuple[dict[str, int], dict[str, Path]]:
    """``kit.package.build_all`` into ``workdir`` (every discovered plug-in, or ``plugins``): the
    size of each plug-in zip, and each unpacked."""
    from kit.package import build_all

    artifacts = build_all(workdir / "artifacts", plugins, layer=False)
    sizes, unpacked = {}, {}
    for name, artifact in sorted(artifacts.items()):
        sizes[name] = artifact.size
        target = workdir / "unpacked" / name
        with zipfile.ZipFile(artifact.file) as zf:
            zf.extractall(target)
        unpacked[name] = target
    return sizes, unpacked


# --------------------------------------------------------------------------------------------
# throughput and memory (each in a fresh interpreter: python -m kit.bench_plugins <what> <file>)


def _cores() -> tuple[object, object]:
    from plugin_loader import load_plugin_module

    return load_plugin_module("validate", "core"), load_plugin_module("cleanse", "core")


def _run_stages(path: Path, dedupe_memory_keys: int | None = None) -> dict[str, float | int]:
    """validate then cleanse over ``path`` exactly as the handlers run them: the file read like an
    S3 body, rejected rows and partitions into the handlers' spooled temporary files."""
    validate_core, cleanse_core = _cores()
    from pipeline_shared.contracts import load_contract

    validate_handler_spool = 8 * 1024 * 1024  # validate.handler.SPOOL_BYTES
    contract = load_contract("orders")
    key = f"orders/bench/{path.name}"
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as body, tempfile.SpooledTemporaryFile(max_size=validate_handler_spool) as sink:
        checked = validate_core.validate_stream(  # type: ignore[attr-defined]
            body, key=key, contract=contract, max_bytes=5 * 1024**3, rejected_sink=sink
        )
    validated = time.perf_counter()
    spool = cleanse_core.PartitionSpool()  # type: ignore[attr-defined]
    try:
        with open(path, "rb", buffering=0) as body:
            cleansed = cleanse_core.cleanse_stream(  # type: ignore[attr-defined]
                body,
                key=key,
                contract=contract,
                max_bytes=5 * 1024**3,
                tokenise=cleanse_core.Tokeniser(os.urandom(32)),  # type: ignore[attr-defined]
                default_partition=date.today(),
                open_partition=spool,
                dedupe_memory_keys=dedupe_memory_keys,
            )
    finally:
        spool.close()
    done = time.perf_counter()
    if not checked.accepted:
        raise RuntimeError(f"the generated file was rejected: {checked.reason}")
    return {
        "bytes": path.stat().st_size,
        "rows": checked.records_in,
        "validate_s": validated - started,
        "cleanse_s": done - validated,
        "rejected": checked.rejected,
        "fast_rows": checked.fast_rows,
        "duplicates": cleansed.duplicates,
        "out": cleansed.out,
        "partitions": len(cleansed.partitions),
        "spilled_keys": cleansed.spilled_keys,
    }


def _csv_pass(path: Path) -> float:
    """A plain ``csv.reader`` pass over ``path`` (the reference), in seconds."""
    started = time.perf_counter()
    rows = 0
    with open(path, encoding="utf-8", newline="") as f:
        for _ in csv.reader(f):
            rows += 1
    return time.perf_counter() - started


def _child(what: str, path: Path) -> dict[str, float | int]:
    out = subprocess.run(
        [sys.executable, "-m", "kit.bench_plugins", what, str(path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_throughput(path: Path, repeat: int = 2) -> dict[str, float | int]:
    """csv.reader, validate and cleanse over ``path``, ``repeat`` times in a fresh interpreter; the
    best time of each (the least disturbed by other work on the machine)."""
    return _child(f"throughput:{repeat}", path)


def bench_memory(path: Path, dedupe_memory_keys: int | None = None) -> dict[str, float | int]:
    """Max RSS (MB) and times of a fresh interpreter running validate then cleanse over ``path``
    (with the de-duplication bound ``dedupe_memory_keys``, default ``dedupe.MEMORY_KEYS``)."""
    return _child(f"memory:{dedupe_memory_keys or 0}", path)


def _child_main(what: str, path: Path) -> None:
    import resource

    if what.startswith("throughput"):
        repeat = int(what.split(":")[1])
        best: dict[str, float | int] = {}
        for _ in range(repeat):
            csv_s = _csv_pass(path)
            run = _run_stages(path)
            if not best or run["validate_s"] + run["cleanse_s"] < best["validate_s"] + best["cleanse_s"]:
                best = run
            best["csv_s"] = min(csv_s, best.get("csv_s", csv_s))
        print(json.dumps(best))
    else:
        run = _run_stages(path, int(what.split(":")[1]) or None)
        run["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(json.dumps(run))


# --------------------------------------------------------------------------------------------
# the report


def _line(
    name: str,
    value: float,
    unit: str,
    op: str,
    target: float,
    fmt: str = ".1f",
    note: str = "",
    verdicts: tuple[str, str] | None = None,
) -> str:
    """One figure next to its target; ``verdicts`` = (met, missed) words, by default ``ok`` and
    ``ABOVE TARGET``/``BELOW TARGET``."""
    ok = value <= target if op == "<=" else value >= target
    met, missed = verdicts or ("ok", "ABOVE TARGET" if op == "<=" else "BELOW TARGET")
    verdict = met if ok else missed
    text = f"{name:55s} {value:9{fmt}} {unit:5s} target {op} {target:g} {unit}: {verdict}"
    return f"{text}  ({note})" if note else text


def main() -> int:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    failures = 0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{'plug-in figures (load average 1/5/15 min at start)':55s} {load}")
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        work = Path(tmp)
        try:
            sizes, unpacked = build_and_unpack(work)
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not hide the other figures
            print(f"{'plug-in zips and imports':55s} skipped: packaging failed: {exc}")
            sizes, unpacked = {}, {}
        for name, size in sizes.items():
            print(_line(f"zip size, {name}", size / 1024, "KiB", "<=", ZIP_TARGET_BYTES / 1024, ".0f"))
            failures += size > ZIP_TARGET_BYTES
        if unpacked:
            for name, (wall, cpu) in bench_imports(unpacked).items():
                print(
                    _line(
                        f"import {name} handler over bare python (median of {IMPORT_RUNS})",
                        wall,
                        "ms",
                        "<=",
                        IMPORT_TARGET_MS,
                        note=f"CPU {cpu:.0f} ms; no boto3, no client",
                        verdicts=("PASS", "FAIL"),
                    )
                )
                failures += wall > IMPORT_TARGET_MS

        data = work / f"orders-{THROUGHPUT_MB}MB.csv"
        stats = generate_orders(data, THROUGHPUT_MB * MB)
        r = bench_throughput(data)
        mb = r["bytes"] / 1e6
        both = r["validate_s"] + r["cleanse_s"]
        csv_mbs = mb / r["csv_s"]
        print(
            f"{'generated orders CSV':55s} {mb:9.1f} MB    {r['rows']:,} rows: {stats['bad']:,} bad, "
            f"{r['duplicates']:,} duplicate keys, {stats['mixed_case']:,} mixed-case e-mails, "
            f"{stats['other_date_format']:,} dd/mm/yyyy dates, {stats['quoted']:,} quoted"
        )
        print(f"{'csv.reader pass (reference)':55s} {csv_mbs:9.1f} MB/s  {r['rows'] / r['csv_s']:,.0f} rows/s")
        print(
            f"{'validate pass':55s} {mb / r['validate_s']:9.1f} MB/s  {r['rows'] / r['validate_s']:,.0f} rows/s  "
            f"({r['fast_rows'] / r['rows']:.1%} of rows on the fast path)"
        )
        print(
            f"{'cleanse pass':55s} {mb / r['cleanse_s']:9.1f} MB/s  {r['rows'] / r['cleanse_s']:,.0f} rows/s  "
            f"({r['out']:,} rows out in {r['partitions']} partitions)"
        )
        print(f"{'validate+cleanse':55s} {mb / both:9.1f} MB/s  {r['rows'] / both:,.0f} rows/s")
        ratio = (mb / both) / csv_mbs
        print(
            _line(
                "validate+cleanse / csv.reader throughput",
                ratio,
                "x",
                ">=",
                THROUGHPUT_TARGET_RATIO,
                ".2f",
                note="best of 2 runs each",
            )
        )
        failures += ratio < THROUGHPUT_TARGET_RATIO

        sizes_mb = MEMORY_SIZES_MB[:2] if quick else MEMORY_SIZES_MB
        for size_mb in sizes_mb:
            path = data if size_mb == THROUGHPUT_MB else work / f"orders-{size_mb}MB.csv"
            if path != data:
                generate_orders(path, size_mb * MB)
            try:
                m = bench_memory(path)
            finally:
                if path != data:
                    path.unlink()
            label = f"{size_mb / 1024:g} GB" if size_mb >= 1024 else f"{size_mb} MB"
            print(
                _line(
                    f"peak RSS, validate then cleanse of {label}",
                    m["max_rss_mb"],
                    "MB",
                    "<=",
                    MEMORY_TARGET_MB,
                    note=f"{m['validate_s'] + m['cleanse_s']:.0f} s, {m['rows']:,} rows, "
                    f"{m['spilled_keys']:,} keys spilled to disk",
                )
            )
            failures += m["max_rss_mb"] > MEMORY_TARGET_MB
            if size_mb == THROUGHPUT_MB:  # the orders key space (1M) fits the bound: show a spill too
                s = bench_memory(path, SPILL_DEMO_KEYS)
                print(
                    _line(
                        f"peak RSS, same 100 MB, key bound {SPILL_DEMO_KEYS:,} (spills)",
                        s["max_rss_mb"],
                        "MB",
                        "<=",
                        MEMORY_TARGET_MB,
                        note=f"{s['validate_s'] + s['cleanse_s']:.0f} s, {s['spilled_keys']:,} keys spilled to disk",
                    )
                )
        if quick:
            print(f"{'peak RSS, 1 GB':55s} skipped (BENCH_QUICK=1)")
    return failures


if __name__ == "__main__":
    _child_main(sys.argv[1], Path(sys.argv[2]))
