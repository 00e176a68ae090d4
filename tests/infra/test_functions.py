"""Plug-in wiring in the synthesized stacks: functions, layer, event sources, roles, alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from environments import ALL_ENVIRONMENTS, load_environment
from modules.plugins import discover_plugins
from modules.powertools import POWERTOOLS_LAYER_VERSION, POWERTOOLS_VERSION

PLUGINS = ("validate", "cleanse", "archive", "notify")
#: every plug-in with an input queue: the shipped stages and any a user adds (the API has none)
QUEUE_PLUGINS = tuple(m.name for m in discover_plugins() if m.has_queue)
AWS_ENVS = ("dev", "test", "staging", "prod")


def resources(stack: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return stack.get("resource", {}).get(rtype, {})


def by_name(stack: dict[str, Any], rtype: str, attr: str, value: str) -> dict[str, Any]:
    found = [r for r in resources(stack, rtype).values() if r.get(attr) == value]
    assert len(found) == 1, (rtype, attr, value, len(found))
    return found[0]


def ref(stack: dict[str, Any], rtype: str, attr: str, value: str, out: str = "arn") -> str:
    """The Terraform reference ``${<type>.<logical id>.<out>}`` of the resource whose attr == value."""
    ids = [lid for lid, r in resources(stack, rtype).items() if r.get(attr) == value]
    assert len(ids) == 1, (rtype, attr, value)
    return "${" + f"{rtype}.{ids[0]}.{out}" + "}"


def function(stack: dict[str, Any], env: str, plugin: str) -> dict[str, Any]:
    return by_name(stack, "aws_lambda_function", "function_name", f"pk-{env}-{plugin}")


def role_policy(stack: dict[str, Any], env: str, plugin: str) -> dict[str, Any]:
    policy = by_name(stack, "aws_iam_role_policy", "name", f"pk-{env}-{plugin}-least-privilege")
    return json.loads(policy["policy"])


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_every_plugin_has_a_python312_function_with_the_configured_architecture(stacks, env):
    arch = load_environment(env).compute.lambda_architecture
    for plugin in PLUGINS:
        fn = function(stacks[env], env, plugin)
        assert fn["runtime"] == "python3.12"
        assert fn["architectures"] == [arch]
        assert fn["handler"] == "handler.lambda_handler"
        assert fn["tracing_config"] == {"mode": "Active"}


@pytest.mark.parametrize("env", AWS_ENVS)
def test_aws_environments_use_the_official_powertools_layer_for_region_and_architecture(stacks, env):
    cfg = load_environment(env)
    expected = (f"arn:aws:lambda:{cfg.region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-"
                f"{cfg.compute.lambda_architecture}:{POWERTOOLS_LAYER_VERSION}")
    for plugin in PLUGINS:
        assert function(stacks[env], env, plugin)["layers"] == [expected]
    assert not resources(stacks[env], "aws_lambda_layer_version")


def test_local_publishes_its_own_powertools_layer_from_the_pinned_release(stacks):
    (layer,) = resources(stacks["local"], "aws_lambda_layer_version").values()
    assert POWERTOOLS_VERSION in layer["description"]
    for plugin in PLUGINS:
        assert function(stacks["local"], "local", plugin)["layers"] == ["${aws_lambda_layer_version.powertools-layer.arn}"]


def test_requirements_pin_the_same_powertools_release_as_the_layer():
    import re
    from pathlib import Path

    lines = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text().splitlines()
    pins = {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower(): line.split("==")[1] for line in lines if "==" in line}
    assert pins["aws-lambda-powertools"] == POWERTOOLS_VERSION


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_event_sources_report_batch_item_failures_and_are_enabled_only_in_aws(stacks, env):
    mappings = resources(stacks[env], "aws_lambda_event_source_mapping")
    assert len(mappings) == len(QUEUE_PLUGINS)
    for mapping in mappings.values():
        assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
        assert mapping["enabled"] is (env != "local")
        assert 2 <= mapping["scaling_config"]["maximum_concurrency"] <= 1000


def test_validate_mapping_uses_the_manifest_batch_size(stacks):
    from modules.plugins import discover_plugins

    validate = next(m for m in discover_plugins() if m.name == "validate")
    fn_ref = ref(stacks["dev"], "aws_lambda_function", "function_name", "pk-dev-validate")
    (mapping,) = [m for m in resources(stacks["dev"], "aws_lambda_event_source_mapping").values()
                  if m["function_name"] == fn_ref]
    assert mapping["batch_size"] == validate.runtime.batch_size


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
@pytest.mark.parametrize("plugin", QUEUE_PLUGINS)
def test_role_policies_have_no_wildcard_action_and_star_only_for_actions_that_take_nothing_else(stacks, env, plugin):
    from kit.policy_scan import NO_RESOURCE_LEVEL_ACTIONS

    for statement in role_policy(stacks[env], env, plugin)["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        actions, res = _as_list(statement["Action"]), _as_list(statement["Resource"])
        assert not [a for a in actions if "*" in a], statement
        assert "*" not in res or set(actions) <= NO_RESOURCE_LEVEL_ACTIONS, statement


def _attachments_of(stack: dict[str, Any], env: str, plugin: str) -> list[str]:
    role = ref(stack, "aws_iam_role", "name", f"pk-{env}-{plugin}-role", out="name")
    return [a["policy_arn"] for a in resources(stack, "aws_iam_role_policy_attachment").values() if a["role"] == role]


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_functions_trace_through_their_own_inline_statement_not_a_managed_policy(stacks, env):
    for plugin in PLUGINS:
        assert _attachments_of(stacks[env], env, plugin) == []
        (traces,) = [s for s in role_policy(stacks[env], env, plugin)["Statement"] if s["Sid"] == "WriteTraces"]
        assert traces["Resource"] == "*" and {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= set(
            traces["Action"])


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_every_plugin_function_runs_in_the_private_subnets_with_the_workloads_group(stacks, env):
    """Every environment with the network (every AWS one, by the config's rule; local too: the
    emulator accepts it)."""
    assert load_environment(env).network.enabled
    subnets = sorted("${aws_subnet.%s.id}" % lid for lid in resources(stacks[env], "aws_subnet"))
    workloads = ref(stacks[env], "aws_security_group", "name", f"pk-{env}-workloads", out="id")
    for plugin in (m.name for m in discover_plugins()):
        vpc = function(stacks[env], env, plugin)["vpc_config"]
        assert sorted(vpc["subnet_ids"]) == subnets and vpc["security_group_ids"] == [workloads]


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_functions_in_the_vpc_may_attach_to_it_and_their_code_may_not(stacks, env):
    cfg = load_environment(env)
    vpc = ref(stacks[env], "aws_vpc", "cidr_block", cfg.network.cidr, out="id")
    for plugin in PLUGINS:
        statements = {s["Sid"]: s for s in role_policy(stacks[env], env, plugin)["Statement"]}
        attach = statements["AttachToTheVpc"]
        assert attach["Condition"] == {"ArnEqualsIfExists": {
            "ec2:Vpc": f"arn:aws:ec2:{cfg.region}:{cfg.account_id}:vpc/{vpc}"}}
        deny = statements["NotFromTheFunctionsOwnCode"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"ArnEquals": {
            "lambda:SourceFunctionArn": f"arn:aws:lambda:{cfg.region}:{cfg.account_id}:function:pk-{env}-{plugin}"}}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_a_function_is_created_after_and_removed_before_its_role_policy(stacks, env):
    for plugin in PLUGINS:
        (lid,) = [lid for lid, p in resources(stacks[env], "aws_iam_role_policy").items()
                  if p["name"] == f"pk-{env}-{plugin}-least-privilege"]
        assert function(stacks[env], env, plugin)["depends_on"] == [f"aws_iam_role_policy.{lid}"]


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_the_environment_key_is_used_only_through_the_regions_services(stacks, env):
    region = load_environment(env).region
    for plugin in PLUGINS:
        (key,) = [s for s in role_policy(stacks[env], env, plugin)["Statement"] if s["Sid"] == "UseEnvironmentKey"]
        services = _as_list(key["Condition"]["StringEquals"]["kms:ViaService"])
        assert services and all(v.endswith(f".{region}.amazonaws.com") for v in services)


def _actions(policy: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for s in policy["Statement"]:
        out |= set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    return out


def test_only_validate_and_archive_may_delete_and_only_in_landing(stacks):
    """validate (a whole-file reject) and archive (a processed file) delete exactly the object version
    they handled from landing: ``DeleteObject`` with a ``VersionId`` also needs ``DeleteObjectVersion``."""
    for plugin in PLUGINS:
        policy = role_policy(stacks["prod"], "prod", plugin)
        deletes = [s for s in policy["Statement"] if _actions({"Statement": [s]}) & {"s3:DeleteObject",
                                                                                   "s3:DeleteObjectVersion"}]
        if plugin in ("validate", "archive"):
            (statement,) = deletes
            landing = ref(stacks["prod"], "aws_s3_bucket", "bucket", "pk-prod-landing-333333333333")
            assert statement["Resource"] == f"{landing}/*"
            assert set(statement["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}
        else:
            assert not deletes, plugin


def test_only_notify_may_publish_and_only_to_pipeline_events(stacks):
    for plugin in PLUGINS:
        policy = role_policy(stacks["prod"], "prod", plugin)
        publishes = [s for s in policy["Statement"] if s["Action"] == "sns:Publish"]
        assert bool(publishes) == (plugin == "notify")
    (statement,) = [s for s in role_policy(stacks["prod"], "prod", "notify")["Statement"] if s["Action"] == "sns:Publish"]
    assert "topic-pipeline-events" in statement["Resource"]


def test_cleanse_may_read_exactly_the_tokenisation_parameter(stacks):
    (statement,) = [s for s in role_policy(stacks["prod"], "prod", "cleanse")["Statement"]
                    if s["Action"] == "ssm:GetParameter"]
    assert statement["Resource"] == "arn:aws:ssm:eu-west-1:333333333333:parameter/pk-prod/tokenisation-key"
    assert "ssm:GetParameter" not in _actions(role_policy(stacks["prod"], "prod", "validate"))


def test_functions_carry_the_environment_variable_contract(stacks):
    env = function(stacks["prod"], "prod", "validate")["environment"]["variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "validate"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "PipelineKit/pk-prod"
    assert env["PIPELINE_ENV"] == "prod"
    assert set(k for k in env if k.startswith("PIPELINE_QUEUE_")) == {"PIPELINE_QUEUE_CLEANSE", "PIPELINE_QUEUE_NOTIFY"}
    assert set(k for k in env if k.startswith("PIPELINE_BUCKET_")) == {"PIPELINE_BUCKET_LANDING", "PIPELINE_BUCKET_QUARANTINE"}
    assert not [v for v in env.values() if "tokenisation" in v.lower() and "/" not in v]


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_each_plugin_has_four_alarms_on_the_alarms_topic(stacks, env):
    names = {a["alarm_name"] for a in resources(stacks[env], "aws_cloudwatch_metric_alarm").values()}
    for plugin in QUEUE_PLUGINS:
        for suffix in ("errors", "throttles", "dlq-depth", "oldest-message"):
            assert f"pk-{env}-{plugin}-{suffix}" in names, (plugin, suffix)
    topic = ref(stacks[env], "aws_sns_topic", "name", f"pk-{env}-alarms")
    for alarm in resources(stacks[env], "aws_cloudwatch_metric_alarm").values():
        assert alarm["alarm_actions"] == [topic]


def test_queue_visibility_is_six_times_the_function_timeout(stacks):
    for plugin in PLUGINS:
        fn = function(stacks["prod"], "prod", plugin)
        queue = by_name(stacks["prod"], "aws_sqs_queue", "name", f"pk-prod-{plugin}")
        assert queue["visibility_timeout_seconds"] == 6 * fn["timeout"]


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_each_function_deploys_exactly_its_own_artifact(stacks, synth_workroot, env):
    """So a change to one plug-in changes one function's source_code_hash and nothing else."""
    import base64

    releases = synth_workroot / "build" / "releases"
    release = (releases / "LATEST").read_text().strip()
    manifest = json.loads((releases / release / "manifest.json").read_text())
    for plugin in PLUGINS:
        fn = function(stacks[env], env, plugin)
        sha = manifest["artifacts"][plugin]["sha256"]
        assert fn["source_code_hash"] == base64.b64encode(bytes.fromhex(sha)).decode()
        assert fn["s3_key"] == f"artifacts/{plugin}/{sha}.zip"
        assert fn["s3_bucket"] == load_environment(env).bucket_name("artifacts")
