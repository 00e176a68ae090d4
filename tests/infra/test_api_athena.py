"""Synth assertions for ``modules.api.RestApi`` and ``modules.athena`` (workgroup, named queries),
each synthesized alone in a small stack, with the api plug-in's own routes and request schema; plus
``terraform validate`` of that stack (AWS provider schema) when Terraform is on PATH."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from cdktf import App, TerraformStack
from synth_helpers import ref, resources, synth_construct  # noqa: E402

import modules  # noqa: F401  -- before any provider binding: installs their lazy loader
from modules.api import ACCESS_LOG_FORMAT, RestApi, source_arn_path
from modules.athena import QUERY_NAMES, AthenaWorkgroup, NamedQueries

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "lambdas" / "_shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))

from plugin_loader import load_plugin_module  # noqa: E402

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111111111111:function:pk-dev-api"
LOG_GROUP_ARN = "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/apigateway/pk-dev-api"
KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
ROLE_ARN = "arn:aws:iam::111111111111:role/pk-apigateway-cloudwatch"
CUTOFF = 1_073_741_824
BINARY_MEDIA_TYPES = ("application/x-ndjson", "text/csv")


@pytest.fixture(scope="module")
def api_core():
    return load_plugin_module("api", "core")





def build_api(api_core, **overrides: Any) -> Callable[[TerraformStack], RestApi]:
    props: dict[str, Any] = dict(
        name="pk-dev-api",
        function_arn=FUNCTION_ARN,
        function_name="pk-dev-api",
        routes=api_core.ROUTES,
        throttling_rate_limit=25.0,
        throttling_burst_limit=50,
        access_log_group_arn=LOG_GROUP_ARN,
        request_models={("POST", "/queries"): api_core.QUERY_REQUEST_SCHEMA,
                        ("POST", "/datasets/{name}/files"): api_core.UPLOAD_REQUEST_SCHEMA},
        binary_media_types=BINARY_MEDIA_TYPES,
    )
    props.update(overrides)
    return lambda stack: RestApi(stack, "api", **props)


@pytest.fixture(scope="module")
def api_doc(api_core) -> dict[str, Any]:
    return synth_construct(build_api(api_core))


def method_of(doc: dict[str, Any], http_method: str, path_part: str) -> dict[str, Any]:
    """The ``http_method`` method on the resource whose path_part is ``path_part``."""
    api_resources = resources(doc, "aws_api_gateway_resource")
    for method in resources(doc, "aws_api_gateway_method").values():
        rid = method["resource_id"].split(".")[1]
        if method["http_method"] == http_method and api_resources[rid]["path_part"] == path_part:
            return method
    raise AssertionError(f"no {http_method} method on a resource {path_part!r}")


# ======================================================================================
# REST API
# ======================================================================================


def test_one_resource_per_path_prefix_chained_to_the_root(api_doc):
    api_resources = resources(api_doc, "aws_api_gateway_resource")
    parts = sorted(r["path_part"] for r in api_resources.values())
    assert parts == ["cleanse", "datasets", "files", "files", "queries", "stats", "{id}", "{id}", "{name}"]
    (api_id,) = resources(api_doc, "aws_api_gateway_rest_api")
    roots = [r for r in api_resources.values() if r["parent_id"] == ref("aws_api_gateway_rest_api", api_id,
                                                                         "root_resource_id")]
    assert sorted(r["path_part"] for r in roots) == ["datasets", "files", "queries"]


def test_api_is_regional(api_doc):
    (api,) = resources(api_doc, "aws_api_gateway_rest_api").values()
    assert api["endpoint_configuration"] == {"types": ["REGIONAL"]}


def test_every_method_uses_iam_authorisation(api_doc, api_core):
    methods = resources(api_doc, "aws_api_gateway_method").values()
    assert len(methods) == len(api_core.ROUTES)
    assert {m["authorization"] for m in methods} == {"AWS_IAM"}


def test_authorisation_can_be_opened_explicitly(api_core):
    doc = synth_construct(build_api(api_core, authorization="NONE"))
    assert {m["authorization"] for m in resources(doc, "aws_api_gateway_method").values()} == {"NONE"}


def test_every_route_is_a_lambda_proxy_integration(api_doc, api_core):
    integrations = resources(api_doc, "aws_api_gateway_integration").values()
    assert len(integrations) == len(api_core.ROUTES)
    for integration in integrations:
        assert (integration["type"], integration["integration_http_method"]) == ("AWS_PROXY", "POST")
        assert integration["timeout_milliseconds"] == 29000
        # the invoke ARN, partition and region taken from the function ARN by Terraform
        assert integration["uri"] == (
            f'arn:${{element(split(":", "{FUNCTION_ARN}"), 1)}}:apigateway:'
            f'${{element(split(":", "{FUNCTION_ARN}"), 3)}}:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations'
        )


def test_explicit_invoke_arn_is_used_as_given(api_core):
    invoke = f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"
    doc = synth_construct(build_api(api_core, function_invoke_arn=invoke))
    assert {i["uri"] for i in resources(doc, "aws_api_gateway_integration").values()} == {invoke}


def test_post_queries_validates_its_body_against_the_plugins_schema(api_doc, api_core):
    (model_id, model), = [(k, m) for k, m in resources(api_doc, "aws_api_gateway_model").items()
                          if m["name"] == "PostQueriesBody"]
    assert (model["name"], model["content_type"]) == ("PostQueriesBody", "application/json")
    assert json.loads(model["schema"]) == api_core.QUERY_REQUEST_SCHEMA
    validators = {v["name"]: (vid, v) for vid, v in resources(api_doc, "aws_api_gateway_request_validator").items()}
    vid, validator = validators["body-and-parameters"]
    assert (validator["validate_request_body"], validator["validate_request_parameters"]) == (True, True)
    post = method_of(api_doc, "POST", "queries")
    assert post["request_validator_id"] == ref("aws_api_gateway_request_validator", vid, "id")
    assert post["request_models"] == {"application/json": ref("aws_api_gateway_model", model_id, "name")}


def test_get_routes_validate_their_path_parameters(api_doc):
    validators = {v["name"]: vid for vid, v in resources(api_doc, "aws_api_gateway_request_validator").items()}
    get_file = method_of(api_doc, "GET", "{id}")
    assert get_file["request_parameters"] == {"method.request.path.id": True}
    assert get_file["request_validator_id"] == ref("aws_api_gateway_request_validator", validators["parameters"], "id")
    assert method_of(api_doc, "GET", "stats")["request_parameters"] == {"method.request.path.name": True}


def test_gateway_validation_errors_are_json_with_the_details(api_doc):
    responses = {r["response_type"]: r for r in resources(api_doc, "aws_api_gateway_gateway_response").values()}
    assert sorted(responses) == ["BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS"]
    for response in responses.values():
        assert response["status_code"] == "400"
        template = response["response_templates"]["application/json"]
        assert template == (
            '{"message":$context.error.messageString,"details":"$context.error.validationErrorString"}'
        )


def test_stage_writes_json_access_logs_with_tracing(api_doc):
    (stage,) = resources(api_doc, "aws_api_gateway_stage").values()
    assert stage["stage_name"] == "v1"
    assert stage["xray_tracing_enabled"] is True
    assert stage["access_log_settings"]["destination_arn"] == LOG_GROUP_ARN
    fmt = stage["access_log_settings"]["format"]
    assert fmt == ACCESS_LOG_FORMAT and "\n" not in fmt
    # every $context variable replaced by a sample value (messageString comes quoted) gives JSON
    sample = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", fmt.replace("$context.error.messageString", '"m"')))
    assert {"requestId", "httpMethod", "resourcePath", "status", "sourceIp", "userArn", "errorMessage"} <= set(sample)


def test_throttling_metrics_and_logging_on_every_method(api_doc):
    (settings,) = resources(api_doc, "aws_api_gateway_method_settings").values()
    assert settings["method_path"] == "*/*"
    assert settings["settings"] == {
        "throttling_rate_limit": 25,
        "throttling_burst_limit": 50,
        "metrics_enabled": True,
        "logging_level": "INFO",
        "data_trace_enabled": False,
    }


def test_no_account_settings_unless_a_cloudwatch_role_is_given(api_doc):
    assert resources(api_doc, "aws_api_gateway_account") == {}


def test_cloudwatch_role_sets_the_account_before_the_stage(api_core):
    doc = synth_construct(build_api(api_core, cloudwatch_role_arn=ROLE_ARN))
    (account_id, account), = resources(doc, "aws_api_gateway_account").items()
    assert account["cloudwatch_role_arn"] == ROLE_ARN
    (stage,) = resources(doc, "aws_api_gateway_stage").values()
    (settings,) = resources(doc, "aws_api_gateway_method_settings").values()
    assert stage["depends_on"] == [f"aws_api_gateway_account.{account_id}"]
    assert settings["depends_on"] == [f"aws_api_gateway_account.{account_id}"]


def test_execution_logging_can_be_turned_off(api_core):
    doc = synth_construct(build_api(api_core, execution_logging_level="OFF"))
    (settings,) = resources(doc, "aws_api_gateway_method_settings").values()
    assert settings["settings"]["logging_level"] == "OFF"


def test_invoke_permissions_are_scoped_to_this_api_stage_and_routes(api_doc):
    (api_id,) = resources(api_doc, "aws_api_gateway_rest_api")
    execution_arn = ref("aws_api_gateway_rest_api", api_id, "execution_arn")
    permissions = resources(api_doc, "aws_lambda_permission").values()
    assert {(p["action"], p["principal"], p["function_name"]) for p in permissions} == {
        ("lambda:InvokeFunction", "apigateway.amazonaws.com", "pk-dev-api")
    }
    assert sorted(p["source_arn"] for p in permissions) == sorted(
        f"{execution_arn}/v1/{suffix}"
        for suffix in ("GET/files/*", "GET/datasets/*/stats", "POST/queries", "GET/queries/*",
                       "POST/datasets/*/files", "POST/datasets/*/cleanse")
    )
    assert len({p["statement_id"] for p in permissions}) == 6


def test_source_arn_path_turns_parameters_into_wildcards():
    assert source_arn_path("GET", "/datasets/{name}/stats") == "GET/datasets/*/stats"
    assert source_arn_path("GET", "/") == "GET/"


def test_deployment_is_replaced_when_the_api_changes(api_doc, api_core):
    (deployment,) = resources(api_doc, "aws_api_gateway_deployment").values()
    assert deployment["lifecycle"] == {"create_before_destroy": True}
    assert deployment["triggers"]["resources"].startswith("${sha1(jsonencode([")
    for rtype in ("aws_api_gateway_method", "aws_api_gateway_integration"):
        for rid in resources(api_doc, rtype):
            assert f"{rtype}.{rid}.id" in deployment["triggers"]["resources"]
            assert f"{rtype}.{rid}" in deployment["depends_on"]
    fewer = synth_construct(build_api(api_core, routes=api_core.ROUTES[:3], request_models={}))
    (smaller,) = resources(fewer, "aws_api_gateway_deployment").values()
    assert smaller["triggers"]["configuration"] != deployment["triggers"]["configuration"]


def test_post_files_validates_its_body_against_the_upload_schema(api_doc, api_core):
    models = {m["name"]: (mid, m) for mid, m in resources(api_doc, "aws_api_gateway_model").items()}
    model_id, model = models["PostDatasetsNameFilesBody"]
    assert model["content_type"] == "application/json"
    assert json.loads(model["schema"]) == api_core.UPLOAD_REQUEST_SCHEMA
    validators = {v["name"]: vid for vid, v in resources(api_doc, "aws_api_gateway_request_validator").items()}
    post = method_of(api_doc, "POST", "files")
    assert post["request_validator_id"] == ref("aws_api_gateway_request_validator", validators["body-and-parameters"], "id")
    assert post["request_models"] == {"application/json": ref("aws_api_gateway_model", model_id, "name")}
    assert post["request_parameters"] == {"method.request.path.name": True}


def test_post_cleanse_requires_its_dataset_parameter_and_takes_any_body(api_doc):
    validators = {v["name"]: vid for vid, v in resources(api_doc, "aws_api_gateway_request_validator").items()}
    post = method_of(api_doc, "POST", "cleanse")
    assert post["request_parameters"] == {"method.request.path.name": True}
    assert post["request_validator_id"] == ref("aws_api_gateway_request_validator", validators["parameters"], "id")
    assert "request_models" not in post  # JSON, CSV or JSON Lines: the function checks it


def test_binary_media_types_reach_the_function_as_bytes_and_redeploy(api_doc, api_core):
    (api,) = resources(api_doc, "aws_api_gateway_rest_api").values()
    assert api["binary_media_types"] == list(BINARY_MEDIA_TYPES)
    (deployment,) = resources(api_doc, "aws_api_gateway_deployment").values()
    text_only = synth_construct(build_api(api_core, binary_media_types=()))
    (api_text,) = resources(text_only, "aws_api_gateway_rest_api").values()
    (deployment_text,) = resources(text_only, "aws_api_gateway_deployment").values()
    assert "binary_media_types" not in api_text
    assert deployment_text["triggers"]["configuration"] != deployment["triggers"]["configuration"]


def test_a_dataset_route_is_its_own_method_so_iam_can_scope_it_per_dataset(api_doc):
    """execute-api:Invoke on .../POST/datasets/<name>/* matches the ARN of POST /datasets/<name>/files
    and /cleanse only: a method per route under the {name} resource makes that ARN exist."""
    api_resources = resources(api_doc, "aws_api_gateway_resource")
    (name_id,) = [rid for rid, r in api_resources.items() if r["path_part"] == "{name}"]
    children = {r["path_part"] for r in api_resources.values()
                if r["parent_id"] == ref("aws_api_gateway_resource", name_id, "id")}
    assert children == {"files", "cleanse", "stats"}
    assert source_arn_path("POST", "/datasets/{name}/files") == "POST/datasets/*/files"
    policy_resource = "arn:aws:execute-api:eu-west-1:111111111111:abc123/v1/POST/datasets/orders/*"
    request_arn = "arn:aws:execute-api:eu-west-1:111111111111:abc123/v1/POST/datasets/{}/files"
    pattern = re.compile(re.escape(policy_resource).replace(r"\*", ".*"))
    assert pattern.fullmatch(request_arn.format("orders"))
    assert not pattern.fullmatch(request_arn.format("customers"))


def test_stage_serves_the_deployment(api_doc):
    (dep_id,) = resources(api_doc, "aws_api_gateway_deployment")
    (stage,) = resources(api_doc, "aws_api_gateway_stage").values()
    assert stage["deployment_id"] == ref("aws_api_gateway_deployment", dep_id, "id")


def test_rest_api_exposes_its_resources(api_core):
    built: list[RestApi] = []
    synth_construct(lambda stack: built.append(build_api(api_core)(stack)))
    (api,) = built
    assert api.invoke_url and api.api and api.stage and api.deployment
    assert sorted(api.methods) == sorted(api_core.ROUTES)
    assert sorted(api.permissions) == sorted(api_core.ROUTES)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"routes": []}, "at least one route is required"),
        ({"routes": [("GET", "/a"), ("get", "/a")]}, "a route is listed twice"),
        ({"routes": [("FETCH", "/a")]}, "route FETCH /a: unknown method"),
        ({"routes": [("GET", "a")]}, "a path starts with '/' and has no empty segment"),
        ({"routes": [("GET", "/a/{b c}")]}, "segment '{b c}' must be letters, digits"),
        ({"request_models": {("PUT", "/queries"): {}}}, "request model for PUT /queries, which is not a route"),
        ({"authorization": "COGNITO_USER_POOLS"}, "authorization must be one of AWS_IAM, NONE"),
        ({"throttling_rate_limit": 0}, "throttling needs a rate limit > 0 and a burst limit >= 1"),
        ({"execution_logging_level": "DEBUG"}, "execution_logging_level must be one of OFF, ERROR, INFO"),
        ({"stage_name": "v 1"}, "stage name 'v 1' must be"),
        ({"integration_timeout_ms": 30000}, "integration_timeout_ms must be 50..29000"),
        ({"binary_media_types": ["csv"]}, "binary media type 'csv' must look like type/subtype"),
    ],
)
def test_rest_api_guards(api_core, overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        synth_construct(build_api(api_core, **overrides))


# ======================================================================================
# Athena
# ======================================================================================


def build_workgroup(**overrides: Any) -> Callable[[TerraformStack], AthenaWorkgroup]:
    props: dict[str, Any] = dict(
        name="pk-dev", results_bucket_name="pk-dev-athena-results", kms_key_arn=KEY_ARN,
        bytes_scanned_cutoff_per_query=CUTOFF, force_destroy=False,
    )
    props.update(overrides)
    return lambda stack: AthenaWorkgroup(stack, "athena", **props)


def test_workgroup_enforces_its_configuration():
    (workgroup,) = resources(synth_construct(build_workgroup()), "aws_athena_workgroup").values()
    assert (workgroup["name"], workgroup["state"], workgroup["force_destroy"]) == ("pk-dev", "ENABLED", False)
    config = workgroup["configuration"]
    assert config["enforce_workgroup_configuration"] is True
    assert config["publish_cloudwatch_metrics_enabled"] is True
    assert config["bytes_scanned_cutoff_per_query"] == CUTOFF
    assert config["engine_version"] == {"selected_engine_version": "AUTO"}


def test_workgroup_results_are_sse_kms_in_the_results_bucket():
    (workgroup,) = resources(synth_construct(build_workgroup()), "aws_athena_workgroup").values()
    assert workgroup["configuration"]["result_configuration"] == {
        "output_location": "s3://pk-dev-athena-results/results/",
        "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": KEY_ARN},
    }


def test_workgroup_cutoff_below_athenas_minimum_is_refused():
    with pytest.raises(ValueError, match=r"bytes_scanned_cutoff_per_query must be at least 10485760"):
        synth_construct(build_workgroup(bytes_scanned_cutoff_per_query=1_000_000))


def build_queries(**overrides: Any) -> Callable[[TerraformStack], NamedQueries]:
    props: dict[str, Any] = dict(workgroup_name="pk-dev", database_name="pk_dev", datasets=["orders", "customers"])
    props.update(overrides)
    return lambda stack: NamedQueries(stack, "queries", **props)


def test_three_named_queries_per_dataset():
    queries = resources(synth_construct(build_queries()), "aws_athena_named_query").values()
    assert sorted(q["name"] for q in queries) == sorted(
        f"{d}-{n.replace('_', '-')}" for d in ("orders", "customers") for n in QUERY_NAMES
    )
    assert {(q["workgroup"], q["database"]) for q in queries} == {("pk-dev", "pk_dev")}
    assert all(q["description"] for q in queries)


def test_named_queries_read_the_tables_given():
    doc = synth_construct(build_queries(table_name_for={"orders": "orders_clean", "customers": "customers_clean"},
                              reports_table="reports_v1", status_table="status_v1"))
    by_name = {q["name"]: q["query"] for q in resources(doc, "aws_athena_named_query").values()}
    assert 'FROM "pk_dev"."orders_clean"' in by_name["orders-row-counts-per-day"]
    assert 'FROM "pk_dev"."reports_v1"' in by_name["customers-rejected-rows-by-reason"]
    assert "dataset = 'customers'" in by_name["customers-rejected-rows-by-reason"]
    assert 'FROM "pk_dev"."status_v1"' in by_name["orders-latest-status-per-file"]


def test_named_queries_default_to_the_apis_table_names(api_core):
    by_name = {q["name"]: q["query"] for q in resources(synth_construct(build_queries()), "aws_athena_named_query").values()}
    assert f'"{api_core.clean_table_name("orders")}"' in by_name["orders-row-counts-per-day"]
    assert f'"{api_core.DEFAULT_REPORTS_TABLE}"' in by_name["orders-rejected-rows-by-reason"]
    assert f'"{api_core.DEFAULT_STATUS_TABLE}"' in by_name["orders-latest-status-per-file"]


def test_a_saved_query_is_the_apis_query_over_the_recent_window(api_core):
    """One SQL for both (pipeline_shared.wiring.queries): the saved query and what POST /queries runs
    for the same dataset differ only in the partition window and the LIMIT."""
    from datetime import date

    dataset = "web-events"  # a dataset of the test's own ('-' in its name: quoted, mapped to '_')
    props = dict(datasets=[dataset], reports_table="reports_t", status_table="status_t")
    saved = {q["name"]: q["query"] for q in resources(synth_construct(build_queries(days=7, **props)),
                                                        "aws_athena_named_query").values()}
    tables = api_core.Tables(database="pk_dev", clean=api_core.DEFAULT_CLEAN_TABLE, reports="reports_t",
                             status="status_t")
    recent = "\"date\" >= CAST(current_date - INTERVAL '7' DAY AS varchar)"
    assert sorted(saved) == sorted(f"{dataset}-{name.replace('_', '-')}" for name in api_core.QUERIES)
    for name in api_core.QUERIES:
        request = api_core.QueryRequest(name, dataset, date(2024, 5, 1), date(2024, 5, 31), limit=1000)
        api_sql = api_core.build_sql(request, tables).replace("\"date\" BETWEEN '2024-05-01' AND '2024-05-31'", recent)
        assert api_sql.startswith(saved[f"{dataset}-{name.replace('_', '-')}"]), name
        assert api_sql.removeprefix(saved[f"{dataset}-{name.replace('_', '-')}"]) in ("", "\nLIMIT 1000"), name


def test_named_queries_cover_a_recent_window_of_partitions():
    by_name = {q["name"]: q["query"] for q in resources(synth_construct(build_queries(days=7)), "aws_athena_named_query").values()}
    assert "\"date\" >= CAST(current_date - INTERVAL '7' DAY AS varchar)" in by_name["orders-row-counts-per-day"]


def test_named_queries_accept_a_terraform_reference_for_the_database():
    def build(stack: TerraformStack) -> None:
        workgroup = build_workgroup()(stack)
        NamedQueries(stack, "queries", workgroup_name=workgroup.workgroup.name,
                     database_name=workgroup.workgroup.name, datasets=["orders"])

    doc = synth_construct(build)
    (wg_id,) = resources(doc, "aws_athena_workgroup")
    queries = resources(doc, "aws_athena_named_query").values()
    assert all(q["workgroup"] == ref("aws_athena_workgroup", wg_id, "name") for q in queries)
    assert all(f'FROM "{ref("aws_athena_workgroup", wg_id, "name")}".' in q["query"] for q in queries)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"table_name_for": {"orders": "x"}}, "no clean table given for dataset(s) customers"),
        ({"datasets": ["orders", "orders"]}, "a dataset is listed twice"),
        ({"datasets": ["Orders'"]}, "invalid dataset name"),
        ({"database_name": 'pk"; DROP'}, "invalid Athena identifier"),
        ({"days": 0}, "days must be between 1 and 3660"),
    ],
)
def test_named_query_guards(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        synth_construct(build_queries(**overrides))


# ======================================================================================
# terraform validate (provider schema)
# ======================================================================================


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_constructs_pass_terraform_validate(api_core, tmp_path: Path):
    from kit.terraform import Terraform
    from modules.providers import aws_provider, pin_aws_provider

    app = App(outdir=str(tmp_path / "out"))
    stack = TerraformStack(app, "api-athena")
    aws_provider(stack, region="eu-west-1", account_id="111111111111", default_tags={"environment": "dev"})
    pin_aws_provider(stack)
    build_api(api_core, cloudwatch_role_arn=ROLE_ARN)(stack)
    build_workgroup()(stack)
    build_queries()(stack)
    app.synth()
    tf = Terraform.for_stack(tmp_path / "out" / "stacks" / "api-athena", state_dir=tmp_path / "state")
    tf.init(backend=False, quiet=True)
    result = tf.validate()
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def test_a_replaced_api_is_up_before_the_old_one_goes(api_doc):
    (api,) = resources(api_doc, "aws_api_gateway_rest_api").values()
    assert api["lifecycle"] == {"create_before_destroy": True}
