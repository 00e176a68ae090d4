"""SQS stage queues with dead-letter queues, and the bucket → queue event wiring."""

from __future__ import annotations

import json
from typing import Sequence

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.s3_bucket_notification import S3BucketNotification, S3BucketNotificationQueue
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from .policy import Statement, policy_json

#: AWS: "set the source queue's visibility timeout to at least six times the timeout that you
#: configure on your function" (Lambda developer guide, SQS event source).
VISIBILITY_TIMEOUT_FACTOR = 6
MAX_VISIBILITY_TIMEOUT = 43_200


def visibility_timeout_for(consumer_timeout_seconds: int) -> int:
    """Six times the consumer's timeout; an error if SQS cannot hold that."""
    if consumer_timeout_seconds < 1:
        raise ValueError(f"consumer timeout must be at least 1 second, got {consumer_timeout_seconds}")
    value = VISIBILITY_TIMEOUT_FACTOR * consumer_timeout_seconds
    if value > MAX_VISIBILITY_TIMEOUT:
        raise ValueError(
            f"consumer timeout {consumer_timeout_seconds}s needs a visibility timeout of {value}s, "
            f"above the SQS maximum of {MAX_VISIBILITY_TIMEOUT}s"
        )
    return value


class StageQueue(Construct):
    """The input queue of one pipeline stage and its dead-letter queue (``.queue``, ``.dlq``).

    Both are encrypted with the environment's key. After ``max_receive_count`` failed receives a
    message moves to the DLQ, which keeps it for ``dlq_retention_seconds``.

    ``ignore_redrive_policy_changes`` exists for the emulator only: it reads the redrive policy
    back with different whitespace, which would show a change on every plan.
    """

    queue: SqsQueue
    dlq: SqsQueue

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        consumer_timeout_seconds: int,
        message_retention_seconds: int,
        dlq_retention_seconds: int,
        max_receive_count: int,
        prevent_destroy: bool,
        ignore_redrive_policy_changes: bool = False,
    ) -> None:
        super().__init__(scope, id)
        if dlq_retention_seconds < message_retention_seconds:
            raise ValueError(f"queue {name}: the DLQ must keep messages at least as long as the queue")
        self.dlq = SqsQueue(
            self, "dlq",
            name=f"{name}-dlq",
            kms_master_key_id=kms_key_arn,
            message_retention_seconds=dlq_retention_seconds,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=prevent_destroy),
        )
        self.queue = SqsQueue(
            self, "queue",
            name=name,
            kms_master_key_id=kms_key_arn,
            visibility_timeout_seconds=visibility_timeout_for(consumer_timeout_seconds),
            message_retention_seconds=message_retention_seconds,
            redrive_policy=json.dumps(
                {"deadLetterTargetArn": self.dlq.arn, "maxReceiveCount": max_receive_count},
                separators=(",", ":"),
            ),
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=prevent_destroy,
                ignore_changes=["redrive_policy"] if ignore_redrive_policy_changes else None,
            ),
        )


class BucketEventsToQueue(Construct):
    """``s3:ObjectCreated:*`` events of a bucket into a queue (both by reference), and the queue policy that
    lets exactly that bucket (in exactly this account) send them. Exposes ``.policy``, ``.notification``."""

    policy: SqsQueuePolicy
    notification: S3BucketNotification

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket_arn: str,
        bucket_id: str,
        queue_arn: str,
        queue_url: str,
        account_id: str,
        events: Sequence[str] = ("s3:ObjectCreated:*",),
        filter_prefix: str | None = None,
        filter_suffix: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.policy = SqsQueuePolicy(
            self, "policy",
            queue_url=queue_url,
            policy=policy_json([Statement(
                sid="AllowBucketEvents", effect="Allow",
                principals={"Service": "s3.amazonaws.com"},
                actions=["sqs:SendMessage"], resources=[queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": bucket_arn},
                            "StringEquals": {"aws:SourceAccount": account_id}},
            )]),
        )
        self.notification = S3BucketNotification(
            self, "notification",
            bucket=bucket_id,
            queue=[S3BucketNotificationQueue(
                id="object-created",
                queue_arn=queue_arn,
                events=list(events),
                filter_prefix=filter_prefix,
                filter_suffix=filter_suffix,
            )],
            depends_on=[self.policy],
        )


class TopicToQueue(Construct):
    """Every message of a topic into a queue (by reference; raw delivery: the body is the published
    message), with the queue policy that lets exactly that topic send. Exposes ``.policy``,
    ``.subscription``."""

    policy: SqsQueuePolicy
    subscription: SnsTopicSubscription

    def __init__(self, scope: Construct, id: str, *, topic_arn: str, queue_arn: str, queue_url: str,
                 account_id: str) -> None:
        super().__init__(scope, id)
        self.policy = SqsQueuePolicy(
            self, "policy",
            queue_url=queue_url,
            policy=policy_json([Statement(
                sid="AllowTopicMessages", effect="Allow",
                principals={"Service": "sns.amazonaws.com"},
                actions=["sqs:SendMessage"], resources=[queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": topic_arn},
                            "StringEquals": {"aws:SourceAccount": account_id}},
            )]),
        )
        self.subscription = SnsTopicSubscription(
            self, "subscription",
            topic_arn=topic_arn, protocol="sqs", endpoint=queue_arn, raw_message_delivery=True,
            depends_on=[self.policy],
        )
