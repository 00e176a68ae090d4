"""Environment contract, metrics, tracing switch, and how plug-ins load."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_shared import runtime, tracing
from pipeline_shared.wiring import env
from plugin_loader import load_plugin_module

from modules.plugins import discover_plugins

LAMBDAS = Path(__file__).resolve().parents[3] / "lambdas"
#: Every plug-in in the tree, shipped or a user's (the kit's own discovery).
MANIFESTS = discover_plugins()


def test_missing_variable_is_named(monkeypatch):
    monkeypatch.delenv("PIPELINE_BUCKET_ATHENA_RESULTS", raising=False)
    with pytest.raises(env.ConfigurationError, match=r"environment variable PIPELINE_BUCKET_ATHENA_RESULTS is not set"):
        env.bucket("athena-results")


def test_queue_variable_follows_the_stage_name(monkeypatch):
    monkeypatch.setenv("PIPELINE_QUEUE_CLEANSE", "https://sqs/q")
    assert env.queue_url("cleanse") == "https://sqs/q"


def test_integer_variables_are_checked(monkeypatch):
    monkeypatch.setenv("PIPELINE_STATUS_TTL_DAYS", "soon")
    with pytest.raises(env.ConfigurationError, match=r"PIPELINE_STATUS_TTL_DAYS must be an integer, got 'soon'"):
        env.status_ttl_days()
    monkeypatch.delenv("PIPELINE_MAX_OBJECT_BYTES", raising=False)
    assert env.max_object_bytes() == 5 * 1024**3


def test_file_metrics_are_one_emf_document_with_the_dataset_dimension(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PipelineKit")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "validate")
    runtime.emit_file_metrics("orders", {"records_in": 5, "rejected": 1, "bytes_in": 99, "unknown": 3}, FilesAccepted=1)
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "PipelineKit"
    assert ["dataset", "service"] == sorted(directive["Dimensions"][0])
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "RecordsIn": "Count",
        "RecordsRejected": "Count",
        "BytesIn": "Bytes",
        "FilesAccepted": "Count",
    }
    assert (emf["dataset"], emf["RecordsIn"], emf["BytesIn"]) == ("orders", [5.0], [99.0])


def test_arbitrary_key_prefixes_do_not_become_metric_dimensions():
    assert runtime.metric_dataset("orders") == "orders"
    assert runtime.metric_dataset("Some Folder") == "_unknown"


@pytest.mark.parametrize(
    ("variables", "enabled"),
    [
        ({}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
    ],
)
def test_tracing_follows_powertools_rules(monkeypatch, variables, enabled):
    for name in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert tracing.tracing_enabled() is enabled


def test_disabled_tracer_decorators_call_through(monkeypatch):
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    lazy = tracing.LazyTracer()
    assert lazy.capture_method(lambda x: x + 1)(1) == 2
    assert lazy.get() is None


@pytest.mark.parametrize("plugin", [m.name for m in MANIFESTS if (m.directory / "core.py").is_file()])
def test_each_plugin_gets_its_own_core(plugin, monkeypatch):
    # As in Lambda, the Powertools settings are in the environment before the handler is imported.
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", plugin)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PipelineKit")
    handler = load_plugin_module(plugin, "handler")
    core = load_plugin_module(plugin, "core")
    assert handler.core is core
    assert Path(core.__file__).parent == LAMBDAS / plugin
    assert "core" not in sys.modules and "handler" not in sys.modules


@pytest.mark.parametrize("plugin", [m.name for m in MANIFESTS])
def test_handler_import_creates_no_client_and_imports_no_sdk(plugin):
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import handler; "
        "from pipeline_shared import aws; assert not aws._clients, aws._clients; "
        "heavy = [m for m in ('boto3', 'botocore.client', 'botocore.session', 'aws_xray_sdk.core') "
        "if m in sys.modules]; "
        "assert not heavy, f'imported at module scope: {heavy}'"
    )
    environment = {**os.environ, "POWERTOOLS_SERVICE_NAME": plugin, "POWERTOOLS_METRICS_NAMESPACE": "PipelineKit"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(LAMBDAS / plugin), str(LAMBDAS / "_shared")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("manifest", "stages"), [
    ('[produces]\nstages = ["archive", "enrich-v2"]\n', ("archive", "enrich-v2")),
    ('[produces]\nstages = []\n', ()),
    ('[plugin]\ndescription = "the end of the line"\n', ()),
])
def test_pass_through_stages_send_to_what_the_manifest_beside_the_handler_produces(tmp_path, manifest, stages):
    (tmp_path / "manifest.toml").write_text(manifest)
    assert runtime.produced_stages(str(tmp_path / "handler.py")) == stages


@pytest.mark.parametrize(("value", "shown"), [('"archive"', "'archive'"), ('["archive", 3]', "['archive', 3]")])
def test_produces_stages_that_is_not_a_list_of_names_is_a_clear_configuration_error(tmp_path, value, shown):
    (tmp_path / "manifest.toml").write_text(f"[produces]\nstages = {value}\n")
    with pytest.raises(env.ConfigurationError,
                       match=rf"manifest.toml: produces.stages must be a list of plug-in names, got {re.escape(shown)}$"):
        runtime.produced_stages(str(tmp_path / "handler.py"))


def test_missing_manifest_is_a_clear_configuration_error(tmp_path):
    with pytest.raises(
        env.ConfigurationError, match=r"manifest.toml is missing: the plug-in's manifest must be packaged"
    ):
        runtime.produced_stages(str(tmp_path / "handler.py"))
