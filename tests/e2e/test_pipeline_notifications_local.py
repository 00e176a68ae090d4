"""`[notifications]` applied on the emulator: the session's `local` deployment has an e-mail alarm
subscriber, an SQS client queue filtered to one dataset and ``processed``, and an HTTP subscriber
(conftest's ``local_notifications``). Checked over boto3: the subscriptions with their filter,
redrive and delivery policies, the delivery DLQs and their alarms; then, after the pipeline ran
(test_pipeline_local's run, or a run of its own when that left too little), the client queue
holds exactly the filtered outcomes and the HTTP subscriber received every outcome once.

Runs after test_pipeline_local and before test_redeploy_destroy (file order)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from names import PREFIX

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "lambdas" / "_shared" / "samples"


def topic_arn(kit, name: str) -> str:
    return next(t["TopicArn"] for t in kit.client("sns").list_topics()["Topics"]
                if t["TopicArn"].endswith(f":{PREFIX}-{name}"))


def subscriptions(kit, topic: str) -> dict[tuple[str, str], dict[str, str]]:
    """``{(protocol, endpoint): attributes}`` of the topic's subscriptions."""
    sns = kit.client("sns")
    out = {}
    for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn(kit, topic))["Subscriptions"]:
        out[(sub["Protocol"], sub["Endpoint"])] = sns.get_subscription_attributes(
            SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    return out


def queue_attributes(kit, name: str) -> dict[str, str]:
    sqs = kit.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def dlq_arn(kit, topic: str) -> str:
    return queue_attributes(kit, f"{PREFIX}-{topic}-delivery-dlq")["QueueArn"]


def status_items(kit) -> list[dict]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    items = [{k: des.deserialize(v) for k, v in raw.items()}
             for page in kit.client("dynamodb").get_paginator("scan").paginate(TableName=f"{PREFIX}-status")
             for raw in page["Items"]]
    # The outcomes notify announced: not the API's records of upload URLs handed out (an upload
    # that arrives becomes a file of its own, with its own outcome).
    return [i for i in items if i["status"] != "awaiting_upload"]


@pytest.fixture(scope="module")
def setup(deployed, local_notifications):
    kit, _ = deployed
    return kit, local_notifications


@pytest.fixture(scope="module")
def outcomes(setup, tmp_path_factory):
    """After the pipeline ran: the status items, the client queue's messages, the HTTP bodies.
    Runs the filtered dataset's samples when no earlier run left both a processed and a
    quarantined file of that dataset (so that the filter has something to drop)."""
    kit, n = setup
    have = {i["status"] for i in status_items(kit) if i["dataset"] == n.dataset}
    if not {"processed", "quarantined"} <= have:
        folder = tmp_path_factory.mktemp("notification-samples")
        shutil.copytree(SAMPLES / n.dataset, folder / n.dataset)
        kit.run("run", "--env", "local", "--samples", str(folder))
    sqs = kit.client("sqs")
    url = sqs.get_queue_url(QueueName=n.client_queue)["QueueUrl"]
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", []):
        messages += batch
    return status_items(kit), messages, n.receiver.received()


# -- what was applied ----------------------------------------------------------------------

def test_the_alarm_email_is_subscribed_with_a_redrive_policy(setup):
    kit, n = setup
    attrs = subscriptions(kit, "alarms")[("email", n.alarm_email)]
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn(kit, "alarms")}


def test_the_client_queue_is_subscribed_with_its_filter_policy(setup):
    kit, n = setup
    queue = queue_attributes(kit, n.client_queue)["QueueArn"]
    attrs = subscriptions(kit, "pipeline-events")[("sqs", queue)]
    assert json.loads(attrs["FilterPolicy"]) == {"dataset": [n.dataset], "status": [n.status]}
    assert attrs["FilterPolicyScope"] == "MessageAttributes"
    assert attrs["RawMessageDelivery"] == "true"
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn(kit, "pipeline-events")}


def test_the_http_subscriber_has_the_retry_policy_and_a_redrive_policy(setup):
    kit, n = setup
    attrs = subscriptions(kit, "pipeline-events")[("http", n.receiver.url)]
    assert "FilterPolicy" not in attrs
    assert json.loads(attrs["DeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == n.https_retries
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn(kit, "pipeline-events")}


@pytest.mark.parametrize("topic", ["alarms", "pipeline-events"])
def test_each_delivery_dlq_is_encrypted_kept_14_days_and_open_to_its_topic_only(setup, topic):
    kit, _ = setup
    attrs = queue_attributes(kit, f"{PREFIX}-{topic}-delivery-dlq")
    assert attrs["KmsMasterKeyId"] and attrs["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    [statement] = json.loads(attrs["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"] == {"aws:SourceArn": topic_arn(kit, topic)}


@pytest.mark.parametrize("topic", ["alarms", "pipeline-events"])
def test_each_delivery_dlq_has_a_depth_alarm_to_the_alarms_topic(setup, topic):
    kit, _ = setup
    [alarm] = kit.client("cloudwatch").describe_alarms(AlarmNames=[f"{PREFIX}-{topic}-delivery-dlq-depth"])["MetricAlarms"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": f"{PREFIX}-{topic}-delivery-dlq"}]
    assert alarm["AlarmActions"] == [topic_arn(kit, "alarms")]


# -- what was delivered --------------------------------------------------------------------

def test_the_client_queue_holds_exactly_the_filtered_outcomes(setup, outcomes):
    _, n = setup
    items, messages, _ = outcomes
    expected = sorted(i["file_id"] for i in items if i["dataset"] == n.dataset and i["status"] == n.status)
    bodies = [json.loads(m["Body"]) for m in messages]
    assert expected and sorted(b["file_id"] for b in bodies) == expected
    assert {(b["dataset"], b["status"]) for b in bodies} == {(n.dataset, n.status)}
    # the filter dropped something: other datasets and the other status were published too
    assert len(items) > len(expected)


def test_the_client_queue_gets_the_message_attributes_it_was_filtered_on(outcomes):
    _, messages, _ = outcomes
    for m in messages:
        attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
        body = json.loads(m["Body"])
        assert (attrs["dataset"], attrs["status"]) == (body["dataset"], body["status"])


def test_the_http_subscriber_received_every_outcome_once(setup, outcomes):
    kit, _ = setup
    items, _, bodies = outcomes
    notifications = [b for b in bodies if b.get("Type") == "Notification"]
    assert {b["TopicArn"] for b in notifications} == {topic_arn(kit, "pipeline-events")}
    received = sorted((json.loads(b["Message"])["file_id"], json.loads(b["Message"])["status"]) for b in notifications)
    assert received == sorted((i["file_id"], i["status"]) for i in items)


def test_nothing_went_to_the_delivery_dlqs(setup, outcomes):
    kit, _ = setup
    for topic in ("alarms", "pipeline-events"):
        assert queue_attributes(kit, f"{PREFIX}-{topic}-delivery-dlq")["ApproximateNumberOfMessages"] == "0"
