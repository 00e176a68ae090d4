"""CloudTrail into the audit bucket: one trail per environment, log file validation, KMS, S3
data events for the buckets named, delivery to a CloudWatch Logs group, and alarms on it.

* ``AuditTrail``: the trail; with ``cloudwatch_logs_retention_days`` it also delivers every event
  to the log group ``/aws/cloudtrail/<trail>`` (encrypted with the key), through a role only
  CloudTrail assumes and that may only write CloudTrail's streams of that group.
* ``SecurityAlarms``: a metric filter and an alarm (into the alarms topic) per security-relevant
  event of the CIS AWS Foundations Benchmark's monitoring section (v1.4-v3.0, 4.1-4.14; AWS
  Security Hub controls CloudWatch.1-14): ``CIS_SECURITY_EVENTS``. Left out: 4.15, AWS
  Organizations changes, which only an organization's management account sees.

The audit bucket and the KMS key each carry exactly one policy, written by their own constructs
(``storage.DataBucket``, ``kms.EnvironmentKey``): what CloudTrail needs in them is given here as
plain statements (:func:`cloudtrail_bucket_statements`, :func:`cloudtrail_key_statements`) for
the stack to merge into those policies. The trail needs them in place before it is created
(CreateTrail checks both), hence ``bucket_policy`` (a dependency); the key policy is already a
dependency through ``kms_key_arn``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.cloudtrail import Cloudtrail, CloudtrailEventSelector, CloudtrailEventSelectorDataResource
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import (
    CloudwatchLogMetricFilter,
    CloudwatchLogMetricFilterMetricTransformation,
)
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from .policy import Statement, policy_json

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


def trail_log_group_name(trail_name: str) -> str:
    """Where the trail delivers to CloudWatch Logs."""
    return f"/aws/cloudtrail/{trail_name}"


def cloudwatch_logs_statements(*, log_group_arn: str, account_id: str) -> list[Statement]:
    """What CloudTrail's delivery role may do: create and write its own streams
    (``<account>_CloudTrail_<region>``) in the one log group (CloudTrail user guide, "Role policy
    document for CloudTrail to use CloudWatch Logs for monitoring")."""
    return [Statement(sid="WriteTrailStreams", effect="Allow", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                      resources=[f"{log_group_arn}:log-stream:{account_id}_CloudTrail_*"])]


class AuditTrail(Construct):
    """A trail (``.trail``): multi-region by default, global service events, log file validation,
    SSE-KMS with ``kms_key_arn``, delivered to ``<bucket_name>/<s3_key_prefix>/AWSLogs/<account>/``.

    ``data_event_bucket_arns`` adds object-level data events (read and write) for exactly those
    buckets, next to all management events; empty: management events only. The audit bucket
    itself is refused (its own log deliveries would be logged, endlessly).
    ``cloudwatch_logs_retention_days`` also delivers every event to ``.log_group`` (encrypted with
    ``kms_key_arn``, kept that many days) through ``.logs_role``; None: S3 only.
    ``.arn`` is the trail's ARN as a plain string, the one the policies above name.
    """

    trail: Cloudtrail
    arn: str
    log_group: CloudwatchLogGroup | None
    logs_role: IamRole | None

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
        cloudwatch_logs_retention_days: int | None = None,
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
        if cloudwatch_logs_retention_days is not None and cloudwatch_logs_retention_days < 1:
            raise ValueError(f"trail {name}: cloudwatch_logs_retention_days must be positive, "
                             f"got {cloudwatch_logs_retention_days}")
        self.arn = trail_arn(name=name, region=region, account_id=account_id, partition=partition)
        self.log_group = self.logs_role = None
        depends: list[ITerraformDependable] = [bucket_policy] if bucket_policy is not None else []
        if cloudwatch_logs_retention_days is not None:
            self.log_group = CloudwatchLogGroup(self, "log-group", name=trail_log_group_name(name),
                                                retention_in_days=cloudwatch_logs_retention_days,
                                                kms_key_id=kms_key_arn)
            # CloudTrail documents no source context for this role (unlike for the bucket and the
            # key): what bounds it is that it may only write CloudTrail's streams of one group.
            self.logs_role = IamRole(self, "logs-role", name=f"{name}-cloudwatch-logs",
                                     assume_role_policy=policy_json([Statement(
                                         sid="CloudTrailAssumeRole", effect="Allow",
                                         principals={"Service": CLOUDTRAIL_PRINCIPAL}, actions=["sts:AssumeRole"])]))
            # CreateTrail checks that the role can write: the policy comes first.
            depends.append(IamRolePolicy(self, "logs-policy", name="write-trail-streams", role=self.logs_role.id,
                                         policy=policy_json(cloudwatch_logs_statements(
                                             log_group_arn=self.log_group.arn, account_id=account_id))))
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
            # CloudTrail wants the group's ARN with its streams suffix.
            cloud_watch_logs_group_arn=f"{self.log_group.arn}:*" if self.log_group is not None else None,
            cloud_watch_logs_role_arn=self.logs_role.arn if self.logs_role is not None else None,
            depends_on=depends or None,
        )


@dataclass(frozen=True)
class SecurityEvent:
    """A security-relevant event: its alarm's suffix, its metric, the CloudWatch Logs filter
    pattern over CloudTrail's JSON, and what it is (with its CIS reference)."""

    slug: str
    metric: str
    pattern: str
    description: str


def _any_event(*names: str) -> str:
    return " || ".join(f"($.eventName = {n})" for n in names)


#: The CIS AWS Foundations Benchmark's monitoring section (4.1-4.14), patterns as the benchmark
#: and AWS Security Hub (controls CloudWatch.1-14) give them.
CIS_SECURITY_EVENTS: tuple[SecurityEvent, ...] = (
    SecurityEvent("unauthorized-api-calls", "UnauthorizedApiCalls",
                  '{ (($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")) && '
                  '($.sourceIPAddress != "delivery.logs.amazonaws.com") && ($.eventName != "HeadBucket") }',
                  "API calls refused for lack of permission (CIS 4.1)"),
    SecurityEvent("console-sign-in-without-mfa", "ConsoleSignInWithoutMfa",
                  '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
                  '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
                  "an IAM user signed in to the console without MFA (CIS 4.2)"),
    SecurityEvent("root-account-usage", "RootAccountUsage",
                  '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && '
                  '$.eventType != "AwsServiceEvent" }',
                  "the account's root user was used (CIS 4.3)"),
    SecurityEvent("iam-policy-changes", "IamPolicyChanges",
                  "{ " + _any_event("DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy",
                                    "PutRolePolicy", "PutUserPolicy", "CreatePolicy", "DeletePolicy",
                                    "CreatePolicyVersion", "DeletePolicyVersion", "AttachRolePolicy",
                                    "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy",
                                    "DetachGroupPolicy") + " }",
                  "an IAM policy was created, changed, attached or detached (CIS 4.4)"),
    SecurityEvent("cloudtrail-changes", "CloudTrailChanges",
                  "{ " + _any_event("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging") + " }",
                  "a trail was created, changed, deleted, started or stopped (CIS 4.5)"),
    SecurityEvent("console-sign-in-failures", "ConsoleSignInFailures",
                  '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }',
                  "a console sign-in failed (CIS 4.6)"),
    SecurityEvent("kms-key-disabled-or-deleted", "KmsKeyDisabledOrScheduledForDeletion",
                  "{ ($.eventSource = kms.amazonaws.com) && (" + _any_event("DisableKey", "ScheduleKeyDeletion") + ") }",
                  "a KMS key was disabled or scheduled for deletion (CIS 4.7)"),
    SecurityEvent("s3-bucket-policy-changes", "S3BucketPolicyChanges",
                  "{ ($.eventSource = s3.amazonaws.com) && (" + _any_event(
                      "PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle", "PutBucketReplication",
                      "DeleteBucketPolicy", "DeleteBucketCors", "DeleteBucketLifecycle",
                      "DeleteBucketReplication") + ") }",
                  "a bucket's policy, ACL, CORS, lifecycle or replication changed (CIS 4.8)"),
    SecurityEvent("config-changes", "ConfigChanges",
                  "{ ($.eventSource = config.amazonaws.com) && (" + _any_event(
                      "StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel",
                      "PutConfigurationRecorder") + ") }",
                  "AWS Config's recorder or delivery channel changed (CIS 4.9)"),
    SecurityEvent("security-group-changes", "SecurityGroupChanges",
                  "{ " + _any_event("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                                    "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress", "CreateSecurityGroup",
                                    "DeleteSecurityGroup") + " }",
                  "a security group or one of its rules changed (CIS 4.10)"),
    SecurityEvent("nacl-changes", "NetworkAclChanges",
                  "{ " + _any_event("CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl",
                                    "DeleteNetworkAclEntry", "ReplaceNetworkAclEntry",
                                    "ReplaceNetworkAclAssociation") + " }",
                  "a network ACL changed (CIS 4.11)"),
    SecurityEvent("network-gateway-changes", "NetworkGatewayChanges",
                  "{ " + _any_event("CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway",
                                    "CreateInternetGateway", "DeleteInternetGateway", "DetachInternetGateway") + " }",
                  "an internet or customer gateway changed (CIS 4.12)"),
    SecurityEvent("route-table-changes", "RouteTableChanges",
                  "{ ($.eventSource = ec2.amazonaws.com) && (" + _any_event(
                      "CreateRoute", "CreateRouteTable", "ReplaceRoute", "ReplaceRouteTableAssociation",
                      "DeleteRouteTable", "DeleteRoute", "DisassociateRouteTable") + ") }",
                  "a route table or route changed (CIS 4.13)"),
    SecurityEvent("vpc-changes", "VpcChanges",
                  "{ " + _any_event("CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection",
                                    "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection",
                                    "RejectVpcPeeringConnection", "AttachClassicLinkVpc", "DetachClassicLinkVpc",
                                    "DisableVpcClassicLink", "EnableVpcClassicLink") + " }",
                  "a VPC or a peering connection changed (CIS 4.14)"),
)

#: CloudWatch Logs refuses longer filter patterns.
MAX_PATTERN_CHARS = 1024


class SecurityAlarms(Construct):
    """For each event of ``events``: a metric filter on the trail's log group counting it into
    ``namespace`` (``.filters[slug]``) and an alarm at the first occurrence in a period, into
    ``topic_arn`` (``.alarms[slug]``, named ``<name_prefix>-security-<slug>``)."""

    filters: dict[str, CloudwatchLogMetricFilter]
    alarms: dict[str, CloudwatchMetricAlarm]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name_prefix: str,
        log_group_name: str,
        namespace: str,
        topic_arn: str,
        period_seconds: int = 300,
        events: Sequence[SecurityEvent] = CIS_SECURITY_EVENTS,
    ) -> None:
        super().__init__(scope, id)
        if period_seconds < 60 or period_seconds % 60:
            raise ValueError(f"security alarms: period_seconds must be a multiple of 60, got {period_seconds}")
        slugs = [e.slug for e in events]
        if len(set(slugs)) != len(slugs):
            raise ValueError(f"security alarms: duplicate events in {', '.join(slugs)}")
        self.filters, self.alarms = {}, {}
        for event in events:
            if len(event.pattern) > MAX_PATTERN_CHARS:
                raise ValueError(f"security alarms: the {event.slug} pattern is {len(event.pattern)} characters "
                                 f"(CloudWatch Logs takes at most {MAX_PATTERN_CHARS})")
            name = f"{name_prefix}-security-{event.slug}"
            self.filters[event.slug] = CloudwatchLogMetricFilter(
                self, f"filter-{event.slug}", name=name, log_group_name=log_group_name, pattern=event.pattern,
                metric_transformation=CloudwatchLogMetricFilterMetricTransformation(
                    name=event.metric, namespace=namespace, value="1"))
            self.alarms[event.slug] = CloudwatchMetricAlarm(
                self, f"alarm-{event.slug}", alarm_name=name, alarm_description=f"CloudTrail: {event.description}",
                namespace=namespace, metric_name=event.metric, statistic="Sum", period=period_seconds,
                evaluation_periods=1, threshold=1, comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching", alarm_actions=[topic_arn],
                # The filter creates the metric: the alarm names it.
                depends_on=[self.filters[event.slug]])
