"""Subscribers of the alarms and pipeline-events topics (``modules.notifications`` and its wiring
from ``[notifications]``): filter policies, the HTTPS delivery policy, redrive to the topic's
delivery DLQ, the DLQ's queue policy and alarm; then a stack built from a config of our own,
``terraform validate`` included."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from synth_helpers import only, ref, resources, statements, synth_construct

import modules  # noqa: F401  (installs the lazy bindings loader first)
from environments import load_environment
from environments.sections.notifications import NotificationsConfig, SubscriberConfig
from modules.notifications import DlqAlarm, HttpDelivery, Subscriber, TopicSubscribers

SUB = "aws_sns_topic_subscription"
QUEUE = "aws_sqs_queue"
QUEUE_POLICY = "aws_sqs_queue_policy"
ALARM = "aws_cloudwatch_metric_alarm"
KEY = "arn:aws:kms:eu-west-1:111111111111:key/k"
ALARMS_TOPIC = "arn:aws:sns:eu-west-1:111111111111:x-alarms"
CLIENT_QUEUE = "arn:aws:sqs:eu-west-1:111111111111:client"

FILTERED = Subscriber(protocol="sqs", endpoint=CLIENT_QUEUE, filter_policy={"dataset": ["alpha"], "status": ["processed"]},
                      raw_message_delivery=True)
HOOK = Subscriber(protocol="https", endpoint="https://partner.test/hook")
PERSON = Subscriber(protocol="email", endpoint="someone@corp.test")


HTTP = HttpDelivery(num_retries=7, max_delay_seconds=30, max_receives_per_second=5)


def build(stack, subscribers=(FILTERED, HOOK, PERSON), http=HTTP):
    from cdktf_cdktf_provider_aws.sns_topic import SnsTopic

    topic = SnsTopic(stack, "topic", name="x-events")
    return TopicSubscribers(stack, "subs", topic=topic, subscribers=list(subscribers), dlq_name="x-events-delivery-dlq",
                            kms_key_arn=KEY, account_id="111111111111", http_delivery=http, prevent_destroy=True,
                            alarm=DlqAlarm(topic_arn=ALARMS_TOPIC, threshold=2, period_seconds=60, evaluation_periods=3))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return synth_construct(build)


def subscription(doc: dict[str, Any], endpoint: str) -> dict[str, Any]:
    [body] = [b for b in resources(doc, SUB).values() if b["endpoint"] == endpoint]
    return body


def topic_arn(doc: dict[str, Any]) -> str:
    rid, _ = only(doc, "aws_sns_topic")
    return ref("aws_sns_topic", rid, "arn")


def dlq_arn(doc: dict[str, Any]) -> str:
    rid, _ = only(doc, QUEUE)
    return ref(QUEUE, rid, "arn")


# -- subscriptions ---------------------------------------------------------------------

def test_one_subscription_per_subscriber_on_the_topic(doc):
    subs = resources(doc, SUB).values()
    assert sorted((s["protocol"], s["endpoint"]) for s in subs) == sorted(
        (s.protocol, s.endpoint) for s in (FILTERED, HOOK, PERSON))
    assert {s["topic_arn"] for s in subs} == {topic_arn(doc)}


def test_a_filtered_subscriber_gets_a_message_attributes_filter_policy(doc):
    body = subscription(doc, CLIENT_QUEUE)
    assert json.loads(body["filter_policy"]) == {"dataset": ["alpha"], "status": ["processed"]}
    assert body["filter_policy_scope"] == "MessageAttributes"


def test_an_unfiltered_subscriber_has_no_filter_policy(doc):
    body = subscription(doc, HOOK.endpoint)
    assert "filter_policy" not in body and "filter_policy_scope" not in body


def test_raw_message_delivery_is_set_where_asked(doc):
    assert subscription(doc, CLIENT_QUEUE)["raw_message_delivery"] is True
    assert "raw_message_delivery" not in subscription(doc, HOOK.endpoint)


def test_https_gets_the_retry_and_throttle_delivery_policy_and_no_auto_confirm(doc):
    body = subscription(doc, HOOK.endpoint)
    policy = json.loads(body["delivery_policy"])
    assert policy["healthyRetryPolicy"] == {
        "minDelayTarget": 1, "maxDelayTarget": 30, "numRetries": 7, "numNoDelayRetries": 0,
        "numMinDelayRetries": 0, "numMaxDelayRetries": 0, "backoffFunction": "exponential"}
    assert policy["throttlePolicy"] == {"maxReceivesPerSecond": 5}
    assert body["endpoint_auto_confirms"] is False


@pytest.mark.parametrize("endpoint", [CLIENT_QUEUE, PERSON.endpoint])
def test_other_protocols_keep_the_aws_delivery_policy(doc, endpoint):
    assert "delivery_policy" not in subscription(doc, endpoint)


def test_every_subscription_redrives_to_the_delivery_dlq_after_its_queue_policy(doc):
    (policy_id, _), = resources(doc, QUEUE_POLICY).items()
    for body in resources(doc, SUB).values():
        assert json.loads(body["redrive_policy"]) == {"deadLetterTargetArn": dlq_arn(doc)}
        assert body["depends_on"] == [f"{QUEUE_POLICY}.{policy_id}"]


def test_subscription_ids_do_not_depend_on_the_order_of_the_list():
    ids = set(resources(synth_construct(build), SUB))
    assert set(resources(synth_construct(lambda s: build(s, subscribers=(PERSON, HOOK, FILTERED))), SUB)) == ids


# -- the delivery dead-letter queue ----------------------------------------------------

def test_the_dlq_is_encrypted_with_the_environment_key_and_keeps_messages_14_days(doc):
    _, dlq = only(doc, QUEUE)
    assert (dlq["name"], dlq["kms_master_key_id"], dlq["message_retention_seconds"]) == (
        "x-events-delivery-dlq", KEY, 14 * 24 * 3600)


def test_the_dlq_is_protected_like_every_queue(doc):
    _, dlq = only(doc, QUEUE)
    assert dlq["lifecycle"] == {"prevent_destroy": True}


def test_only_sns_from_this_topic_may_send_to_the_dlq(doc):
    rid, _ = only(doc, QUEUE)
    _, policy = only(doc, QUEUE_POLICY)
    assert policy["queue_url"] == ref(QUEUE, rid, "url")
    st = statements(policy["policy"])["AllowUndeliveredMessages"]
    assert (st["Effect"], st["Principal"], st["Action"], st["Resource"]) == (
        "Allow", {"Service": "sns.amazonaws.com"}, "sqs:SendMessage", dlq_arn(doc))
    assert st["Condition"] == {"ArnEquals": {"aws:SourceArn": topic_arn(doc)},
                               "StringEquals": {"aws:SourceAccount": "111111111111"}}


def test_an_alarm_on_the_dlq_depth_goes_to_the_alarms_topic(doc):
    _, alarm = only(doc, ALARM)
    assert (alarm["namespace"], alarm["metric_name"], alarm["dimensions"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "x-events-delivery-dlq"})
    assert (alarm["threshold"], alarm["period"], alarm["evaluation_periods"]) == (2, 60, 3)
    assert alarm["alarm_actions"] == alarm["ok_actions"] == [ALARMS_TOPIC]


# -- guards ----------------------------------------------------------------------------

def test_retries_beyond_the_hour_sns_allows_are_refused():
    with pytest.raises(ValueError, match="HTTP delivery: 100 retries up to 60 s apart exceed SNS's 3600 s"):
        HttpDelivery(num_retries=100, max_delay_seconds=60)


def test_an_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="subscriber x: protocol must be one of email, http, https, sqs, got 'sms'"):
        Subscriber(protocol="sms", endpoint="x")


def test_raw_delivery_to_email_is_refused():
    with pytest.raises(ValueError, match="raw message delivery does not apply to e-mail"):
        Subscriber(protocol="email", endpoint="a@b.test", raw_message_delivery=True)


def test_a_topic_without_subscribers_gets_no_construct():
    with pytest.raises(ValueError, match="x-events-delivery-dlq: a topic's subscribers need at least one subscriber"):
        synth_construct(lambda s: build(s, subscribers=()))


# -- the stack, from a config of our own -----------------------------------------------

def config_with(env: str, notifications: NotificationsConfig):
    return dataclasses.replace(load_environment(env), notifications=notifications)


OWN = NotificationsConfig(
    https_retries=4, https_max_delay_seconds=20, https_max_receives_per_second=3,
    alarms=(SubscriberConfig(protocol="email", endpoint="oncall@corp.test"),),
    events=(SubscriberConfig(protocol="https", endpoint="https://partner.test/in", statuses=("quarantined",)),
            SubscriberConfig(protocol="sqs", endpoint="arn:aws:sqs:eu-west-1:111111111111:client",
                             datasets=("alpha",), raw_message_delivery=True)),
)


def stack_doc(cfg, outdir: Path | None = None) -> dict[str, Any]:
    from cdktf import App
    from cdktf import Testing as CdkTesting

    from modules.stack import PipelineStack

    app = App(outdir=str(outdir)) if outdir else CdkTesting.app()
    stack = PipelineStack(app, cfg.name, config=cfg, plugins=[])
    if outdir:
        app.synth()
        return json.loads((outdir / "stacks" / cfg.name / "cdk.tf.json").read_text())
    return json.loads(CdkTesting.synth(stack))


@pytest.fixture(scope="module")
def own_stack() -> dict[str, Any]:
    return stack_doc(config_with("dev", OWN))


def under(doc: dict[str, Any], rtype: str, construct: str) -> list[dict[str, Any]]:
    """The ``rtype`` resources inside the stack's construct ``construct`` (by logical id)."""
    return [b for rid, b in resources(doc, rtype).items() if rid.startswith(f"{construct}_")]


def test_each_topic_with_subscribers_gets_its_own_delivery_dlq(own_stack):
    names = sorted(q["name"] for q in resources(own_stack, QUEUE).values() if "delivery" in q["name"])
    assert names == ["pk-dev-alarms-delivery-dlq", "pk-dev-pipeline-events-delivery-dlq"]


def test_the_config_subscribers_land_on_their_topics(own_stack):
    topics = {b["name"]: rid for rid, b in resources(own_stack, "aws_sns_topic").items()}
    alarms = under(own_stack, SUB, "subscribers-alarms")
    events = under(own_stack, SUB, "subscribers-pipeline-events")
    assert [(s["endpoint"], s["topic_arn"]) for s in alarms] == [
        ("oncall@corp.test", ref("aws_sns_topic", topics["pk-dev-alarms"], "arn"))]
    assert sorted((s["protocol"], s["topic_arn"]) for s in events) == [
        ("https", ref("aws_sns_topic", topics["pk-dev-pipeline-events"], "arn")),
        ("sqs", ref("aws_sns_topic", topics["pk-dev-pipeline-events"], "arn"))]


def test_the_config_filters_and_retry_policy_reach_the_subscriptions(own_stack):
    [https] = [s for s in under(own_stack, SUB, "subscribers-pipeline-events") if s["protocol"] == "https"]
    [sqs] = [s for s in under(own_stack, SUB, "subscribers-pipeline-events") if s["protocol"] == "sqs"]
    assert json.loads(https["filter_policy"]) == {"status": ["quarantined"]}
    assert json.loads(sqs["filter_policy"]) == {"dataset": ["alpha"]}
    policy = json.loads(https["delivery_policy"])
    assert (policy["healthyRetryPolicy"]["numRetries"], policy["healthyRetryPolicy"]["maxDelayTarget"],
            policy["throttlePolicy"]["maxReceivesPerSecond"]) == (4, 20, 3)


def test_the_delivery_dlq_alarms_use_the_environment_alarm_settings(own_stack):
    cfg = load_environment("dev")
    alarms = under(own_stack, ALARM, "subscribers-alarms") + under(own_stack, ALARM, "subscribers-pipeline-events")
    assert len(alarms) == 2
    assert {(a["threshold"], a["period"], a["evaluation_periods"]) for a in alarms} == {
        (cfg.alarms.dlq_depth_threshold, cfg.alarms.period_seconds, cfg.alarms.evaluation_periods)}


def test_the_delivery_dlq_urls_are_outputs(own_stack):
    assert {"topic_alarms_delivery_dlq_url", "topic_pipeline_events_delivery_dlq_url"} <= set(own_stack["output"])


def test_no_subscriber_no_delivery_dlq():
    doc = stack_doc(config_with("dev", NotificationsConfig()))
    assert not resources(doc, SUB) and not [q for q in resources(doc, QUEUE).values() if "delivery" in q["name"]]


def test_a_plain_http_test_server_on_the_emulator_is_subscribed_over_http():
    cfg = config_with("local", NotificationsConfig(events=(
        SubscriberConfig(protocol="https", endpoint="http://127.0.0.1:8000/in"),)))
    [sub] = resources(stack_doc(cfg), SUB).values()
    assert (sub["protocol"], sub["endpoint"]) == ("http", "http://127.0.0.1:8000/in")


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_terraform_validate_accepts_every_protocol_with_filters_and_policies(tmp_path):
    from kit.terraform import Terraform

    stack_doc(config_with("dev", OWN), outdir=tmp_path / "out")
    tf = Terraform.for_stack(tmp_path / "out" / "stacks" / "dev", state_dir=tmp_path / "state")
    tf.init(backend=False, quiet=True)
    result = tf.validate()
    assert result.returncode == 0 and "Success" in result.stdout, result.stdout + result.stderr
