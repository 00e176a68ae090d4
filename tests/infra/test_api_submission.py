"""The submission routes of issue 14 as every environment's stack wires them: methods with IAM
authorisation, the upload route's body validator, binary media types, and the ``[api]`` limits in
the API function's environment only."""

from __future__ import annotations

import json

import pytest
from synth_helpers import ref, resources

from environments import ALL_ENVIRONMENTS, load_environment
from kit.openapi import load_core
from modules.plugins import discover_plugins

SUBMISSION_ROUTES = (("POST", "/datasets/{name}/files"), ("POST", "/datasets/{name}/cleanse"))


@pytest.fixture(scope="module")
def core():
    return load_core()


def methods_by_route(stack) -> dict[tuple[str, str], dict]:
    """``{(method, path): method body}``: each method's path rebuilt from its resource chain."""
    api_resources = resources(stack, "aws_api_gateway_resource")
    by_ref = {ref("aws_api_gateway_resource", rid, "id"): r for rid, r in api_resources.items()}

    def path_of(resource_ref: str) -> str:
        parts = []
        while resource_ref in by_ref:
            resource = by_ref[resource_ref]
            parts.append(resource["path_part"])
            resource_ref = resource["parent_id"]
        return "/" + "/".join(reversed(parts))

    return {(m["http_method"], path_of(m["resource_id"])): m for m in resources(stack, "aws_api_gateway_method").values()}


def api_function_name(env: str) -> str:
    (api,) = [p for p in discover_plugins() if p.consumes_api]
    return load_environment(env).resource_name(api.name.replace("_", "-"))


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_every_route_of_the_plugin_is_a_method_with_iam(stacks, env, core):
    methods = methods_by_route(stacks[env])
    assert set(methods) == {(m, p) for m, p in core.ROUTES}
    for route in SUBMISSION_ROUTES:
        assert methods[route]["authorization"] == "AWS_IAM", route
        assert methods[route]["request_parameters"] == {"method.request.path.name": True}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_the_upload_route_validates_its_body_and_parameters(stacks, env, core):
    stack = stacks[env]
    post = methods_by_route(stack)[("POST", "/datasets/{name}/files")]
    validators = {ref("aws_api_gateway_request_validator", vid, "id"): v
                  for vid, v in resources(stack, "aws_api_gateway_request_validator").items()}
    validator = validators[post["request_validator_id"]]
    assert (validator["validate_request_body"], validator["validate_request_parameters"]) == (True, True)
    models = {ref("aws_api_gateway_model", mid, "name"): m for mid, m in resources(stack, "aws_api_gateway_model").items()}
    assert json.loads(models[post["request_models"]["application/json"]]["schema"]) == core.UPLOAD_REQUEST_SCHEMA


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_csv_and_json_lines_bodies_reach_the_function_as_bytes(stacks, env, core):
    (api,) = resources(stacks[env], "aws_api_gateway_rest_api").values()
    assert sorted(api["binary_media_types"]) == sorted(set(core.FORMAT_CONTENT_TYPES.values()))


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_the_api_limits_are_in_the_api_functions_environment_only(stacks, env):
    expected = load_environment(env).api.environment()
    functions = resources(stacks[env], "aws_lambda_function").values()
    api_name = api_function_name(env)
    for fn in functions:
        variables = fn.get("environment", {}).get("variables", {})
        limits = {k: v for k, v in variables.items() if k.startswith("PIPELINE_API_")}
        if fn["function_name"] == api_name:
            assert limits == expected
            assert variables["PIPELINE_KMS_KEY_ARN"].startswith("${aws_kms_key.")  # SSE-KMS of presigned PUTs
        else:
            assert limits == {}, fn["function_name"]
    assert api_name in {fn["function_name"] for fn in functions}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_only_the_emulator_ignores_changes_to_the_binary_media_types(stacks, env, core):
    (api,) = resources(stacks[env], "aws_api_gateway_rest_api").values()
    assert api["binary_media_types"] == sorted(set(core.FORMAT_CONTENT_TYPES.values()))
    ignored = api["lifecycle"].get("ignore_changes", [])
    # the emulator drops the list (a perpetual update otherwise); AWS keeps it and must see changes
    assert ignored == (["binary_media_types"] if load_environment(env).on_emulator else [])
