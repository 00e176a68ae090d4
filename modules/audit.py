"""CloudTrail into the audit bucket: one trail per environment, log file validation, KMS, and
S3 data events for the buckets named.

The audit bucket and the KMS key each carry exactly one policy, written by their own constructs
(``storage.DataBucket``, ``kms.EnvironmentKey``): what CloudTrail needs in them is given here as
plain statements (:func:`cloudtrail_bucket_statements`, :func:`cloudtrail_key_statements`) for
the stack to merge into those policies. The trail needs them in place before it is created
(CreateTrail checks both), hence ``bucket_policy`` (a dependency); the key policy is already a
dependency through ``kms_key_arn``.
"""

from __future__ import annotations

import re
from typing import Sequence

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.cloudtrail import Cloudtrail, CloudtrailEventSelector, CloudtrailEventSelectorDataResource
from constructs import Construct

from .policy import Statement

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
DEFAULT_KEY_PREFIX = "cloudtrail"

_TRAIL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$")
_KEY_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$")


def trail_arn(*, name: str, region: str, account_id: str, partition: str = "aws") -> str:
    """The ARN the trail will have (known before it exists: policies can name it)."""
    return f"arn:{partition}:cloudtrail:{region}:{account_id}:trail/{name}"


def cloudtrail_bucket_statements(
    *,
    bucket_arn: str,
    account_id: str,
    region: str,
    trail_name: str,
    partition: str = "aws",
    key_prefix: str = DEFAULT_KEY_PREFIX,
) -> list[Statement]:
    """The audit-bucket policy statements that let this trail (and only it: ``aws:SourceArn``)
    check the bucket ACL and write its log and digest files under
    ``<key_prefix>/AWSLogs/<account_id>/``, handing ownership to the bucket owner."""
    source = {"aws:SourceArn": trail_arn(name=trail_name, region=region, account_id=account_id, partition=partition)}
    return [
        Statement(sid="AWSCloudTrailAclCheck", effect="Allow", principals={"Service": CLOUDTRAIL_PRINCIPAL},
                  actions=["s3:GetBucketAcl"], resources=[bucket_arn],
                  conditions={"StringEquals": dict(source)}),
        Statement(sid="AWSCloudTrailWrite", effect="Allow", principals={"Service": CLOUDTRAIL_PRINCIPAL},
                  actions=["s3:PutObject"], resources=[f"{bucket_arn}/{key_prefix}/AWSLogs/{account_id}/*"],
                  conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}}),
    ]


def cloudtrail_key_statements(*, account_id: str, partition: str = "aws",
                              trail_arns: Sequence[str] = ()) -> list[Statement]:
    """The KMS key-policy statements CloudTrail needs to encrypt log files of this account's
    trails (``kms:GenerateDataKey*`` under the ``aws:cloudtrail:arn`` encryption context) and to
    describe the key. ``trail_arns`` narrows encryption to those trails (``aws:SourceArn``, AWS's
    recommendation); reading the logs is left to IAM (the key policy's account statement)."""
    conditions: dict[str, dict[str, object]] = {
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{partition}:cloudtrail:*:{account_id}:trail/*"},
    }
    if trail_arns:
        arns = list(trail_arns)
        conditions["StringEquals"] = {"aws:SourceArn": arns[0] if len(arns) == 1 else arns}
    return [
        Statement(sid="CloudTrailEncryptLogs", effect="Allow", principals={"Service": CLOUDTRAIL_PRINCIPAL},
                  actions=["kms:GenerateDataKey*"], resources=["*"], conditions=conditions),
        Statement(sid="CloudTrailDescribeKey", effect="Allow", principals={"Service": CLOUDTRAIL_PRINCIPAL},
                  actions=["kms:DescribeKey"], resources=["*"]),
    ]


class AuditTrail(Construct):
    """A trail (``.trail``): multi-region by default, global service events, log file validation,
    SSE-KMS with ``kms_key_arn``, delivered to ``<bucket_name>/<s3_key_prefix>/AWSLogs/<account>/``.

    ``data_event_bucket_arns`` adds object-level data events (read and write) for exactly those
    buckets, next to all management events; empty: management events only. The audit bucket
    itself is refused (its own log deliveries would be logged, endlessly).
    ``.arn`` is the trail's ARN as a plain string, the one the policies above name.
    """

    trail: Cloudtrail
    arn: str

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        bucket_name: str,
        bucket_arn: str,
        kms_key_arn: str,
        account_id: str,
        region: str,
        data_event_bucket_arns: Sequence[str] = (),
        multi_region: bool = True,
        include_global_service_events: bool = True,
        s3_key_prefix: str = DEFAULT_KEY_PREFIX,
        bucket_policy: ITerraformDependable | None = None,
        partition: str = "aws",
    ) -> None:
        super().__init__(scope, id)
        if not _TRAIL_NAME_RE.match(name):
            raise ValueError(f"trail {name!r}: use 3-128 letters, digits, '.', '_' or '-', starting with a letter or digit")
        if not _KEY_PREFIX_RE.match(s3_key_prefix):
            raise ValueError(f"trail {name}: s3_key_prefix {s3_key_prefix!r} must be a relative key prefix without "
                             "leading or trailing '/'")
        data_buckets = list(dict.fromkeys(data_event_bucket_arns))
        if bucket_arn in data_buckets:
            raise ValueError(f"trail {name}: data events on the audit bucket itself would log the trail's own deliveries")
        self.arn = trail_arn(name=name, region=region, account_id=account_id, partition=partition)
        selectors = None
        if data_buckets:
            selectors = [CloudtrailEventSelector(
                read_write_type="All",
                include_management_events=True,
                data_resource=[CloudtrailEventSelectorDataResource(
                    type="AWS::S3::Object", values=[f"{arn}/" for arn in data_buckets])],
            )]
        self.trail = Cloudtrail(
            self, "trail",
            name=name,
            s3_bucket_name=bucket_name,
            s3_key_prefix=s3_key_prefix,
            kms_key_id=kms_key_arn,
            is_multi_region_trail=multi_region,
            include_global_service_events=include_global_service_events,
            enable_log_file_validation=True,
            enable_logging=True,
            event_selector=selectors,
            depends_on=[bucket_policy] if bucket_policy is not None else None,
        )
