"""No import cycle among the composition root (main.py), kit/ and modules/: every import
statement counts, at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, files: list[Path]) -> dict[str, set[str]]:
    """``{module: modules of ``files`` it imports}`` (``from a import b`` counts ``a.b`` when that
    is a module, else ``a``; an import of ``a.b`` also runs ``a/__init__.py``)."""
    modules = {module_name(f, root): f for f in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                while target:
                    if target != name and target in modules:
                        deps.add(target)
                    target = target.rpartition(".")[0]
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def python_files(root: Path) -> list[Path]:
    return [root / "main.py", *sorted((root / "kit").rglob("*.py")), *sorted((root / "modules").rglob("*.py"))]


def test_main_kit_and_modules_import_no_cycle():
    assert cycles(import_graph(ROOT, python_files(ROOT))) == []


def test_the_checker_finds_a_cycle_through_a_function_level_import(tmp_path: Path):
    (tmp_path / "kit").mkdir()
    (tmp_path / "modules").mkdir()
    (tmp_path / "kit" / "__init__.py").write_text("")
    (tmp_path / "modules" / "__init__.py").write_text("")
    (tmp_path / "main.py").write_text("def synth():\n    from kit.release import build\n")
    (tmp_path / "kit" / "release.py").write_text("from .package import zip_all\n")
    (tmp_path / "kit" / "package.py").write_text("def main():\n    import main\n")
    (tmp_path / "kit" / "ui.py").write_text("import modules\n")
    assert cycles(import_graph(tmp_path, python_files(tmp_path))) == [["kit.package", "kit.release", "main"]]
