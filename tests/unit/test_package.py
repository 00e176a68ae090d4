"""Deterministic packaging: same sources → byte-identical zip (and sha256) wherever they are
built; one plug-in's change changes only its artifact; only plug-in and shared code inside."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from kit.package import build_all, build_plugin, deterministic_zip

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ("validate", "cleanse", "archive", "notify")


@pytest.fixture
def lambdas_copy(tmp_path: Path) -> Path:
    """A copy of lambdas/ elsewhere, with other mtimes and permissions than the original."""
    target = tmp_path / "elsewhere" / "lambdas"
    shutil.copytree(ROOT / "lambdas", target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
        if path.is_file():
            path.chmod(0o600)
    return target


def test_same_sources_give_the_same_sha256_twice(tmp_path: Path):
    first = build_plugin(ROOT / "lambdas" / "validate", tmp_path / "a")
    second = build_plugin(ROOT / "lambdas" / "validate", tmp_path / "b")
    assert first.sha256 == second.sha256
    assert Path(first.file).read_bytes() == Path(second.file).read_bytes()


def test_a_copy_elsewhere_with_other_mtimes_and_modes_gives_the_same_bytes(tmp_path: Path, lambdas_copy: Path):
    for plugin in PLUGINS:
        here = build_plugin(ROOT / "lambdas" / plugin, tmp_path / "here")
        there = build_plugin(lambdas_copy / plugin, tmp_path / "there")
        assert here.sha256 == there.sha256, plugin


def test_changing_one_plugin_changes_only_its_artifact(tmp_path: Path, lambdas_copy: Path):
    before = {p: build_plugin(lambdas_copy / p, tmp_path / "before").sha256 for p in PLUGINS}
    core = lambdas_copy / "cleanse" / "core.py"
    core.write_text(core.read_text() + "\n# a change\n")
    after = {p: build_plugin(lambdas_copy / p, tmp_path / "after").sha256 for p in PLUGINS}
    assert [p for p in PLUGINS if before[p] != after[p]] == ["cleanse"]


def test_zip_holds_plugin_and_shared_code_only_with_fixed_metadata(tmp_path: Path):
    artifact = build_plugin(ROOT / "lambdas" / "validate", tmp_path)
    with zipfile.ZipFile(artifact.file) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {"handler.py", "core.py", "manifest.toml", "pipeline_shared/__init__.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("aws_lambda_powertools", "boto3", "samples/"))]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_two_sources_for_one_name_is_an_error(tmp_path: Path):
    with pytest.raises(ValueError, match="two sources for 'core.py'"):
        deterministic_zip([("core.py", b"a"), ("core.py", b"b")], tmp_path / "x.zip")


def test_build_all_writes_an_artifact_manifest(tmp_path: Path):
    import json

    artifacts = build_all(tmp_path, [ROOT / "lambdas" / p for p in PLUGINS], layer=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["artifacts"]) == set(PLUGINS)
    for name, entry in manifest["artifacts"].items():
        assert entry == {"name": name, "file": f"{name}.zip", "sha256": artifacts[name].sha256,
                         "size": artifacts[name].size}
    assert manifest["release"]


# -- `make package` (python -m kit.package) with a broken plug-in -----------------------------
# kit.package packages the repository's lambdas/ (modules.plugins.LAMBDAS_DIR): the broken
# plug-ins live in tmp_path, and LAMBDAS_DIR is pointed at them.

def broken_lambdas(root: Path) -> tuple[Path, str]:
    """``root/lambdas/stage`` whose manifest names a handler function its module lacks; returns
    the folder and the one error line expected."""
    stage = root / "lambdas" / "stage"
    stage.mkdir(parents=True)
    (stage / "manifest.toml").write_text('[plugin]\ndescription = "test"\nhandler = "handler.lambda_handler"\n'
                                         '\n[consumes]\nsource = "landing"\n')
    (stage / "handler.py").write_text("def handle(event, context):\n    return {}\n")
    return stage.parent, (f"error: {stage / 'manifest.toml'}: plugin.handler: names function 'lambda_handler', "
                          f"which {stage / 'handler.py'} does not define at top level")


def test_package_main_reports_a_manifest_error_in_one_line(tmp_path: Path, monkeypatch, capsys):
    import modules.plugins
    from kit.package import main

    lambdas, expected = broken_lambdas(tmp_path)
    monkeypatch.setattr(modules.plugins, "LAMBDAS_DIR", lambdas)
    monkeypatch.setenv("PIPELINE_KIT_WORKDIR", str(tmp_path / "work"))
    assert main([]) == 2
    captured = capsys.readouterr()
    assert (captured.err, captured.out) == (expected + "\n", "")
    assert not (tmp_path / "work" / "build").exists()


def test_python_m_kit_package_prints_one_line_and_exits_2(tmp_path: Path):
    import subprocess
    import sys

    lambdas, expected = broken_lambdas(tmp_path)
    # the real `python -m kit.package` entry point (run as __main__), LAMBDAS_DIR set first
    code = ("import runpy, sys; from pathlib import Path; import modules.plugins as p; "
            "p.LAMBDAS_DIR = Path(sys.argv[1]); runpy.run_module('kit.package', run_name='__main__', alter_sys=True)")
    proc = subprocess.run([sys.executable, "-c", code, str(lambdas)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PIPELINE_KIT_WORKDIR": str(tmp_path / "work")}, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, expected + "\n", "")
