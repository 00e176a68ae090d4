"""The layer rules of docs/architecture.md, checked on the AST of every ``.py`` of the repository.

- ``lambdas/`` (plug-ins and ``pipeline_shared``) never imports ``modules``, ``kit``, ``environments``,
  ``main``, ``glue`` nor cdktf: a plug-in zip holds ``lambdas/`` code only;
- ``modules/`` never imports ``kit`` nor ``main``, and never reads ``os.environ`` / ``os.getenv``: it gets
  values from the config;
- ``environments/`` never imports ``modules``, ``kit``, ``main``, ``glue`` nor cdktf;
- of ``pipeline_shared``, ``modules/`` and ``environments/`` import the runtime contract
  (``pipeline_shared.wiring``) only, and the contract imports no AWS SDK nor cdktf;
- ``glue/`` never imports ``modules``, ``kit``, ``environments``, ``main`` nor cdktf;
- nothing outside ``tests/`` edits ``sys.path``.

Each checker also runs on a fake tree in ``tmp_path`` holding one violation, so a checker that
stopped seeing anything would fail here rather than pass silently.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

#: Folders that hold no source of the kit: generated output, tools, virtual environments.
SKIPPED_DIRS = frozenset({"build", "cdktf.out", "node_modules", "__pycache__"})

CDKTF = ("cdktf", "cdktf_cdktf_provider_aws", "constructs")


@dataclass(frozen=True)
class ImportRule:
    layer: str  # a folder of the repository
    banned: tuple[str, ...]  # top-level module names
    why: str
    #: Dotted prefixes of a banned top-level package that stay allowed (``pipeline_shared.wiring``).
    allowed: tuple[str, ...] = ()


WIRING = "pipeline_shared.wiring"
IMPORT_RULES = (
    ImportRule("lambdas", ("modules", "kit", "environments", "main", "glue", *CDKTF),
               "plug-in zips hold lambdas/ code only"),
    ImportRule("modules", ("kit", "main"), "modules are composed by main.py and kit, never the reverse"),
    ImportRule("modules", ("pipeline_shared",), "of the runtime, the wiring reads the contract only",
               allowed=(WIRING,)),
    ImportRule("environments", ("modules", "kit", "main", "glue", *CDKTF),
               "the config knows no construct"),
    ImportRule("environments", ("pipeline_shared",), "of the runtime, the config reads the contract only",
               allowed=(WIRING,)),
    ImportRule("lambdas/_shared/pipeline_shared/wiring", ("boto3", "botocore", "aws_lambda_powertools", *CDKTF),
               "the contract is standard library only: modules/ imports it at synth time"),
    ImportRule("glue", ("modules", "kit", "environments", "main", *CDKTF),
               "Glue scripts run in AWS Glue beside the contracts only"),
)

#: ``sys.path`` edits allowed outside tests, each (file, function) with the reason: none. The Batch
#: job reads the path the image sets (PYTHONPATH, PYTHONSAFEPATH) and refuses a shadowing entry;
#: everything else finds ``pipeline_shared`` through the venv's .pth or a zip root.
SYS_PATH_EXEMPT: dict[tuple[str, str], str] = {}

#: The only ``os.environ`` use in modules/, (file, function) with the reason.
ENVIRON_EXEMPT = {
    ("modules/_bindings.py", "install_lazy_bindings"):
        "sets jsii's JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION for the Node process (a banner switch, "
        "not configuration)",
}

_SYS_PATH_MUTATORS = frozenset({"insert", "append", "extend", "remove", "pop", "clear"})


# ------------------------------------------------------------------------------------------------
# the checkers


def python_files(root: Path, layer: str | None = None) -> Iterator[Path]:
    """Every ``.py`` under ``root`` (or ``root/layer``, or the file ``root/layer.py``), generated and
    hidden folders skipped."""
    if layer is not None and (root / f"{layer}.py").is_file():
        yield root / f"{layer}.py"
        return
    base = root if layer is None else root / layer
    found = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]  # not descended
        found += [Path(folder, f) for f in files if f.endswith(".py")]
    yield from sorted(found)


def _parse(path: Path) -> ast.Module:
    """The AST of ``path``, parsed once per test session (each rule walks the same files)."""
    return _parse_cached(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _parse_cached(path: str, mtime_ns: int) -> ast.Module:
    return ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)


def _function_of(tree: ast.Module, target: ast.AST) -> str:
    """The name of the innermost function holding ``target`` ("" at module level)."""
    def visit(node: ast.AST, name: str) -> str | None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else name
            if child is target:
                return inner
            found = visit(child, inner)
            if found is not None:
                return found
        return None

    return visit(tree, "") or ""


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def import_violations(root: Path, rule: ImportRule) -> list[str]:
    """``<file>:<line>: imports <module> (<layer>/ never imports <top>: <why>)`` for each banned import."""
    found = []
    for path in python_files(root, rule.layer):
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in rule.banned and not any(name == p or name.startswith(p + ".") for p in rule.allowed):
                    found.append(f"{_rel(root, path)}:{node.lineno}: imports {name} "
                                 f"({rule.layer}/ never imports {top}: {rule.why})")
    return found


def _module_aliases(tree: ast.Module, module: str) -> set[str]:
    """The names ``module`` is bound to by ``import module [as x]``."""
    return {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
            for alias in node.names if alias.name == module}


def _from_aliases(tree: ast.Module, module: str, names: set[str]) -> set[str]:
    """The local names of ``from module import <one of names> [as x]``."""
    return {alias.asname or alias.name for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == module
            for alias in node.names if alias.name in names}


def _is_attr(node: ast.AST, modules: set[str], attrs: set[str]) -> bool:
    """``node`` is ``<module alias>.<attr>``."""
    return (isinstance(node, ast.Attribute) and node.attr in attrs
            and isinstance(node.value, ast.Name) and node.value.id in modules)


def environ_violations(root: Path, layer: str = "modules",
                       exempt: dict[tuple[str, str], str] | None = None) -> list[str]:
    """``<file>:<line>: reads the process environment (...)`` for each ``os.environ`` / ``os.getenv``
    (any alias) in ``layer``, except the (file, function) pairs of ``exempt``."""
    exempt = ENVIRON_EXEMPT if exempt is None else exempt
    found = []
    for path in python_files(root, layer):
        tree = _parse(path)
        os_names = _module_aliases(tree, "os")
        bare = _from_aliases(tree, "os", {"environ", "environb", "getenv", "getenvb"})
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "os" and bare & {
                    a.asname or a.name for a in node.names}:
                hit = True
            else:
                hit = (_is_attr(node, os_names, {"environ", "environb", "getenv", "getenvb"})
                       or (isinstance(node, ast.Name) and node.id in bare))
            if hit and (_rel(root, path), _function_of(tree, node)) not in exempt:
                found.append(f"{_rel(root, path)}:{node.lineno}: reads the process environment "
                             f"({layer}/ never reads os.environ: values come from the config)")
    return found


def _is_sys_path(node: ast.AST, sys_names: set[str], path_names: set[str]) -> bool:
    """``node`` is ``sys.path`` (any alias) or a subscript of it."""
    if isinstance(node, ast.Subscript):
        node = node.value
    return _is_attr(node, sys_names, {"path"}) or (isinstance(node, ast.Name) and node.id in path_names)


def sys_path_violations(root: Path, exempt: dict[tuple[str, str], str] | None = None) -> list[str]:
    """``<file>:<line>: edits sys.path`` for each ``sys.path`` mutation (method call, assignment,
    deletion, ``site.addsitedir``) outside ``tests/``, except the (file, function) pairs of ``exempt``."""
    exempt = SYS_PATH_EXEMPT if exempt is None else exempt
    found = []
    for path in python_files(root):
        rel = _rel(root, path)
        if rel.split("/")[0] == "tests":
            continue
        tree = _parse(path)
        sys_names = _module_aliases(tree, "sys")
        site_names = _module_aliases(tree, "site")
        path_names = _from_aliases(tree, "sys", {"path"})

        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                hit = ((isinstance(func, ast.Attribute) and func.attr in _SYS_PATH_MUTATORS and _is_sys_path(func.value, sys_names, path_names))
                       or _is_attr(func, site_names, {"addsitedir"}))
            elif isinstance(node, ast.Assign | ast.Delete):
                hit = any(_is_sys_path(t, sys_names, path_names) for t in node.targets)
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                hit = _is_sys_path(node.target, sys_names, path_names)
            else:
                hit = False
            if hit and (rel, _function_of(tree, node)) not in exempt:
                found.append(f"{rel}:{node.lineno}: edits sys.path (nothing outside tests does: lambdas/_shared is "
                             "importable through the venv's .pth, plug-in modules load by file location)")
    return found


# ------------------------------------------------------------------------------------------------
# the repository keeps the rules


@pytest.mark.parametrize("rule", IMPORT_RULES, ids=lambda r: f"{r.layer}-{r.banned[0]}")
def test_repository_layer_imports_follow_the_rules(rule: ImportRule) -> None:
    assert import_violations(ROOT, rule) == []


def test_repository_modules_never_read_the_environment() -> None:
    assert environ_violations(ROOT) == []


def test_repository_edits_sys_path_nowhere_outside_tests() -> None:
    assert sys_path_violations(ROOT) == []


def test_exemptions_name_existing_functions() -> None:
    """An exemption whose function is gone must go too (it would silently cover new code)."""
    for rel, function in (*SYS_PATH_EXEMPT, *ENVIRON_EXEMPT):
        tree = _parse(ROOT / rel)
        assert function in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}, (rel, function)


def test_the_checkers_see_the_whole_repository() -> None:
    """The walk reaches every layer (a wrong root or skip list would make every rule pass)."""
    seen = {_rel(ROOT, p).split("/")[0] for p in python_files(ROOT)}
    assert {"lambdas", "modules", "environments", "glue", "kit", "main.py", "tests"} <= seen


# ------------------------------------------------------------------------------------------------
# each checker catches a violation (a fake tree in tmp_path)


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


#: The first rule of each layer (its layering); the runtime-contract rules by name below.
RULE: dict[str, ImportRule] = {}
for _rule in IMPORT_RULES:
    RULE.setdefault(_rule.layer, _rule)
CONTRACT_ONLY = {r.layer: r for r in IMPORT_RULES if r.allowed}


@pytest.mark.parametrize(("layer", "source", "module"), [
    ("lambdas", "from modules.queues import StageQueue\n", "modules.queues"),
    ("lambdas", "def f():\n    import kit.cli\n", "kit.cli"),
    ("lambdas", "from environments import load_config\n", "environments"),
    ("lambdas", "import cdktf\n", "cdktf"),
    ("lambdas", "from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket\n", "cdktf_cdktf_provider_aws.s3_bucket"),
    ("lambdas", "import main\n", "main"),
    ("modules", "from kit.package import build_all\n", "kit.package"),
    ("environments", "from modules.stack import PipelineStack\n", "modules.stack"),
    ("environments", "import kit\n", "kit"),
    ("environments", "from cdktf import App\n", "cdktf"),
    ("glue", "from modules.catalog import Catalog\n", "modules.catalog"),
])
def test_import_checker_reports_a_banned_import(tmp_path: Path, layer: str, source: str, module: str) -> None:
    write(tmp_path, f"{layer}/demo/core.py", "import json\n" + source)
    top = module.split(".")[0]
    assert import_violations(tmp_path, RULE[layer]) == [
        f"{layer}/demo/core.py:{2 if source.startswith(('from', 'import')) else 3}: imports {module} "
        f"({layer}/ never imports {top}: {RULE[layer].why})"]


def test_import_checker_allows_shared_and_relative_imports(tmp_path: Path) -> None:
    write(tmp_path, "lambdas/demo/handler.py", "import core\nfrom pipeline_shared import env\n")
    write(tmp_path, "lambdas/_shared/pipeline_shared/env.py", "from . import aws\nfrom .contracts import load\n")
    assert import_violations(tmp_path, RULE["lambdas"]) == []


@pytest.mark.parametrize("layer", ["modules", "environments"])
def test_only_the_runtime_contract_of_pipeline_shared_is_imported_outside_lambdas(tmp_path: Path, layer: str) -> None:
    write(tmp_path, f"{layer}/demo.py", "from pipeline_shared.wiring import env\nimport pipeline_shared.wiring.api\n"
                                        "from pipeline_shared import aws\nfrom pipeline_shared.wiringx import y\n")
    why = CONTRACT_ONLY[layer].why
    assert import_violations(tmp_path, CONTRACT_ONLY[layer]) == [
        f"{layer}/demo.py:3: imports pipeline_shared ({layer}/ never imports pipeline_shared: {why})",
        f"{layer}/demo.py:4: imports pipeline_shared.wiringx ({layer}/ never imports pipeline_shared: {why})"]


def test_the_runtime_contract_imports_no_aws_sdk(tmp_path: Path) -> None:
    layer = "lambdas/_shared/pipeline_shared/wiring"
    write(tmp_path, f"{layer}/env.py", "import os\nfrom . import api\nimport boto3\n")
    assert import_violations(tmp_path, RULE[layer]) == [
        f"{layer}/env.py:3: imports boto3 ({layer}/ never imports boto3: {RULE[layer].why})"]


def test_import_checker_covers_a_top_level_file(tmp_path: Path) -> None:
    write(tmp_path, "main.py", "import kit\n")
    rule = ImportRule("main", ("kit",), "demo")
    assert import_violations(tmp_path, rule) == ["main.py:1: imports kit (main/ never imports kit: demo)"]


@pytest.mark.parametrize("source", [
    "import os\nX = os.environ.get('PIPELINE_ENV')\n",
    "import os\nX = os.getenv('PIPELINE_ENV')\n",
    "import os as _os\nX = _os.environ['PIPELINE_ENV']\n",
    "from os import environ\nX = environ['PIPELINE_ENV']\n",
    "from os import getenv as g\nX = g('PIPELINE_ENV')\n",
])
def test_environ_checker_reports_a_read(tmp_path: Path, source: str) -> None:
    write(tmp_path, "modules/demo.py", source)
    found = environ_violations(tmp_path, exempt={})
    assert found and all(f.startswith("modules/demo.py:") and f.endswith(
        "reads the process environment (modules/ never reads os.environ: values come from the config)") for f in found)


def test_environ_checker_ignores_other_layers_and_os_helpers(tmp_path: Path) -> None:
    write(tmp_path, "kit/demo.py", "import os\nX = os.environ.get('A')\n")
    write(tmp_path, "modules/demo.py", "import os\nX = os.path.join('a', 'b')\n")
    assert environ_violations(tmp_path, exempt={}) == []


def test_environ_exemption_covers_its_function_only(tmp_path: Path) -> None:
    write(tmp_path, "modules/demo.py",
          "import os\n\ndef allowed():\n    os.environ.setdefault('A', '1')\n\ndef other():\n    return os.environ['B']\n")
    assert environ_violations(tmp_path, exempt={("modules/demo.py", "allowed"): "demo"}) == [
        "modules/demo.py:7: reads the process environment (modules/ never reads os.environ: values come from the config)"]


@pytest.mark.parametrize("source", [
    "import sys\nsys.path.insert(0, 'lambdas/_shared')\n",
    "import sys\nsys.path.append('x')\n",
    "import sys\nsys.path.extend(['x'])\n",
    "import sys\nsys.path[:0] = ['.']\n",
    "import sys\nsys.path = ['x']\n",
    "import sys\nsys.path += ['x']\n",
    "import sys as s\ns.path.insert(0, 'x')\n",
    "from sys import path\npath.append('x')\n",
    "import site\nsite.addsitedir('x')\n",
])
def test_sys_path_checker_reports_an_edit(tmp_path: Path, source: str) -> None:
    write(tmp_path, "kit/demo.py", source)
    assert sys_path_violations(tmp_path, exempt={}) == [
        "kit/demo.py:2: edits sys.path (nothing outside tests does: lambdas/_shared is importable through the "
        "venv's .pth, plug-in modules load by file location)"]


def test_sys_path_checker_ignores_tests_and_reads(tmp_path: Path) -> None:
    write(tmp_path, "tests/conftest.py", "import sys\nsys.path.insert(0, 'x')\n")
    write(tmp_path, "kit/demo.py", "import sys\nfor entry in sys.path:\n    print(entry)\nfirst = sys.path[0]\n")
    assert sys_path_violations(tmp_path, exempt={}) == []


def test_sys_path_checker_skips_generated_and_hidden_folders(tmp_path: Path) -> None:
    for folder in ("build/unpacked", ".venv/lib", "cdktf.out"):
        write(tmp_path, f"{folder}/x.py", "import sys\nsys.path.insert(0, 'x')\n")
    assert sys_path_violations(tmp_path, exempt={}) == []


def test_sys_path_exemption_covers_its_function_only(tmp_path: Path) -> None:
    write(tmp_path, "lambdas/_shared/pipeline_shared/job.py",
          "import sys\n\ndef load():\n    sys.path.insert(0, 'x')\n\ndef other():\n    sys.path.append('y')\n")
    assert sys_path_violations(tmp_path, exempt={("lambdas/_shared/pipeline_shared/job.py", "load"): "demo"}) == [
        "lambdas/_shared/pipeline_shared/job.py:7: edits sys.path (nothing outside tests does: lambdas/_shared is "
        "importable through the venv's .pth, plug-in modules load by file location)"]


def test_plugin_loader_resolves_a_plug_ins_own_modules_without_sys_path(tmp_path: Path) -> None:
    """The loader gives ``handler.py``'s ``import core`` the plug-in's own file, as Lambda's zip root
    would, and leaves ``sys.path`` as it found it."""
    import sys

    from plugin_loader import load_plugin_module

    write(tmp_path, "layerdemo/core.py", "VALUE = 'layerdemo core'\n")
    write(tmp_path, "layerdemo/handler.py", "import core\n\nVALUE = core.VALUE\n")
    before = list(sys.path)
    handler = load_plugin_module("layerdemo", "handler", lambdas_dir=tmp_path)
    assert (handler.VALUE, sys.path) == ("layerdemo core", before)
    assert handler.core is load_plugin_module("layerdemo", "core", lambdas_dir=tmp_path)
    assert "core" not in sys.modules and "handler" not in sys.modules
