"""CloudWatch log groups with retention and encryption."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from constructs import Construct


class LogGroup(Construct):
    """A log group (``.log_group``) that keeps events ``retention_days`` and is encrypted with
    ``kms_key_arn`` when one is given."""

    log_group: CloudwatchLogGroup

    def __init__(self, scope: Construct, id: str, *, name: str, retention_days: int,
                 kms_key_arn: str | None = None) -> None:
        super().__init__(scope, id)
        if retention_days < 1:
            raise ValueError(f"log group {name}: retention_days must be positive, got {retention_days}")
        self.log_group = CloudwatchLogGroup(
            self, "log-group", name=name, retention_in_days=retention_days, kms_key_id=kms_key_arn)
