"""AWS Backup of the environment's data: a KMS-encrypted vault, a plan with a daily and a
weekly rule, a tag-based selection (DynamoDB tables and S3 buckets carrying the tag), the
service role, and optionally a vault lock.

S3 backups need versioning on the bucket (every ``DataBucket`` is versioned) and the S3 backup
and restore managed policies on the role, besides the general ones; DynamoDB needs nothing more.

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

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.backup_plan import BackupPlan, BackupPlanRule, BackupPlanRuleLifecycle
from cdktf_cdktf_provider_aws.backup_selection import BackupSelection, BackupSelectionSelectionTag
from cdktf_cdktf_provider_aws.backup_vault import BackupVault
from cdktf_cdktf_provider_aws.backup_vault_lock_configuration import BackupVaultLockConfiguration
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from .policy import Statement, policy_json

#: Every day at 05:00 UTC.
DAILY_SCHEDULE = "cron(0 5 * * ? *)"
#: Every Sunday at 06:00 UTC (after the daily backup).
WEEKLY_SCHEDULE = "cron(0 6 ? * SUN *)"
#: AWS-managed policies of the Backup service role: (construct id, ARN path after ``policy/``).
MANAGED_POLICIES = (
    ("backup", "service-role/AWSBackupServiceRolePolicyForBackup"),
    ("restores", "service-role/AWSBackupServiceRolePolicyForRestores"),
    ("s3-backup", "AWSBackupServiceRolePolicyForS3Backup"),
    ("s3-restore", "AWSBackupServiceRolePolicyForS3Restore"),
)
#: AWS Backup enforces a 72-hour cooling-off before a compliance-mode lock becomes immutable.
MIN_CHANGEABLE_FOR_DAYS = 3

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,43}$")  # + "-backup" stays within Backup's 50 characters
_TAG_DRIFT = ["tags", "tags_all"]


class BackupProtection(Construct):
    """Backups of every resource tagged ``selection_tag_key = selection_tag_value``.

    Exposes ``.vault`` (``<name>-backup``, encrypted with ``kms_key_arn``), ``.plan`` (rules
    ``daily`` and ``weekly`` into the vault, deleted after ``daily_retention_days`` and
    ``weekly_retention_days``), ``.role`` (assumed by AWS Backup, with the backup and restore
    managed policies for DynamoDB and S3), ``.selection`` and ``.lock`` (None unless
    ``vault_lock``; see the module's notes for ``vault_lock_changeable_for_days``).

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
        attachments = [
            IamRolePolicyAttachment(self, f"policy-{cid}", role=self.role.name,
                                    policy_arn=f"arn:{partition}:iam::aws:policy/{path}")
            for cid, path in MANAGED_POLICIES
        ]
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
                depends_on=attachments,
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
