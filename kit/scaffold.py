"""``make new-plugin NAME=<name>``: a working plug-in in one folder, plus its tests.

Writes ``lambdas/<name>/{manifest.toml,handler.py,core.py}``,
``tests/unit/lambdas/test_<name>_core.py`` and ``tests/functional/test_<name>_handler.py`` from
``kit/templates/plugin``. The new plug-in consumes ``pipeline-events`` (every file's outcome), so
it appears in the next synth and deploy with no other edit: its queue + DLQ, the topic
subscription, function, role (from the manifest), log group and alarms.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates" / "plugin"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
RESERVED = {"shared", "pipeline_shared", "core", "handler", "landing", "events", "test", "tests"}


class ScaffoldError(ValueError):
    pass


def targets(name: str, root: Path) -> dict[str, Path]:
    return {
        "manifest.toml.tmpl": root / "lambdas" / name / "manifest.toml",
        "handler.py.tmpl": root / "lambdas" / name / "handler.py",
        "core.py.tmpl": root / "lambdas" / name / "core.py",
        "test_core.py.tmpl": root / "tests" / "unit" / "lambdas" / f"test_{name}_core.py",
        "test_handler.py.tmpl": root / "tests" / "functional" / f"test_{name}_handler.py",
    }


def scaffold(name: str, root: Path = ROOT) -> list[Path]:
    if not NAME_RE.match(name or ""):
        raise ScaffoldError(f"NAME={name!r}: a plug-in name is 2-31 characters of a-z, 0-9 and '_', starting with a letter")
    if name in RESERVED:
        raise ScaffoldError(f"NAME={name!r} is reserved; choose another name")
    files = targets(name, root)
    existing = [p for p in files.values() if p.exists()]
    if (root / "lambdas" / name).exists() or existing:
        where = existing[0] if existing else root / "lambdas" / name
        raise ScaffoldError(f"plug-in {name!r} already exists ({where}); nothing was written")
    for template, target in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((TEMPLATES / template).read_text().replace("{{NAME}}", name))
    return list(files.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make new-plugin NAME=<name>")
    parser.add_argument("name")
    args = parser.parse_args(argv)
    try:
        written = scaffold(args.name)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"==> scaffolded plug-in {args.name!r}:")
    for path in written:
        print(f"    {path.relative_to(ROOT)}")
    print(f"==> next: edit lambdas/{args.name}/core.py, run `make test`, then `make deploy` (and `make run`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
