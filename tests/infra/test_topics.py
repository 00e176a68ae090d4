"""Topic policies (``modules/topics.py``): the account's principals administer, only the named AWS
service sources publish, and nothing is open to ``Principal "*"`` (issue 13)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from synth_helpers import only, resources, synth_construct

import modules  # noqa: F401  -- the lazy bindings loader, before any AWS binding
from modules.topics import ServicePublisher, Topic

ACCOUNT = "111111111111"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
ALARMS = ServicePublisher(sid="AlarmsFromCloudWatch", service="cloudwatch.amazonaws.com",
                          source_arn=f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:pk-x-*", account_id=ACCOUNT)


def _statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}


def _open(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    return principal == "*" or (isinstance(principal, dict) and "*" in json.dumps(principal.get("AWS", "")))


def test_a_topic_without_publishers_is_administered_by_its_account_only() -> None:
    doc = synth_construct(lambda s: Topic(s, "t", name="pk-x-events", kms_key_arn=KEY_ARN, account_id=ACCOUNT))
    topic_id, _ = only(doc, "aws_sns_topic")
    _, policy = only(doc, "aws_sns_topic_policy")
    assert policy["arn"] == "${aws_sns_topic.%s.arn}" % topic_id
    [account] = json.loads(policy["policy"])["Statement"]
    assert account["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert account["Resource"] == "${aws_sns_topic.%s.arn}" % topic_id
    assert account["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}


def test_a_service_publisher_publishes_only_for_its_source_and_account() -> None:
    doc = synth_construct(lambda s: Topic(s, "t", name="pk-x-alarms", kms_key_arn=KEY_ARN, account_id=ACCOUNT,
                                          publishers=(ALARMS,)))
    alarms = _statements(only(doc, "aws_sns_topic_policy")[1])["AlarmsFromCloudWatch"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == "sns:Publish"
    assert alarms["Condition"] == {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:pk-x-*"},
                                   "StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_a_publisher_added_later_lands_in_the_one_topic_policy() -> None:
    def build(s):
        topic = Topic(s, "t", name="pk-x-alarms", kms_key_arn=KEY_ARN, account_id=ACCOUNT, publishers=(ALARMS,))
        topic.allow_publisher(ServicePublisher(sid="FromARule", service="events.amazonaws.com",
                                               source_arn="arn:aws:events:eu-west-1:111111111111:rule/pk-x-r",
                                               account_id=ACCOUNT))

    doc = synth_construct(build)
    assert sorted(_statements(only(doc, "aws_sns_topic_policy")[1])) == [
        "AccountPrincipals", "AlarmsFromCloudWatch", "FromARule"]


def test_publisher_sids_must_be_unique() -> None:
    from modules.topics import topic_policy_statements

    with pytest.raises(ValueError, match="publisher sids must be unique"):
        topic_policy_statements(topic_arn="arn", account_id=ACCOUNT, publishers=(ALARMS, ALARMS))


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_every_topic_of_a_stack_has_a_policy_and_none_is_open_to_everyone(stacks, env: str) -> None:
    doc = stacks[env]
    topics = resources(doc, "aws_sns_topic")
    policies = resources(doc, "aws_sns_topic_policy").values()
    assert sorted(p["arn"] for p in policies) == sorted("${aws_sns_topic.%s.arn}" % t for t in topics)
    assert not [s for p in policies for s in json.loads(p["policy"])["Statement"] if _open(s)]


@pytest.mark.parametrize("env", ["local", "prod"])
def test_the_alarms_topic_takes_this_environments_alarms_and_the_batch_failure_rule(stacks, env: str) -> None:
    doc = stacks[env]
    alarms_id = next(t for t, body in resources(doc, "aws_sns_topic").items() if body["name"] == f"pk-{env}-alarms")
    [policy] = [p for p in resources(doc, "aws_sns_topic_policy").values()
                if p["arn"] == "${aws_sns_topic.%s.arn}" % alarms_id]
    statements = _statements(policy)
    account = next(iter(_statements(policy).values()))["Principal"]["AWS"].split(":")[4]
    assert statements["AlarmsFromCloudWatch"]["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:cloudwatch:{doc['provider']['aws'][0]['region']}:{account}:alarm:pk-{env}-*"}
    rule_id, _ = only(doc, "aws_cloudwatch_event_rule")
    assert statements["BatchFailuresFromEventBridge"]["Condition"]["ArnLike"] == {
        "aws:SourceArn": "${aws_cloudwatch_event_rule.%s.arn}" % rule_id}
