"""Load a plug-in's modules in-process the way Lambda sees them (tests, local runner, benchmarks).

In a plug-in zip the plug-in folder's files sit at the root next to the ``pipeline_shared``
package, so ``handler.py`` does ``import core``. Every plug-in has a ``core`` and a ``handler``,
so loading several in one interpreter needs care: ``load_plugin_module("validate", "core")``
imports the file under the unique name ``pipeline_plugin_validate_core``, with the plug-in folder
and ``lambdas/_shared`` on ``sys.path`` while it runs, and then removes the bare names (``core``,
``handler``) from ``sys.modules`` so the next plug-in gets its own. Sibling modules are shared:
the ``core`` a handler imported *is* ``load_plugin_module(<same plug-in>, "core")``.

Not packaged into plug-in zips (only ``pipeline_shared`` is).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

SHARED_DIR = Path(__file__).resolve().parent
LAMBDAS_DIR = SHARED_DIR.parent
_lock = threading.RLock()


def unique_name(plugin: str, module: str) -> str:
    return f"pipeline_plugin_{plugin}_{module}"


def ensure_shared_on_path() -> None:
    """Put ``lambdas/_shared`` on ``sys.path`` (so ``import pipeline_shared`` works)."""
    if str(SHARED_DIR) not in sys.path:
        sys.path.insert(0, str(SHARED_DIR))


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
        ensure_shared_on_path()
        local = sorted(p.stem for p in plugin_dir.glob("*.py"))
        saved = {n: sys.modules.pop(n) for n in local if n in sys.modules}
        for sibling in local:  # a sibling already loaded for this plug-in is reused, not re-imported
            if unique_name(plugin, sibling) in sys.modules:
                sys.modules[sibling] = sys.modules[unique_name(plugin, sibling)]
        sys.path.insert(0, str(plugin_dir))
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
            sys.path.remove(str(plugin_dir))
            for n in local:
                sys.modules.pop(n, None)
            sys.modules.update({n: m for n, m in saved.items() if n not in sys.modules})
        return loaded
