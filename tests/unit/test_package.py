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


# -- `make package` (python -m kit package) with a broken plug-in ----------------------------
# `kit package` packages the repository's lambdas/ (modules.plugins.LAMBDAS_DIR): the broken
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


def test_package_command_reports_a_manifest_error_in_one_line(tmp_path: Path, monkeypatch, capsys):
    import modules.plugins
    from kit.cli import main

    lambdas, expected = broken_lambdas(tmp_path)
    monkeypatch.setattr(modules.plugins, "LAMBDAS_DIR", lambdas)
    monkeypatch.setenv("PIPELINE_KIT_WORKDIR", str(tmp_path / "work"))
    assert main(["package"]) == 2
    captured = capsys.readouterr()
    assert (captured.err, captured.out) == (expected + "\n", "")
    assert not (tmp_path / "work" / "build").exists()


def test_python_m_kit_package_prints_one_line_and_exits_2(tmp_path: Path):
    import subprocess
    import sys

    lambdas, expected = broken_lambdas(tmp_path)
    # the real `python -m kit package` entry point (run as __main__), LAMBDAS_DIR set first
    code = ("import runpy, sys; from pathlib import Path; import modules.plugins as p; "
            "p.LAMBDAS_DIR = Path(sys.argv.pop(1)); runpy.run_module('kit', run_name='__main__', alter_sys=True)")
    proc = subprocess.run([sys.executable, "-c", code, str(lambdas), "package"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PIPELINE_KIT_WORKDIR": str(tmp_path / "work")}, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, expected + "\n", "")


# -- the emulator's Powertools layer: the same bytes from any installation ---------------------
# Two clean installs of the same pinned releases differ in files the layer must not hold: a
# console script outside site-packages whose shebang names the venv (jmespath's bin/jp.py),
# the installer's own files in *.dist-info (INSTALLER, REQUESTED, direct_url.json) and byte
# code. The layer takes only the importable files inside site-packages, so it is byte-identical.

FAKE_DIST = "fakedist"


def fake_install(venv: Path, *, installer: str, with_extras: bool) -> Path:
    """One installation of ``fakedist`` 1.0 in ``venv``, the way pip lays it out: RECORD paths
    relative to site-packages, the console script at ``../../../bin``."""
    site = venv / "lib" / "python3.12" / "site-packages"
    files = {
        "fakedist/__init__.py": b"VALUE = 1\n",
        "fakedist/schema.json": b"{}\n",
        "fakedist-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: fakedist\nVersion: 1.0\n",
        "fakedist-1.0.dist-info/INSTALLER": installer.encode() + b"\n",
        "../../../bin/fake-cli": f"#!{venv}/bin/python\nimport fakedist\n".encode(),
    }
    if with_extras:
        files["fakedist-1.0.dist-info/REQUESTED"] = b""
        files["fakedist/__pycache__/__init__.cpython-312.pyc"] = b"compiled in " + str(venv).encode()
    for rel, data in files.items():
        target = Path(os.path.normpath(site / rel))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.utime(target, (1_700_000_000 + len(installer), 1_700_000_000 + len(installer)))
    record = "".join(f"{rel},,\n" for rel in [*files, "fakedist-1.0.dist-info/RECORD"])
    (site / "fakedist-1.0.dist-info" / "RECORD").write_text(record)
    return site


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("aws_lambda_powertools/__init__.py", True),
        ("aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css", True),
        ("typing_extensions.py", True),
        ("../../../bin/jp.py", False),  # a console script in the venv's bin/, its shebang names the venv
        ("/usr/local/bin/tool", False),
        ("jmespath-1.1.0.dist-info/INSTALLER", False),
        ("jmespath-1.1.0.dist-info/RECORD", False),
        ("jmespath/__pycache__/parser.cpython-312.pyc", False),
        ("legacy/module.pyc", False),
    ],
)
def test_layer_takes_only_importable_files_inside_site_packages(path: str, kept: bool):
    from pathlib import PurePosixPath

    from kit.package import layer_file

    assert layer_file(PurePosixPath(path)) is kept


def test_two_installations_that_differ_outside_the_importable_files_give_the_same_layer(tmp_path: Path):
    from kit.package import build_powertools_layer, layer_entries

    first = fake_install(tmp_path / "venv-a", installer="pip", with_extras=True)
    second = fake_install(tmp_path / "other" / "venv-b", installer="uv", with_extras=False)
    # the installations do differ: the script's shebang, INSTALLER, REQUESTED, byte code
    assert (tmp_path / "venv-a" / "bin" / "fake-cli").read_bytes() != (
        tmp_path / "other" / "venv-b" / "bin" / "fake-cli").read_bytes()
    assert [name for name, _ in layer_entries([first], [FAKE_DIST])] == [
        "python/fakedist/__init__.py", "python/fakedist/schema.json"]
    a = build_powertools_layer(tmp_path / "out-a", [first], [FAKE_DIST])
    b = build_powertools_layer(tmp_path / "out-b", [second], [FAKE_DIST])
    assert a.sha256 == b.sha256
    assert Path(a.file).read_bytes() == Path(b.file).read_bytes()


def relocate(distributions: tuple[str, ...], venv: Path) -> Path:
    """A second installation of the installed ``distributions`` in ``venv``: every file their
    RECORD lists, copied to the same place relative to a new site-packages, with what differs
    between two clean installs changed: scripts' shebangs, INSTALLER, byte code written."""
    from importlib import metadata

    site = venv / "lib" / "python3.12" / "site-packages"
    for name in distributions:
        dist = metadata.distribution(name)
        for f in dist.files or ():
            source = Path(dist.locate_file(f))
            if not source.is_file():
                continue
            target = Path(os.path.normpath(site / f.as_posix()))
            target.parent.mkdir(parents=True, exist_ok=True)
            data = source.read_bytes()
            if f.as_posix().startswith("../") and data.startswith(b"#!"):
                data = f"#!{venv}/bin/python3.12".encode() + data[data.index(b"\n"):]
            elif f.name == "INSTALLER":
                data = b"another-installer\n"
            target.write_bytes(data)
        package = site / name.replace("-", "_")
        if package.is_dir():
            (package / "__pycache__").mkdir(exist_ok=True)
            (package / "__pycache__" / "__init__.cpython-312.pyc").write_bytes(b"written at import")
    return site


def test_the_layer_of_the_pinned_releases_is_the_same_from_another_installation(tmp_path: Path):
    """The real layer distributions, installed here and copied into another venv layout (jmespath's
    bin/jp.py then names another interpreter): the same sha256 from both."""
    from kit.package import LAYER_DISTRIBUTIONS, build_powertools_layer

    here = build_powertools_layer(tmp_path / "here")
    there = build_powertools_layer(tmp_path / "there", [relocate(LAYER_DISTRIBUTIONS, tmp_path / "venv")])
    assert here.sha256 == there.sha256
    with zipfile.ZipFile(here.file) as zf:
        names = zf.namelist()
    assert "python/aws_lambda_powertools/__init__.py" in names and "python/jmespath/__init__.py" in names
    assert not [n for n in names if ".." in n.split("/") or ".dist-info/" in n or n.endswith(".pyc")]


def test_a_distribution_without_a_record_is_refused(tmp_path: Path):
    from kit.package import layer_entries

    site = fake_install(tmp_path / "venv", installer="pip", with_extras=False)
    (site / "fakedist-1.0.dist-info" / "RECORD").unlink()
    with pytest.raises(FileNotFoundError, match=r"^fakedist 1.0: installed without a RECORD, so its files are unknown"):
        layer_entries([site], [FAKE_DIST])


# -- no test-only code in a plug-in zip ----------------------------------------------------------
# What a zip may hold: what the function runs. Test-shaped files are out, and so is any Python
# module that no entry point reaches (the handler, or the Batch job ``pipeline_shared.batch_job``),
# e.g. event builders only tests and the local runner import.

def _zip_modules(zf: zipfile.ZipFile) -> dict[str, str]:
    """``{dotted module: source}`` of the Python files at the zip's root and in its packages."""
    out = {}
    for name in zf.namelist():
        if name.endswith(".py"):
            parts = name[:-3].split("/")
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = zf.read(name).decode("utf-8")
    return out


def _reached(modules: dict[str, str], entries: list[str]) -> set[str]:
    import ast

    seen: set[str] = set()
    todo = [e for e in entries if e in modules]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        package = name if f"{name}.__init__" in modules else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(modules[name])):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(p for p in [*parts, node.module or ""] if p)
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target:
                    if target in modules:
                        todo.append(target)
                    target = target.rpartition(".")[0]
    return seen


def _test_only_entries(zips: list[Path], entry_points: list[str]) -> list[str]:
    """``<zip>: <entry>`` for every test-shaped file and every module no entry point reaches
    (reachability over all the zips: each ships the whole shared package)."""
    test_shaped = [f"{z.name}: {n}" for z in zips for n in zipfile.ZipFile(z).namelist()
                   if "tests" in n.split("/") or n.rsplit("/", 1)[-1] in {"conftest.py"}
                   or n.rsplit("/", 1)[-1].startswith("test_") or n.endswith("_test.py")]
    reached: set[str] = set()
    per_zip = {}
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            per_zip[z.name] = modules = _zip_modules(zf)
        reached |= {f"{z.name}:{m}" for m in _reached(modules, entry_points)}
    reached_modules = {r.split(":", 1)[1] for r in reached}
    unreached = [f"{name}: {m}" for name, modules in per_zip.items() for m in sorted(modules)
                 if m not in reached_modules]
    return test_shaped + unreached


def _entry_points(plugins) -> list[str]:
    return ["pipeline_shared.batch_job", *{p.handler.split(":")[0].rsplit(".", 1)[0] for p in plugins}]


def test_no_built_plugin_zip_holds_test_only_code(tmp_path: Path):
    from modules.plugins import discover_plugins

    plugins = discover_plugins()
    artifacts = build_all(tmp_path, [p.directory for p in plugins], layer=False, write_manifest=False)
    assert _test_only_entries([Path(a.file) for a in artifacts.values()], _entry_points(plugins)) == []


def test_the_checker_finds_test_files_and_unreached_event_builders(tmp_path: Path):
    lambdas = tmp_path / "lambdas"
    (lambdas / "stage" / "tests").mkdir(parents=True)
    (lambdas / "stage" / "handler.py").write_text("from core import run\n")
    (lambdas / "stage" / "core.py").write_text("from pipeline_shared.messages import parse\n")
    (lambdas / "stage" / "test_core.py").write_text("")
    shared = lambdas / "_shared" / "pipeline_shared"
    shared.mkdir(parents=True)
    for name in ("__init__", "messages", "batch_job", "events"):
        (shared / f"{name}.py").write_text("")
    art = build_plugin(lambdas / "stage", tmp_path / "out")
    assert _test_only_entries([Path(art.file)], ["handler", "pipeline_shared.batch_job"]) == [
        "stage.zip: test_core.py", "stage.zip: pipeline_shared.events", "stage.zip: test_core"]
