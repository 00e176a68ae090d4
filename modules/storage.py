"""S3 data buckets: SSE-KMS, versioning, public access blocked, TLS-only policy, lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketLifecycleConfigurationRuleTransition,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from .policy import Statement, policy_json


@dataclass(frozen=True)
class GlacierLifecycle:
    """Move current objects to GLACIER after ``transition_days``, expire them after ``expiration_days``."""

    transition_days: int
    expiration_days: int

    def __post_init__(self) -> None:
        if self.expiration_days <= self.transition_days:
            raise ValueError(
                f"expiration_days ({self.expiration_days}) must be greater than transition_days ({self.transition_days})"
            )


class DataBucket(Construct):
    """A private, encrypted, versioned bucket.

    Exposes ``.bucket`` (and ``.policy``/``.lifecycle`` where created). Every bucket expires
    non-current versions after ``noncurrent_version_expiration_days`` and aborts incomplete
    multipart uploads after a day; ``glacier`` adds the archive transition and expiry;
    ``expire_current_after_days`` expires current objects (landing: what was not archived).

    ``deny_insecure_transport`` attaches the policy that denies every request not made over TLS;
    it must stay on in AWS (the emulator serves plain HTTP, so it is a switch).
    """

    bucket: S3Bucket
    policy: S3BucketPolicy | None
    lifecycle: S3BucketLifecycleConfiguration

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        force_destroy: bool,
        prevent_destroy: bool,
        deny_insecure_transport: bool,
        noncurrent_version_expiration_days: int,
        glacier: GlacierLifecycle | None = None,
        expire_current_after_days: int | None = None,
        extra_policy_statements: Sequence[Statement] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        if force_destroy and prevent_destroy:
            raise ValueError(f"bucket {name}: force_destroy and prevent_destroy contradict each other")
        self.bucket = S3Bucket(
            self, "bucket",
            bucket=name,
            force_destroy=force_destroy,
            tags=dict(tags) if tags else None,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=prevent_destroy),
        )
        S3BucketVersioningA(
            self, "versioning",
            bucket=self.bucket.id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        S3BucketServerSideEncryptionConfigurationA(
            self, "encryption",
            bucket=self.bucket.id,
            rule=[S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=(
                    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn)),
                bucket_key_enabled=True,
            )],
        )
        access_block = S3BucketPublicAccessBlock(
            self, "public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        self.policy = None
        statements = list(extra_policy_statements)
        if deny_insecure_transport:
            statements.insert(0, Statement(
                sid="DenyInsecureTransport", effect="Deny", principals="*", actions=["s3:*"],
                resources=[self.bucket.arn, f"{self.bucket.arn}/*"],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            ))
        if statements:
            self.policy = S3BucketPolicy(
                self, "policy",
                bucket=self.bucket.id,
                policy=policy_json(statements),
                depends_on=[access_block],
            )
        rules = [
            S3BucketLifecycleConfigurationRule(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                noncurrent_version_expiration=[S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                    noncurrent_days=noncurrent_version_expiration_days)],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=1)],
            ),
        ]
        if glacier is not None:
            rules.append(S3BucketLifecycleConfigurationRule(
                id="archive-to-glacier",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                transition=[S3BucketLifecycleConfigurationRuleTransition(
                    days=glacier.transition_days, storage_class="GLACIER")],
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=glacier.expiration_days)],
            ))
        if expire_current_after_days is not None:
            if glacier is not None:
                raise ValueError(f"bucket {name}: use either glacier or expire_current_after_days")
            rules.append(S3BucketLifecycleConfigurationRule(
                id="expire-current-objects",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=expire_current_after_days)],
            ))
        self.lifecycle = S3BucketLifecycleConfiguration(self, "lifecycle", bucket=self.bucket.id, rule=rules)
