"""The environment's customer-managed KMS key: one per environment, rotation on; and how a role
uses it (:func:`key_use_via`: only through the AWS services that encrypt for it, ``kms:ViaService``)."""

from __future__ import annotations

from typing import Mapping, Sequence

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from .policy import Statement, policy_json

#: AWS services that encrypt into, or read from, resources under this key on our behalf:
#: S3 event notifications into encrypted queues, CloudWatch alarms into encrypted topics,
#: SNS fan-out to encrypted queues, EventBridge.
_SERVICE_PRINCIPALS = ("s3.amazonaws.com", "sns.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com")


def via_service(region: str, *services: str) -> Mapping[str, Mapping[str, object]]:
    """The ``kms:ViaService`` condition naming ``<service>.<region>.amazonaws.com`` for each of
    ``services`` (``s3``, ``sqs``, ``dynamodb``, ``kinesis``, ``ssm``, ``secretsmanager`` ...)."""
    if not services:
        raise ValueError("kms:ViaService needs at least one service")
    names = sorted({f"{s}.{region}.amazonaws.com" for s in services})
    return {"StringEquals": {"kms:ViaService": names[0] if len(names) == 1 else names}}


def key_use_via(*, sid: str, key_arn: str, region: str, services: Sequence[str],
                actions: Sequence[str] = ("kms:Decrypt", "kms:GenerateDataKey")) -> Statement:
    """Use of ``key_arn`` (by default decrypt and data keys) only when one of ``services`` calls KMS
    on the role's behalf (``kms:ViaService``): the role can read and write what those services
    encrypt, and cannot decrypt a ciphertext directly."""
    return Statement(sid=sid, effect="Allow", actions=list(actions), resources=[key_arn],
                     conditions=via_service(region, *services))


class EnvironmentKey(Construct):
    """A symmetric KMS key with yearly rotation and an alias ``alias/<alias_name>``.

    The key policy gives the account root administration (the AWS default that lets IAM
    policies grant use), lets the listed AWS services generate data keys and decrypt, and (with
    ``cloudwatch_logs``, the default) lets CloudWatch Logs in ``region`` encrypt log groups of this
    account. ``description`` replaces the default description.
    """

    key: KmsKey
    alias: KmsAlias

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        alias_name: str,
        account_id: str,
        region: str,
        deletion_window_days: int,
        prevent_destroy: bool,
        service_principals: Sequence[str] = _SERVICE_PRINCIPALS,
        extra_statements: Sequence[Statement] = (),
        cloudwatch_logs: bool = True,
        description: str | None = None,
        partition: str = "aws",
    ) -> None:
        super().__init__(scope, id)
        root = f"arn:{partition}:iam::{account_id}:root"
        statements = [
            Statement(sid="AccountAdministration", effect="Allow", principals={"AWS": root},
                      actions=["kms:*"], resources=["*"]),
        ]
        if service_principals:
            statements.append(Statement(
                sid="AwsServicesUseKey", effect="Allow", principals={"Service": sorted(service_principals)},
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account_id}}))
        if cloudwatch_logs:
            statements.append(Statement(
                sid="CloudWatchLogsUseKey", effect="Allow", principals={"Service": f"logs.{region}.amazonaws.com"},
                actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                        f"arn:{partition}:logs:{region}:{account_id}:log-group:*"}}))
        statements += list(extra_statements)
        self.key = KmsKey(
            self, "key",
            description=description or f"pipeline-kit data key ({alias_name})",
            enable_key_rotation=True,
            deletion_window_in_days=deletion_window_days,
            policy=policy_json(statements),
            lifecycle=TerraformResourceLifecycle(prevent_destroy=prevent_destroy),
        )
        self.alias = KmsAlias(self, "alias", name=f"alias/{alias_name}", target_key_id=self.key.key_id)
