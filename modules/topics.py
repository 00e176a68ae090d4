"""SNS topics, encrypted with the environment's key."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from constructs import Construct


class Topic(Construct):
    """An SNS topic (``.topic``) encrypted with ``kms_key_arn``."""

    topic: SnsTopic

    def __init__(self, scope: Construct, id: str, *, name: str, kms_key_arn: str) -> None:
        super().__init__(scope, id)
        self.topic = SnsTopic(self, "topic", name=name, kms_master_key_id=kms_key_arn)
