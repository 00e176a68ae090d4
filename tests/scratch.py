"""A scratch copy of the repository (what git tracks, plus new files it does not ignore), for tests
that need the code changed the way a user changes it: a plug-in or a dataset added. Shared by the
infra and e2e layers (``from tests.scratch import scratch_copy``: the repository root is on pytest's
pythonpath)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scratch_copy(dest: Path, *, link_node_tools: bool = False) -> Path:
    """Copy what ``git ls-files --cached --others --exclude-standard`` lists into ``dest`` (files
    deleted in the work tree but still tracked are skipped). ``link_node_tools``: also link the
    pinned Node.js tools (``.tools/node_modules``, ignored by git), for a copy that runs the
    workflow lint test."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    tools = ROOT / ".tools" / "node_modules"
    if link_node_tools and tools.is_dir():
        (dest / ".tools").mkdir(exist_ok=True)
        (dest / ".tools" / "node_modules").symlink_to(tools, target_is_directory=True)
    return dest


def add_failing_events_plugin(repo: Path, name: str = "extra") -> Path:
    """A plug-in that passes every manifest check but fails on every record it gets: it consumes
    pipeline-events, so it needs no change anywhere else (like `make new-plugin`)."""
    folder = repo / "lambdas" / name
    folder.mkdir(parents=True)
    (folder / "manifest.toml").write_text(
        '[plugin]\ndescription = "A broken pipeline-events consumer (e2e)"\nhandler = "handler.lambda_handler"\n\n'
        '[consumes]\nsource = "pipeline-events"\n\n[runtime]\ntimeout_seconds = 30\nbatch_size = 10\n')
    (folder / "handler.py").write_text(
        '"""Fails every record (a release that adds a broken plug-in)."""\n\n\n'
        'def lambda_handler(event, context):\n'
        '    raise RuntimeError("broken plug-in: every record fails")\n')
    return folder
