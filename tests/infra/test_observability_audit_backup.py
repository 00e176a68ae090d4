"""Observability (dashboard, error-log filters, EMF alarms), audit (CloudTrail and the policy
statements it needs) and AWS Backup: each construct synthesized alone in a small test stack,
the pure functions checked directly, and one real ``terraform validate`` of a stack that holds
all of them."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from cdktf import App, TerraformStack
from cdktf import Testing as CdkTesting  # aliased: pytest would try to collect "Testing"
from synth_helpers import only, ref, resources, synth_construct  # noqa: E402

import modules  # noqa: F401  -- installs the lazy loader before any AWS binding is imported
from modules.audit import (
    CIS_SECURITY_EVENTS,
    AuditTrail,
    SecurityAlarms,
    SecurityEvent,
    cloudtrail_bucket_statements,
    cloudtrail_key_statements,
    trail_arn,
)
from modules.backup import DAILY_SCHEDULE, DISCOVERY_ACTIONS, WEEKLY_SCHEDULE, BackupProtection, BackupScope
from modules.observability import (
    ERROR_LOG_PATTERN,
    FILE_METRICS,
    RECORD_METRICS,
    ErrorLogMetricFilter,
    PipelineDashboard,
    RejectedRowsAlarm,
    StageRefs,
    dashboard_body,
)
from modules.policy import Statement, policy_json

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111111111111"
REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:pk-x-alarms"
AUDIT_ARN = f"arn:aws:s3:::pk-x-audit-{ACCOUNT}"
LANDING_ARN = f"arn:aws:s3:::pk-x-landing-{ACCOUNT}"
CLEAN_ARN = f"arn:aws:s3:::pk-x-clean-{ACCOUNT}"
STAGES = (
    StageRefs(name="validate", function_name="pk-x-validate", queue_name="pk-x-validate",
              dlq_name="pk-x-validate-dlq"),
    StageRefs(name="cleanse", function_name="pk-x-cleanse", queue_name="pk-x-cleanse",
              dlq_name="pk-x-cleanse-dlq"),
)
DATASETS = ("orders", "customers")


# ======================================================================================
# helpers
# ======================================================================================






def rendered(statements: list[Statement]) -> dict[str, dict[str, Any]]:
    """``{sid: statement}`` as it lands in a policy document."""
    doc = json.loads(policy_json(statements))
    return {s["Sid"]: s for s in doc["Statement"]}


def metric_widgets(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["properties"]["title"]: w for w in body["widgets"] if w["type"] == "metric"}


def body() -> dict[str, Any]:
    return dashboard_body(title="pk-x", region=REGION, stages=STAGES, datasets=DATASETS)


def _dashboard(stack: TerraformStack, **overrides: Any) -> PipelineDashboard:
    props: dict[str, Any] = dict(name="pk-x", region=REGION, stages=STAGES, datasets=DATASETS)
    props.update(overrides)
    return PipelineDashboard(stack, "dashboard", **props)


def _error_filter(stack: TerraformStack, **overrides: Any) -> ErrorLogMetricFilter:
    props: dict[str, Any] = dict(name="pk-x-validate-error-logs", log_group_name="/aws/lambda/pk-x-validate",
                                 namespace="PipelineKit/Logs", metric_name="pk-x-validate-errors",
                                 alarm_topic_arn=TOPIC_ARN)
    props.update(overrides)
    return ErrorLogMetricFilter(stack, "errors", **props)


def _trail(stack: TerraformStack, **overrides: Any) -> AuditTrail:
    props: dict[str, Any] = dict(name="pk-x-trail", bucket_name=f"pk-x-audit-{ACCOUNT}", bucket_arn=AUDIT_ARN,
                                 kms_key_arn=KEY_ARN, account_id=ACCOUNT, region=REGION,
                                 data_event_bucket_arns=[LANDING_ARN, CLEAN_ARN])
    props.update(overrides)
    return AuditTrail(stack, "trail", **props)


STATUS_TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/pk-x-status"
RESTORE_TABLES = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/pk-x-*"
RESTORE_BUCKETS = f"arn:aws:s3:::pk-x-*-{ACCOUNT}"
BACKUP_SCOPE = BackupScope(table_arns=[STATUS_TABLE_ARN], bucket_arns=[LANDING_ARN, CLEAN_ARN],
                           restore_table_arns=[RESTORE_TABLES], restore_bucket_arns=[RESTORE_BUCKETS])


def _backup(stack: TerraformStack, **overrides: Any) -> BackupProtection:
    props: dict[str, Any] = dict(name="pk-x", kms_key_arn=KEY_ARN, daily_retention_days=35,
                                 weekly_retention_days=365, selection_tag_key="Backup",
                                 selection_tag_value="pk-x", vault_lock=False, vault_lock_min_retention_days=7,
                                 vault_lock_max_retention_days=36500, protected=BACKUP_SCOPE, region=REGION,
                                 account_id=ACCOUNT)
    props.update(overrides)
    return BackupProtection(stack, "backup", **props)


def _refused(build: Callable[[TerraformStack], Any]) -> str:
    app = CdkTesting.app()
    stack = TerraformStack(app, "under-test")
    with pytest.raises(ValueError) as info:
        build(stack)
    return str(info.value)


# ======================================================================================
# dashboard
# ======================================================================================


@pytest.mark.parametrize("concern", ["throughput", "errors", "duration", "DLQ depth", "age of oldest message"])
def test_dashboard_has_a_widget_per_stage_for_each_concern(concern: str) -> None:
    titles = metric_widgets(body())
    assert [s.name for s in STAGES if f"{s.name}: {concern}" in titles] == ["validate", "cleanse"]


def test_dashboard_widgets_have_the_cloudwatch_structure_and_fit_the_grid() -> None:
    widgets = body()["widgets"]
    cells: set[tuple[int, int]] = set()
    for w in widgets:
        assert {"type", "x", "y", "width", "height", "properties"} <= set(w), w
        assert 0 <= w["x"] and w["x"] + w["width"] <= 24, w
        if w["type"] == "metric":
            assert {"metrics", "view", "region", "title", "stat", "period"} <= set(w["properties"]), w
            assert w["properties"]["region"] == REGION
        area = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        assert not area & cells, f"widget overlaps another: {w}"
        cells |= area


def test_dashboard_starts_with_a_text_header_naming_the_stages() -> None:
    header = body()["widgets"][0]
    assert header["type"] == "text" and (header["x"], header["y"], header["width"]) == (0, 0, 24)
    assert header["properties"]["markdown"].startswith("# pk-x\n")
    assert "`validate`, `cleanse`" in header["properties"]["markdown"]


def test_dashboard_lambda_metrics_name_the_stage_function() -> None:
    titles = metric_widgets(body())
    assert titles["cleanse: errors"]["properties"]["metrics"] == [
        ["AWS/Lambda", "Errors", "FunctionName", "pk-x-cleanse", {"label": "errors"}],
        ["AWS/Lambda", "Throttles", "FunctionName", "pk-x-cleanse", {"label": "throttles"}],
    ]
    assert titles["cleanse: duration"]["properties"]["metrics"] == [
        ["AWS/Lambda", "Duration", "FunctionName", "pk-x-cleanse", {"stat": q, "label": q}]
        for q in ("p50", "p90", "p99")
    ]


def test_dashboard_queue_metrics_name_the_input_queue_and_its_dlq() -> None:
    titles = metric_widgets(body())
    throughput = titles["validate: throughput"]["properties"]
    assert throughput["stat"] == "Sum"
    assert [m[:4] for m in throughput["metrics"]] == [
        ["AWS/SQS", "NumberOfMessagesSent", "QueueName", "pk-x-validate"],
        ["AWS/SQS", "NumberOfMessagesReceived", "QueueName", "pk-x-validate"],
        ["AWS/Lambda", "Invocations", "FunctionName", "pk-x-validate"],
    ]
    dlq = titles["validate: DLQ depth"]["properties"]
    assert dlq["metrics"][0][:4] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "pk-x-validate-dlq"]
    assert dlq["stat"] == "Maximum"
    age = titles["validate: age of oldest message"]["properties"]
    assert age["metrics"][0][:4] == ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "pk-x-validate"]


@pytest.mark.parametrize("dataset", DATASETS)
def test_dashboard_shows_the_emf_record_metrics_per_dataset(dataset: str) -> None:
    records = metric_widgets(body())[f"{dataset}: records"]["properties"]
    expressions = [m[0]["expression"] for m in records["metrics"]]
    for metric in ("RecordsIn", "RecordsOut", "RecordsRejected"):
        assert (f"SEARCH('{{\"PipelineKit\",dataset,service}} MetricName=\"{metric}\" dataset=\"{dataset}\"', "
                f"'Sum', 300)") in expressions


def test_dashboard_shows_rejected_rows_of_every_dataset() -> None:
    rejected = metric_widgets(body())["rejected rows by dataset"]["properties"]
    assert rejected["metrics"] == [[{
        "expression": "SEARCH('{\"PipelineKit\",dataset,service} MetricName=\"RecordsRejected\"', 'Sum', 300)",
        "id": "rejected"}]]


def test_dashboard_expression_ids_are_unique() -> None:
    ids = [m[0]["id"] for w in metric_widgets(body()).values() for m in w["properties"]["metrics"]
           if isinstance(m[0], dict)]
    assert len(ids) == len(set(ids)) == 1 + len(DATASETS) * (len(RECORD_METRICS) + len(FILE_METRICS))


def test_dashboard_emf_metric_names_are_the_ones_the_plugins_emit() -> None:
    """The record metrics come from ``runtime.COUNT_METRICS``, the file metrics from the handlers."""
    runtime = (ROOT / "lambdas/_shared/pipeline_shared/runtime.py").read_text(encoding="utf-8")
    count_metrics = next(
        ast.literal_eval(node.value) for node in ast.parse(runtime).body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "COUNT_METRICS")
    assert set(RECORD_METRICS) <= {name for name, _unit in count_metrics.values()}
    handlers = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "lambdas").glob("*/*.py"))
    assert all(f'"{name}"' in handlers or f"{name}=" in handlers for name in FILE_METRICS)


def test_dashboard_custom_namespace_and_period_reach_every_search() -> None:
    b = dashboard_body(title="pk-x", region=REGION, stages=STAGES, datasets=["orders"],
                       metrics_namespace="PipelineKit/pk-dev", period_seconds=60)
    expressions = [m[0]["expression"] for w in metric_widgets(b).values() for m in w["properties"]["metrics"]
                   if isinstance(m[0], dict)]
    assert expressions and all(e.startswith("SEARCH('{\"PipelineKit/pk-dev\",dataset,service}") for e in expressions)
    assert all(e.endswith("'Sum', 60)") for e in expressions)
    assert {w["properties"]["period"] for w in metric_widgets(b).values()} == {60}


def test_dashboard_resource_body_is_the_deterministic_json_of_the_widgets() -> None:
    first = synth_construct(_dashboard)
    _, dash = only(first, "aws_cloudwatch_dashboard")
    assert dash["dashboard_name"] == "pk-x"
    assert json.loads(dash["dashboard_body"]) == body()
    _, again = only(synth_construct(_dashboard), "aws_cloudwatch_dashboard")
    assert again["dashboard_body"] == dash["dashboard_body"]


def test_dashboard_body_resolves_references_to_other_resources() -> None:
    from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue

    def build(stack: TerraformStack) -> None:
        q = SqsQueue(stack, "q", name="pk-x-validate")
        dlq = SqsQueue(stack, "dlq", name="pk-x-validate-dlq")
        _dashboard(stack, stages=[StageRefs(name="validate", function_name="pk-x-validate", queue_name=q.name,
                                            dlq_name=dlq.name)])

    doc = synth_construct(build)
    _, dash = only(doc, "aws_cloudwatch_dashboard")
    titles = metric_widgets(json.loads(dash["dashboard_body"]))
    assert titles["validate: DLQ depth"]["properties"]["metrics"][0][3] == ref("aws_sqs_queue", "dlq", "name")
    assert titles["validate: throughput"]["properties"]["metrics"][0][3] == ref("aws_sqs_queue", "q", "name")


def test_dashboard_refuses_a_name_cloudwatch_refuses() -> None:
    assert _refused(lambda s: _dashboard(s, name="pk x/dash")) == (
        "dashboard 'pk x/dash': use 1-255 letters, digits, '-' or '_'")


def test_dashboard_refuses_duplicate_stages() -> None:
    assert _refused(lambda s: _dashboard(s, stages=[STAGES[0], STAGES[0]])) == (
        "dashboard pk-x: stage names must be unique, got ['validate', 'validate']")


# ======================================================================================
# error-log metric filter and EMF alarms
# ======================================================================================


def test_error_log_filter_matches_powertools_error_levels() -> None:
    _, mf = only(synth_construct(_error_filter), "aws_cloudwatch_log_metric_filter")
    assert mf["pattern"] == ERROR_LOG_PATTERN == '{ ($.level = "ERROR") || ($.level = "CRITICAL") }'
    assert mf["log_group_name"] == "/aws/lambda/pk-x-validate"
    assert mf["metric_transformation"] == {"name": "pk-x-validate-errors", "namespace": "PipelineKit/Logs",
                                           "value": "1", "default_value": "0", "unit": "Count"}


def test_error_log_alarm_counts_the_filter_metric_into_the_alarms_topic() -> None:
    doc = synth_construct(lambda s: _error_filter(s, threshold=3, period_seconds=60, evaluation_periods=2))
    filter_id, _ = only(doc, "aws_cloudwatch_log_metric_filter")
    _, alarm = only(doc, "aws_cloudwatch_metric_alarm")
    assert {k: alarm[k] for k in ("alarm_name", "namespace", "metric_name", "statistic", "threshold", "period",
                                  "evaluation_periods", "comparison_operator", "treat_missing_data",
                                  "alarm_actions", "ok_actions")} == {
        "alarm_name": "pk-x-validate-error-logs", "namespace": "PipelineKit/Logs",
        "metric_name": "pk-x-validate-errors", "statistic": "Sum", "threshold": 3, "period": 60,
        "evaluation_periods": 2, "comparison_operator": "GreaterThanOrEqualToThreshold",
        "treat_missing_data": "notBreaching", "alarm_actions": [TOPIC_ARN], "ok_actions": [TOPIC_ARN]}
    assert alarm["depends_on"] == [f"aws_cloudwatch_log_metric_filter.{filter_id}"]


def test_error_log_alarm_refuses_a_period_cloudwatch_refuses() -> None:
    assert _refused(lambda s: _error_filter(s, period_seconds=90)) == (
        "error-log alarm pk-x-validate-error-logs: period_seconds must be 10, 30 or a multiple of 60, got 90")


def test_rejected_rows_alarm_names_both_emf_dimensions() -> None:
    doc = synth_construct(lambda s: RejectedRowsAlarm(s, "rejected", name="pk-x-orders-rejected", dataset="orders",
                                                      service="validate", alarm_topic_arn=TOPIC_ARN, threshold=10))
    _, alarm = only(doc, "aws_cloudwatch_metric_alarm")
    assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"]) == ("PipelineKit", "RecordsRejected", "Sum")
    assert alarm["dimensions"] == {"dataset": "orders", "service": "validate"}
    assert alarm["threshold"] == 10 and alarm["alarm_actions"] == [TOPIC_ARN]


def test_rejected_rows_alarm_refuses_a_zero_threshold() -> None:
    assert _refused(lambda s: RejectedRowsAlarm(s, "r", name="pk-x-orders-rejected", dataset="orders",
                                                service="validate", alarm_topic_arn=TOPIC_ARN, threshold=0)) == (
        "rejected-rows alarm pk-x-orders-rejected: threshold must be at least 1, got 0")


# ======================================================================================
# audit: CloudTrail and the statements it needs
# ======================================================================================


def test_trail_is_multi_region_validated_and_encrypted_into_the_audit_bucket() -> None:
    _, trail = only(synth_construct(_trail), "aws_cloudtrail")
    assert {k: trail[k] for k in ("name", "s3_bucket_name", "s3_key_prefix", "kms_key_id", "is_multi_region_trail",
                                  "include_global_service_events", "enable_log_file_validation",
                                  "enable_logging")} == {
        "name": "pk-x-trail", "s3_bucket_name": f"pk-x-audit-{ACCOUNT}", "s3_key_prefix": "cloudtrail",
        "kms_key_id": KEY_ARN, "is_multi_region_trail": True, "include_global_service_events": True,
        "enable_log_file_validation": True, "enable_logging": True}


def test_trail_logs_data_events_on_exactly_the_given_buckets() -> None:
    _, trail = only(synth_construct(_trail), "aws_cloudtrail")
    assert trail["event_selector"] == [{
        "read_write_type": "All", "include_management_events": True,
        "data_resource": [{"type": "AWS::S3::Object", "values": [f"{LANDING_ARN}/", f"{CLEAN_ARN}/"]}],
    }]


def test_trail_without_data_event_buckets_logs_management_events_only() -> None:
    _, trail = only(synth_construct(lambda s: _trail(s, data_event_bucket_arns=[])), "aws_cloudtrail")
    assert "event_selector" not in trail and "advanced_event_selector" not in trail


def test_trail_single_region_when_asked() -> None:
    _, trail = only(synth_construct(lambda s: _trail(s, multi_region=False)), "aws_cloudtrail")
    assert trail["is_multi_region_trail"] is False


def test_trail_waits_for_the_bucket_policy() -> None:
    from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy

    def build(stack: TerraformStack) -> None:
        policy = S3BucketPolicy(stack, "audit-policy", bucket=f"pk-x-audit-{ACCOUNT}", policy=policy_json(
            cloudtrail_bucket_statements(bucket_arn=AUDIT_ARN, account_id=ACCOUNT, region=REGION,
                                         trail_name="pk-x-trail")))
        _trail(stack, bucket_policy=policy)

    _, trail = only(synth_construct(build), "aws_cloudtrail")
    assert trail["depends_on"] == ["aws_s3_bucket_policy.audit-policy"]


def test_trail_refuses_data_events_on_its_own_bucket() -> None:
    assert _refused(lambda s: _trail(s, data_event_bucket_arns=[LANDING_ARN, AUDIT_ARN])) == (
        "trail pk-x-trail: data events on the audit bucket itself would log the trail's own deliveries")


def test_trail_refuses_a_name_cloudtrail_refuses() -> None:
    assert _refused(lambda s: _trail(s, name="-x")) == (
        "trail '-x': use 3-128 letters, digits, '.', '_' or '-', starting with a letter or digit")


def test_trail_arn_is_known_before_the_trail_exists() -> None:
    built: list[AuditTrail] = []
    synth_construct(lambda s: built.append(_trail(s)))
    assert built[0].arn == trail_arn(name="pk-x-trail", region=REGION, account_id=ACCOUNT) == (
        f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/pk-x-trail")


def test_cloudtrail_bucket_statements_let_only_this_trail_check_and_write() -> None:
    s = rendered(cloudtrail_bucket_statements(bucket_arn=AUDIT_ARN, account_id=ACCOUNT, region=REGION,
                                              trail_name="pk-x-trail"))
    source = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/pk-x-trail"
    assert s == {
        "AWSCloudTrailAclCheck": {
            "Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl", "Resource": AUDIT_ARN,
            "Condition": {"StringEquals": {"aws:SourceArn": source}}},
        "AWSCloudTrailWrite": {
            "Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": f"{AUDIT_ARN}/cloudtrail/AWSLogs/{ACCOUNT}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": source}}},
    }


def test_cloudtrail_bucket_statements_follow_partition_and_prefix() -> None:
    s = rendered(cloudtrail_bucket_statements(bucket_arn="arn:aws-cn:s3:::b", account_id=ACCOUNT, region="cn-north-1",
                                              trail_name="t-1", partition="aws-cn", key_prefix="trail/logs"))
    assert s["AWSCloudTrailWrite"]["Resource"] == f"arn:aws-cn:s3:::b/trail/logs/AWSLogs/{ACCOUNT}/*"
    assert s["AWSCloudTrailAclCheck"]["Condition"]["StringEquals"]["aws:SourceArn"] == (
        f"arn:aws-cn:cloudtrail:cn-north-1:{ACCOUNT}:trail/t-1")


def test_cloudtrail_key_statements_let_cloudtrail_encrypt_for_this_account_and_describe() -> None:
    s = rendered(cloudtrail_key_statements(account_id=ACCOUNT))
    assert s == {
        "CloudTrailEncryptLogs": {
            "Sid": "CloudTrailEncryptLogs", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*", "Resource": "*",
            "Condition": {"StringLike": {
                "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"}}},
        "CloudTrailDescribeKey": {
            "Sid": "CloudTrailDescribeKey", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey", "Resource": "*"},
    }


def test_cloudtrail_key_statements_narrow_to_the_named_trails() -> None:
    arn = trail_arn(name="pk-x-trail", region=REGION, account_id=ACCOUNT)
    s = rendered(cloudtrail_key_statements(account_id=ACCOUNT, trail_arns=[arn]))
    assert s["CloudTrailEncryptLogs"]["Condition"]["StringEquals"] == {"aws:SourceArn": arn}


def _trail_to_logs(stack: TerraformStack) -> AuditTrail:
    return _trail(stack, cloudwatch_logs_retention_days=90)


def test_trail_delivers_to_an_encrypted_log_group_with_retention() -> None:
    doc = synth_construct(_trail_to_logs)
    (gid, group), (_, trail) = only(doc, "aws_cloudwatch_log_group"), only(doc, "aws_cloudtrail")
    assert group["name"] == "/aws/cloudtrail/pk-x-trail"
    assert (group["kms_key_id"], group["retention_in_days"]) == (KEY_ARN, 90)
    assert trail["cloud_watch_logs_group_arn"] == ref("aws_cloudwatch_log_group", gid, "arn") + ":*"


def test_trail_delivery_role_is_cloudtrails_and_writes_only_its_streams_of_the_group() -> None:
    doc = synth_construct(_trail_to_logs)
    (rid, role), (gid, _) = only(doc, "aws_iam_role"), only(doc, "aws_cloudwatch_log_group")
    trust = json.loads(role["assume_role_policy"])["Statement"]
    assert [(t["Principal"], t["Action"]) for t in trust] == [({"Service": "cloudtrail.amazonaws.com"},
                                                              "sts:AssumeRole")]
    (pid, policy) = only(doc, "aws_iam_role_policy")
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert statement["Resource"] == ref("aws_cloudwatch_log_group", gid, "arn") + f":log-stream:{ACCOUNT}_CloudTrail_*"
    trail = only(doc, "aws_cloudtrail")[1]
    assert trail["cloud_watch_logs_role_arn"] == ref("aws_iam_role", rid, "arn")
    assert f"aws_iam_role_policy.{pid}" in trail["depends_on"]  # CreateTrail checks the role can write


def test_trail_without_log_delivery_has_no_group_and_no_role() -> None:
    doc = synth_construct(_trail)
    assert not resources(doc, "aws_cloudwatch_log_group") and not resources(doc, "aws_iam_role")
    assert "cloud_watch_logs_group_arn" not in only(doc, "aws_cloudtrail")[1]


def test_trail_refuses_a_non_positive_log_retention() -> None:
    assert _refused(lambda s: _trail(s, cloudwatch_logs_retention_days=0)) == (
        "trail pk-x-trail: cloudwatch_logs_retention_days must be positive, got 0")


def _security(stack: TerraformStack, **overrides: Any) -> SecurityAlarms:
    props: dict[str, Any] = dict(name_prefix="pk-x", log_group_name="/aws/cloudtrail/pk-x-trail",
                                 namespace="PipelineKit/pk-x/Security", topic_arn=TOPIC_ARN)
    props.update(overrides)
    return SecurityAlarms(stack, "security", **props)


def test_cis_security_events_are_the_benchmarks_monitoring_set_but_organizations() -> None:
    import re

    refs = [re.search(r"CIS (4\.\d+)", e.description).group(1) for e in CIS_SECURITY_EVENTS]
    assert refs == [f"4.{i}" for i in range(1, 15)]


def test_each_security_event_has_a_filter_on_the_trail_group_and_an_alarm_into_the_topic() -> None:
    doc = synth_construct(_security)
    filters = {f["name"]: f for f in resources(doc, "aws_cloudwatch_log_metric_filter").values()}
    alarms = {a["alarm_name"]: a for a in resources(doc, "aws_cloudwatch_metric_alarm").values()}
    names = {f"pk-x-security-{e.slug}" for e in CIS_SECURITY_EVENTS}
    assert set(filters) == set(alarms) == names
    for event in CIS_SECURITY_EVENTS:
        f, a = filters[f"pk-x-security-{event.slug}"], alarms[f"pk-x-security-{event.slug}"]
        assert f["log_group_name"] == "/aws/cloudtrail/pk-x-trail" and f["pattern"] == event.pattern
        assert f["metric_transformation"] == {"name": event.metric, "namespace": "PipelineKit/pk-x/Security",
                                              "value": "1"}
        assert (a["namespace"], a["metric_name"], a["statistic"]) == ("PipelineKit/pk-x/Security", event.metric,
                                                                      "Sum")
        assert (a["threshold"], a["comparison_operator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert a["alarm_actions"] == [TOPIC_ARN] and a["treat_missing_data"] == "notBreaching"


def test_the_root_account_alarm_watches_root_use_not_aws_services_acting_for_it() -> None:
    root = next(e for e in CIS_SECURITY_EVENTS if e.slug == "root-account-usage")
    assert '$.userIdentity.type = "Root"' in root.pattern and "$.userIdentity.invokedBy NOT EXISTS" in root.pattern
    assert '$.eventType != "AwsServiceEvent"' in root.pattern


@pytest.mark.parametrize(("overrides", "message"), [
    ({"period_seconds": 30}, "security alarms: period_seconds must be a multiple of 60, got 30"),
    ({"events": [CIS_SECURITY_EVENTS[0], CIS_SECURITY_EVENTS[0]]},
     "security alarms: duplicate events in unauthorized-api-calls, unauthorized-api-calls"),
    ({"events": [SecurityEvent("long", "Long", "{ " + "x" * 1030 + " }", "too long")]},
     "security alarms: the long pattern is 1034 characters (CloudWatch Logs takes at most 1024)"),
])
def test_security_alarms_refuse_what_cloudwatch_refuses(overrides: dict[str, Any], message: str) -> None:
    assert _refused(lambda s: _security(s, **overrides)) == message


@pytest.mark.parametrize("env", ["local", "dev", "test", "staging", "prod"])
def test_the_environments_trail_records_object_access_on_every_bucket_but_its_own(stacks, env) -> None:
    res = stacks[env]["resource"]
    (trail,) = res["aws_cloudtrail"].values()
    (selector,) = trail["event_selector"]
    (data,) = selector["data_resource"]
    buckets = {lid: b["bucket"] for lid, b in res["aws_s3_bucket"].items()}
    expected = {ref("aws_s3_bucket", lid, "arn") + "/" for lid, name in buckets.items() if "-audit-" not in name}
    assert data["type"] == "AWS::S3::Object" and set(data["values"]) == expected
    purposes = {name.split("-")[2] for name in buckets.values()}
    assert {"landing", "clean", "quarantine", "archive"} <= purposes  # raw PII everywhere it lands


@pytest.mark.parametrize("env", ["local", "dev", "test", "staging", "prod"])
def test_the_environments_trail_goes_to_cloudwatch_logs_with_the_cis_alarms_on_the_alarms_topic(stacks, env) -> None:
    res = stacks[env]["resource"]
    (gid,) = [lid for lid, g in res["aws_cloudwatch_log_group"].items() if g["name"] == f"/aws/cloudtrail/pk-{env}-trail"]
    (trail,) = res["aws_cloudtrail"].values()
    assert trail["cloud_watch_logs_group_arn"] == ref("aws_cloudwatch_log_group", gid, "arn") + ":*"
    topic = next(ref("aws_sns_topic", lid, "arn") for lid, t in res["aws_sns_topic"].items()
                 if t["name"] == f"pk-{env}-alarms")
    alarms = {a["alarm_name"]: a for a in res["aws_cloudwatch_metric_alarm"].values()
              if a["alarm_name"].startswith(f"pk-{env}-security-")}
    assert set(alarms) == {f"pk-{env}-security-{e.slug}" for e in CIS_SECURITY_EVENTS}
    assert all(a["alarm_actions"] == [topic] for a in alarms.values())
    assert all(a["namespace"] == f"PipelineKit/pk-{env}/Security" for a in alarms.values())


def test_cloudtrail_statement_sids_do_not_clash_with_the_existing_policies() -> None:
    existing = {"DenyInsecureTransport", "AccountAdministration", "AwsServicesUseKey", "CloudWatchLogsUseKey"}
    ours = [st.sid for st in cloudtrail_bucket_statements(bucket_arn=AUDIT_ARN, account_id=ACCOUNT, region=REGION,
                                                          trail_name="t-1")]
    ours += [st.sid for st in cloudtrail_key_statements(account_id=ACCOUNT)]
    assert len(set(ours)) == len(ours) and not set(ours) & existing


# ======================================================================================
# backup
# ======================================================================================


def test_backup_vault_is_encrypted_with_the_key() -> None:
    _, vault = only(synth_construct(_backup), "aws_backup_vault")
    assert (vault["name"], vault["kms_key_arn"], vault["force_destroy"]) == ("pk-x-backup", KEY_ARN, False)


def test_backup_plan_has_a_daily_and_a_weekly_rule_with_their_retention() -> None:
    doc = synth_construct(_backup)
    vault_id, _ = only(doc, "aws_backup_vault")
    _, plan = only(doc, "aws_backup_plan")
    assert plan["name"] == "pk-x-backup"
    assert plan["rule"] == [
        {"rule_name": "daily", "target_vault_name": ref("aws_backup_vault", vault_id, "name"),
         "schedule": "cron(0 5 * * ? *)", "lifecycle": {"delete_after": 35}},
        {"rule_name": "weekly", "target_vault_name": ref("aws_backup_vault", vault_id, "name"),
         "schedule": "cron(0 6 ? * SUN *)", "lifecycle": {"delete_after": 365}},
    ]
    assert (DAILY_SCHEDULE, WEEKLY_SCHEDULE) == ("cron(0 5 * * ? *)", "cron(0 6 ? * SUN *)")


def test_backup_selection_picks_resources_by_tag_with_the_backup_role() -> None:
    doc = synth_construct(_backup)
    plan_id, _ = only(doc, "aws_backup_plan")
    role_id, _ = only(doc, "aws_iam_role")
    _, selection = only(doc, "aws_backup_selection")
    assert selection["selection_tag"] == [{"type": "STRINGEQUALS", "key": "Backup", "value": "pk-x"}]
    assert selection["plan_id"] == ref("aws_backup_plan", plan_id, "id")
    assert selection["iam_role_arn"] == ref("aws_iam_role", role_id, "arn")
    assert "resources" not in selection
    assert selection["depends_on"] == [f"aws_iam_role_policy.{rid}" for rid in resources(doc, "aws_iam_role_policy")]


def test_backup_selection_left_out_when_asked() -> None:
    built: list[BackupProtection] = []
    doc = synth_construct(lambda s: built.append(_backup(s, select_resources=False)))
    assert built[0].selection is None
    assert resources(doc, "aws_backup_selection") == {}
    assert len(resources(doc, "aws_backup_plan")) == 1


def _backup_statements(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    _, policy = only(doc, "aws_iam_role_policy")
    return {st["Sid"]: st for st in json.loads(policy["policy"])["Statement"]}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_backup_role_is_assumed_by_backup_and_holds_no_aws_managed_policy() -> None:
    doc = synth_construct(_backup)
    role_id, role = only(doc, "aws_iam_role")
    trust = json.loads(role["assume_role_policy"])["Statement"]
    assert trust == [{"Sid": "BackupAssumeRole", "Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                      "Action": "sts:AssumeRole"}]
    assert resources(doc, "aws_iam_role_policy_attachment") == {}
    assert only(doc, "aws_iam_role_policy")[1]["role"] == ref("aws_iam_role", role_id, "id")


def test_backup_role_backs_up_exactly_the_protected_tables_and_buckets() -> None:
    st = _backup_statements(synth_construct(_backup))
    assert _list(st["BackUpTables"]["Resource"]) == [STATUS_TABLE_ARN]
    assert _list(st["TableBackups"]["Resource"]) == [f"{STATUS_TABLE_ARN}/backup/*"]
    assert _list(st["BackUpBuckets"]["Resource"]) == [LANDING_ARN, CLEAN_ARN]
    assert _list(st["BackUpObjects"]["Resource"]) == [f"{LANDING_ARN}/*", f"{CLEAN_ARN}/*"]
    assert "dynamodb:StartAwsBackupJob" in st["BackUpTables"]["Action"]


def test_backup_role_restores_only_into_environment_named_tables_and_buckets() -> None:
    st = _backup_statements(synth_construct(_backup))
    assert _list(st["RestoreTables"]["Resource"]) == [RESTORE_TABLES]
    assert _list(st["RestoreBuckets"]["Resource"]) == [RESTORE_BUCKETS]
    assert _list(st["RestoreObjects"]["Resource"]) == [f"{RESTORE_BUCKETS}/*"]


def test_backup_role_uses_the_key_through_dynamodb_and_s3_and_writes_only_its_vault() -> None:
    doc = synth_construct(_backup)
    st = _backup_statements(doc)
    vault_id, _ = only(doc, "aws_backup_vault")
    assert st["IntoTheVault"]["Resource"] == ref("aws_backup_vault", vault_id, "arn")
    assert st["EnvironmentKeyThroughDynamoDbAndS3"]["Condition"] == {"StringEquals": {"kms:ViaService": [
        f"dynamodb.{REGION}.amazonaws.com", f"s3.{REGION}.amazonaws.com"]}}
    assert st["GrantsForAwsResources"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    direct = [s for s in st.values() if any(a.startswith("kms:") for a in _list(s["Action"])) and "Condition" not in s]
    assert [(s["Action"], s["Resource"]) for s in direct] == [("kms:DescribeKey", KEY_ARN)]


def test_backup_role_names_star_only_for_the_discovery_actions() -> None:
    st = _backup_statements(synth_construct(_backup))
    star = {sid: s for sid, s in st.items() if "*" in _list(s["Resource"])}
    assert list(star) == ["Discovery"]
    assert sorted(star["Discovery"]["Action"]) == sorted(DISCOVERY_ACTIONS)
    assert not [a for s in st.values() for a in _list(s["Action"]) if "*" in a]


def test_backup_role_needs_something_to_protect() -> None:
    message = _refused(lambda s: _backup(s, protected=BackupScope(table_arns=[], bucket_arns=[])))
    assert message == "backup role: the scope names no table and no bucket"


def test_backup_without_vault_lock_has_no_lock() -> None:
    built: list[BackupProtection] = []
    doc = synth_construct(lambda s: built.append(_backup(s)))
    assert built[0].lock is None
    assert resources(doc, "aws_backup_vault_lock_configuration") == {}


def test_backup_vault_lock_defaults_to_governance_mode() -> None:
    doc = synth_construct(lambda s: _backup(s, vault_lock=True))
    vault_id, _ = only(doc, "aws_backup_vault")
    _, lock = only(doc, "aws_backup_vault_lock_configuration")
    assert lock["backup_vault_name"] == ref("aws_backup_vault", vault_id, "name")
    assert (lock["min_retention_days"], lock["max_retention_days"]) == (7, 36500)
    assert "changeable_for_days" not in lock


def test_backup_vault_lock_in_compliance_mode_when_given_a_grace_time() -> None:
    doc = synth_construct(lambda s: _backup(s, vault_lock=True, vault_lock_changeable_for_days=3))
    _, lock = only(doc, "aws_backup_vault_lock_configuration")
    assert lock["changeable_for_days"] == 3


def test_backup_ignores_tag_drift_of_vault_and_plan_only_when_asked() -> None:
    quiet = synth_construct(lambda s: _backup(s, ignore_tag_drift=True))
    for rtype in ("aws_backup_vault", "aws_backup_plan"):
        assert only(quiet, rtype)[1]["lifecycle"] == {"ignore_changes": ["tags", "tags_all"]}
    strict = synth_construct(_backup)
    for rtype in ("aws_backup_vault", "aws_backup_plan"):
        assert "lifecycle" not in only(strict, rtype)[1]


def test_backup_force_destroy_reaches_the_vault() -> None:
    _, vault = only(synth_construct(lambda s: _backup(s, force_destroy=True)), "aws_backup_vault")
    assert vault["force_destroy"] is True


@pytest.mark.parametrize(("overrides", "message"), [
    (dict(weekly_retention_days=30), "backup pk-x: weekly_retention_days (30) must be at least daily_retention_days (35)"),
    (dict(vault_lock=True, vault_lock_min_retention_days=40),
     "backup pk-x: daily_retention_days (35) is below the vault lock's minimum (40): "
     "the lock would refuse the daily backups"),
    (dict(vault_lock=True, vault_lock_max_retention_days=100),
     "backup pk-x: weekly_retention_days (365) is above the vault lock's maximum (100): "
     "the lock would refuse the weekly backups"),
    (dict(vault_lock=True, vault_lock_min_retention_days=30, vault_lock_max_retention_days=20),
     "backup pk-x: the vault lock needs 1 <= vault_lock_min_retention_days (30) "
     "<= vault_lock_max_retention_days (20)"),
    (dict(vault_lock=True, vault_lock_changeable_for_days=2),
     "backup pk-x: vault_lock_changeable_for_days must be at least 3 (AWS Backup's cooling-off), got 2"),
    (dict(vault_lock=True, vault_lock_changeable_for_days=3, force_destroy=True),
     "backup pk-x: a compliance-mode vault lock (vault_lock_changeable_for_days) and force_destroy "
     "contradict each other"),
    (dict(name="pk-x.backup"), "backup 'pk-x.backup': use 1-43 letters, digits, '-' or '_'"),
], ids=["weekly-shorter", "lock-min-above-daily", "lock-max-below-weekly", "lock-min-above-max",
        "grace-too-short", "compliance-with-force-destroy", "bad-name"])
def test_backup_refuses_inconsistent_settings(overrides: dict[str, Any], message: str) -> None:
    assert _refused(lambda s: _backup(s, **overrides)) == message


def test_backup_lock_bounds_are_not_checked_without_a_lock() -> None:
    doc = synth_construct(lambda s: _backup(s, vault_lock_min_retention_days=400, vault_lock_max_retention_days=1))
    assert resources(doc, "aws_backup_vault_lock_configuration") == {}


# ======================================================================================
# terraform validate of all of them together
# ======================================================================================


def _all_constructs(stack: TerraformStack) -> None:
    """What the stack will hold: key and audit bucket policies with the CloudTrail statements
    merged in, the trail (into CloudWatch Logs too) and its security alarms, the dashboard, an
    error-log filter, a rejected-rows alarm, backups."""
    from cdktf_cdktf_provider_aws.kms_key import KmsKey
    from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
    from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy

    from modules.providers import aws_provider, pin_aws_provider

    pin_aws_provider(stack)
    aws_provider(stack, region=REGION, account_id=ACCOUNT, default_tags={"Project": "pipeline-kit"})
    key = KmsKey(stack, "key", enable_key_rotation=True, policy=policy_json([
        Statement(sid="AccountAdministration", effect="Allow", principals={"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                  actions=["kms:*"], resources=["*"]),
        *cloudtrail_key_statements(account_id=ACCOUNT,
                                   trail_arns=[trail_arn(name="pk-x-trail", region=REGION, account_id=ACCOUNT)]),
    ]))
    audit = S3Bucket(stack, "audit", bucket=f"pk-x-audit-{ACCOUNT}")
    policy = S3BucketPolicy(stack, "audit-policy", bucket=audit.id, policy=policy_json([
        Statement(sid="DenyInsecureTransport", effect="Deny", principals="*", actions=["s3:*"],
                  resources=[audit.arn, f"{audit.arn}/*"], conditions={"Bool": {"aws:SecureTransport": "false"}}),
        *cloudtrail_bucket_statements(bucket_arn=audit.arn, account_id=ACCOUNT, region=REGION,
                                      trail_name="pk-x-trail"),
    ]))
    trail = AuditTrail(stack, "trail", name="pk-x-trail", bucket_name=audit.bucket, bucket_arn=audit.arn,
                       kms_key_arn=key.arn, account_id=ACCOUNT, region=REGION,
                       data_event_bucket_arns=[LANDING_ARN, CLEAN_ARN], bucket_policy=policy,
                       cloudwatch_logs_retention_days=365)
    SecurityAlarms(stack, "security", name_prefix="pk-x", log_group_name=trail.log_group.name,
                   namespace="PipelineKit/pk-x/Security", topic_arn=TOPIC_ARN)
    _dashboard(stack)
    _error_filter(stack)
    RejectedRowsAlarm(stack, "rejected", name="pk-x-orders-rejected", dataset="orders", service="validate",
                      alarm_topic_arn=TOPIC_ARN)
    _backup(stack, kms_key_arn=key.arn, vault_lock=True, ignore_tag_drift=True)


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_terraform_validate_accepts_all_the_constructs(tmp_path: Path) -> None:
    from kit.terraform import Terraform

    app = App(outdir=str(tmp_path / "cdktf.out"))
    _all_constructs(TerraformStack(app, "all"))
    app.synth()
    tf = Terraform.for_stack(tmp_path / "cdktf.out" / "stacks" / "all", state_dir=tmp_path / "state")
    tf.init(backend=False, quiet=True)
    result = tf.validate()
    assert result.returncode == 0, f"terraform validate failed:\n{result.stdout}\n{result.stderr}"
    assert "Success" in result.stdout, result.stdout


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_environments_backup_role_covers_exactly_what_carries_the_backup_tag(stacks, env) -> None:
    doc = stacks[env]
    tagged = {rtype: sorted("${%s.%s.arn}" % (rtype, rid) for rid, body in resources(doc, rtype).items()
                            if (body.get("tags") or {}).get("Backup") == f"pk-{env}")
              for rtype in ("aws_dynamodb_table", "aws_s3_bucket")}
    [policy] = [p for p in resources(doc, "aws_iam_role_policy").values() if p["name"] == f"pk-{env}-backup"]
    st = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
    assert sorted(_list(st["BackUpTables"]["Resource"])) == tagged["aws_dynamodb_table"]
    assert sorted(_list(st["BackUpBuckets"]["Resource"])) == tagged["aws_s3_bucket"]
    assert len(tagged["aws_dynamodb_table"]) == 2 and len(tagged["aws_s3_bucket"]) == 4
