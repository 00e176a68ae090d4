"""`make new-plugin`: the scaffold writes a working plug-in that the manifest loader and the
stack pick up with no other edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kit.scaffold import ScaffoldError, scaffold
from modules.plugins import discover_plugins

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for plugin in ("validate", "cleanse", "archive", "notify"):
        shutil.copytree(ROOT / "lambdas" / plugin, tmp_path / "lambdas" / plugin)
    return tmp_path


def test_scaffold_writes_plugin_and_tests(repo: Path):
    written = scaffold("quality", repo)
    assert sorted(p.relative_to(repo).as_posix() for p in written) == [
        "lambdas/quality/core.py", "lambdas/quality/handler.py", "lambdas/quality/manifest.toml",
        "tests/functional/test_quality_handler.py", "tests/unit/lambdas/test_quality_core.py",
    ]
    assert "{{NAME}}" not in (repo / "lambdas/quality/handler.py").read_text()


def test_scaffolded_plugin_joins_the_pipeline_after_notify(repo: Path):
    scaffold("quality", repo)
    order = [m.name for m in discover_plugins(repo / "lambdas")]
    assert order == ["validate", "cleanse", "archive", "notify", "quality"]


def test_scaffold_refuses_an_existing_plugin(repo: Path):
    with pytest.raises(ScaffoldError, match="plug-in 'validate' already exists"):
        scaffold("validate", repo)


@pytest.mark.parametrize("name, message", [
    ("Bad-Name", "a plug-in name is 2-31 characters"),
    ("x", "a plug-in name is 2-31 characters"),
    ("core", "is reserved"),
])
def test_scaffold_refuses_bad_names(repo: Path, name: str, message: str):
    with pytest.raises(ScaffoldError, match=message):
        scaffold(name, repo)
    assert not (repo / "lambdas" / name).exists()
