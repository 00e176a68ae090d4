"""The Redshift Serverless warehouse (``modules/redshift.py``): the construct synthesized alone in a
small test stack (every security property asserted on the JSON), its pure SQL and policy helpers,
bad props, and one real ``terraform validate`` (the emulator cannot create Redshift, so this is
the proof that the provider accepts it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cdktf import App, TerraformStack
from synth_helpers import only, ref, resources, synth_construct  # noqa: E402

import modules  # noqa: F401  -- installs the lazy loader before any AWS binding is imported
from glue.specs import ColumnSpec, DatasetSpec
from modules.redshift import (
    BATCH_EXECUTE_TARGET,
    DEFAULT_CONFIG_PARAMETERS,
    LOADER_ROLE,
    Warehouse,
    curated_columns,
    ensure_role_sql,
    iam_role_db_user,
    load_statements,
    loader_grant_statements,
    redshift_type,
)

ACCOUNT = "111111111111"
REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
CLEAN_BUCKET = f"pk-x-clean-{ACCOUNT}"
CLEAN_ARN = f"arn:aws:s3:::{CLEAN_BUCKET}"
GLUE_DB = "pk_x_clean"
SUBNETS = ("subnet-0a", "subnet-0b", "subnet-0c")
CLIENTS = ("sg-clients", "sg-workloads")
ORDERS = DatasetSpec(name="orders", format="csv", key_columns=("order_id",), columns=(
    ColumnSpec(name="order_id", required=True, max_length=20),
    ColumnSpec(name="email", pii=True),
    ColumnSpec(name="amount", type="decimal"),
    ColumnSpec(name="order_date", type="date"),
    ColumnSpec(name="quantity", type="integer"),
    ColumnSpec(name="paid", type="boolean"),
    ColumnSpec(name="created_at", type="timestamp"),
))
EVENTS = DatasetSpec(name="events", format="jsonl", columns=(ColumnSpec(name="event_id"),))


# ======================================================================================
# helpers
# ======================================================================================






def props(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        name="pk-x-warehouse", kms_key_arn=KEY_ARN, vpc_id="vpc-0abc", vpc_cidr="10.20.0.0/16",
        subnet_ids=list(SUBNETS), client_security_group_ids=list(CLIENTS), base_capacity_rpus=8,
        max_capacity_rpus=64, database_name="analytics", admin_username="warehouse_admin",
        enhanced_vpc_routing=True, clean_bucket_arn=CLEAN_ARN, clean_bucket_name=CLEAN_BUCKET,
        glue_database_name=GLUE_DB, region=REGION, account_id=ACCOUNT, datasets=[ORDERS, EVENTS],
        prevent_destroy=True, log_retention_days=90, load_schedule="cron(30 4 * * ? *)",
        s3_prefix_list_id="pl-s3",
    )
    values.update(overrides)
    return values


def _warehouse(stack: TerraformStack, **overrides: Any) -> Warehouse:
    return Warehouse(stack, "warehouse", **props(**overrides))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return synth_construct(_warehouse)


def policy_of(doc: dict[str, Any], role_name: str) -> dict[str, Any]:
    role_id = next(rid for rid, r in resources(doc, "aws_iam_role").items() if r["name"] == role_name)
    [policy] = [p for p in resources(doc, "aws_iam_role_policy").values()
                if p["role"] == ref("aws_iam_role", role_id, "id")]
    return json.loads(policy["policy"])


def statements_by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ======================================================================================
# the workgroup: network and security
# ======================================================================================


def test_workgroup_is_not_publicly_accessible(doc: dict[str, Any]) -> None:
    _, wg = only(doc, "aws_redshiftserverless_workgroup")
    assert wg["publicly_accessible"] is False


def test_workgroup_runs_in_exactly_the_given_subnets(doc: dict[str, Any]) -> None:
    _, wg = only(doc, "aws_redshiftserverless_workgroup")
    assert wg["subnet_ids"] == list(SUBNETS)


def test_workgroup_uses_its_own_security_group_only(doc: dict[str, Any]) -> None:
    sg_id, _ = only(doc, "aws_security_group")
    _, wg = only(doc, "aws_redshiftserverless_workgroup")
    assert wg["security_group_ids"] == [ref("aws_security_group", sg_id, "id")]


def test_security_group_has_no_inline_rules(doc: dict[str, Any]) -> None:
    _, sg = only(doc, "aws_security_group")
    assert "ingress" not in sg and "egress" not in sg


def test_ingress_is_5439_from_each_client_group_and_nothing_else(doc: dict[str, Any]) -> None:
    rules = resources(doc, "aws_vpc_security_group_ingress_rule").values()
    assert sorted(r["referenced_security_group_id"] for r in rules) == sorted(CLIENTS)
    assert all((r["ip_protocol"], r["from_port"], r["to_port"]) == ("tcp", 5439, 5439) for r in rules)
    assert not any("cidr_ipv4" in r or "cidr_ipv6" in r or "prefix_list_id" in r for r in rules)


def test_egress_is_https_to_the_vpc_and_the_s3_prefix_list_only(doc: dict[str, Any]) -> None:
    rules = list(resources(doc, "aws_vpc_security_group_egress_rule").values())
    assert sorted((r.get("cidr_ipv4", ""), r.get("prefix_list_id", "")) for r in rules) == [
        ("", "pl-s3"), ("10.20.0.0/16", "")]
    assert all((r["ip_protocol"], r["from_port"], r["to_port"]) == ("tcp", 443, 443) for r in rules)


def test_workgroup_routes_through_the_vpc(doc: dict[str, Any]) -> None:
    _, wg = only(doc, "aws_redshiftserverless_workgroup")
    assert wg["enhanced_vpc_routing"] is True


def test_workgroup_requires_ssl(doc: dict[str, Any]) -> None:
    _, wg = only(doc, "aws_redshiftserverless_workgroup")
    params = {p["parameter_key"]: p["parameter_value"] for p in wg["config_parameter"]}
    assert params["require_ssl"] == "true"


def test_workgroup_sets_every_config_parameter_so_plans_stay_empty(doc: dict[str, Any]) -> None:
    _, wg = only(doc, "aws_redshiftserverless_workgroup")
    keys = {p["parameter_key"] for p in wg["config_parameter"]}
    assert keys == {*DEFAULT_CONFIG_PARAMETERS, "require_ssl", "enable_user_activity_logging"}


def test_workgroup_capacity_comes_from_props(doc: dict[str, Any]) -> None:
    _, wg = only(doc, "aws_redshiftserverless_workgroup")
    assert (wg["base_capacity"], wg["max_capacity"], wg["port"]) == (8, 64, 5439)


# ======================================================================================
# the namespace: encryption, secrets, logs
# ======================================================================================


def test_namespace_is_encrypted_with_the_environment_key(doc: dict[str, Any]) -> None:
    _, ns = only(doc, "aws_redshiftserverless_namespace")
    assert ns["kms_key_id"] == KEY_ARN


def test_admin_password_is_managed_by_secrets_manager_under_the_key(doc: dict[str, Any]) -> None:
    _, ns = only(doc, "aws_redshiftserverless_namespace")
    assert ns["manage_admin_password"] is True
    assert ns["admin_password_secret_kms_key_id"] == KEY_ARN


def test_no_password_appears_anywhere_in_the_synthesized_json(doc: dict[str, Any]) -> None:
    text = json.dumps(doc)
    assert "admin_user_password" not in text
    assert '"password"' not in text.lower()


def test_spectrum_role_is_attached_and_the_default(doc: dict[str, Any]) -> None:
    role_id = next(rid for rid, r in resources(doc, "aws_iam_role").items() if r["name"] == "pk-x-warehouse-spectrum")
    _, ns = only(doc, "aws_redshiftserverless_namespace")
    arn = ref("aws_iam_role", role_id, "arn")
    assert (ns["iam_roles"], ns["default_iam_role_arn"]) == ([arn], arn)


def test_namespace_exports_its_logs_into_encrypted_groups_with_retention(doc: dict[str, Any]) -> None:
    _, ns = only(doc, "aws_redshiftserverless_namespace")
    groups = {g["name"]: g for g in resources(doc, "aws_cloudwatch_log_group").values()}
    assert sorted(groups) == sorted(f"/aws/redshift/pk-x-warehouse/{t}" for t in ns["log_exports"])
    assert all((g["kms_key_id"], g["retention_in_days"]) == (KEY_ARN, 90) for g in groups.values())


def test_prevent_destroy_guards_the_namespace(doc: dict[str, Any]) -> None:
    _, ns = only(doc, "aws_redshiftserverless_namespace")
    assert ns["lifecycle"]["prevent_destroy"] is True


def test_without_prevent_destroy_the_namespace_has_no_lifecycle() -> None:
    _, ns = only(synth_construct(lambda s: _warehouse(s, prevent_destroy=False)), "aws_redshiftserverless_namespace")
    assert "lifecycle" not in ns


# ======================================================================================
# IAM
# ======================================================================================


def test_spectrum_role_trusts_both_redshift_service_principals(doc: dict[str, Any]) -> None:
    role = next(r for r in resources(doc, "aws_iam_role").values() if r["name"] == "pk-x-warehouse-spectrum")
    [statement] = json.loads(role["assume_role_policy"])["Statement"]
    assert sorted(statement["Principal"]["Service"]) == ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"]


def test_spectrum_role_reads_only_the_clean_catalog_bucket_and_key(doc: dict[str, Any]) -> None:
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    resources_by_sid = {sid: sorted(as_list(s["Resource"]))
                        for sid, s in statements_by_sid(policy_of(doc, "pk-x-warehouse-spectrum")).items()}
    assert resources_by_sid == {
        "ReadCleanCatalog": sorted([f"{glue}:catalog", f"{glue}:database/{GLUE_DB}", f"{glue}:table/{GLUE_DB}/*"]),
        "ListCleanBucket": [CLEAN_ARN],
        "ReadCleanObjects": [f"{CLEAN_ARN}/*"],
        "DecryptThroughS3": [KEY_ARN],
    }


def test_spectrum_role_decrypts_only_through_s3(doc: dict[str, Any]) -> None:
    decrypt = statements_by_sid(policy_of(doc, "pk-x-warehouse-spectrum"))["DecryptThroughS3"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}


def test_spectrum_role_only_reads(doc: dict[str, Any]) -> None:
    actions = [a for s in policy_of(doc, "pk-x-warehouse-spectrum")["Statement"] for a in as_list(s["Action"])]
    assert all(a.split(":")[1].startswith(("Get", "BatchGet", "List", "Decrypt")) for a in actions), actions


def test_no_policy_has_a_wildcard_action_or_resource(doc: dict[str, Any]) -> None:
    for policy in resources(doc, "aws_iam_role_policy").values():
        for s in json.loads(policy["policy"])["Statement"]:
            assert "*" not in as_list(s["Action"]) and "*" not in as_list(s["Resource"]), s
            assert not any(a.endswith(":*") for a in as_list(s["Action"])), s


def test_scheduler_role_runs_statements_on_this_workgroup_as_its_own_database_user(doc: dict[str, Any]) -> None:
    wg_id, _ = only(doc, "aws_redshiftserverless_workgroup")
    wg_arn = ref("aws_redshiftserverless_workgroup", wg_id, "arn")
    by_sid = statements_by_sid(policy_of(doc, "pk-x-warehouse-load-scheduler"))
    assert {sid: (s["Action"], s["Resource"]) for sid, s in by_sid.items()} == {
        "RunLoadStatements": ("redshift-data:BatchExecuteStatement", wg_arn),
        "SignInAsItsOwnDatabaseUser": ("redshift-serverless:GetCredentials", wg_arn),
        "DecryptScheduleInput": ("kms:Decrypt", KEY_ARN),
    }


def test_scheduler_role_cannot_read_the_admin_secret_and_decrypts_only_through_scheduler(doc: dict[str, Any]) -> None:
    statements = policy_of(doc, "pk-x-warehouse-load-scheduler")["Statement"]
    assert not [a for s in statements for a in as_list(s["Action"]) if a.startswith("secretsmanager:")]
    [kms] = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": f"scheduler.{REGION}.amazonaws.com"}}


def test_the_schedules_input_is_encrypted_with_the_environment_key(doc: dict[str, Any]) -> None:
    assert {s["kms_key_arn"] for s in resources(doc, "aws_scheduler_schedule").values()} == {KEY_ARN}


def test_scheduler_role_gets_the_loader_database_role_at_sign_in(doc: dict[str, Any]) -> None:
    role = next(r for r in resources(doc, "aws_iam_role").values() if r["name"] == "pk-x-warehouse-load-scheduler")
    assert role["tags"]["RedshiftDbRoles"] == LOADER_ROLE


def test_scheduler_role_trusts_the_scheduler_of_this_account_only(doc: dict[str, Any]) -> None:
    role = next(r for r in resources(doc, "aws_iam_role").values() if r["name"] == "pk-x-warehouse-load-scheduler")
    [statement] = json.loads(role["assume_role_policy"])["Statement"]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# ======================================================================================
# SQL through the Data API
# ======================================================================================


def test_deploy_time_statements_authenticate_with_the_managed_admin_secret(doc: dict[str, Any]) -> None:
    ns_id, _ = only(doc, "aws_redshiftserverless_namespace")
    wg_id, _ = only(doc, "aws_redshiftserverless_workgroup")
    statements = resources(doc, "aws_redshiftdata_statement").values()
    assert {s["secret_arn"] for s in statements} == {ref("aws_redshiftserverless_namespace", ns_id,
                                                         "admin_password_secret_arn")}
    assert {s["workgroup_name"] for s in statements} == {ref("aws_redshiftserverless_workgroup", wg_id,
                                                             "workgroup_name")}


def test_external_schema_is_over_the_clean_glue_database(doc: dict[str, Any]) -> None:
    role_id = next(rid for rid, r in resources(doc, "aws_iam_role").items() if r["name"] == "pk-x-warehouse-spectrum")
    [sql] = [s["sql"] for s in resources(doc, "aws_redshiftdata_statement").values() if "EXTERNAL SCHEMA" in s["sql"]]
    assert sql == (f"CREATE EXTERNAL SCHEMA IF NOT EXISTS \"lake\" FROM DATA CATALOG DATABASE '{GLUE_DB}' "
                   f"IAM_ROLE '{ref('aws_iam_role', role_id, 'arn')}'")


def test_every_terraform_statement_is_idempotent(doc: dict[str, Any]) -> None:
    sqls = [s["sql"] for s in resources(doc, "aws_redshiftdata_statement").values()]
    creates = [sql for sql in sqls if sql.startswith(("CREATE SCHEMA ", "CREATE EXTERNAL SCHEMA ", "CREATE TABLE "))
               and " IF NOT EXISTS " in sql]
    assert len(creates) == 4  # external schema, curated schema, two tables
    others = sorted(set(sqls) - set(creates))
    # the loader: a procedure replaced in place, a CALL that creates the role once, and GRANTs
    assert [sql.split(" ")[0] for sql in others] == ["CALL", "CREATE", "GRANT", "GRANT", "GRANT", "GRANT"]
    assert [sql for sql in others if sql.startswith("CREATE ")] == [ensure_role_sql()]
    assert not any(sql.upper().startswith(("DROP ", "DELETE ", "TRUNCATE ")) for sql in sqls), sqls


def test_the_role_procedure_creates_a_role_only_when_it_does_not_exist() -> None:
    sql = ensure_role_sql()
    assert sql.startswith('CREATE OR REPLACE PROCEDURE "public"."pipeline_kit_ensure_role"(p_role VARCHAR(127))')
    assert "IF NOT EXISTS (SELECT 1 FROM svv_roles WHERE role_name = p_role) THEN " in sql
    assert "EXECUTE 'CREATE ROLE ' || quote_ident(p_role);" in sql
    assert "${" not in sql  # Terraform would read it as an interpolation


def test_the_loader_is_granted_the_curated_schema_its_tables_and_copy_only() -> None:
    grants = loader_grant_statements(role="loader", schema="curated", tables=["orders", "events"],
                                     spectrum_role_arn="arn:aws:iam::1:role/spectrum")
    assert grants == {
        "loader-role": 'CALL public."pipeline_kit_ensure_role"(\'loader\')',
        "loader-schema": 'GRANT USAGE, CREATE ON SCHEMA "curated" TO ROLE "loader"',
        "loader-copy-role": "GRANT ASSUMEROLE ON 'arn:aws:iam::1:role/spectrum' TO ROLE \"loader\" FOR COPY",
        "loader-table-orders": 'GRANT SELECT, INSERT, DELETE, DROP ON TABLE "curated"."orders" TO ROLE "loader"',
        "loader-table-events": 'GRANT SELECT, INSERT, DELETE, DROP ON TABLE "curated"."events" TO ROLE "loader"',
    }


def test_the_loader_grants_run_after_the_role_and_the_tables_exist(doc: dict[str, Any]) -> None:
    by_name = {s["statement_name"]: (rid, s) for rid, s in resources(doc, "aws_redshiftdata_statement").items()}
    role_id, _ = by_name["pk-x-warehouse-loader-role"]
    table_id, _ = by_name["pk-x-warehouse-table-orders"]
    _, grant = by_name["pk-x-warehouse-loader-table-orders"]
    assert f"aws_redshiftdata_statement.{role_id}" in grant["depends_on"]
    assert f"aws_redshiftdata_statement.{table_id}" in grant["depends_on"]


def test_the_load_runs_as_the_scheduler_roles_database_user() -> None:
    built: list[Warehouse] = []
    synth_construct(lambda s: built.append(_warehouse(s)))
    assert built[0].loader_db_user == iam_role_db_user("pk-x-warehouse-load-scheduler") == \
        "IAMR:pk-x-warehouse-load-scheduler"


def test_statements_wait_for_the_workgroup(doc: dict[str, Any]) -> None:
    wg_id, _ = only(doc, "aws_redshiftserverless_workgroup")
    assert all(f"aws_redshiftserverless_workgroup.{wg_id}" in s["depends_on"]
               for s in resources(doc, "aws_redshiftdata_statement").values())


def test_a_curated_table_per_dataset_with_the_contract_columns(doc: dict[str, Any]) -> None:
    [sql] = [s["sql"] for s in resources(doc, "aws_redshiftdata_statement").values()
             if s["sql"].startswith("CREATE TABLE") and "\"orders\"" in s["sql"]]
    assert sql == ('CREATE TABLE IF NOT EXISTS "curated"."orders" ("order_id" VARCHAR(80), "email" VARCHAR(64), '
                   '"amount" DECIMAL(38,9), "order_date" DATE, "quantity" BIGINT, "paid" BOOLEAN, '
                   '"created_at" TIMESTAMP)')


# ======================================================================================
# the curated load
# ======================================================================================


def test_load_copies_the_compacted_parquet_and_swaps_the_table_in() -> None:
    sqls = load_statements(schema="curated", table="orders", columns=[("order_id", "VARCHAR(80)")],
                           source_uri="s3://bucket/parquet/dataset=orders/", role_arn="arn:aws:iam::1:role/r")
    assert sqls == [
        'DROP TABLE IF EXISTS "curated"."orders__load"',
        'CREATE TABLE "curated"."orders__load" ("order_id" VARCHAR(80))',
        'COPY "curated"."orders__load" FROM \'s3://bucket/parquet/dataset=orders/\' '
        "IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET",
        'DROP TABLE IF EXISTS "curated"."orders"',
        'ALTER TABLE "curated"."orders__load" RENAME TO "orders"',
    ]


def test_load_refuses_a_source_that_is_not_an_s3_prefix() -> None:
    with pytest.raises(ValueError, match=r"source_uri must be an s3:// prefix ending in '/'"):
        load_statements(schema="curated", table="orders", columns=[("a", "BIGINT")],
                        source_uri="s3://bucket/parquet/dataset=orders", role_arn="arn:aws:iam::1:role/r")


def test_one_schedule_per_dataset_calls_the_data_api_batch(doc: dict[str, Any]) -> None:
    schedules = resources(doc, "aws_scheduler_schedule").values()
    assert sorted(s["name"] for s in schedules) == ["pk-x-warehouse-load-events", "pk-x-warehouse-load-orders"]
    assert {(s["target"]["arn"], s["schedule_expression"]) for s in schedules} == {
        (BATCH_EXECUTE_TARGET, "cron(30 4 * * ? *)")}


def test_the_scheduled_load_reads_the_orders_parquet_without_any_secret(doc: dict[str, Any]) -> None:
    [schedule] = [s for s in resources(doc, "aws_scheduler_schedule").values() if s["name"].endswith("orders")]
    payload = json.loads(schedule["target"]["input"])
    # no SecretArn, no DbUser: the Data API uses temporary credentials of the caller's IAM identity
    assert sorted(payload) == ["Database", "Sqls", "StatementName", "WithEvent", "WorkgroupName"]
    assert f"FROM 's3://{CLEAN_BUCKET}/parquet/dataset=orders/'" in payload["Sqls"][2]


def test_the_schedules_wait_for_the_loader_grants(doc: dict[str, Any]) -> None:
    grants = {f"aws_redshiftdata_statement.{rid}" for rid, s in resources(doc, "aws_redshiftdata_statement").items()
              if s["statement_name"].startswith("pk-x-warehouse-loader-")}
    assert len(grants) == 6
    for schedule in resources(doc, "aws_scheduler_schedule").values():
        assert grants <= set(schedule["depends_on"])


def test_no_schedule_no_scheduler_role_and_no_loader_without_a_load_schedule() -> None:
    doc = synth_construct(lambda s: _warehouse(s, load_schedule=""))
    assert resources(doc, "aws_scheduler_schedule") == {}
    assert [r["name"] for r in resources(doc, "aws_iam_role").values()] == ["pk-x-warehouse-spectrum"]
    assert not [s for s in resources(doc, "aws_redshiftdata_statement").values() if "loader" in s["statement_name"]]


def test_outputs_name_the_endpoint_namespace_and_secret_arn(doc: dict[str, Any]) -> None:
    values = sorted(o["value"] for o in doc["output"].values())
    assert any(v.endswith(".endpoint[0].address}") for v in values)
    assert any(v.endswith(".admin_password_secret_arn}") for v in values)
    assert any(v.startswith("${aws_redshiftserverless_namespace.") and v.endswith(".namespace_name}") for v in values)


# ======================================================================================
# pure type mapping
# ======================================================================================


@pytest.mark.parametrize(("glue_type", "expected"), [
    ("bigint", "BIGINT"), ("date", "DATE"), ("timestamp", "TIMESTAMP"), ("boolean", "BOOLEAN"),
    ("decimal(38,9)", "DECIMAL(38,9)"), ("string", "VARCHAR(65535)"),
])
def test_redshift_type_of_each_glue_type(glue_type: str, expected: str) -> None:
    assert redshift_type(glue_type) == expected


def test_a_long_max_length_is_capped_at_the_redshift_maximum() -> None:
    assert redshift_type("string", max_length=100_000) == "VARCHAR(65535)"


def test_curated_columns_leave_out_the_partition_key() -> None:
    assert "date" not in [n for n, _ in curated_columns(ORDERS)]


# ======================================================================================
# bad props
# ======================================================================================


@pytest.mark.parametrize(("overrides", "message"), [
    (dict(base_capacity_rpus=128, max_capacity_rpus=64),
     r"base_capacity_rpus \(128\) exceeds max_capacity_rpus \(64\)"),
    (dict(subnet_ids=["subnet-0a", "subnet-0b"]),
     r"needs at least 3 private subnets in 3 availability zones, got 2"),
    (dict(subnet_ids=["subnet-0a", "subnet-0b", "subnet-0a"]), r"a subnet is listed twice"),
    (dict(base_capacity_rpus=12), r"base_capacity_rpus must be 8-512 RPUs in steps of 8, got 12"),
    (dict(max_capacity_rpus=6000), r"max_capacity_rpus must be 8-5632 RPUs in steps of 8, got 6000"),
    (dict(client_security_group_ids=[]), r"needs at least one client security group"),
    (dict(name="PK_Warehouse"), r"name must be 3-51 lower-case letters, digits or '-'"),
    (dict(load_schedule="every night"), r"load_schedule must be cron\(\.\.\.\) or rate\(\.\.\.\)"),
    (dict(log_exports=["auditlog"]), r"unknown log export\(s\) auditlog"),
    (dict(curated_schema="lake"), r"external_schema and curated_schema must differ"),
    (dict(database_name="Analytics"), r"'Analytics' is not a safe Redshift identifier"),
])
def test_bad_props_are_refused_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synth_construct(lambda s: _warehouse(s, **overrides))


# ======================================================================================
# terraform validate
# ======================================================================================


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_validate_accepts_the_warehouse(tmp_path: Path) -> None:
    from kit.terraform import Terraform
    from modules.providers import aws_provider, pin_aws_provider

    app = App(outdir=str(tmp_path / "cdktf.out"))
    stack = TerraformStack(app, "warehouse")
    pin_aws_provider(stack)
    aws_provider(stack, region=REGION, account_id=ACCOUNT, default_tags={"Project": "pipeline-kit"})
    _warehouse(stack)
    app.synth()
    tf = Terraform.for_stack(tmp_path / "cdktf.out" / "stacks" / "warehouse", state_dir=tmp_path / "state")
    tf.init(backend=False, quiet=True)
    result = tf.validate()
    assert result.returncode == 0, f"terraform validate failed:\n{result.stdout}\n{result.stderr}"
    assert "Success" in result.stdout, result.stdout
