"""SNS topics, encrypted with the environment's key, each with an explicit topic policy.

Without a policy of its own a topic has SNS's default one: ``Principal "*"`` may administer it,
bounded only by ``AWS:SourceOwner`` (SNS's legacy key, which does not say who calls). Here the
policy says exactly who: the account's own principals (``Principal`` = the account, and
``aws:PrincipalAccount`` = the account; each still needs its IAM policy), and the AWS services
named as publishers (:class:`ServicePublisher`), each
bounded to its source (``aws:SourceArn`` and ``aws:SourceAccount``). Nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from constructs import Construct

from .policy import Statement, policy_json

#: What the account's own principals may do on the topic (SNS's default set, named).
ACCOUNT_ACTIONS = (
    "SNS:AddPermission", "SNS:DeleteTopic", "SNS:GetTopicAttributes", "SNS:ListSubscriptionsByTopic",
    "SNS:Publish", "SNS:RemovePermission", "SNS:SetTopicAttributes", "SNS:Subscribe",
)


@dataclass(frozen=True)
class ServicePublisher:
    """An AWS service principal (``events.amazonaws.com``, ``cloudwatch.amazonaws.com``) that may
    publish for sources matching ``source_arn`` (an ARN, or a pattern with ``*``) of
    ``account_id`` only. ``sid``: the statement's id (letters and digits)."""

    sid: str
    service: str
    source_arn: str
    account_id: str

    def statement(self, topic_arn: str) -> Statement:
        return Statement(sid=self.sid, effect="Allow", principals={"Service": self.service}, actions=["sns:Publish"],
                         resources=[topic_arn],
                         conditions={"ArnLike": {"aws:SourceArn": self.source_arn},
                                     "StringEquals": {"aws:SourceAccount": self.account_id}})


def topic_policy_statements(*, topic_arn: str, account_id: str, publishers: tuple[ServicePublisher, ...] = (),
                            partition: str = "aws") -> list[Statement]:
    """The account administers (its principals' IAM policies decide), the publishers publish."""
    sids = [p.sid for p in publishers]
    if len(set(sids)) != len(sids) or "AccountPrincipals" in sids:
        raise ValueError(f"topic policy: publisher sids must be unique and not 'AccountPrincipals', got {sids}")
    return [
        Statement(sid="AccountPrincipals", effect="Allow", principals={"AWS": f"arn:{partition}:iam::{account_id}:root"},
                  actions=list(ACCOUNT_ACTIONS), resources=[topic_arn],
                  conditions={"StringEquals": {"aws:PrincipalAccount": account_id}}),
        *(p.statement(topic_arn) for p in publishers),
    ]


class Topic(Construct):
    """An SNS topic (``.topic``) encrypted with ``kms_key_arn``, and its topic policy
    (``.policy``, see the module's notes): the account's principals, plus ``publishers``, and
    any publisher added later with :meth:`allow_publisher` (e.g. an EventBridge rule built after
    the topic). ``.publishers`` lists them."""

    topic: SnsTopic
    policy: SnsTopicPolicy

    def __init__(self, scope: Construct, id: str, *, name: str, kms_key_arn: str, account_id: str,
                 publishers: tuple[ServicePublisher, ...] = (), partition: str = "aws") -> None:
        super().__init__(scope, id)
        self._account_id, self._partition = account_id, partition
        self.publishers: list[ServicePublisher] = list(publishers)
        self.topic = SnsTopic(self, "topic", name=name, kms_master_key_id=kms_key_arn)
        self.policy = SnsTopicPolicy(self, "policy", arn=self.topic.arn, policy=self._document())

    def allow_publisher(self, publisher: ServicePublisher) -> None:
        """Let one more AWS service source publish (the policy is rewritten before synthesis)."""
        self.publishers.append(publisher)
        self.policy.policy = self._document()

    def _document(self) -> str:
        return policy_json(topic_policy_statements(topic_arn=self.topic.arn, account_id=self._account_id,
                                                   publishers=tuple(self.publishers), partition=self._partition))
