"""Load a plug-in's modules in-process the way Lambda sees them (tests, local runner, benchmarks).

In a plug-in zip the plug-in folder's files sit at the root next to the ``pipeline_shared``
package, so ``handler.py`` does ``import core``. Every plug-in has a ``core`` and a ``handler``,
so loading several in one interpreter needs care: ``load_plugin_module("validate", "core")``
imports the file under the unique name ``pipeline_plugin_validate_core``. While it runs, the bare
names of the plug-in's own modules (``import core`` in ``handler.py``) resolve to the plug-in's files,
as its folder at the front of ``sys.path`` does in Lambda: a finder on ``sys.meta_path`` loads them by
file location; ``sys.path`` is not touched. Afterwards the bare names (``core``, ``handler``) leave
``sys.modules`` so the next plug-in gets its own. Sibling modules are shared: the ``core`` a handler
imported *is* ``load_plugin_module(<same plug-in>, "core")``.

``pipeline_shared`` comes from ``lambdas/_shared`` being importable already (this module sits next
to it): the venv's .pth that ``make venv`` writes, pytest's ``pythonpath``, or a zip root.
Not packaged into plug-in zips (only ``pipeline_shared`` is).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType

SHARED_DIR = Path(__file__).resolve().parent
LAMBDAS_DIR = SHARED_DIR.parent
_lock = threading.RLock()


def unique_name(plugin: str, module: str) -> str:
    return f"pipeline_plugin_{plugin}_{module}"


class _PluginModules(importlib.abc.MetaPathFinder):
    """Finds the top-level ``names`` (one plug-in's own modules) as files of ``plugin_dir``."""

    def __init__(self, plugin_dir: Path, names: Iterable[str]) -> None:
        self.plugin_dir = plugin_dir
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if path is not None or fullname not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, self.plugin_dir / f"{fullname}.py")


def load_plugin_module(plugin: str, module: str = "handler", *, lambdas_dir: Path | None = None) -> ModuleType:
    """Import ``lambdas/<plugin>/<module>.py`` once, under a unique name (see module docstring)."""
    name = unique_name(plugin, module)
    with _lock:
        if name in sys.modules:
            return sys.modules[name]
        plugin_dir = (lambdas_dir or LAMBDAS_DIR) / plugin
        path = plugin_dir / f"{module}.py"
        if not path.is_file():
            raise FileNotFoundError(f"plug-in {plugin!r} has no module {module!r} ({path} does not exist)")
        local = sorted(p.stem for p in plugin_dir.glob("*.py"))
        saved = {n: sys.modules.pop(n) for n in local if n in sys.modules}
        for sibling in local:  # a sibling already loaded for this plug-in is reused, not re-imported
            if unique_name(plugin, sibling) in sys.modules:
                sys.modules[sibling] = sys.modules[unique_name(plugin, sibling)]
        finder = _PluginModules(plugin_dir, local)
        sys.meta_path.insert(0, finder)
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[name] = loaded
            sys.modules[module] = loaded
            try:
                spec.loader.exec_module(loaded)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            for sibling in local:
                found = sys.modules.get(sibling)
                if (
                    found is not None
                    and Path(getattr(found, "__file__", "") or "").resolve().parent == plugin_dir.resolve()
                ):
                    sys.modules.setdefault(unique_name(plugin, sibling), found)
        finally:
            sys.meta_path.remove(finder)
            for n in local:
                sys.modules.pop(n, None)
            sys.modules.update({n: m for n, m in saved.items() if n not in sys.modules})
        return loaded
