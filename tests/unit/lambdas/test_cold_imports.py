"""Cold start: what importing a handler leaves for its first use (the ``make bench`` import budget),
and that the names deferred that way still resolve."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from plugin_loader import load_plugin_module

LAMBDAS = Path(__file__).resolve().parents[3] / "lambdas"

#: Modules a handler's import must not load: each is loaded at the first request or file instead.
DEFERRED = {
    "api": ("aws_lambda_powertools.event_handler", "asyncio", "uuid"),
    "notify": ("urllib.request", "http.client"),
    "validate": ("pipeline_shared.contracts", "pipeline_shared.validation", "pipeline_shared.s3", "tempfile"),
    "cleanse": ("pipeline_shared.contracts", "pipeline_shared.cleansing", "pipeline_shared.s3"),
    "archive": ("pipeline_shared.s3",),
}


def _loaded_after_import(plugin: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter holds after ``import handler`` from the zip layout."""
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import handler; "
        "print(' '.join(m for m in sys.argv[3:] if m in sys.modules))"
    )
    environment = {**os.environ, "POWERTOOLS_SERVICE_NAME": plugin, "POWERTOOLS_METRICS_NAMESPACE": "PipelineKit"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(LAMBDAS / plugin), str(LAMBDAS / "_shared"), *modules],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


@pytest.mark.parametrize("plugin", sorted(DEFERRED))
def test_handler_import_leaves_heavy_modules_to_first_use(plugin):
    assert _loaded_after_import(plugin, DEFERRED[plugin]) == []


def test_cleanse_core_resolves_its_re_exports_at_first_use():
    core = load_plugin_module("cleanse", "core")
    from pipeline_shared import cleansing

    for name in core.__all__:
        expected = core.PartitionSpool if name == "PartitionSpool" else getattr(cleansing, name)
        assert getattr(core, name) is expected


def test_cleanse_core_unknown_attribute_is_an_attribute_error():
    core = load_plugin_module("cleanse", "core")
    with pytest.raises(AttributeError, match=r"has no attribute 'no_such_name'"):
        core.no_such_name  # noqa: B018


def test_api_resolver_registers_every_route_of_core_once(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "api")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PipelineKit")
    handler = load_plugin_module("api", "handler")
    core = load_plugin_module("api", "core")

    def shape(path: str) -> str:  # Powertools writes parameters <name>, API Gateway {name}
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)

    registered = sorted((method, shape(rule)) for method, rule, _ in handler._ROUTES)
    assert registered == sorted((method, shape(path)) for method, path in core.ROUTES)
    assert handler.resolver() is handler.resolver()
