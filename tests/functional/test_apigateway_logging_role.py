"""The bootstrap's API Gateway logging role (``kit/bootstrap.py``) on in-process moto: an inline
policy scoped to API Gateway's log groups, never the AWS-managed ``AmazonAPIGatewayPushToCloudWatchLogs``
(``logs:*`` reads and writes on ``"*"``), which a rerun detaches where an earlier bootstrap attached it."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from moto import mock_aws

ACCOUNT = "111111111111"
REGION = "eu-west-1"
MANAGED = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


class _Target:
    """What ``api_gateway_logging_role`` uses of a deploy target: its clients."""

    def client(self, service: str):
        import boto3

        return boto3.client(service, region_name=REGION)


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        import boto3

        yield boto3.client("iam", region_name=REGION)


def _inline(iam) -> dict:
    from kit.bootstrap import API_GATEWAY_LOGS_POLICY, API_GATEWAY_LOGS_ROLE

    doc = iam.get_role_policy(RoleName=API_GATEWAY_LOGS_ROLE, PolicyName=API_GATEWAY_LOGS_POLICY)["PolicyDocument"]
    return json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc


def _attached(iam) -> list[str]:
    from kit.bootstrap import API_GATEWAY_LOGS_ROLE

    return [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=API_GATEWAY_LOGS_ROLE)["AttachedPolicies"]]


def test_the_role_gets_the_scoped_inline_policy_and_no_managed_one(iam) -> None:
    from kit.bootstrap import api_gateway_logging_role, api_gateway_logs_policy

    api_gateway_logging_role(_Target())
    assert _inline(iam) == api_gateway_logs_policy(ACCOUNT)
    assert _attached(iam) == []


def test_the_inline_policy_names_only_api_gateways_log_groups_of_the_account() -> None:
    from kit.bootstrap import api_gateway_logs_policy

    statements = {s["Sid"]: s for s in api_gateway_logs_policy(ACCOUNT)["Statement"]}
    groups = statements["ApiGatewayLogGroups"]["Resource"]
    assert groups == [f"arn:aws:logs:*:{ACCOUNT}:log-group:API-Gateway-Execution-Logs_*",
                      f"arn:aws:logs:*:{ACCOUNT}:log-group:/aws/apigateway/*",
                      f"arn:aws:logs:*:{ACCOUNT}:log-group:API-Gateway-Execution-Logs_*:log-stream:*",
                      f"arn:aws:logs:*:{ACCOUNT}:log-group:/aws/apigateway/*:log-stream:*"]
    assert (statements["FindLogGroups"]["Action"], statements["FindLogGroups"]["Resource"]) == (
        "logs:DescribeLogGroups", "*")


def test_a_rerun_detaches_the_managed_policy_an_earlier_bootstrap_attached(iam, capsys) -> None:
    from kit.bootstrap import API_GATEWAY_LOGS_ROLE, api_gateway_logging_role

    iam.create_role(RoleName=API_GATEWAY_LOGS_ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "apigateway.amazonaws.com"}}]}))
    iam.attach_role_policy(RoleName=API_GATEWAY_LOGS_ROLE, PolicyArn=MANAGED)
    api_gateway_logging_role(_Target())
    assert _attached(iam) == []
    assert "AmazonAPIGatewayPushToCloudWatchLogs detached" in capsys.readouterr().out
