"""The catalog, query, API, observability, audit and backup layers as each environment wires them."""

from __future__ import annotations

import json

import pytest

import main
from environments import ALL_ENVIRONMENTS, load_environment
from modules.plugins import discover_plugins

DATASETS = tuple(main.dataset_names())  # one per contract: the shipped ones and any a user adds
AWS_ENVS = ("dev", "test", "staging", "prod")


def resources(stack, rtype):
    return stack.get("resource", {}).get(rtype, {})


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_a_generated_table_per_dataset_plus_reports_and_status_history(stacks, env):
    names = {t["name"] for t in resources(stacks[env], "aws_glue_catalog_table").values()}
    assert set(DATASETS) | {f"{d}_parquet" for d in DATASETS} | {"quarantine_reports", "file_status"} <= names


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_crawler_schedules_follow_the_config(stacks, env):
    schedule = load_environment(env).catalog.crawler_schedule
    crawlers = resources(stacks[env], "aws_glue_crawler").values()
    assert len(crawlers) == len(DATASETS)
    assert {c.get("schedule") for c in crawlers} == {schedule or None}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_named_queries_use_tables_the_stack_defines(stacks, env):
    queries = resources(stacks[env], "aws_athena_named_query").values()
    assert len(queries) == 3 * len(DATASETS)
    sql = " ".join(q["query"] for q in queries)
    for table in ("table-quarantine-reports", "table-file-status"):  # references to the stack's tables
        assert f"${{aws_glue_catalog_table.{table}_table_" in sql


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_the_api_function_may_query_only_its_workgroup_and_catalog(stacks, env):
    (policy,) = [json.loads(p["policy"]) for p in resources(stacks[env], "aws_iam_role_policy").values()
                 if p["name"] == f"pk-{env}-api-least-privilege"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["RunQueriesInWorkgroup"]["Resource"].startswith("${aws_athena_workgroup.")
    assert f"database/pk_{env}_clean" in " ".join(by_sid["ReadCatalog"]["Resource"])


@pytest.mark.parametrize("env", AWS_ENVS)
def test_backup_selects_the_data_stores_by_tag_in_aws(stacks, env):
    (selection,) = resources(stacks[env], "aws_backup_selection").values()
    assert selection["selection_tag"] == [{"type": "STRINGEQUALS", "key": "Backup", "value": f"pk-{env}"}]
    tagged = [b["bucket"] for b in resources(stacks[env], "aws_s3_bucket").values()
              if (b.get("tags") or {}).get("Backup") == f"pk-{env}"]
    assert sorted(tagged) == sorted(f"pk-{env}-{p}-{load_environment(env).account_id}"
                                    for p in ("landing", "clean", "quarantine", "archive"))


def test_the_emulator_gets_no_backup_selection(stacks):
    assert resources(stacks["local"], "aws_backup_selection") == {}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_vault_lock_only_in_prod(stacks, env):
    assert bool(resources(stacks[env], "aws_backup_vault_lock_configuration")) == (env == "prod")


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_trail_is_multi_region_validated_and_watches_landing_and_clean(stacks, env):
    (trail,) = resources(stacks[env], "aws_cloudtrail").values()
    assert trail["is_multi_region_trail"] and trail["enable_log_file_validation"]
    assert trail["kms_key_id"].startswith("${aws_kms_key.")
    selectors = json.dumps(trail.get("event_selector", trail.get("advanced_event_selector")))
    assert "bucket-landing" in selectors and "bucket-clean" in selectors


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_one_dashboard_and_an_error_log_filter_per_plugin(stacks, env):
    assert len(resources(stacks[env], "aws_cloudwatch_dashboard")) == 1
    filters = [f for f in resources(stacks[env], "aws_cloudwatch_log_metric_filter").values()
               if f["name"].endswith("-error-logs")]  # the trail's CIS security filters are counted elsewhere
    assert len(filters) == len(discover_plugins())  # one per plug-in (validate, cleanse, archive, notify, api, …)


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_every_api_method_requires_iam(stacks, env):
    from kit.openapi import load_core  # the api plug-in's core: its ROUTES are the API's methods

    methods = resources(stacks[env], "aws_api_gateway_method").values()
    assert len(methods) == len(load_core().ROUTES)
    assert {m["authorization"] for m in methods} == {"AWS_IAM"}
