"""The private network and AWS Batch: each construct synthesized alone (security properties), the
pure helpers, and the five shipped environments (session synth)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdktf import TerraformStack
from synth_helpers import only, resources, synth_construct  # noqa: E402

import modules  # noqa: F401  -- installs the lazy loader before any AWS binding is imported
from modules.batch import (
    ROUTING_VARIABLES,
    FargateBatch,
    ImageRepository,
    JobSizing,
    PluginJobDefinition,
    job_command,
    job_environment,
)
from modules.network import DEFAULT_INTERFACE_SERVICES, FlowLogSettings, PrivateNetwork, private_subnet_cidrs
from modules.policy import Statement

ACCOUNT = "111111111111"
REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
REPO_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/pk-x-plugins"





def _network(stack: TerraformStack, **overrides: Any) -> PrivateNetwork:
    props: dict[str, Any] = dict(name="pk-x", cidr="10.20.0.0/16", availability_zones=3, region=REGION,
                                 account_id=ACCOUNT, kms_key_arn=KEY_ARN,
                                 flow_logs=FlowLogSettings(retention_days=30, traffic_type="REJECT"))
    props.update(overrides)
    return PrivateNetwork(stack, "network", **props)


@pytest.fixture(scope="module")
def net_doc() -> dict[str, Any]:
    return synth_construct(_network)


# ======================================================================================
# network
# ======================================================================================


def test_subnet_cidrs_are_stable_quarters_of_the_vpc() -> None:
    assert private_subnet_cidrs("10.20.0.0/16", 3) == ["10.20.0.0/18", "10.20.64.0/18", "10.20.128.0/18"]
    assert private_subnet_cidrs("10.20.0.0/16", 2) == private_subnet_cidrs("10.20.0.0/16", 3)[:2]


def test_subnet_cidrs_refuse_a_too_small_vpc() -> None:
    with pytest.raises(ValueError, match="too small for 6 subnets"):
        private_subnet_cidrs("10.0.0.0/26", 6)


def test_one_private_subnet_per_zone_and_none_public(net_doc) -> None:
    subnets = resources(net_doc, "aws_subnet")
    assert len(subnets) == 3
    assert all(s["map_public_ip_on_launch"] is False for s in subnets.values())
    assert [s["availability_zone"] for s in subnets.values()] == [f"{REGION}a", f"{REGION}b", f"{REGION}c"]


def test_subnet_zones_are_pinned_by_name_not_looked_up(net_doc) -> None:
    """No aws_availability_zones lookup: a new zone, or one reported unavailable for a while,
    never moves a subnet (checkov CKV_AWS_394)."""
    assert "aws_availability_zones" not in net_doc.get("data", {})
    doc = synth_construct(lambda s: _network(s, availability_zones=2, zone_names=[f"{REGION}b", f"{REGION}c"]))
    assert [s["availability_zone"] for s in resources(doc, "aws_subnet").values()] == [f"{REGION}b", f"{REGION}c"]


def test_zone_names_must_be_one_distinct_zone_per_subnet() -> None:
    with pytest.raises(ValueError, match=r"network pk-x: needs 2 distinct zone names, got \['eu-west-1a', 'eu-west-1a'\]"):
        synth_construct(lambda s: _network(s, availability_zones=2, zone_names=[f"{REGION}a", f"{REGION}a"]))


def test_no_internet_or_nat_gateway_and_no_default_route(net_doc) -> None:
    for rtype in ("aws_internet_gateway", "aws_nat_gateway", "aws_eip", "aws_route"):
        assert not resources(net_doc, rtype), rtype
    assert "route" not in only(net_doc, "aws_route_table")[1]


def test_gateway_endpoints_for_s3_and_dynamodb_use_the_private_route_table(net_doc) -> None:
    gateways = {e["service_name"]: e for e in resources(net_doc, "aws_vpc_endpoint").values()
                if e["vpc_endpoint_type"] == "Gateway"}
    assert sorted(gateways) == [f"com.amazonaws.{REGION}.dynamodb", f"com.amazonaws.{REGION}.s3"]
    assert all(len(e["route_table_ids"]) == 1 for e in gateways.values())


def test_s3_endpoint_admits_only_this_accounts_buckets_and_ecr_layers(net_doc) -> None:
    s3 = next(e for e in resources(net_doc, "aws_vpc_endpoint").values() if e["service_name"].endswith(".s3"))
    statements = {s["Sid"]: s for s in json.loads(s3["policy"])["Statement"]}
    assert statements["OwnAccountBuckets"]["Condition"] == {"StringEquals": {"s3:ResourceAccount": ACCOUNT}}
    assert statements["EcrImageLayers"]["Resource"] == f"arn:aws:s3:::prod-{REGION}-starport-layer-bucket/*"
    assert statements["EcrImageLayers"]["Action"] == "s3:GetObject"


def test_interface_endpoints_are_private_in_every_subnet(net_doc) -> None:
    interfaces = [e for e in resources(net_doc, "aws_vpc_endpoint").values() if e["vpc_endpoint_type"] == "Interface"]
    assert sorted(e["service_name"].rsplit(".", 1)[-1] if e["service_name"].count(".") == 3 else
                  ".".join(e["service_name"].split(".")[3:]) for e in interfaces) == sorted(DEFAULT_INTERFACE_SERVICES)
    assert all(e["private_dns_enabled"] is True and len(e["subnet_ids"]) == 3 for e in interfaces)
    assert all(len(e["security_group_ids"]) == 1 and "endpoints" in e["security_group_ids"][0] for e in interfaces)


def test_no_security_group_admits_anything_from_an_address_range(net_doc) -> None:
    ingress = resources(net_doc, "aws_vpc_security_group_ingress_rule")
    assert ingress and all("cidr_ipv4" not in r and "cidr_ipv6" not in r for r in ingress.values())
    assert all(r["from_port"] == r["to_port"] == 443 for r in ingress.values())
    assert all("endpoints" in r["security_group_id"] for r in ingress.values())


def test_workloads_reach_only_https_endpoints_and_gateway_prefix_lists(net_doc) -> None:
    egress = [r for r in resources(net_doc, "aws_vpc_security_group_egress_rule").values()
              if "workloads" in r["security_group_id"]]
    assert len(egress) == 3
    assert all(r["from_port"] == r["to_port"] == 443 and "cidr_ipv4" not in r for r in egress)
    assert sum("prefix_list_id" in r for r in egress) == 2


def test_default_security_group_is_taken_over_without_rules(net_doc) -> None:
    default = only(net_doc, "aws_default_security_group")[1]
    assert "ingress" not in default and "egress" not in default


def test_flow_logs_go_to_an_encrypted_log_group_with_retention(net_doc) -> None:
    flow = only(net_doc, "aws_flow_log")[1]
    group = only(net_doc, "aws_cloudwatch_log_group")[1]
    assert flow["traffic_type"] == "REJECT" and flow["log_destination_type"] == "cloud-watch-logs"
    assert group["kms_key_id"] == KEY_ARN and group["retention_in_days"] == 30
    trust = json.loads(only(net_doc, "aws_iam_role")[1]["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_rule_descriptions_can_be_left_out_for_the_emulator() -> None:
    doc = synth_construct(lambda s: _network(s, rule_descriptions=False, availability_zones=2))
    rules = [*resources(doc, "aws_vpc_security_group_ingress_rule").values(),
             *resources(doc, "aws_vpc_security_group_egress_rule").values()]
    assert rules and all("description" not in r for r in rules)


def test_bad_flow_log_traffic_is_refused() -> None:
    with pytest.raises(ValueError, match="flow log traffic type must be ACCEPT, REJECT or ALL, got 'SOME'"):
        synth_construct(lambda s: _network(s, flow_logs=FlowLogSettings(retention_days=1, traffic_type="SOME")))


def _endpoint_statements(doc: dict[str, Any], service: str) -> dict[str, dict[str, Any]]:
    (endpoint,) = [e for e in resources(doc, "aws_vpc_endpoint").values()
                   if e["service_name"] == f"com.amazonaws.{REGION}.{service}"]
    return {s["Sid"]: s for s in json.loads(endpoint["policy"])["Statement"]}


def test_every_endpoint_has_a_policy(net_doc) -> None:
    endpoints = resources(net_doc, "aws_vpc_endpoint")
    assert endpoints and all(json.loads(e["policy"])["Statement"] for e in endpoints.values())


def test_dynamodb_endpoint_admits_this_accounts_principals_on_this_accounts_tables_only(net_doc) -> None:
    (statement,) = _endpoint_statements(net_doc, "dynamodb").values()
    assert statement["Principal"] == "*" and statement["Effect"] == "Allow"
    assert statement["Resource"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/*"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    assert "*" not in statement["Action"] and {"dynamodb:GetItem", "dynamodb:PutItem"} <= set(statement["Action"])


@pytest.mark.parametrize("service", DEFAULT_INTERFACE_SERVICES)
def test_interface_endpoints_admit_this_accounts_principals_on_this_accounts_resources(net_doc, service) -> None:
    statements = _endpoint_statements(net_doc, service)
    own = statements["OwnAccountPrincipalsOwnAccountResources"]
    assert own["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT, "aws:ResourceAccount": ACCOUNT}}
    # every statement pins the calling account
    assert all(s["Condition"]["StringEquals"]["aws:PrincipalAccount"] == ACCOUNT for s in statements.values())


@pytest.mark.parametrize(("service", "actions"), [("ecr.api", "ecr:GetAuthorizationToken"),
                                                  ("sts", "sts:GetCallerIdentity")])
def test_resourceless_calls_are_admitted_by_calling_account_alone(net_doc, service, actions) -> None:
    statement = _endpoint_statements(net_doc, service)["OwnAccountPrincipalsResourcelessActions"]
    assert statement["Action"] == actions and statement["Resource"] == "*"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}


def test_other_interface_endpoints_have_no_resourceless_exception(net_doc) -> None:
    for service in ("sqs", "ssm", "kms", "logs", "ecr.dkr"):
        assert set(_endpoint_statements(net_doc, service)) == {"OwnAccountPrincipalsOwnAccountResources"}


def test_a_trusted_resource_of_another_account_is_admitted_through_its_endpoint_only() -> None:
    secret = "arn:aws:secretsmanager:eu-west-1:999999999999:secret:source-AbCdEf"
    doc = synth_construct(lambda s: _network(s, interface_services=("secretsmanager", "sqs"),
                                             trusted_resources={"secretsmanager": [secret]}))
    trusted = _endpoint_statements(doc, "secretsmanager")["OwnAccountPrincipalsTrustedResources"]
    assert trusted["Resource"] == secret
    assert trusted["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    assert "OwnAccountPrincipalsTrustedResources" not in _endpoint_statements(doc, "sqs")


def test_a_trusted_resource_for_a_service_without_endpoint_is_refused() -> None:
    with pytest.raises(ValueError, match="trusted_resources names athena, which has no interface endpoint here"):
        synth_construct(lambda s: _network(s, trusted_resources={"athena": ["arn:aws:athena:x"]}))


# ======================================================================================
# Batch
# ======================================================================================


def _job(stack: TerraformStack) -> PluginJobDefinition:
    return PluginJobDefinition(
        stack, "job", name="pk-x-validate-batch", plugin="validate", image="123.dkr.ecr/x:rel-1",
        repository_arn=REPO_ARN, environment=job_environment("validate", {"A": "1", "PIPELINE_BATCH_JOB_QUEUE": "q"}),
        job_statements=[Statement(sid="ReadObjects", effect="Allow", actions=["s3:GetObject"],
                                  resources=["arn:aws:s3:::b/*"])],
        sizing=JobSizing(vcpus=1.0, memory_mb=4096, timeout_minutes=240, attempts=2), kms_key_arn=KEY_ARN,
        log_retention_days=14, region=REGION, account_id=ACCOUNT)


@pytest.fixture(scope="module")
def job_doc() -> dict[str, Any]:
    return synth_construct(_job)


def test_job_environment_drops_routing_and_marks_the_run() -> None:
    env = job_environment("cleanse", {"X": "1", **{v: "set" for v in ROUTING_VARIABLES}})
    assert not set(ROUTING_VARIABLES) & set(env)
    assert env == {"X": "1", "PIPELINE_RUNS_ON": "batch", "POWERTOOLS_TRACE_DISABLED": "true",
                   "PYTHONPATH": "/opt/pipeline/cleanse"}


def test_job_runs_the_shared_entrypoint_with_the_payload_parameter() -> None:
    assert job_command("validate") == ["python", "-m", "pipeline_shared.batch_job", "--plugin", "validate",
                                       "--payload", "Ref::payload"]


def test_job_definition_is_fargate_private_sized_and_time_limited(job_doc) -> None:
    jd = only(job_doc, "aws_batch_job_definition")[1]
    assert jd["platform_capabilities"] == ["FARGATE"]
    assert jd["timeout"] == {"attempt_duration_seconds": 240 * 60}
    # jsonencode({...}) in HCL object syntax: compact it to compare fragments
    props = jd["container_properties"].replace(" = ", ":").replace(", ", ",")
    assert '"assignPublicIp":"DISABLED"' in props
    assert '{"type":"VCPU","value":"1"}' in props and '{"type":"MEMORY","value":"4096"}' in props
    assert '"image":"123.dkr.ecr/x:rel-1"' in props
    assert "PIPELINE_BATCH_JOB_QUEUE" not in props
    assert '"cpuArchitecture":"ARM64"' in props  # the functions' architecture: one image for both


def test_job_retries_infrastructure_failures_but_not_its_own_exit(job_doc) -> None:
    strategy = only(job_doc, "aws_batch_job_definition")[1]["retry_strategy"]
    assert strategy["attempts"] == 2
    actions = [(e["action"], e.get("on_status_reason") or e.get("on_reason")) for e in strategy["evaluate_on_exit"]]
    assert actions[-1] == ("EXIT", "*")
    assert ("RETRY", "CannotPullContainerError*") in actions


def test_job_roles_are_scoped(job_doc) -> None:
    roles = resources(job_doc, "aws_iam_role")
    for role in roles.values():
        trust = json.loads(role["assume_role_policy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    policies = {p["name"]: json.loads(p["policy"])["Statement"] for p in resources(job_doc, "aws_iam_role_policy").values()}
    assert [s["Sid"] for s in policies["plugin"]] == ["ReadObjects"]
    pull = {s["Sid"]: s for s in policies["pull-and-log"]}
    assert pull["PullImage"]["Resource"] == REPO_ARN
    assert pull["RegistryLogin"] == {"Sid": "RegistryLogin", "Effect": "Allow",
                                     "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    assert all(s["Resource"] != "*" for sid, s in pull.items() if sid != "RegistryLogin")


def test_job_logs_are_encrypted_with_retention(job_doc) -> None:
    group = only(job_doc, "aws_cloudwatch_log_group")[1]
    assert group["name"] == "/aws/batch/pk-x-validate-batch"
    assert group["kms_key_id"] == KEY_ARN and group["retention_in_days"] == 14


def test_repository_tags_are_immutable_scanned_and_encrypted() -> None:
    doc = synth_construct(lambda s: ImageRepository(s, "images", name="pk-x-plugins", kms_key_arn=KEY_ARN,
                                                    keep_images=30, force_delete=False, prevent_destroy=True,
                                                    reader_role_arns=["arn:aws:iam::222222222222:role/deploy"]))
    repo = only(doc, "aws_ecr_repository")[1]
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"] == {"scan_on_push": True}
    assert repo["encryption_configuration"] == [{"encryption_type": "KMS", "kms_key": KEY_ARN}]
    assert repo["lifecycle"] == {"prevent_destroy": True}
    rule = json.loads(only(doc, "aws_ecr_lifecycle_policy")[1]["policy"])["rules"][0]
    assert rule["selection"]["countNumber"] == 30
    reader = json.loads(only(doc, "aws_ecr_repository_policy")[1]["policy"])["Statement"][0]
    assert reader["Principal"] == {"AWS": ["arn:aws:iam::222222222222:role/deploy"]}
    assert all(a.startswith("ecr:") and "Put" not in a for a in reader["Action"])


def test_compute_environment_is_fargate_in_the_given_subnets() -> None:
    doc = synth_construct(lambda s: FargateBatch(s, "batch", name="pk-x-batch", subnet_ids=["subnet-a", "subnet-b"],
                                                 security_group_ids=["sg-1"], max_vcpus=16, spot=True))
    ce = only(doc, "aws_batch_compute_environment")[1]
    assert ce["compute_resources"] == {"type": "FARGATE_SPOT", "max_vcpus": 16, "subnets": ["subnet-a", "subnet-b"],
                                       "security_group_ids": ["sg-1"]}
    assert "service_role" not in ce  # AWS Batch's service-linked role
    queue = only(doc, "aws_batch_job_queue")[1]
    assert queue["compute_environment_order"][0]["order"] == 1


def test_job_architecture_must_be_a_lambda_architecture() -> None:
    with pytest.raises(ValueError, match="architecture must be one of arm64, x86_64, got 'sparc'"):
        synth_construct(lambda s: PluginJobDefinition(
            s, "job", name="j", plugin="validate", image="i", repository_arn=REPO_ARN, environment={},
            job_statements=[], sizing=JobSizing(vcpus=1.0, memory_mb=2048, timeout_minutes=1, attempts=1),
            kms_key_arn=KEY_ARN, log_retention_days=1, region=REGION, account_id=ACCOUNT, architecture="sparc"))


def test_compute_environment_needs_subnets() -> None:
    with pytest.raises(ValueError, match="compute environment pk-x-batch: needs private subnets"):
        synth_construct(lambda s: FargateBatch(s, "batch", name="pk-x-batch", subnet_ids=[], security_group_ids=[],
                                               max_vcpus=4))


# ======================================================================================
# the shipped environments
# ======================================================================================


@pytest.mark.parametrize("env", ["local", "dev", "test", "staging", "prod"])
def test_every_environment_has_a_private_network_and_batch(stacks, env) -> None:
    res = stacks[env]["resource"]
    assert len(res["aws_vpc"]) == 1 and len(res["aws_batch_job_queue"]) == 1
    assert not res.get("aws_internet_gateway") and not res.get("aws_nat_gateway")
    expected_zones = 3 if env in ("staging", "prod") else 2
    assert len(res["aws_subnet"]) == expected_zones


@pytest.mark.parametrize("env", ["local", "dev", "test", "staging", "prod"])
def test_the_stack_has_an_interface_endpoint_for_everything_a_plugin_calls(stacks, env) -> None:
    from environments import load_environment
    from modules.functions import interface_services_for
    from modules.plugins import discover_plugins

    cfg = load_environment(env)
    wanted = {s for m in discover_plugins() for s in interface_services_for(m, batch_enabled=cfg.batch.enabled)}
    present = {e["service_name"].split(".", 3)[3] for e in stacks[env]["resource"]["aws_vpc_endpoint"].values()}
    assert wanted and wanted <= present
    assert {"sns", "athena", "batch"} <= present  # notify publishes; the API queries Athena; stages route to Batch


@pytest.mark.parametrize("env", ["local", "dev", "test", "staging", "prod"])
def test_every_endpoint_of_every_environment_is_limited_to_its_account(stacks, env) -> None:
    from environments import load_environment

    account = load_environment(env).account_id
    for endpoint in stacks[env]["resource"]["aws_vpc_endpoint"].values():
        statements = json.loads(endpoint["policy"])["Statement"]
        for st in statements:
            pinned = st.get("Condition", {}).get("StringEquals", {})
            assert pinned.get("aws:PrincipalAccount") == account or pinned.get("s3:ResourceAccount") == account or (
                st["Resource"].startswith("arn:aws:s3:::prod-") and st["Resource"].endswith("-starport-layer-bucket/*")
            ), (endpoint["service_name"], st)


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_validate_and_cleanse_functions_know_where_large_objects_go(stacks, env) -> None:
    fns = stacks[env]["resource"]["aws_lambda_function"]
    routed = {f["function_name"].split("-")[-1]: f["environment"]["variables"] for f in fns.values()
              if "PIPELINE_BATCH_JOB_QUEUE" in f["environment"]["variables"]}
    assert sorted(routed) == ["cleanse", "validate"]
    threshold = {"local": "65536"}.get(env, "1073741824")
    assert all(v["PIPELINE_BATCH_ROUTE_ABOVE_BYTES"] == threshold for v in routed.values())


@pytest.mark.parametrize("env", ["local", "prod"])
def test_job_definitions_run_the_release_image_of_this_environment(stacks, env) -> None:
    defs = stacks[env]["resource"]["aws_batch_job_definition"]
    assert sorted(d["name"] for d in defs.values()) == [f"pk-{env}-cleanse-batch", f"pk-{env}-validate-batch"]
    for d in defs.values():
        assert "aws_ecr_repository.images_repository" in d["container_properties"]


def test_a_failed_job_alerts_the_alarms_topic_and_only_eventbridge_for_that_rule_may_publish() -> None:
    from modules.batch import JobFailureAlerts
    from modules.topics import Topic

    queue = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/pk-x-batch"

    def build(s):
        topic = Topic(s, "alarms", name="pk-x-alarms", kms_key_arn=KEY_ARN, account_id=ACCOUNT)
        JobFailureAlerts(s, "alerts", name="pk-x-batch-job-failed", job_queue_arn=queue, topic=topic,
                         account_id=ACCOUNT)

    doc = synth_construct(build)
    topic_id, _ = only(doc, "aws_sns_topic")
    rule_id, rule = only(doc, "aws_cloudwatch_event_rule")
    assert json.loads(rule["event_pattern"]) == {"source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
                                                 "detail": {"status": ["FAILED"], "jobQueue": [queue]}}
    assert only(doc, "aws_cloudwatch_event_target")[1]["arn"] == "${aws_sns_topic.%s.arn}" % topic_id
    statements = {s["Sid"]: s for s in json.loads(only(doc, "aws_sns_topic_policy")[1]["policy"])["Statement"]}
    assert sorted(statements) == ["AccountPrincipals", "BatchFailuresFromEventBridge"]
    events = statements["BatchFailuresFromEventBridge"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"} and events["Action"] == "sns:Publish"
    assert events["Condition"] == {"ArnLike": {"aws:SourceArn": "${aws_cloudwatch_event_rule.%s.arn}" % rule_id},
                                   "StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert statements["AccountPrincipals"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert not [s for s in statements.values() if s["Principal"] in ("*", {"AWS": "*"})]



@pytest.mark.parametrize(("secret_account", "expected"), [("999999999999", True), ("333333333333", False)])
def test_a_dms_source_secret_of_another_account_is_trusted_through_the_secrets_manager_endpoint(
        secret_account, expected) -> None:
    import dataclasses
    from types import SimpleNamespace

    from environments import load_environment
    from modules.stack import PipelineStack

    cfg = load_environment("prod")
    secret = f"arn:aws:secretsmanager:{cfg.region}:{secret_account}:secret:pk-shop-source-AbCdEf"
    dms = dataclasses.replace(cfg.services.dms, enabled=True, source_secret_arn=secret)
    cfg = dataclasses.replace(cfg, services=dataclasses.replace(cfg.services, dms=dms))
    trusted = PipelineStack.endpoint_trusted_resources(SimpleNamespace(config=cfg))
    assert trusted == ({"secretsmanager": [secret]} if expected else {})
