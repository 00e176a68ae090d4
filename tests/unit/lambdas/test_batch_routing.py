"""Batch routing without AWS: the routing decision from the environment, job names and payloads,
the routed wrapper (submit stubbed), the job entrypoint's arguments, loading and exit statuses,
the manifest's ``runtime.batch``, and the local runner's pure helpers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from pipeline_shared import batch as routing
from pipeline_shared import batch_job
from pipeline_shared.wiring import env

ROOT = Path(__file__).resolve().parents[3]
QUEUE = "arn:aws:batch:eu-west-1:111111111111:job-queue/pk-x-batch"
DEFINITION = "arn:aws:batch:eu-west-1:111111111111:job-definition/pk-x-validate-batch:4"
ROUTE_ENV = {routing.JOB_QUEUE_VAR: QUEUE, routing.JOB_DEFINITION_VAR: DEFINITION, routing.ROUTE_ABOVE_VAR: "65536"}


# -- the routing decision ---------------------------------------------------------------------


def test_all_three_variables_make_a_route():
    assert routing.route_from_env(ROUTE_ENV) == routing.Route(job_queue=QUEUE, job_definition=DEFINITION,
                                                              above_bytes=65536)


@pytest.mark.parametrize("missing", routing.ROUTING_VARS)
def test_any_variable_absent_or_empty_means_never_route(missing):
    assert routing.route_from_env({k: v for k, v in ROUTE_ENV.items() if k != missing}) is None
    assert routing.route_from_env({**ROUTE_ENV, missing: "  "}) is None


def test_on_batch_itself_nothing_is_routed():
    assert routing.route_from_env({**ROUTE_ENV, routing.RUNS_ON_VAR: "batch"}) is None


def test_a_threshold_that_is_not_an_integer_names_the_variable():
    with pytest.raises(env.ConfigurationError,
                       match=r"environment variable PIPELINE_BATCH_ROUTE_ABOVE_BYTES must be an integer, got '64k'"):
        routing.route_from_env({**ROUTE_ENV, routing.ROUTE_ABOVE_VAR: "64k"})


def test_only_objects_strictly_above_the_threshold_are_routed():
    route = routing.route_from_env(ROUTE_ENV)
    assert (route.wants(65537), route.wants(65536), route.wants(None)) == (True, False, False)


# -- job name and payload ---------------------------------------------------------------------


def test_job_name_is_plugin_and_file_id():
    assert routing.job_name("validate", "0123abcd") == "validate-0123abcd"


def test_job_name_is_sanitised_and_at_most_128_characters():
    name = routing.job_name("validate", "a/b c.d:" + "x" * 200)
    assert name.startswith("validate-a-b-c-d-x") and len(name) == 128
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def test_payload_is_compact_sorted_json():
    assert routing.encode_payload({"size": 3, "file_id": "f"}) == '{"file_id":"f","size":3}'


def test_a_payload_too_large_for_a_job_parameter_is_refused():
    with pytest.raises(ValueError, match=r"more than a Batch job parameter may carry \(24576\)"):
        routing.encode_payload({"reason": "x" * 30000})


# -- the routed wrapper -----------------------------------------------------------------------


@pytest.fixture
def submitted(monkeypatch):
    calls = []

    def fake_submit(plugin, payload, *, route):
        calls.append((plugin, dict(payload), route))
        return {"job_id": "job-1", "job_name": routing.job_name(plugin, payload["file_id"])}

    monkeypatch.setattr(routing, "submit", fake_submit)
    for name, value in ROUTE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(routing.RUNS_ON_VAR, raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PipelineKit")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "validate")
    return calls


def process_object(data):
    return {"status": "validated", "in_lambda": True}


def wrapped():
    return routing.routed("validate", process_object, size_of=lambda d: d["size"])


def test_a_large_unit_is_submitted_instead_of_processed(submitted):
    data = {"file_id": "f1", "dataset": "orders", "size": 70000}
    assert wrapped()(data) == {"status": "routed-to-batch", "job_id": "job-1", "job_name": "validate-f1",
                               "job_queue": QUEUE, "size": 70000, "route_above_bytes": 65536}
    assert submitted == [("validate", data, routing.route_from_env())]


def test_a_small_unit_is_processed_here(submitted):
    assert wrapped()({"file_id": "f1", "dataset": "orders", "size": 100}) == {"status": "validated", "in_lambda": True}
    assert submitted == []


def test_without_routing_variables_the_size_is_not_even_asked(submitted, monkeypatch):
    monkeypatch.delenv(routing.JOB_QUEUE_VAR)
    asked = []
    fn = routing.routed("validate", process_object, size_of=lambda d: asked.append(d) or 10**9)
    assert fn({"file_id": "f1"})["status"] == "validated"
    assert asked == [] and submitted == []


def test_routing_emits_files_routed_to_batch_with_the_dataset(submitted, capsys):
    wrapped()({"file_id": "f1", "dataset": "orders", "size": 70000})
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert doc["FilesRoutedToBatch"] in (1, 1.0, [1], [1.0])
    assert doc["dataset"] == "orders"


def test_the_wrapper_keeps_the_function_name_so_the_idempotency_key_prefix_is_unchanged():
    assert wrapped().__name__ == "process_object"


def test_the_job_uses_its_own_idempotency_namespace():
    step = routing.job_step("validate", process_object)
    assert (step.plugin, step.function) == ("validate:batch", process_object)


def test_the_job_in_progress_window_is_the_attempt_timeout(monkeypatch):
    monkeypatch.setenv(routing.ATTEMPT_TIMEOUT_VAR, "900")
    assert routing.JobContext(routing.attempt_timeout_seconds()).get_remaining_time_in_millis() == 900_000
    monkeypatch.delenv(routing.ATTEMPT_TIMEOUT_VAR)
    assert routing.attempt_timeout_seconds() == 3600


# -- the job entrypoint -----------------------------------------------------------------------


def test_arguments_give_plugin_and_payload():
    assert batch_job.parse_args(["--plugin", "cleanse", "--payload", '{"file_id": "f"}']) == ("cleanse", {"file_id": "f"})


@pytest.mark.parametrize("argv, message", [
    (["--plugin", "cleanse"], "usage: python -m pipeline_shared.batch_job --plugin <name> --payload <json>"),
    (["--plugin", "cleanse", "--payload", "Ref::payload"], "submitted without the 'payload' parameter"),
    (["--plugin", "cleanse", "--payload", "{x"], "--payload is not valid JSON"),
    (["--plugin", "cleanse", "--payload", "[1]"], "--payload must be a JSON object, got list"),
    (["--plugin", "cleanse", "--payload", "{}", "--extra"], "unexpected arguments ['--extra']"),
])
def test_malformed_arguments_are_refused(argv, message):
    with pytest.raises(batch_job.JobError) as info:
        batch_job.parse_args(argv)
    assert message in str(info.value)


def plugin_dir(tmp_path: Path, *, batch: bool = True, body: str = "") -> Path:
    folder = tmp_path / "demo"
    folder.mkdir(parents=True)
    (folder / "manifest.toml").write_text(f"[runtime]\nbatch = {'true' if batch else 'false'}\n")
    (folder / "handler.py").write_text('PLUGIN = "demo"\n' + (body or "def run_batch(payload):\n    return {'status': 'done', **payload}\n"))
    return folder


def test_the_handler_is_found_in_the_first_path_entry_holding_one(tmp_path):
    folder = plugin_dir(tmp_path)
    assert batch_job.find_handler([str(tmp_path), str(folder), str(ROOT / "lambdas" / "validate")]) == folder / "handler.py"


def test_no_handler_on_the_path_is_a_clear_error(tmp_path):
    with pytest.raises(batch_job.JobError, match=r"no handler.py on sys.path: PYTHONPATH must name the plug-in's folder"):
        batch_job.find_handler([str(tmp_path)])


@pytest.fixture
def bare_names():
    """The bare names a loaded handler takes (``handler``, ``core``) belong to no plug-in in this
    interpreter (plugin_loader's rule): put back as they were."""
    saved = {n: sys.modules.pop(n) for n in ("handler", "core") if n in sys.modules}
    yield
    for name in ("handler", "core"):
        sys.modules.pop(name, None)
    sys.modules.update(saved)


def test_load_handler_imports_it_and_its_own_modules_from_its_folder_and_leaves_the_path_alone(
        tmp_path, monkeypatch, bare_names):
    folder = plugin_dir(tmp_path, body="import core\nPLUGIN = core.NAME\n")
    (folder / "core.py").write_text('NAME = "demo"\n')
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(folder), *sys.path])
    before = list(sys.path)
    module = batch_job.load_handler()
    assert (module.PLUGIN, module.__file__, sys.modules["core"].__file__) == (
        "demo", str(folder / "handler.py"), str(folder / "core.py"))
    assert sys.path == before


@pytest.mark.parametrize("shadow", ["core.py", "core/__init__.py"])
def test_a_module_before_the_plug_ins_folder_that_would_shadow_its_own_is_a_refused_job(
        tmp_path, monkeypatch, bare_names, shadow):
    folder = plugin_dir(tmp_path / "opt", body="import core\n")
    (folder / "core.py").write_text("")
    (tmp_path / "work" / shadow).parent.mkdir(parents=True)
    (tmp_path / "work" / shadow).write_text("")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "work"), str(folder), *sys.path])
    with pytest.raises(batch_job.JobError, match=(
            rf"^{re.escape(str(tmp_path / 'work' / shadow))} comes before the plug-in's folder {re.escape(str(folder))} "
            r"on sys.path and would be imported as its 'core': PYTHONPATH must name the plug-in's folder first")):
        batch_job.load_handler()
    assert "core" not in sys.modules and "handler" not in sys.modules


def load(folder: Path) -> types.ModuleType:
    module = types.ModuleType("handler")
    module.__file__ = str(folder / "handler.py")
    exec((folder / "handler.py").read_text(), module.__dict__)
    return module


def test_a_plugin_that_is_not_batch_capable_is_refused(tmp_path):
    with pytest.raises(batch_job.JobError, match=r"plug-in 'demo' is not batch-capable .*runtime.batch is not true"):
        batch_job.check_plugin("demo", load(plugin_dir(tmp_path, batch=False)))


def test_a_handler_of_another_plugin_is_refused(tmp_path):
    with pytest.raises(batch_job.JobError, match=r"--plugin is 'cleanse', but the handler on the path is 'demo''s"):
        batch_job.check_plugin("cleanse", load(plugin_dir(tmp_path)))


def test_a_handler_without_run_batch_is_refused(tmp_path):
    with pytest.raises(batch_job.JobError, match=r"plug-in 'demo''s handler has no run_batch\(payload\) function"):
        batch_job.check_plugin("demo", load(plugin_dir(tmp_path, body="x = 1\n")))


def test_exit_status_0_when_the_work_is_done(tmp_path):
    assert batch_job.main(["--plugin", "demo", "--payload", "{}"], handler_module=load(plugin_dir(tmp_path))) == 0


def test_exit_status_1_when_the_work_fails_so_batch_retries(tmp_path):
    module = load(plugin_dir(tmp_path, body="def run_batch(payload):\n    raise RuntimeError('boom')\n"))
    assert batch_job.main(["--plugin", "demo", "--payload", "{}"], handler_module=module) == 1


def test_exit_status_2_when_the_job_is_malformed(tmp_path):
    assert batch_job.main(["--plugin", "demo", "--payload", "nope"], handler_module=load(plugin_dir(tmp_path))) == 2


def run_entrypoint(tmp_path: Path, *, safe_path: bool) -> subprocess.CompletedProcess:
    """What the container does: ``python -m pipeline_shared.batch_job`` with PYTHONPATH = the
    plug-in's folder (a stub handler importing its own ``core``), from a working directory that
    holds a ``core.py`` of its own."""
    folder = plugin_dir(tmp_path / "opt", body="import core\ndef run_batch(payload):\n    core.run(payload)\n")
    (folder / "core.py").write_text("def run(payload):\n    raise ValueError('empty payload')\n")
    (tmp_path / "core.py").write_text("import sys\nsys.exit(3)  # the working directory's core.py was imported\n")
    env_vars = {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}
    env_vars.update({"PYTHONPATH": os.pathsep.join([str(folder), str(ROOT / "lambdas" / "_shared")]),
                     "POWERTOOLS_SERVICE_NAME": "demo", "AWS_BATCH_JOB_ID": "job-9"})
    if safe_path:
        env_vars["PYTHONSAFEPATH"] = "1"  # as lambdas/Dockerfile sets it
    return subprocess.run([sys.executable, "-m", "pipeline_shared.batch_job", "--plugin", "demo", "--payload", "{}"],
                          env=env_vars, capture_output=True, text=True, cwd=tmp_path, timeout=60)


def test_the_entrypoint_runs_the_plug_in_as_a_module_in_a_fresh_interpreter(tmp_path):
    run = run_entrypoint(tmp_path, safe_path=True)
    assert run.returncode == 1
    record = json.loads(next(line for line in run.stdout.splitlines() if "batch job failed" in line))
    assert (record["level"], record["job_id"], record["runs_on"]) == ("ERROR", "job-9", "batch")
    assert "empty payload" in record["exception"]  # the plug-in's own core ran


def test_without_a_safe_path_a_shadowing_module_in_the_working_directory_refuses_the_job(tmp_path):
    run = run_entrypoint(tmp_path, safe_path=False)
    assert run.returncode == 2
    record = json.loads(next(line for line in run.stdout.splitlines() if "batch job refused" in line))
    assert record["reason"].startswith(f"{tmp_path / 'core.py'} comes before the plug-in's folder {tmp_path / 'opt' / 'demo'}")


# -- the manifest's runtime.batch -------------------------------------------------------------


def write_manifest(tmp_path: Path, runtime: str) -> Path:
    folder = tmp_path / "stage"
    folder.mkdir()
    (folder / "manifest.toml").write_text(
        '[plugin]\ndescription = "d"\n[consumes]\nsource = "landing"\n[runtime]\n' + runtime)
    return folder


def test_runtime_batch_defaults_to_false(tmp_path):
    from modules.plugins import load_manifest

    assert load_manifest(write_manifest(tmp_path, "batch_size = 5\n")).runtime.batch is False


def test_runtime_batch_true_is_read(tmp_path):
    from modules.plugins import load_manifest

    assert load_manifest(write_manifest(tmp_path, "batch = true\n")).runtime.batch is True


def test_runtime_batch_must_be_a_bool(tmp_path):
    from modules.plugins import ManifestError, load_manifest

    folder = write_manifest(tmp_path, 'batch = "yes"\n')
    with pytest.raises(ManifestError) as info:
        load_manifest(folder)
    assert str(info.value) == f"{folder / 'manifest.toml'}: runtime.batch: must be true or false, got 'yes'"


# -- the local runner's helpers ---------------------------------------------------------------


def test_the_large_sample_is_deterministic_just_above_the_size_and_has_unique_order_ids():
    from kit.runner import large_sample

    body = large_sample(65536)
    assert body == large_sample(65536) and 65536 < len(body) < 65536 + 200
    rows = body.decode().splitlines()
    ids = [r.split(",")[0] for r in rows[1:]]
    assert rows[0].startswith("order_id,") and len(set(ids)) == len(ids)


def test_the_large_sample_passes_the_orders_contract(validate_core):
    import io

    from pipeline_shared.contracts import load_contract

    from kit.runner import large_sample

    body = large_sample(70000)
    result = validate_core.validate_stream(io.BytesIO(body), key="orders/x/large.csv",
                                           contract=load_contract("orders"), max_bytes=10**9,
                                           rejected_sink=io.BytesIO())
    assert result.accepted and result.counts["rejected"] == 0
    assert result.counts["valid"] == len(body.splitlines()) - 1


def test_job_parameters_are_substituted_into_the_command_as_batch_does():
    from kit.runner import job_argv

    command = ["python", "-m", "pipeline_shared.batch_job", "--plugin", "validate", "--payload", "Ref::payload"]
    assert job_argv(command, {"payload": '{"a": 1}'})[-1] == '{"a": 1}'
    assert job_argv(command, {})[-1] == "Ref::payload"


LEAD_STRATEGY = {"attempts": 3, "evaluateOnExit": [
    {"action": "RETRY", "onStatusReason": "Host EC2*"}, {"action": "EXIT", "onReason": "*"}]}


@pytest.mark.parametrize("strategy, code, attempt, action", [
    ({}, 1, 1, "EXIT"),                                  # one attempt only
    ({"attempts": 2}, 1, 1, "RETRY"),                    # no conditions: any failure is retried
    ({"attempts": 2}, 1, 2, "EXIT"),                     # attempts used up
    ({"attempts": 2}, 0, 1, "EXIT"),                     # success
    (LEAD_STRATEGY, 1, 1, "EXIT"),                       # retries only infrastructure failures
    ({"attempts": 3, "evaluateOnExit": [{"action": "RETRY", "onExitCode": "1"}]}, 1, 1, "RETRY"),
    ({"attempts": 3, "evaluateOnExit": [{"action": "RETRY", "onExitCode": "1"}]}, 2, 1, "RETRY"),  # none match
])
def test_the_runner_retries_a_job_as_batch_would(strategy, code, attempt, action):
    from kit.runner import retry_action

    assert retry_action(strategy, code, attempt) == action


@pytest.mark.parametrize("raw, attempt", [(None, 1), ("", 1), ("2", 2), ("zero", 1), ("0", 1)])
def test_the_job_attempt_comes_from_batch(monkeypatch, raw, attempt):
    if raw is None:
        monkeypatch.delenv("AWS_BATCH_JOB_ATTEMPT", raising=False)
    else:
        monkeypatch.setenv("AWS_BATCH_JOB_ATTEMPT", raw)
    assert routing.job_attempt() == attempt

