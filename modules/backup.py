"""AWS Backup of the environment's data: a KMS-encrypted vault, a plan with a daily and a
weekly rule, a tag-based selection (DynamoDB tables and S3 buckets carrying the tag), the
service role, and optionally a vault lock.

S3 backups need versioning on the bucket (every ``DataBucket`` is versioned). The service role
holds **no AWS-managed policy**: AWS Backup documents its managed policies
(``AWSBackupServiceRolePolicyForBackup``/``ForRestores``/``ForS3Backup``/``ForS3Restore``) as the
model to copy and narrow ("Managed policies for AWS Backup", customer managed policies); the
role gets their DynamoDB and S3 statements, named to this environment (:func:`backup_role_statements`):
its tables and buckets (what the selection can pick), restore targets named like the
environment's (``<prefix>-*``), its vault, the environment key only through DynamoDB and S3, and
the four discovery actions that accept ``"*"`` only. A resource tagged for the plan but not
named here fails its backup job (visible in AWS Backup), rather than widening the role.

Vault lock: ``vault_lock_changeable_for_days`` chooses the mode.
* ``None`` (the default) → **governance mode**: the minimum/maximum retention is enforced on
  every backup and copy job, and recovery points cannot be deleted early, but a principal with
  ``backup:DeleteBackupVaultLockConfiguration`` can still remove or change the lock. This keeps
  the stack destroyable and the settings correctable, and guards against accidents and most
  misuse.
* ``N`` (at least 3) → **compliance mode** after a grace time of N days: until then the lock can
  be removed; from then on nobody (root and AWS included) can change or remove it, shorten a
  retention or delete the vault while it holds recovery points. That is a one-way decision a
  data owner takes in the environment's config, never a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.backup_plan import BackupPlan, BackupPlanRule, BackupPlanRuleLifecycle
from cdktf_cdktf_provider_aws.backup_selection import BackupSelection, BackupSelectionSelectionTag
from cdktf_cdktf_provider_aws.backup_vault import BackupVault
from cdktf_cdktf_provider_aws.backup_vault_lock_configuration import BackupVaultLockConfiguration
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from .kms import key_use_via
from .policy import Statement, policy_json

#: Every day at 05:00 UTC.
DAILY_SCHEDULE = "cron(0 5 * * ? *)"
#: Every Sunday at 06:00 UTC (after the daily backup).
WEEKLY_SCHEDULE = "cron(0 6 ? * SUN *)"
#: Actions of the Backup role that accept ``"*"`` only (no resource type in the Service
#: Authorization Reference): the tag-based selection's discovery, S3 backup's object counts and
#: its EventBridge rule lookup, the bucket listing of an S3 backup.
DISCOVERY_ACTIONS = ("cloudwatch:GetMetricData", "events:ListRules", "s3:ListAllMyBuckets", "tag:GetResources")


@dataclass(frozen=True)
class BackupScope:
    """What the Backup role may back up and restore. ``table_arns``/``bucket_arns``: the tables and
    buckets the plan protects (exact ARNs); ``restore_table_arns``/``restore_bucket_arns``: where a
    restore may write (the same, or patterns such as ``arn:aws:dynamodb:<region>:<account>:table/<prefix>-*``
    so that a restore into a new, environment-named table works)."""

    table_arns: Sequence[str]
    bucket_arns: Sequence[str]
    restore_table_arns: Sequence[str] = ()
    restore_bucket_arns: Sequence[str] = ()


def backup_role_statements(*, scope: BackupScope, vault_arn: str, kms_key_arn: str, region: str,
                           account_id: str, partition: str = "aws") -> list[Statement]:
    """The Backup role's policy: the DynamoDB and S3 statements of AWS Backup's managed policies
    for backup and restore, narrowed to ``scope``, the vault and the key."""
    tables, buckets = list(scope.table_arns), list(scope.bucket_arns)
    if not tables and not buckets:
        raise ValueError("backup role: the scope names no table and no bucket")
    restore_tables = list(scope.restore_table_arns) or tables
    restore_buckets = list(scope.restore_bucket_arns) or buckets
    same_account = {"StringEquals": {"aws:ResourceAccount": account_id}}
    out = [
        Statement(sid="Discovery", effect="Allow", actions=list(DISCOVERY_ACTIONS), resources=["*"]),
        Statement(sid="IntoTheVault", effect="Allow", actions=["backup:DescribeBackupVault", "backup:CopyIntoBackupVault"],
                  resources=[vault_arn]),
        Statement(sid="TagRecoveryPoints", effect="Allow", actions=["backup:TagResource"],
                  resources=[f"arn:{partition}:backup:{region}:{account_id}:recovery-point:*"], conditions=same_account),
        Statement(sid="DescribeEnvironmentKey", effect="Allow", actions=["kms:DescribeKey"], resources=[kms_key_arn]),
        Statement(sid="GrantsForAwsResources", effect="Allow", actions=["kms:CreateGrant"], resources=[kms_key_arn],
                  conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}}),
        key_use_via(sid="EnvironmentKeyThroughDynamoDbAndS3", key_arn=kms_key_arn, region=region,
                    services=["dynamodb", "s3"],
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
                             "kms:ReEncryptFrom", "kms:ReEncryptTo"]),
    ]
    if tables:
        out += [
            Statement(sid="BackUpTables", effect="Allow",
                      actions=["dynamodb:CreateBackup", "dynamodb:DescribeTable", "dynamodb:ListTagsOfResource",
                               "dynamodb:StartAwsBackupJob"], resources=tables),
            Statement(sid="TableBackups", effect="Allow",
                      actions=["dynamodb:DeleteBackup", "dynamodb:DescribeBackup", "dynamodb:RestoreTableFromBackup"],
                      resources=[f"{t}/backup/*" for t in tables]),
            Statement(sid="RestoreTables", effect="Allow",
                      actions=["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable",
                               "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                               "dynamodb:RestoreTableFromAwsBackup", "dynamodb:Scan", "dynamodb:UpdateItem"],
                      resources=restore_tables),
        ]
    if buckets:
        out += [
            Statement(sid="EventRulesOfS3Backups", effect="Allow",
                      actions=["events:DeleteRule", "events:DescribeRule", "events:DisableRule", "events:EnableRule",
                               "events:ListTargetsByRule", "events:PutRule", "events:PutTargets",
                               "events:RemoveTargets"],
                      resources=[f"arn:{partition}:events:{region}:{account_id}:rule/AwsBackupManagedRule*"]),
            Statement(sid="BackUpBuckets", effect="Allow",
                      actions=["s3:GetBucketAcl", "s3:GetBucketLocation", "s3:GetBucketNotification",
                               "s3:GetBucketTagging", "s3:GetBucketVersioning", "s3:GetInventoryConfiguration",
                               "s3:ListBucket", "s3:ListBucketVersions", "s3:PutBucketNotification",
                               "s3:PutInventoryConfiguration"],
                      resources=buckets),
            Statement(sid="BucketTags", effect="Allow", actions=["s3:ListTagsForResource"], resources=buckets,
                      conditions=same_account),
            Statement(sid="BackUpObjects", effect="Allow",
                      actions=["s3:GetObject", "s3:GetObjectAcl", "s3:GetObjectTagging", "s3:GetObjectVersion",
                               "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
                      resources=[f"{b}/*" for b in buckets]),
            Statement(sid="RestoreBuckets", effect="Allow",
                      actions=["s3:CreateBucket", "s3:GetBucketLocation", "s3:GetBucketOwnershipControls",
                               "s3:GetBucketVersioning", "s3:ListBucket", "s3:ListBucketVersions",
                               "s3:PutBucketOwnershipControls", "s3:PutBucketVersioning"],
                      resources=restore_buckets),
            Statement(sid="RestoreObjects", effect="Allow",
                      actions=["s3:DeleteObject", "s3:GetObject", "s3:GetObjectAcl", "s3:GetObjectTagging",
                               "s3:GetObjectVersion", "s3:GetObjectVersionAcl", "s3:ListMultipartUploadParts",
                               "s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectTagging", "s3:PutObjectVersionAcl"],
                      resources=[f"{b}/*" for b in restore_buckets]),
        ]
    return out
#: AWS Backup enforces a 72-hour cooling-off before a compliance-mode lock becomes immutable.
MIN_CHANGEABLE_FOR_DAYS = 3

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,43}$")  # + "-backup" stays within Backup's 50 characters
_TAG_DRIFT = ["tags", "tags_all"]


class BackupProtection(Construct):
    """Backups of every resource tagged ``selection_tag_key = selection_tag_value``.

    Exposes ``.vault`` (``<name>-backup``, encrypted with ``kms_key_arn``), ``.plan`` (rules
    ``daily`` and ``weekly`` into the vault, deleted after ``daily_retention_days`` and
    ``weekly_retention_days``), ``.role`` (assumed by AWS Backup; ``.role_policy``: what
    :func:`backup_role_statements` allows within ``protected``), ``.selection`` and ``.lock`` (None
    unless ``vault_lock``; see the module's notes for ``vault_lock_changeable_for_days``).

    ``ignore_tag_drift`` ignores changes of the vault's and the plan's tags (the emulator reads
    them back empty); ``force_destroy`` lets ``destroy`` remove a vault that holds recovery points
    (it lists them first: the emulator has no ListRecoveryPointsByBackupVault, keep it off there).
    ``plan_name`` replaces the plan's name (default ``<name>-backup``).
    ``select_resources=False`` leaves out the selection (``.selection`` is None): the emulator
    has no CreateBackupSelection (HTTP 500), so there the plan selects nothing.
    """

    vault: BackupVault
    plan: BackupPlan
    role: IamRole
    selection: BackupSelection | None
    lock: BackupVaultLockConfiguration | None

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        daily_retention_days: int,
        weekly_retention_days: int,
        selection_tag_key: str,
        selection_tag_value: str,
        vault_lock: bool,
        vault_lock_min_retention_days: int,
        vault_lock_max_retention_days: int,
        protected: BackupScope,
        region: str,
        account_id: str,
        vault_lock_changeable_for_days: int | None = None,
        ignore_tag_drift: bool = False,
        force_destroy: bool = False,
        select_resources: bool = True,
        daily_schedule: str = DAILY_SCHEDULE,
        weekly_schedule: str = WEEKLY_SCHEDULE,
        partition: str = "aws",
        plan_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._check(name, daily_retention_days, weekly_retention_days, selection_tag_key, vault_lock,
                    vault_lock_min_retention_days, vault_lock_max_retention_days, vault_lock_changeable_for_days,
                    force_destroy)
        lifecycle = TerraformResourceLifecycle(ignore_changes=list(_TAG_DRIFT)) if ignore_tag_drift else None
        self.vault = BackupVault(
            self, "vault",
            name=f"{name}-backup",
            kms_key_arn=kms_key_arn,
            force_destroy=force_destroy,
            lifecycle=lifecycle,
        )
        self.plan = BackupPlan(
            self, "plan",
            name=plan_name or f"{name}-backup",
            rule=[
                BackupPlanRule(rule_name="daily", target_vault_name=self.vault.name, schedule=daily_schedule,
                               lifecycle=BackupPlanRuleLifecycle(delete_after=daily_retention_days)),
                BackupPlanRule(rule_name="weekly", target_vault_name=self.vault.name, schedule=weekly_schedule,
                               lifecycle=BackupPlanRuleLifecycle(delete_after=weekly_retention_days)),
            ],
            lifecycle=lifecycle,
        )
        self.role = IamRole(
            self, "role",
            name=f"{name}-backup",
            assume_role_policy=policy_json([Statement(
                sid="BackupAssumeRole", effect="Allow", principals={"Service": "backup.amazonaws.com"},
                actions=["sts:AssumeRole"])]),
        )
        self.role_policy = IamRolePolicy(self, "role-policy", name=f"{name}-backup", role=self.role.id,
                                         policy=policy_json(backup_role_statements(
                                             scope=protected, vault_arn=self.vault.arn, kms_key_arn=kms_key_arn,
                                             region=region, account_id=account_id, partition=partition)))
        self.selection = None
        if select_resources:
            self.selection = BackupSelection(
                self, "selection",
                name=f"{name}-tagged",
                plan_id=self.plan.id,
                iam_role_arn=self.role.arn,
                selection_tag=[BackupSelectionSelectionTag(type="STRINGEQUALS", key=selection_tag_key,
                                                           value=selection_tag_value)],
                # the first job must find the role able to back up
                depends_on=[self.role_policy],
            )
        self.lock = None
        if vault_lock:
            self.lock = BackupVaultLockConfiguration(
                self, "lock",
                backup_vault_name=self.vault.name,
                min_retention_days=vault_lock_min_retention_days,
                max_retention_days=vault_lock_max_retention_days,
                changeable_for_days=vault_lock_changeable_for_days,
            )

    @staticmethod
    def _check(name: str, daily: int, weekly: int, tag_key: str, vault_lock: bool, lock_min: int, lock_max: int,
               changeable: int | None, force_destroy: bool) -> None:
        if not _NAME_RE.match(name):
            raise ValueError(f"backup {name!r}: use 1-43 letters, digits, '-' or '_'")
        if daily < 1:
            raise ValueError(f"backup {name}: daily_retention_days must be at least 1, got {daily}")
        if weekly < daily:
            raise ValueError(f"backup {name}: weekly_retention_days ({weekly}) must be at least "
                             f"daily_retention_days ({daily})")
        if not tag_key:
            raise ValueError(f"backup {name}: selection_tag_key must not be empty")
        if not vault_lock:
            return
        if not 1 <= lock_min <= lock_max:
            raise ValueError(f"backup {name}: the vault lock needs 1 <= vault_lock_min_retention_days ({lock_min}) "
                             f"<= vault_lock_max_retention_days ({lock_max})")
        # the lock refuses backup jobs whose retention falls outside [min, max]
        if daily < lock_min:
            raise ValueError(f"backup {name}: daily_retention_days ({daily}) is below the vault lock's minimum "
                             f"({lock_min}): the lock would refuse the daily backups")
        if weekly > lock_max:
            raise ValueError(f"backup {name}: weekly_retention_days ({weekly}) is above the vault lock's maximum "
                             f"({lock_max}): the lock would refuse the weekly backups")
        if changeable is not None and changeable < MIN_CHANGEABLE_FOR_DAYS:
            raise ValueError(f"backup {name}: vault_lock_changeable_for_days must be at least "
                             f"{MIN_CHANGEABLE_FOR_DAYS} (AWS Backup's cooling-off), got {changeable}")
        if changeable is not None and force_destroy:
            raise ValueError(f"backup {name}: a compliance-mode vault lock (vault_lock_changeable_for_days) and "
                             "force_destroy contradict each other")
