"""The policy scan passes on every synthesized environment and catches what it is there for."""

from __future__ import annotations

import copy
import json

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
    assert scan("prod", stack) == []
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
