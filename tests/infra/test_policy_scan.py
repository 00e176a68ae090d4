"""The policy scan passes on every synthesized environment and catches what it is there for: the
kit's own rules here (each bad case of issue 13 on a stack made in ``policy_cases.py``); checkov
and the whole scan in ``test_checkov_scan.py`` and ``test_policy_scan_full.py``."""

from __future__ import annotations

import copy
import json

import policy_cases
import pytest

from environments import load_environment
from kit.policy_scan import scan_stack


def scan(env, stack):
    cfg = load_environment(env)
    return [str(f) for f in scan_stack(env, stack, aws=not cfg.on_emulator, protected=cfg.protection.prevent_destroy)]


@pytest.mark.parametrize("env", ["local", "dev", "test", "staging", "prod"])
def test_every_environment_passes_the_scan(stacks, env):
    assert scan(env, stacks[env]) == []


def first(stack, rtype):
    lid = next(iter(stack["resource"][rtype]))
    return lid, stack["resource"][rtype][lid]


def test_a_wildcard_action_is_reported(stacks):
    stack = copy.deepcopy(stacks["prod"])
    lid, policy = first(stack, "aws_iam_role_policy")
    doc = json.loads(policy["policy"])
    doc["Statement"][0]["Action"] = "s3:*"
    policy["policy"] = json.dumps(doc)
    assert any(f.startswith(f"prod: aws_iam_role_policy.{lid}: wildcard action") for f in scan("prod", stack))


def _with_statement(stack, statement):
    lid, policy = first(stack, "aws_iam_role_policy")
    doc = json.loads(policy["policy"])
    doc["Statement"].append(statement)
    policy["policy"] = json.dumps(doc)
    return lid


def test_a_star_resource_is_reported(stacks):
    stack = copy.deepcopy(stacks["prod"])
    lid = _with_statement(stack, {"Sid": "Broad", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    assert f'prod: aws_iam_role_policy.{lid}: "*" resource in statement Broad' in scan("prod", stack)


def test_a_star_resource_is_accepted_only_for_actions_without_resource_level_permissions(stacks):
    stack = copy.deepcopy(stacks["prod"])
    _with_statement(stack, {"Sid": "Login", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"})
    assert scan("prod", stack) == scan("prod", stacks["prod"])  # nothing new, whatever prod has now
    lid = _with_statement(stack, {"Sid": "Mixed", "Effect": "Allow",
                                  "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage"], "Resource": "*"})
    assert f'prod: aws_iam_role_policy.{lid}: "*" resource in statement Mixed' in scan("prod", stack)


def test_an_unencrypted_queue_is_reported(stacks):
    stack = copy.deepcopy(stacks["dev"])
    lid, queue = first(stack, "aws_sqs_queue")
    del queue["kms_master_key_id"]
    assert f"dev: aws_sqs_queue.{lid}: queue not encrypted with KMS" in scan("dev", stack)


def test_a_bucket_without_tls_policy_is_reported_in_aws(stacks):
    stack = copy.deepcopy(stacks["staging"])
    stack["resource"]["aws_s3_bucket_policy"].pop(next(iter(stack["resource"]["aws_s3_bucket_policy"])))
    assert [f for f in scan("staging", stack) if f.endswith("no bucket policy denying non-TLS requests")]


def test_force_destroy_in_prod_is_reported(stacks):
    stack = copy.deepcopy(stacks["prod"])
    lid, bucket = first(stack, "aws_s3_bucket")
    bucket["force_destroy"] = True
    assert f"prod: aws_s3_bucket.{lid}: force_destroy in prod" in scan("prod", stack)


def test_a_mutable_image_repository_is_reported(stacks):
    stack = copy.deepcopy(stacks["dev"])
    lid, repo = first(stack, "aws_ecr_repository")
    repo["image_tag_mutability"] = "MUTABLE"
    assert f"dev: aws_ecr_repository.{lid}: image tags are mutable" in scan("dev", stack)


def test_a_public_redshift_workgroup_is_reported(stacks):
    stack = copy.deepcopy(stacks["prod"])
    lid, wg = first(stack, "aws_redshiftserverless_workgroup")
    wg["publicly_accessible"] = True
    assert f"prod: aws_redshiftserverless_workgroup.{lid}: workgroup publicly accessible" in scan("prod", stack)


def test_an_inline_redshift_password_is_reported(stacks):
    stack = copy.deepcopy(stacks["prod"])
    lid, ns = first(stack, "aws_redshiftserverless_namespace")
    ns["admin_user_password"] = "hunter2"
    assert (f"prod: aws_redshiftserverless_namespace.{lid}: admin password not managed by Secrets Manager"
            in scan("prod", stack))


def test_an_internet_gateway_is_reported(stacks):
    stack = copy.deepcopy(stacks["dev"])
    stack["resource"]["aws_internet_gateway"] = {"igw": {"vpc_id": "x"}}
    assert "dev: aws_internet_gateway.igw: the private network has no internet path" in scan("dev", stack)


# -- each bad case of issue 13, on a stack made here (policy_cases.py) -----------------------------

def kit_findings(stack, *, env="dev", aws=True):
    return [f"{f.address}: {f.rule}" for f in scan_stack(env, stack, aws=aws, protected=False)]


@pytest.mark.parametrize("case", sorted(policy_cases.BAD))
def test_each_bad_case_is_caught_by_the_kit(case):
    assert policy_cases.BAD[case] in kit_findings(policy_cases.bad_stack())


def _only(rtype, lid, body, **more):
    return {"resource": {rtype: {lid: body}, **more}}


def test_a_principal_star_bounded_by_the_source_arn_passes():
    policy = policy_cases.document({"Sid": "FromTheBucket", "Effect": "Allow", "Principal": "*",
                                    "Action": "sqs:SendMessage", "Resource": policy_cases.QUEUE_ARN,
                                    "Condition": {"ArnEquals": {"aws:SourceArn": "${aws_s3_bucket.landing.arn}"}}})
    assert kit_findings(_only("aws_sqs_queue_policy", "p", {"queue_url": "q", "policy": policy})) == []


def test_a_principal_star_bounded_by_a_wildcard_is_reported():
    policy = policy_cases.document({"Sid": "AnyAccount", "Effect": "Allow", "Principal": "*",
                                    "Action": "sqs:SendMessage", "Resource": policy_cases.QUEUE_ARN,
                                    "Condition": {"StringLike": {"aws:SourceAccount": "*"}}})
    assert kit_findings(_only("aws_sqs_queue_policy", "p", {"queue_url": "q", "policy": policy})) == [
        'aws_sqs_queue_policy.p: Principal "*" in statement AnyAccount without a condition on the caller\'s '
        "account/organisation or the source ARN/account"]


def test_a_deny_for_principal_star_passes():
    policy = policy_cases.document({"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                                    "Resource": policy_cases.QUEUE_ARN,
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert kit_findings(_only("aws_sqs_queue_policy", "p", {"queue_url": "q", "policy": policy})) == []


def test_an_allow_listed_aws_managed_policy_passes():
    attachment = {"role": "r",
                  "policy_arn": "arn:${data.aws_partition.p.partition}:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"}
    assert kit_findings(_only("aws_iam_role_policy_attachment", "dms", attachment)) == []


def test_an_emulator_only_managed_policy_is_reported_in_aws():
    attachment = {"role": "r", "policy_arn": "arn:aws:iam::aws:policy/service-role/AWSBatchServiceRole"}
    stack = _only("aws_iam_role_policy_attachment", "batch", attachment)
    assert kit_findings(stack, env="local", aws=False) == []
    assert kit_findings(stack) == ["aws_iam_role_policy_attachment.batch: AWS-managed policy AWSBatchServiceRole "
                                   "attached (not in AWS_MANAGED_POLICIES)"]


def test_managed_policy_arns_on_a_role_are_checked():
    role = {"name": "r", "managed_policy_arns": ["${aws_iam_policy.own.arn}", "arn:aws:iam::aws:policy/ReadOnlyAccess"]}
    assert kit_findings(_only("aws_iam_role", "r", role)) == [
        "aws_iam_role.r: AWS-managed policy ReadOnlyAccess attached (not in AWS_MANAGED_POLICIES)"]


def test_an_attached_policy_outside_the_stack_is_reported():
    attachment = {"role": "r", "policy_arn": "arn:aws:iam::111111111111:policy/somebody-elses"}
    assert kit_findings(_only("aws_iam_role_policy_attachment", "a", attachment)) == [
        "aws_iam_role_policy_attachment.a: attached policy arn:aws:iam::111111111111:policy/somebody-elses is not "
        "defined in the stack: the scan cannot read it"]


def test_a_role_inline_policy_block_is_checked():
    role = {"name": "r", "inline_policy": [{"name": "wide", "policy": policy_cases.document(
        {"Sid": "AllS3", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"})}]}
    assert kit_findings(_only("aws_iam_role", "r", role)) == [
        "aws_iam_role.r inline_policy wide: wildcard action s3:* in statement AllS3"]


def test_a_policy_that_is_not_a_literal_document_is_reported():
    policy = {"name": "p", "role": "r", "policy": "${data.aws_iam_policy_document.p.json}"}
    assert kit_findings(_only("aws_iam_role_policy", "p", policy)) == [
        "aws_iam_role_policy.p: policy is not a literal JSON document: the scan cannot read it"]


def test_star_only_actions_may_name_star_together():
    policy = policy_cases.document({"Sid": "Trace", "Effect": "Allow", "Resource": "*",
                                    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords",
                                               "ec2:DescribeNetworkInterfaces"]})
    assert kit_findings(_only("aws_iam_role_policy", "p", {"name": "p", "role": "r", "policy": policy})) == []


def test_create_network_interface_is_not_a_star_only_action():
    policy = policy_cases.document({"Sid": "Eni", "Effect": "Allow", "Resource": "*",
                                    "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"]})
    assert kit_findings(_only("aws_iam_role_policy", "p", {"name": "p", "role": "r", "policy": policy})) == [
        'aws_iam_role_policy.p: "*" resource in statement Eni']


def test_security_group_rules_inside_the_vpc_pass():
    rule = {"security_group_id": "sg", "cidr_ipv4": "10.20.0.0/16", "ip_protocol": "tcp", "from_port": 0,
            "to_port": 65535}
    assert kit_findings(_only("aws_vpc_security_group_egress_rule", "in-vpc", rule)) == []


def test_an_endpoint_without_a_policy_is_reported_in_aws_only():
    stack = _only("aws_vpc_endpoint", "kms", {"service_name": "com.amazonaws.eu-west-1.kms", "vpc_id": "v"})
    assert kit_findings(stack) == ["aws_vpc_endpoint.kms: VPC endpoint without an endpoint policy"]
    assert kit_findings(stack, env="local", aws=False) == []


def test_an_api_method_without_iam_authorisation_is_reported():
    method = {"rest_api_id": "a", "resource_id": "r", "http_method": "GET", "authorization": "NONE"}
    assert kit_findings(_only("aws_api_gateway_method", "get", method)) == [
        "aws_api_gateway_method.get: API method authorised by 'NONE', not AWS_IAM"]


def test_a_graphql_api_with_an_api_key_is_reported():
    api = {"name": "g", "authentication_type": "AWS_IAM",
           "additional_authentication_provider": [{"authentication_type": "API_KEY"}]}
    assert kit_findings(_only("aws_appsync_graphql_api", "g", api)) == [
        "aws_appsync_graphql_api.g: GraphQL API accepts callers other than IAM principals"]


def _trail(*values):
    return {"name": "t", "s3_bucket_name": "${aws_s3_bucket.audit.bucket}",
            "event_selector": [{"data_resource": [{"type": "AWS::S3::Object", "values": list(values)}]}]}


def test_a_bucket_outside_the_trails_data_events_is_reported():
    stack = {"resource": {"aws_s3_bucket": {"audit": {}, "landing": {}, "archive": {}},
                          "aws_cloudtrail": {"t": _trail("${aws_s3_bucket.landing.arn}/")}}}
    assert [f for f in kit_findings(stack) if "CloudTrail" in f] == [
        "aws_s3_bucket.archive: object-level access not recorded (no CloudTrail S3 data events)"]


def test_data_events_on_every_bucket_cover_them_all():
    stack = {"resource": {"aws_s3_bucket": {"audit": {}, "archive": {}},
                          "aws_cloudtrail": {"t": _trail("arn:aws:s3")}}}
    assert [f for f in kit_findings(stack) if "CloudTrail" in f] == []
