"""checkov over the synthesized stacks, offline, from the kit's own pinned install.

checkov (``.tools/checkov-requirements.txt``: 3.3.30 and every dependency pinned) lives in a
virtual environment of its own, ``.tools/checkov`` (``make checkov``): its pins would fight the
kit's ``requirements.txt``. ``make policy-scan`` and ``make test`` install it first.

What checkov is given (``prepare``, then ``kit/checkov_runner.py``), and why:

1. A copy of each ``cdk.tf.json`` without ``terraform.required_version``. checkov's
   ``terraform_json`` parser takes every key of the ``terraform`` block for a nested block and
   stops on the first plain value (``Exception: this method receives only dicts``): the whole file
   is dropped and 0 checks run. Nothing else needs to change: the top-level ``"//"`` metadata and
   the per-resource ``"//"`` blocks are skipped by the parser itself, and checkov has no check on
   ``required_version``. The copies go to a scratch folder; ``cdktf.out`` is never touched.
2. Policies as documents: cdktf (and Terraform JSON) writes every policy as a JSON string, and
   checkov's document checks ignore strings. ``kit/checkov_runner.py`` decodes them when checkov
   parses the file, as checkov already does for plan files (see its docstring).

Offline: ``--skip-download`` stops checkov's call for its guidelines and check mappings (to
``api0.prismacloud.io``, also made without an API key), and ``CKV_SKIP_PACKAGE_UPDATE_CHECK=true``
stops its PyPI version check; with both, a run opens no network connection (checked with
``strace -e connect``). checkov is also run with ``HOME`` in the scratch folder and without the
caller's ``BC_*``/``PRISMA_*``/``CKV_*``/``CHECKOV_*`` variables, so neither a personal
``~/.checkov.yaml`` nor an API key (which would upload the results) changes a run.

``.checkov.yaml`` (repository root) is checkov's configuration file. Its ``skip-check`` entries
are the checks that do not apply to the kit anywhere, each with its reason as a comment on its
line (checkov's file has no field for one): ``load_config`` refuses an entry without a reason.
The kit runs checkov with the file's other settings and applies the skips itself afterwards, so
that every suppressed failure is counted and printed with its reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".tools" / "checkov"
REQUIREMENTS = ROOT / ".tools" / "checkov-requirements.txt"
CONFIG = ROOT / ".checkov.yaml"
RUNNER = Path(__file__).resolve().parent / "checkov_runner.py"
#: ``PIPELINE_KIT_SKIP_CHECKOV=1`` runs the policy scan (and its tests) without checkov when
#: ``.tools/checkov`` is missing; otherwise a missing checkov is an error (``make checkov``).
SKIP_ENV = "PIPELINE_KIT_SKIP_CHECKOV"
_CALLER_SETTINGS = ("BC_", "PRISMA_", "CKV_", "CHECKOV_")
_SKIP_LINE = re.compile(r"^\s*-\s*['\"]?(?P<id>[A-Za-z0-9_]+)['\"]?\s*(?:#\s*(?P<reason>.*?))?\s*$")
_CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")


class CheckovError(RuntimeError):
    """checkov is missing, its configuration is wrong, or a run did not scan what it was given."""


@dataclass(frozen=True)
class Failure:
    """One failed checkov check: ``address`` is ``<resource type>.<logical id>``."""

    check_id: str
    check_name: str
    address: str


@dataclass(frozen=True)
class Report:
    name: str
    passed: int
    failures: tuple[Failure, ...]


@dataclass(frozen=True)
class Config:
    """``.checkov.yaml``: checkov's own settings and the global skips with their reasons."""

    settings: dict[str, Any]
    skips: dict[str, str]


def python() -> Path | None:
    """checkov's interpreter, or None when ``make checkov`` has not run."""
    exe = VENV / "bin" / "python"
    return exe if exe.exists() else None


def pinned_version() -> str:
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        if line.lower().startswith("checkov=="):
            return line.split("==", 1)[1].strip()
    raise CheckovError(f"{REQUIREMENTS.relative_to(ROOT)}: no checkov==<version> line")


def skip_allowed() -> bool:
    return os.environ.get(SKIP_ENV, "").strip().lower() in ("1", "true", "yes")


def load_config(path: Path = CONFIG) -> Config:
    """Read ``.checkov.yaml``; every ``skip-check`` entry must be a check id with a reason comment."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CheckovError(f"{path.name}: cannot read it ({exc.strerror})") from exc
    try:
        settings = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise CheckovError(f"{path.name}: not valid YAML ({exc})") from exc
    if not isinstance(settings, dict):
        raise CheckovError(f"{path.name}: must be a mapping of checkov settings")
    listed = settings.pop("skip-check", None) or []
    if not isinstance(listed, list):
        raise CheckovError(f"{path.name}: skip-check must be a list, one check id per line")
    reasons: dict[str, str] = {}
    in_skips = False
    for line in text.splitlines():
        if re.match(r"^skip-check\s*:", line):
            in_skips = True
            continue
        if in_skips and line and not line[0].isspace() and not line.startswith(("-", "#")):
            in_skips = False
        match = _SKIP_LINE.match(line) if in_skips else None
        if match:
            reasons[match["id"]] = (match["reason"] or "").strip()
    skips: dict[str, str] = {}
    for entry in listed:
        check = str(entry).strip()
        if not _CHECK_ID.match(check):
            raise CheckovError(f"{path.name}: skip-check {check!r} is not a check id (CKV_AWS_1, CKV2_AWS_1...)")
        if not reasons.get(check):
            raise CheckovError(f"{path.name}: skip-check {check} has no reason: write it as a comment on its line")
        skips[check] = reasons[check]
    return Config(settings=settings, skips=skips)


def prepare(stack: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a synthesized stack that checkov's ``terraform_json`` parser reads: the
    ``terraform`` block without its plain values (``required_version``). See the module doc."""
    prepared = json.loads(json.dumps(stack))
    terraform = prepared.get("terraform")
    if isinstance(terraform, dict):
        for key in [k for k, v in terraform.items() if not isinstance(v, dict)]:
            del terraform[key]
    return prepared


def _addresses(stack: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{logical id: [resource types]}``: checkov's ``terraform_json`` runner names resources
    ``resource.<logical id>`` in the results of its Python checks (its graph checks give the type)."""
    index: dict[str, list[str]] = {}
    for rtype, bodies in stack.get("resource", {}).items():
        for lid in bodies:
            index.setdefault(lid, []).append(rtype)
    return index


def _address(resource: str, index: Mapping[str, list[str]]) -> str:
    kind, _, lid = resource.partition(".")
    if kind != "resource":
        return resource
    types = index.get(lid, [])
    return f"{types[0]}.{lid}" if len(types) == 1 else f"{'|'.join(types) or 'resource'}.{lid}"


def _environment(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CALLER_SETTINGS)}
    env.update(CKV_SKIP_PACKAGE_UPDATE_CHECK="true", HOME=str(workdir), LOG_LEVEL="WARNING",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def _run_one(exe: Path, name: str, stack: Mapping[str, Any], workdir: Path, config_file: Path) -> Report:
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cdk.tf.json").write_text(json.dumps(prepare(stack), indent=2), encoding="utf-8")
    args = [str(exe), str(RUNNER), "--config-file", str(config_file), "-d", str(folder),
            "--framework", "terraform_json", "--skip-download", "--quiet", "--compact", "-o", "json"]
    proc = subprocess.run(args, cwd=workdir, env=_environment(workdir), capture_output=True, text=True,
                          timeout=900)
    if proc.returncode not in (0, 1):
        raise CheckovError(f"checkov failed on {name} (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    try:
        out = json.loads(proc.stdout)
    except ValueError as exc:
        raise CheckovError(f"checkov printed no JSON report for {name}: {proc.stdout[:300]!r} "
                           f"{proc.stderr.strip()[-1000:]}") from exc
    out = out[0] if isinstance(out, list) else out
    summary = out.get("summary", out)
    if summary.get("parsing_errors"):
        raise CheckovError(f"checkov could not parse the prepared {name} stack ({folder / 'cdk.tf.json'}): "
                           f"{proc.stderr.strip()[-1000:]}")
    passed, failed = int(summary.get("passed", 0)), int(summary.get("failed", 0))
    if passed + failed == 0:
        raise CheckovError(f"checkov ran no check on {name} ({folder / 'cdk.tf.json'}): nothing was scanned")
    index = _addresses(stack)
    failures = tuple(sorted(
        {Failure(r["check_id"], r.get("check_name", ""), _address(r["resource"], index))
         for r in out.get("results", {}).get("failed_checks", [])},
        key=lambda f: (f.check_id, f.address)))
    return Report(name=name, passed=passed, failures=failures)


def run(stacks: Mapping[str, Mapping[str, Any]], workdir: Path, *, config: Config | None = None,
        parallel: int = 2) -> dict[str, Report]:
    """checkov on each stack (``{name: parsed cdk.tf.json}``), each alone: one stack's logical
    ids must not resolve to another's. Prepared copies and checkov's settings go to ``workdir``."""
    import yaml

    exe = python()
    if exe is None:
        raise CheckovError(f"checkov is not installed in {VENV.relative_to(ROOT)}: run `make checkov` "
                           f"(or set {SKIP_ENV}=1 to scan without it)")
    config = config or load_config()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "checkov-settings.yaml"
    config_file.write_text(yaml.safe_dump(config.settings, sort_keys=True), encoding="utf-8")
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {name: pool.submit(_run_one, exe, name, stack, workdir, config_file)
                   for name, stack in stacks.items()}
        return {name: future.result() for name, future in futures.items()}
