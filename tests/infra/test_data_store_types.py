"""The data-store gate knows every resource type that holds data.

``kit.gates.DATA_STORE_TYPES`` decides which destroys and replacements a deploy refuses without
``ALLOW_DATA_STORE_REPLACEMENT=yes``. Every resource type that any environment synthesizes —
the shipped environments, and prod with every optional service switched on (built as in
``test_services_stack.py``) — must be either in that list or in ``HOLDS_NO_DATA`` below, each
with the reason. A new service that brings a new type fails here until someone decides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kit.gates import DATA_STORE_TYPES

#: Types whose destroy or replacement loses no data: configuration rebuilt from code, compute,
#: wiring, permissions, or something whose data lives in another (gated) resource.
HOLDS_NO_DATA = {
    # API Gateway: routes and settings, rebuilt from the API plug-in's code
    "aws_api_gateway_deployment": "a snapshot of the routes",
    "aws_api_gateway_gateway_response": "configuration",
    "aws_api_gateway_integration": "configuration",
    "aws_api_gateway_method": "configuration",
    "aws_api_gateway_method_settings": "configuration",
    "aws_api_gateway_model": "a request schema from code",
    "aws_api_gateway_request_validator": "configuration",
    "aws_api_gateway_resource": "configuration",
    "aws_api_gateway_rest_api": "configuration (access logs are in a gated log group)",
    "aws_api_gateway_stage": "configuration",
    # AppSync: the status API announces; it stores nothing (no cache, data sources elsewhere)
    "aws_appsync_datasource": "a pointer to another resource",
    "aws_appsync_graphql_api": "a schema from code",
    "aws_appsync_resolver": "code",
    # Athena: results are written to the (gated) athena-results bucket
    "aws_athena_named_query": "query text from code",
    "aws_athena_workgroup": "settings; results live in a bucket",
    # AWS Backup: recovery points live in the (gated) vault
    "aws_backup_plan": "a schedule",
    "aws_backup_selection": "which resources a plan covers",
    "aws_backup_vault_lock_configuration": "the vault's lock settings (the recovery points are the vault's)",
    # Batch: jobs read their file from landing, which keeps it until processed
    "aws_batch_compute_environment": "compute",
    "aws_batch_job_definition": "a container definition from the release",
    "aws_batch_job_queue": "jobs waiting to run name a file that stays in landing (make replay re-drives it)",
    # audit: CloudTrail writes to the (gated) audit bucket
    "aws_cloudtrail": "a trail's settings; its logs are in a bucket",
    # CloudWatch: dashboards, alarms, filters and routing
    "aws_cloudwatch_dashboard": "a layout from code",
    "aws_cloudwatch_event_rule": "a schedule or pattern",
    "aws_cloudwatch_event_target": "wiring",
    "aws_cloudwatch_log_metric_filter": "a pattern",
    "aws_cloudwatch_log_resource_policy": "permissions",
    "aws_cloudwatch_metric_alarm": "a threshold",
    "aws_scheduler_schedule": "a schedule",
    # DMS: it copies from a source database into the landing bucket; it stores nothing itself
    "aws_dms_endpoint": "connection settings",
    "aws_dms_replication_instance": "compute",
    "aws_dms_replication_subnet_group": "network placement",
    "aws_dms_replication_task": "what to copy (a replaced task starts with a full load again)",
    "aws_dms_s3_endpoint": "connection settings",
    # database clusters: the data is the cluster's (gated); these are compute, settings and placement
    "aws_docdb_cluster_instance": "compute of a gated cluster",
    "aws_docdb_cluster_parameter_group": "settings",
    "aws_docdb_subnet_group": "network placement",
    "aws_neptune_cluster_instance": "compute of a gated cluster",
    "aws_neptune_cluster_parameter_group": "settings",
    "aws_neptune_subnet_group": "network placement",
    "aws_elasticache_subnet_group": "network placement",
    "aws_elasticache_user": "an access identity",
    "aws_elasticache_user_group": "access identities",
    "aws_memorydb_acl": "access identities",
    "aws_memorydb_subnet_group": "network placement",
    "aws_memorydb_user": "an access identity",
    # ECR: the images are the repository's (gated)
    "aws_ecr_lifecycle_policy": "a retention rule",
    "aws_ecr_repository_policy": "permissions",
    # Glue: jobs, crawlers and triggers are code and schedules (a replaced job loses its bookmark,
    # so its next run reprocesses: nothing is lost)
    "aws_glue_crawler": "a schedule and targets",
    "aws_glue_job": "a script from the release",
    "aws_glue_security_configuration": "which (gated) keys Glue encrypts with",
    "aws_glue_trigger": "a schedule",
    # IAM
    "aws_iam_role": "permissions",
    "aws_iam_role_policy": "permissions",
    "aws_iam_role_policy_attachment": "permissions",
    # KMS: the alias only names the (gated) key
    "aws_kms_alias": "a name",
    # Lake Formation and DataZone settings
    "aws_lakeformation_data_lake_settings": "administrators",
    "aws_lakeformation_permissions": "permissions",
    "aws_lakeformation_resource": "a registration of a (gated) bucket location",
    # Lambda: code from the artifacts bucket
    "aws_lambda_event_source_mapping": "wiring",
    "aws_lambda_function": "code from the release",
    "aws_lambda_layer_version": "code from the release",
    "aws_lambda_permission": "permissions",
    # Redshift: the workgroup is compute, the data is the namespace's (gated)
    "aws_redshiftserverless_workgroup": "compute of a gated namespace",
    "aws_redshiftdata_statement": "a statement the deploy ran",
    # S3: settings of a (gated) bucket
    "aws_s3_bucket_lifecycle_configuration": "rules",
    "aws_s3_bucket_notification": "wiring",
    "aws_s3_bucket_policy": "permissions",
    "aws_s3_bucket_public_access_block": "settings",
    "aws_s3_bucket_server_side_encryption_configuration": "settings",
    "aws_s3_bucket_versioning": "settings",
    # SNS: delivers at once, keeps nothing
    "aws_sns_topic": "delivers and keeps nothing",
    "aws_sns_topic_policy": "permissions",
    "aws_sns_topic_subscription": "wiring",
    "aws_sqs_queue_policy": "permissions",
    # network
    "aws_default_security_group": "network",
    "aws_flow_log": "routing of flow logs into a (gated) log group",
    "aws_route_table": "network",
    "aws_route_table_association": "network",
    "aws_security_group": "network",
    "aws_subnet": "network",
    "aws_vpc": "network",
    "aws_vpc_endpoint": "network",
    "aws_vpc_security_group_egress_rule": "network",
    "aws_vpc_security_group_ingress_rule": "network",
    # Terraform itself
    "terraform_data": "Terraform's own bookkeeping",
}


@pytest.fixture(scope="module")
def prod_with_every_service(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from test_services_stack import all_services_on

    import main

    root = tmp_path_factory.mktemp("every-service")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIPELINE_KIT_WORKDIR", str(root))
        workdir = main.synth([all_services_on()], outdir=root / "cdktf.out")["prod"]
    return json.loads((Path(workdir) / "cdk.tf.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def synthesized_types(stacks: dict[str, dict[str, Any]], prod_with_every_service: dict[str, Any]) -> dict[str, set[str]]:
    """``{resource type: the environments that synthesize it}``."""
    found: dict[str, set[str]] = {}
    for env, doc in [*stacks.items(), ("prod with every service", prod_with_every_service)]:
        for rtype in doc.get("resource", {}):
            found.setdefault(rtype, set()).add(env)
    return found


def test_every_synthesized_resource_type_is_classified(synthesized_types):
    unclassified = {t: sorted(envs) for t, envs in synthesized_types.items()
                    if t not in DATA_STORE_TYPES and t not in HOLDS_NO_DATA}
    assert unclassified == {}, (
        "resource types neither in kit.gates.DATA_STORE_TYPES nor in HOLDS_NO_DATA (decide: does a destroy "
        f"lose data?): {unclassified}"
    )


def test_no_type_is_both_a_data_store_and_data_free():
    assert sorted(set(DATA_STORE_TYPES) & set(HOLDS_NO_DATA)) == []


def test_every_gated_type_is_one_the_stacks_build(synthesized_types):
    """A misspelt or renamed type in the list would gate nothing: each one is synthesized by some
    environment, but for a provisioned Redshift cluster (the kit builds Redshift Serverless; the
    type stays gated for states that still hold one)."""
    assert sorted(set(DATA_STORE_TYPES) - set(synthesized_types)) == ["aws_redshift_cluster"]
