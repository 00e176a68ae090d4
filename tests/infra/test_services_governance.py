"""AppSync (status GraphQL API), Lake Formation and DataZone: each construct synthesized alone in
a small test stack and through its ``wire_*`` function with a hand-made ``ServiceContext``; the
security properties asserted on the JSON; one ``terraform validate`` of all of them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from cdktf import App, TerraformStack
from synth_helpers import only, ref, resources, statements, synth_construct  # noqa: E402

import modules  # noqa: F401  -- installs the lazy loader before any AWS binding is imported
from environments.sections.governance import AppSyncConfig, DataZoneConfig, LakeFormationConfig
from modules.services import BucketRef, ServiceContext, TableRef
from modules.services.governance import (
    IAM_ALLOWED_PRINCIPALS,
    DataZoneGovernance,
    LakeFormationGovernance,
    wire_datazone,
    wire_lakeformation,
)
from modules.services.graphql import (
    SCHEMA,
    StatusGraphqlApi,
    get_item_code,
    publish_code,
    publisher_statements,
    query_by_dataset_code,
    reader_statements,
    wire_appsync,
)

ACCOUNT = "111111111111"
REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/pk-x-status"
CLEAN_ARN = f"arn:aws:s3:::pk-x-clean-{ACCOUNT}"
LANDING_ARN = f"arn:aws:s3:::pk-x-landing-{ACCOUNT}"
DEPLOY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/pk-deploy"
READER = f"arn:aws:iam::{ACCOUNT}:role/pk-x-api"
CRAWLER = f"arn:aws:iam::{ACCOUNT}:role/pk-x-crawler"
ETL = f"arn:aws:iam::{ACCOUNT}:role/pk-x-etl"
API_ARN = f"arn:aws:appsync:{REGION}:{ACCOUNT}:apis/abc123"


# ======================================================================================
# helpers
# ======================================================================================






def by_name(doc: dict[str, Any], rtype: str, name: str) -> tuple[str, dict[str, Any]]:
    matches = [(rid, r) for rid, r in resources(doc, rtype).items() if r.get("name") == name]
    assert len(matches) == 1, f"expected one {rtype} named {name}, found {[m[0] for m in matches]}"
    return matches[0]



def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def context(**overrides: Any) -> ServiceContext:
    values: dict[str, Any] = dict(
        name_prefix="pk-x", region=REGION, account_id=ACCOUNT, kms_key_arn=KEY_ARN, log_retention_days=30,
        deletion_protection=True, prevent_destroy=True, on_emulator=False,
        buckets={"clean": BucketRef(name=f"pk-x-clean-{ACCOUNT}", arn=CLEAN_ARN),
                 "landing": BucketRef(name=f"pk-x-landing-{ACCOUNT}", arn=LANDING_ARN)},
        tables={"status": TableRef(name="pk-x-status", arn=TABLE_ARN)},
        glue_clean_database="pk_x_clean", glue_raw_database="pk_x_raw", schema_registry_name="pk-x-datasets",
        catalog_reader_role_arns=(READER, CRAWLER), datasets=("orders", "customers"),
        artifacts_bucket="pk-artifacts", artifact_keys={}, alarm_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms",
    )
    values.update(overrides)
    return ServiceContext(**values)


def graphql_api(stack: TerraformStack, **overrides: Any) -> StatusGraphqlApi:
    props: dict[str, Any] = dict(name="pk-x-status-api", table_name="pk-x-status", table_arn=TABLE_ARN,
                                 kms_key_arn=KEY_ARN, region=REGION, account_id=ACCOUNT, log_retention_days=30)
    props.update(overrides)
    return StatusGraphqlApi(stack, "gql", **props)


def lake_formation(stack: TerraformStack, **overrides: Any) -> LakeFormationGovernance:
    props: dict[str, Any] = dict(name="pk-x", admin_arns=[DEPLOY_ROLE], iam_allowed_principals_default=True,
                                 locations={"clean": CLEAN_ARN}, kms_key_arn=KEY_ARN, region=REGION,
                                 catalog_id=ACCOUNT, database_name="pk_x_clean", reader_role_arns=[READER],
                                 writer_role_arns=[CRAWLER])
    props.update(overrides)
    return LakeFormationGovernance(stack, "lf", **props)


def datazone(stack: TerraformStack, **overrides: Any) -> DataZoneGovernance:
    props: dict[str, Any] = dict(name="pk-x-data", kms_key_arn=KEY_ARN, account_id=ACCOUNT, region=REGION,
                                 project_name="pipeline-datasets", datasets=["orders"])
    props.update(overrides)
    return DataZoneGovernance(stack, "dz", **props)


@pytest.fixture(scope="module")
def gql_doc() -> dict[str, Any]:
    return synth_construct(graphql_api)


@pytest.fixture(scope="module")
def lf_doc() -> dict[str, Any]:
    return synth_construct(lake_formation)


@pytest.fixture(scope="module")
def dz_doc() -> dict[str, Any]:
    return synth_construct(lambda s: datazone(s, data_lake_blueprint=True))


# ======================================================================================
# AppSync
# ======================================================================================


def test_appsync_api_accepts_iam_signed_requests_only(gql_doc: dict[str, Any]) -> None:
    _, api = only(gql_doc, "aws_appsync_graphql_api")
    assert api["authentication_type"] == "AWS_IAM"
    assert "additional_authentication_provider" not in api
    assert resources(gql_doc, "aws_appsync_api_key") == {}


def test_appsync_logs_go_to_the_api_log_group_encrypted_with_the_key(gql_doc: dict[str, Any]) -> None:
    api_id, _ = only(gql_doc, "aws_appsync_graphql_api")
    _, group = only(gql_doc, "aws_cloudwatch_log_group")
    assert group["name"] == "/aws/appsync/apis/" + ref("aws_appsync_graphql_api", api_id, "id")
    assert (group["kms_key_id"], group["retention_in_days"]) == (KEY_ARN, 30)


def test_appsync_logging_role_writes_that_group_only_and_cannot_create_one(gql_doc: dict[str, Any]) -> None:
    group_id, _ = only(gql_doc, "aws_cloudwatch_log_group")
    _, policy = by_name(gql_doc, "aws_iam_role_policy", "pk-x-status-api-appsync-logs")
    (stmt,) = statements(policy["policy"]).values()
    group_arn = ref("aws_cloudwatch_log_group", group_id, "arn")
    assert sorted(stmt["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert stmt["Resource"] == [group_arn, f"{group_arn}:*"]


def test_appsync_log_level_verbosity_and_xray_follow_the_props() -> None:
    doc = synth_construct(lambda s: graphql_api(s, field_log_level="ALL", exclude_verbose_content=False,
                                                xray_enabled=True))
    _, api = only(doc, "aws_appsync_graphql_api")
    assert api["log_config"]["field_log_level"] == "ALL"
    assert api["log_config"]["exclude_verbose_content"] is False
    assert api["xray_enabled"] is True


def test_appsync_defaults_keep_request_contents_out_of_logs_and_hide_introspection(gql_doc: dict[str, Any]) -> None:
    _, api = only(gql_doc, "aws_appsync_graphql_api")
    assert api["log_config"]["exclude_verbose_content"] is True
    assert api["introspection_config"] == "DISABLED"
    assert api["xray_enabled"] is False


def test_appsync_data_source_role_reads_one_item_and_queries_the_dataset_index_only(gql_doc: dict[str, Any]) -> None:
    _, policy = by_name(gql_doc, "aws_iam_role_policy", "pk-x-status-api-appsync-status-read")
    stmts = statements(policy["policy"])
    granted = {(a, r) for s in stmts.values() for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    assert granted == {("dynamodb:GetItem", TABLE_ARN), ("dynamodb:Query", f"{TABLE_ARN}/index/by-dataset"),
                       ("kms:Decrypt", KEY_ARN)}


def test_appsync_data_source_role_decrypts_through_dynamodb_only(gql_doc: dict[str, Any]) -> None:
    _, policy = by_name(gql_doc, "aws_iam_role_policy", "pk-x-status-api-appsync-status-read")
    stmt = statements(policy["policy"])["DecryptTableThroughDynamoDB"]
    assert stmt["Condition"] == {"StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}}


def test_appsync_data_source_role_is_assumable_by_this_api_only(gql_doc: dict[str, Any]) -> None:
    api_id, _ = only(gql_doc, "aws_appsync_graphql_api")
    _, role = by_name(gql_doc, "aws_iam_role", "pk-x-status-api-appsync-status")
    (stmt,) = json.loads(role["assume_role_policy"])["Statement"]
    assert stmt["Principal"] == {"Service": "appsync.amazonaws.com"}
    assert stmt["Condition"]["ArnLike"] == {"aws:SourceArn": ref("aws_appsync_graphql_api", api_id, "arn")}
    assert stmt["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}


def test_appsync_dynamodb_data_source_uses_its_role_not_the_callers_credentials(gql_doc: dict[str, Any]) -> None:
    role_id, _ = by_name(gql_doc, "aws_iam_role", "pk-x-status-api-appsync-status")
    _, source = by_name(gql_doc, "aws_appsync_datasource", "status_table")
    assert source["type"] == "AMAZON_DYNAMODB"
    assert source["service_role_arn"] == ref("aws_iam_role", role_id, "arn")
    assert source["dynamodb_config"] == {"table_name": "pk-x-status", "region": REGION,
                                         "use_caller_credentials": False}


def test_appsync_fields_resolve_with_js_on_the_right_data_sources(gql_doc: dict[str, Any]) -> None:
    wiring = {(r["type"], r["field"]): (r["data_source"], r["runtime"]["name"])
              for r in resources(gql_doc, "aws_appsync_resolver").values()}
    table_ref = ref("aws_appsync_datasource", by_name(gql_doc, "aws_appsync_datasource", "status_table")[0], "name")
    none_ref = ref("aws_appsync_datasource", by_name(gql_doc, "aws_appsync_datasource", "status_broadcast")[0], "name")
    assert wiring == {("Query", "fileStatus"): (table_ref, "APPSYNC_JS"),
                      ("Query", "filesByDataset"): (table_ref, "APPSYNC_JS"),
                      ("Mutation", "publishStatus"): (none_ref, "APPSYNC_JS")}


def test_appsync_publish_uses_a_none_data_source(gql_doc: dict[str, Any]) -> None:
    _, source = by_name(gql_doc, "aws_appsync_datasource", "status_broadcast")
    assert source["type"] == "NONE"
    assert "service_role_arn" not in source


def test_appsync_subscription_fires_on_the_publish_mutation() -> None:
    assert re.search(r'onStatusUpdate\(dataset: String, file_id: ID, status: String\): FileStatus\s+'
                     r'@aws_subscribe\(mutations: \["publishStatus"\]\)', SCHEMA)


def test_appsync_schema_exposes_the_status_item_attributes() -> None:
    body = re.search(r"type FileStatus \{(.*?)\}", SCHEMA, re.S).group(1)  # type: ignore[union-attr]
    fields = set(re.findall(r"^\s+(\w+):", body, re.M))
    assert {"file_id", "dataset", "status", "updated_at", "counts", "locations", "reason", "expires_at"} <= fields


def test_appsync_dataset_query_reads_the_index_newest_first() -> None:
    code = query_by_dataset_code(index_name="by-dataset", default_limit=20, max_limit=40)
    assert "const INDEX = \"by-dataset\";" in code
    assert "scanIndexForward: false" in code
    assert "operation: 'Query'" in code and "Scan" not in code
    assert "const DEFAULT_LIMIT = 20;" in code and "const MAX_LIMIT = 40;" in code


def test_appsync_resolver_code_holds_no_terraform_interpolation() -> None:
    for code in (get_item_code(), query_by_dataset_code(), publish_code(), SCHEMA):
        assert "${" not in code and "%{" not in code


def test_appsync_readers_cannot_publish_and_publishers_cannot_read() -> None:
    readers = as_list(reader_statements(API_ARN)[0].resources)
    publishers = as_list(publisher_statements(API_ARN)[0].resources)
    assert readers == [f"{API_ARN}/types/Query/fields/fileStatus", f"{API_ARN}/types/Query/fields/filesByDataset",
                       f"{API_ARN}/types/Subscription/fields/onStatusUpdate"]
    assert publishers == [f"{API_ARN}/types/Mutation/fields/publishStatus"]


def test_appsync_without_resolvers_leaves_out_data_sources_resolvers_and_their_role() -> None:
    doc = synth_construct(lambda s: graphql_api(s, create_resolvers=False))
    assert resources(doc, "aws_appsync_datasource") == {} and resources(doc, "aws_appsync_resolver") == {}
    assert [r["name"] for r in resources(doc, "aws_iam_role").values()] == ["pk-x-status-api-appsync-logs"]


def test_appsync_rejects_an_unknown_log_level() -> None:
    with pytest.raises(ValueError, match="field_log_level must be one of NONE, ERROR, INFO, DEBUG, ALL, got 'VERBOSE'"):
        synth_construct(lambda s: graphql_api(s, field_log_level="VERBOSE"))


def test_appsync_rejects_a_depth_limit_the_schema_cannot_meet() -> None:
    with pytest.raises(ValueError, match=r"query_depth_limit must be 0 \(no limit\) or at least 3"):
        synth_construct(lambda s: graphql_api(s, query_depth_limit=2))


def test_wire_appsync_serves_the_context_status_table_and_outputs_the_endpoints() -> None:
    doc = synth_construct(lambda s: wire_appsync(s, AppSyncConfig(enabled=True, xray=True), context()))
    _, api = only(doc, "aws_appsync_graphql_api")
    _, source = by_name(doc, "aws_appsync_datasource", "status_table")
    assert api["name"] == "pk-x-status-api" and api["xray_enabled"] is True
    assert source["dynamodb_config"]["table_name"] == "pk-x-status"
    assert {"appsync_graphql_url", "appsync_realtime_url", "appsync_api_arn"} <= set(doc["output"])


def test_wire_appsync_on_the_emulator_creates_no_resolvers() -> None:
    doc = synth_construct(lambda s: wire_appsync(s, AppSyncConfig(enabled=True), context(on_emulator=True)))
    assert resources(doc, "aws_appsync_resolver") == {}


def test_wire_appsync_on_the_emulator_ignores_what_it_does_not_read_back() -> None:
    doc = synth_construct(lambda s: wire_appsync(s, AppSyncConfig(enabled=True), context(on_emulator=True)))
    _, api = only(doc, "aws_appsync_graphql_api")
    assert api["lifecycle"]["ignore_changes"] == ["api_type", "introspection_config", "query_depth_limit", "tags"]


def test_appsync_on_aws_ignores_no_drift(gql_doc: dict[str, Any]) -> None:
    _, api = only(gql_doc, "aws_appsync_graphql_api")
    assert "lifecycle" not in api


def test_wire_appsync_needs_the_status_table() -> None:
    with pytest.raises(ValueError, match="appsync: the context has no 'status' table"):
        synth_construct(lambda s: wire_appsync(s, AppSyncConfig(enabled=True), context(tables={})))


# ======================================================================================
# Lake Formation
# ======================================================================================


def test_lake_formation_settings_name_the_admins_and_keep_iam_defaults_explicit(lf_doc: dict[str, Any]) -> None:
    _, settings = only(lf_doc, "aws_lakeformation_data_lake_settings")
    default = [{"permissions": ["ALL"], "principal": IAM_ALLOWED_PRINCIPALS}]
    assert settings["admins"] == [DEPLOY_ROLE]
    assert settings["create_database_default_permissions"] == default
    assert settings["create_table_default_permissions"] == default


def test_lake_formation_without_iam_defaults_writes_empty_default_permissions() -> None:
    doc = synth_construct(lambda s: lake_formation(s, iam_allowed_principals_default=False))
    _, settings = only(doc, "aws_lakeformation_data_lake_settings")
    assert settings["create_database_default_permissions"] == []
    assert settings["create_table_default_permissions"] == []


def test_lake_formation_settings_prevent_destroy_follows_the_prop() -> None:
    doc = synth_construct(lambda s: lake_formation(s, prevent_destroy=True))
    _, settings = only(doc, "aws_lakeformation_data_lake_settings")
    assert settings["lifecycle"]["prevent_destroy"] is True


def test_lake_formation_registers_the_buckets_with_its_own_role(lf_doc: dict[str, Any]) -> None:
    role_id, _ = by_name(lf_doc, "aws_iam_role", "pk-x-lf-registration")
    _, location = only(lf_doc, "aws_lakeformation_resource")
    assert location["arn"] == CLEAN_ARN
    assert location["role_arn"] == ref("aws_iam_role", role_id, "arn")
    assert location["use_service_linked_role"] is False


def test_lake_formation_registration_role_is_for_lake_formation_in_this_account(lf_doc: dict[str, Any]) -> None:
    _, role = by_name(lf_doc, "aws_iam_role", "pk-x-lf-registration")
    (stmt,) = json.loads(role["assume_role_policy"])["Statement"]
    assert stmt["Principal"] == {"Service": "lakeformation.amazonaws.com"}
    assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_lake_formation_registration_role_reaches_the_registered_buckets_and_key_only(lf_doc: dict[str, Any]) -> None:
    _, policy = only(lf_doc, "aws_iam_role_policy")
    stmts = statements(policy["policy"])
    resources_granted = {r for s in stmts.values() for r in as_list(s["Resource"])}
    assert resources_granted == {CLEAN_ARN, f"{CLEAN_ARN}/*", KEY_ARN}
    assert stmts["UseEnvironmentKeyThroughS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}


def _grants(doc: dict[str, Any]) -> dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]]:
    """``{principal: [(what, permissions, grantable)]}``."""
    out: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {}
    for grant in resources(doc, "aws_lakeformation_permissions").values():
        what = next(k for k in ("database", "table", "data_location") if k in grant)
        out.setdefault(grant["principal"], []).append(
            (what, tuple(sorted(grant["permissions"])), tuple(grant.get("permissions_with_grant_option", []))))
    return out


def test_lake_formation_readers_may_describe_and_select_only(lf_doc: dict[str, Any]) -> None:
    assert sorted(_grants(lf_doc)[READER]) == [("database", ("DESCRIBE",), ()),
                                                ("table", ("DESCRIBE", "SELECT"), ())]


def test_lake_formation_writers_may_create_tables_write_and_use_the_clean_location(lf_doc: dict[str, Any]) -> None:
    assert sorted(_grants(lf_doc)[CRAWLER]) == [
        ("data_location", ("DATA_LOCATION_ACCESS",), ()),
        ("database", ("ALTER", "CREATE_TABLE", "DESCRIBE"), ()),
        ("table", ("ALTER", "DELETE", "DESCRIBE", "INSERT", "SELECT"), ()),
    ]


def test_lake_formation_grants_cover_all_tables_of_the_clean_database(lf_doc: dict[str, Any]) -> None:
    tables = [g["table"] for g in resources(lf_doc, "aws_lakeformation_permissions").values() if "table" in g]
    assert tables and all(t == {"database_name": "pk_x_clean", "wildcard": True, "catalog_id": ACCOUNT}
                          for t in tables)


def test_lake_formation_grants_wait_for_the_admin_settings(lf_doc: dict[str, Any]) -> None:
    settings_id, _ = only(lf_doc, "aws_lakeformation_data_lake_settings")
    assert all(f"aws_lakeformation_data_lake_settings.{settings_id}" in g["depends_on"]
               for g in resources(lf_doc, "aws_lakeformation_permissions").values())


def test_lake_formation_role_listed_as_reader_and_writer_gets_writer_grants_only() -> None:
    doc = synth_construct(lambda s: lake_formation(s, reader_role_arns=[READER, CRAWLER]))
    assert len(_grants(doc)[CRAWLER]) == 3 and len(_grants(doc)[READER]) == 2


def test_lake_formation_refuses_to_empty_the_admins() -> None:
    with pytest.raises(ValueError, match="admin_arns must not be empty"):
        synth_construct(lambda s: lake_formation(s, admin_arns=[]))


def test_wire_lakeformation_registers_landing_on_request_and_grants_the_catalog_readers() -> None:
    section = LakeFormationConfig(enabled=True, admins=(DEPLOY_ROLE,), register_landing=True)
    doc = synth_construct(lambda s: wire_lakeformation(s, section, context()))
    assert sorted(r["arn"] for r in resources(doc, "aws_lakeformation_resource").values()) == [CLEAN_ARN, LANDING_ARN]
    assert set(_grants(doc)) == {READER, CRAWLER}
    assert "lakeformation_registration_role_arn" in doc["output"]


def test_wire_lakeformation_on_the_emulator_registers_but_grants_nothing() -> None:
    section = LakeFormationConfig(enabled=True, admins=(DEPLOY_ROLE,))
    doc = synth_construct(lambda s: wire_lakeformation(s, section, context(on_emulator=True)))
    assert resources(doc, "aws_lakeformation_permissions") == {}
    assert len(resources(doc, "aws_lakeformation_resource")) == 1


def test_wire_lakeformation_protects_the_settings_like_the_data_stores() -> None:
    section = LakeFormationConfig(enabled=True, admins=(DEPLOY_ROLE,))
    doc = synth_construct(lambda s: wire_lakeformation(s, section, context(prevent_destroy=True)))
    _, settings = only(doc, "aws_lakeformation_data_lake_settings")
    assert settings["lifecycle"]["prevent_destroy"] is True


# ======================================================================================
# DataZone
# ======================================================================================


def test_datazone_domain_is_encrypted_with_the_key_and_single_sign_on_is_off(dz_doc: dict[str, Any]) -> None:
    role_id, _ = by_name(dz_doc, "aws_iam_role", "pk-x-data-datazone-execution")
    _, domain = only(dz_doc, "aws_datazone_domain")
    assert domain["kms_key_identifier"] == KEY_ARN
    assert domain["single_sign_on"] == [{"type": "DISABLED"}]
    assert domain["domain_execution_role"] == ref("aws_iam_role", role_id, "arn")


def test_datazone_execution_role_has_the_documented_trust_and_managed_policy(dz_doc: dict[str, Any]) -> None:
    role_id, role = by_name(dz_doc, "aws_iam_role", "pk-x-data-datazone-execution")
    (stmt,) = json.loads(role["assume_role_policy"])["Statement"]
    assert stmt["Principal"] == {"Service": "datazone.amazonaws.com"}
    assert sorted(stmt["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                                 "ForAllValues:StringLike": {"aws:TagKeys": ["datazone*"]}}
    attached = [a["policy_arn"] for a in resources(dz_doc, "aws_iam_role_policy_attachment").values()
                if a["role"] == ref("aws_iam_role", role_id, "name")]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonDataZoneDomainExecutionRolePolicy"]


def test_datazone_execution_role_may_use_the_key_only(dz_doc: dict[str, Any]) -> None:
    _, policy = only(dz_doc, "aws_iam_role_policy")
    (stmt,) = statements(policy["policy"]).values()
    assert stmt["Resource"] == KEY_ARN
    assert sorted(stmt["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]


def test_datazone_project_lives_in_the_domain(dz_doc: dict[str, Any]) -> None:
    domain_id, _ = only(dz_doc, "aws_datazone_domain")
    _, project = only(dz_doc, "aws_datazone_project")
    assert project["domain_identifier"] == ref("aws_datazone_domain", domain_id, "id")
    assert project["name"] == "pipeline-datasets" and "orders" in project["description"]


def test_datazone_data_lake_blueprint_is_enabled_in_the_region_with_its_roles(dz_doc: dict[str, Any]) -> None:
    lookups = dz_doc["data"]["aws_datazone_environment_blueprint"]
    (lookup,) = lookups.values()
    _, config = only(dz_doc, "aws_datazone_environment_blueprint_configuration")
    assert (lookup["name"], lookup["managed"]) == ("DefaultDataLake", True)
    assert config["enabled_regions"] == [REGION]
    assert config["provisioning_role_arn"].startswith("${aws_iam_role.")
    assert config["manage_access_role_arn"].startswith("${aws_iam_role.")


def test_datazone_manage_access_role_serves_this_domain_only(dz_doc: dict[str, Any]) -> None:
    domain_id, _ = only(dz_doc, "aws_datazone_domain")
    _, role = by_name(dz_doc, "aws_iam_role", "pk-x-data-datazone-glue-access")
    (stmt,) = json.loads(role["assume_role_policy"])["Statement"]
    assert stmt["Condition"]["ArnEquals"] == {"aws:SourceArn": ref("aws_datazone_domain", domain_id, "arn")}


def test_datazone_without_the_blueprint_creates_one_role() -> None:
    doc = synth_construct(datazone)
    assert resources(doc, "aws_datazone_environment_blueprint_configuration") == {}
    assert len(resources(doc, "aws_iam_role")) == 1


def test_wire_datazone_keeps_the_deletion_check_when_data_is_protected() -> None:
    doc = synth_construct(lambda s: wire_datazone(s, DataZoneConfig(enabled=True), context()))
    _, domain = only(doc, "aws_datazone_domain")
    assert domain["name"] == "pk-x-data" and domain["skip_deletion_check"] is False
    assert {"datazone_domain_id", "datazone_portal_url", "datazone_project_id"} <= set(doc["output"])


def test_wire_datazone_refuses_the_emulator() -> None:
    with pytest.raises(ValueError, match="datazone: the emulator does not implement DataZone"):
        synth_construct(lambda s: wire_datazone(s, DataZoneConfig(enabled=True), context(on_emulator=True)))


# ======================================================================================
# all of them
# ======================================================================================


def test_no_secret_or_wildcard_lands_in_the_synthesized_json() -> None:
    def build(stack: TerraformStack) -> None:
        graphql_api(stack)
        lake_formation(stack)
        datazone(stack, data_lake_blueprint=True)

    doc = synth_construct(build)
    text = json.dumps(doc)
    assert not re.search(r"password|secret|api_key", text, re.I)
    policies = [r["policy"] for r in resources(doc, "aws_iam_role_policy").values()]
    for policy in policies:
        for stmt in json.loads(policy)["Statement"]:
            assert "*" not in as_list(stmt["Action"]) and "*" not in as_list(stmt["Resource"]), stmt


def _all_constructs(stack: TerraformStack) -> None:
    from modules.providers import aws_provider, pin_aws_provider

    pin_aws_provider(stack)
    aws_provider(stack, region=REGION, account_id=ACCOUNT, default_tags={"Project": "pipeline-kit"})
    graphql_api(stack, field_log_level="INFO", query_depth_limit=5)
    lake_formation(stack, iam_allowed_principals_default=False, locations={"clean": CLEAN_ARN, "landing": LANDING_ARN})
    datazone(stack, data_lake_blueprint=True)


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_terraform_validate_accepts_all_the_governance_constructs(tmp_path: Path) -> None:
    from kit.terraform import Terraform

    app = App(outdir=str(tmp_path / "cdktf.out"))
    _all_constructs(TerraformStack(app, "all"))
    app.synth()
    tf = Terraform.for_stack(tmp_path / "cdktf.out" / "stacks" / "all", state_dir=tmp_path / "state")
    tf.init(backend=False, quiet=True)
    result = tf.validate()
    assert result.returncode == 0, f"terraform validate failed:\n{result.stdout}\n{result.stderr}"
    assert "Success" in result.stdout, result.stdout
