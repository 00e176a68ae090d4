"""Subscribers of an SNS topic: e-mail, HTTP(S) and SQS subscriptions, each with a redrive policy
to the topic's delivery dead-letter queue, and an alarm on that queue's depth.

On AWS, SNS delivers asynchronously: it retries a failing HTTP(S) endpoint after the delivery
policy (:class:`HttpDelivery`; the other protocols have fixed AWS policies) and, once the policy
is exhausted, moves the message to the subscription's dead-letter queue instead of dropping it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from .policy import Statement, policy_json

PROTOCOLS = ("email", "http", "https", "sqs")
#: The longest SQS keeps a message: the delivery DLQ keeps what could not be delivered that long.
DLQ_RETENTION_SECONDS = 1_209_600
#: SNS caps the total retry time of an HTTP(S) delivery policy at one hour.
MAX_HTTP_RETRY_SECONDS = 3600


@dataclass(frozen=True)
class Subscriber:
    """One subscription. ``filter_policy`` maps a message attribute to the values a message must
    carry to be delivered (empty: everything); ``raw_message_delivery`` (sqs, http, https) sends
    the message itself instead of SNS's JSON envelope."""

    protocol: str
    endpoint: str
    filter_policy: Mapping[str, Sequence[str]] = field(default_factory=dict)
    raw_message_delivery: bool = False

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"subscriber {self.endpoint}: protocol must be one of {', '.join(PROTOCOLS)}, "
                             f"got {self.protocol!r}")
        if self.raw_message_delivery and self.protocol == "email":
            raise ValueError(f"subscriber {self.endpoint}: raw message delivery does not apply to e-mail")
        for name, values in self.filter_policy.items():
            if not values:
                raise ValueError(f"subscriber {self.endpoint}: filter on {name!r} accepts no value")

    @property
    def logical_id(self) -> str:
        """Stable across reordering the list: a subscription is re-created (and, for e-mail and
        HTTPS, re-confirmed) only when its protocol or endpoint changes."""
        digest = hashlib.sha256(f"{self.protocol}\n{self.endpoint}".encode()).hexdigest()[:12]
        return f"{self.protocol}-{digest}"


@dataclass(frozen=True)
class HttpDelivery:
    """The delivery policy of HTTP(S) subscriptions: ``num_retries`` after a failed POST, backing
    off exponentially from ``min_delay_seconds`` to ``max_delay_seconds``; at most
    ``max_receives_per_second`` POSTs per second; JSON content type."""

    num_retries: int = 10
    max_delay_seconds: int = 60
    max_receives_per_second: int = 10
    min_delay_seconds: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.num_retries <= 100:
            raise ValueError(f"HTTP delivery: num_retries must be between 0 and 100, got {self.num_retries}")
        if not 1 <= self.min_delay_seconds <= self.max_delay_seconds <= MAX_HTTP_RETRY_SECONDS:
            raise ValueError("HTTP delivery: need 1 <= min_delay_seconds <= max_delay_seconds <= "
                             f"{MAX_HTTP_RETRY_SECONDS}, got {self.min_delay_seconds} and {self.max_delay_seconds}")
        if self.num_retries * self.max_delay_seconds > MAX_HTTP_RETRY_SECONDS:
            raise ValueError(f"HTTP delivery: {self.num_retries} retries up to {self.max_delay_seconds} s apart "
                             f"exceed SNS's {MAX_HTTP_RETRY_SECONDS} s")
        if self.max_receives_per_second < 1:
            raise ValueError("HTTP delivery: max_receives_per_second must be at least 1")

    def policy_json(self) -> str:
        return json.dumps({
            "healthyRetryPolicy": {
                "minDelayTarget": self.min_delay_seconds,
                "maxDelayTarget": self.max_delay_seconds,
                "numRetries": self.num_retries,
                "numNoDelayRetries": 0,
                "numMinDelayRetries": 0,
                "numMaxDelayRetries": 0,
                "backoffFunction": "exponential",
            },
            "throttlePolicy": {"maxReceivesPerSecond": self.max_receives_per_second},
            "requestPolicy": {"headerContentType": "application/json"},
        }, separators=(",", ":"))


@dataclass(frozen=True)
class DlqAlarm:
    """The alarm on the delivery DLQ: ``threshold`` visible messages for ``evaluation_periods``
    periods of ``period_seconds``, to ``topic_arn``."""

    topic_arn: str
    threshold: int = 1
    period_seconds: int = 300
    evaluation_periods: int = 1


class TopicSubscribers(Construct):
    """``subscribers`` of ``topic``, and what they could not be delivered.

    Exposes ``.subscriptions`` (by :attr:`Subscriber.logical_id`), ``.dlq`` (``dlq_name``,
    encrypted with ``kms_key_arn``, ``prevent_destroy`` like every queue of the environment),
    ``.dlq_policy`` (SNS may send to it from ``topic`` only) and
    ``.dlq_alarm``. Every subscription's redrive policy names the DLQ; HTTP(S) subscriptions get
    ``http_delivery`` as their delivery policy and are confirmed by their endpoint (SNS posts a
    ``SubscriptionConfirmation`` first), e-mail ones by their recipient.
    """

    subscriptions: dict[str, SnsTopicSubscription]
    dlq: SqsQueue
    dlq_policy: SqsQueuePolicy
    dlq_alarm: CloudwatchMetricAlarm

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: SnsTopic,
        subscribers: Sequence[Subscriber],
        dlq_name: str,
        kms_key_arn: str,
        account_id: str,
        alarm: DlqAlarm,
        prevent_destroy: bool,
        http_delivery: HttpDelivery = HttpDelivery(),
        dlq_retention_seconds: int = DLQ_RETENTION_SECONDS,
    ) -> None:
        super().__init__(scope, id)
        if not subscribers:
            raise ValueError(f"{dlq_name}: a topic's subscribers need at least one subscriber")
        ids = [s.logical_id for s in subscribers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{dlq_name}: the same protocol and endpoint are subscribed twice")
        self.dlq = SqsQueue(
            self, "dlq",
            name=dlq_name,
            kms_master_key_id=kms_key_arn,
            message_retention_seconds=dlq_retention_seconds,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=prevent_destroy),
        )
        self.dlq_policy = SqsQueuePolicy(
            self, "dlq-policy",
            queue_url=self.dlq.url,
            policy=policy_json([Statement(
                sid="AllowUndeliveredMessages", effect="Allow",
                principals={"Service": "sns.amazonaws.com"},
                actions=["sqs:SendMessage"], resources=[self.dlq.arn],
                conditions={"ArnEquals": {"aws:SourceArn": topic.arn},
                            "StringEquals": {"aws:SourceAccount": account_id}},
            )]),
        )
        redrive = json.dumps({"deadLetterTargetArn": self.dlq.arn}, separators=(",", ":"))
        self.subscriptions = {}
        for sub in subscribers:
            http = sub.protocol in ("http", "https")
            self.subscriptions[sub.logical_id] = SnsTopicSubscription(
                self, sub.logical_id,
                topic_arn=topic.arn,
                protocol=sub.protocol,
                endpoint=sub.endpoint,
                raw_message_delivery=sub.raw_message_delivery or None,
                filter_policy=json.dumps({k: list(v) for k, v in sub.filter_policy.items()},
                                         separators=(",", ":"), sort_keys=True) if sub.filter_policy else None,
                filter_policy_scope="MessageAttributes" if sub.filter_policy else None,
                delivery_policy=http_delivery.policy_json() if http else None,
                # The endpoint confirms by visiting the SubscribeURL SNS posts to it; Terraform
                # does not wait for that.
                endpoint_auto_confirms=False if http else None,
                redrive_policy=redrive,
                depends_on=[self.dlq_policy],
            )
        self.dlq_alarm = CloudwatchMetricAlarm(
            self, "dlq-alarm",
            alarm_name=f"{dlq_name}-depth",
            alarm_description=f"notifications not delivered to a subscriber: messages in {dlq_name}",
            namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": dlq_name}, statistic="Maximum",
            period=alarm.period_seconds, evaluation_periods=alarm.evaluation_periods,
            threshold=alarm.threshold, comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[alarm.topic_arn], ok_actions=[alarm.topic_arn],
        )
