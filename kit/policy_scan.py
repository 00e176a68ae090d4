"""``make policy-scan``: security policy checks over the synthesized Terraform JSON.

Two scanners run over every environment's ``cdk.tf.json`` and over prod with every optional
service switched on (``every_service_on``), and the exit code is 1 when either reports an
unsuppressed failure:

- checkov (pinned, offline, from ``.tools/checkov``; see ``kit/checkov_scan.py`` for how the
  synthesized JSON is prepared so that it parses and its policies are read as documents), with
  the suppressions of ``.checkov.yaml`` (checks that apply nowhere) and ``SUPPRESSIONS`` below
  (scoped to resources and environments), each with its reason, all printed;
- the kit's own rules (``scan_stack``), for what checkov does not know or does not look at. They
  are the kit's baseline, so that a change to a module cannot quietly drop one; they have no
  suppressions (the allow-lists below are part of the rules):

- S3: every bucket has SSE-KMS, versioning, all four public-access blocks, and (AWS environments)
  a policy denying non-TLS requests; no bucket is force-destroyable in prod.
- SQS: every queue is encrypted with KMS; every stage queue has a redrive policy (DLQs excepted).
- SNS: every topic is encrypted with KMS.
- DynamoDB: SSE with a customer key, PITR, and deletion protection where the data stores are protected.
- KMS: key rotation on; no key policy allows ``Principal "*"``.
- IAM, every policy a role, user or group can hold (inline, the role's ``inline_policy`` blocks,
  and the stack's own managed policies): no wildcard action, no ``NotAction``/``NotResource`` in
  an Allow, no ``"*"`` resource except for actions AWS only authorises on ``"*"``
  (``NO_RESOURCE_LEVEL_ACTIONS``, alone in their statement); no AWS-managed policy attached unless
  ``AWS_MANAGED_POLICIES`` allows it with a reason; no attached policy the scan cannot read.
- Resource policies (queues, topics, buckets, repositories, secrets, search domains...): no
  ``Principal "*"`` Allow unless a condition pins the caller's account/organisation or the source
  ARN/account (``aws:SourceOwner`` does not: it is SNS's legacy key and does not bound who calls).
- Lambda: active tracing; no function URL without authorisation; no permission for principal "*".
  CloudWatch log groups have a retention and a KMS key.
- APIs: every API Gateway method is IAM-authorised and AppSync takes IAM only (the premise of the
  WAF suppressions); CloudTrail: when the stack has a trail, every bucket but the trail's own is
  in its S3 data events (the premise of the access-logging suppression).
- Network: no internet or NAT gateway, no subnet handing out public IPs, no security group rule
  open to 0.0.0.0/0 or ::/0 in any form (group ingress/egress blocks, ``aws_security_group_rule``,
  ``aws_vpc_security_group_*_rule``); (AWS environments) every VPC endpoint has a policy.
- ECR: immutable tags, scan on push, KMS; Batch jobs get no public IP.
- Redshift Serverless: namespace with the environment's key and a managed admin password (none
  in the configuration); workgroup not publicly accessible.

    python -m kit.policy_scan            # synthesize, scan, print the figures and every failure
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

#: Actions AWS authorises on "*" only: the Service Authorization Reference lists no resource type
#: for them ("you must specify all resources ("*")"), so a statement holding nothing else may name
#: "*". THE list: add an action here only with its reference, never a resource-level one.
NO_RESOURCE_LEVEL_ACTIONS = frozenset({
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html
    "ecr:GetAuthorizationToken",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
    # (what the X-Ray SDK and active tracing call: AWSXRayDaemonWriteAccess's whole content)
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
    "logs:DescribeLogGroups",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_resourcegroupstaggingapi.html
    "tag:GetResources",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
    # (a Lambda function in a VPC: the Lambda developer guide, "Giving Lambda functions access to
    # a VPC", notes DescribeNetworkInterfaces "only works if it's allowed on all resources").
    # NOT ec2:CreateNetworkInterface, DeleteNetworkInterface, AssignPrivateIpAddresses or
    # UnassignPrivateIpAddresses: they take network-interface (and subnet, security-group) ARNs,
    # e.g. arn:aws:ec2:<region>:<account>:network-interface/*.
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
    # (Glue jobs' metrics, limited by a cloudwatch:namespace condition; AWS Backup reads metrics)
    "cloudwatch:PutMetricData",
    "cloudwatch:GetMetricData",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html
    # (AWS Backup's documented S3 backup statement)
    "events:ListRules",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
    # (AWS Backup's documented S3 backup statement)
    "s3:ListAllMyBuckets",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsglue.html
    # (crawlers and jobs read their security configuration)
    "glue:GetSecurityConfiguration",
})

#: AWS-managed policies a role of the kit may hold: {policy name: (reason, on the emulator only)}.
#: Anything else attached (AdministratorAccess included) is a finding.
AWS_MANAGED_POLICIES: dict[str, tuple[str, bool]] = {
    "AWSBatchServiceRole": (
        "emulator only: moto needs an existing Batch service role; AWS environments use Batch's "
        "service-linked role", True),
    "AmazonDMSVPCManagementRole": (
        "DMS requires the account's dms-vpc-role with exactly this AWS-managed policy (DMS user "
        "guide, 'Creating the IAM roles to use with AWS DMS')", False),
    "AmazonDMSCloudWatchLogsRole": (
        "DMS requires the account's dms-cloudwatch-logs-role with exactly this AWS-managed policy "
        "(DMS user guide)", False),
    "AmazonDataZoneDomainExecutionRolePolicy": (
        "the DataZone domain execution role's policy as DataZone documents it (assumed by "
        "datazone.amazonaws.com for this domain only)", False),
}

@dataclass(frozen=True)
class Suppression:
    """A checkov failure suppressed for some resources and scans, with its reason."""

    check: str
    #: ``fnmatch`` pattern on the resource address (``aws_lambda_function.*``).
    resources: str
    #: Names of the scans (environments; ``prod+services``) it applies to; None: every scan.
    scans: tuple[str, ...] | None
    reason: str

    def matches(self, scan: str, check: str, address: str) -> bool:
        return (check == self.check and fnmatch.fnmatchcase(address, self.resources)
                and (self.scans is None or scan in self.scans))


#: checkov failures suppressed for some resources or environments: each with a reason a reviewer
#: would accept. Checks that apply nowhere are skipped in ``.checkov.yaml`` instead.
#: Never here: the findings issue 13 requires fixed (Glue's managed role, functions outside the
#: VPC in AWS, endpoint policies, the topic policy, kms:ViaService, the Redshift load user,
#: CloudTrail, the Glue security configuration).
SUPPRESSIONS: tuple[Suppression, ...] = (
    Suppression("CKV_AWS_23", "aws_vpc_security_group_*_rule.*", ("local",),
                "emulator: it drops security group rule descriptions (a perpetual diff), so local "
                "leaves them out; AWS environments describe every rule"),
    Suppression("CKV_AWS_338", "aws_cloudwatch_log_group.*", ("local", "dev", "test", "staging"),
                "log retention is each environment's log_retention_days: below a year outside prod "
                "(test data, cost); prod keeps every log group 365 days"),
    Suppression("CKV2_AWS_5", "aws_security_group.network_data-clients*", ("local", "dev", "test"),
                "the data-clients group is for operators' clients of the data stores (Redshift, the "
                "optional services); where none is on, nothing in the stack holds it yet"),
)

SERVICES_SCAN = "prod+services"


@dataclass(frozen=True)
class Finding:
    env: str
    address: str
    rule: str

    def __str__(self) -> str:
        return f"{self.env}: {self.address}: {self.rule}"


def _resources(stack: Mapping[str, Any], rtype: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for lid, body in stack.get("resource", {}).get(rtype, {}).items():
        yield f"{rtype}.{lid}", body


def _refs(stack: Mapping[str, Any], rtype: str, target_type: str, attr: str = "bucket") -> set[str]:
    """Logical ids of ``target_type`` resources referenced by ``rtype`` resources' ``attr``."""
    out = set()
    for _, body in _resources(stack, rtype):
        value = str(body.get(attr, ""))
        prefix = "${" + target_type + "."
        if value.startswith(prefix):
            out.add(value[len(prefix):].split(".")[0])
    return out


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(document: Any) -> list[dict[str, Any]] | None:
    """The statements of a policy (its JSON text), or None when it is not a literal document."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    if not isinstance(document, dict):
        return None
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def _allows(statement: Mapping[str, Any]) -> bool:
    return str(statement.get("Effect", "Allow")).lower() == "allow"


def _label(statement: Mapping[str, Any], index: int) -> str:
    return str(statement["Sid"]) if statement.get("Sid") else f"#{index}"


# -- identity policies ----------------------------------------------------------------------------

#: ``(resource type, argument)`` of every identity policy a stack can hold as a document.
IDENTITY_POLICIES = (("aws_iam_role_policy", "policy"), ("aws_iam_policy", "policy"),
                     ("aws_iam_user_policy", "policy"), ("aws_iam_group_policy", "policy"))


def identity_policy_problems(document: Any) -> list[str]:
    """What is wrong with an identity policy (its JSON text or dict), one line per problem."""
    statements = _statements(document)
    if statements is None:
        return ["policy is not a literal JSON document: the scan cannot read it"]
    problems = []
    for i, st in enumerate(statements):
        if not _allows(st):
            continue
        sid = _label(st, i)
        if "NotAction" in st:
            problems.append(f"NotAction in Allow statement {sid} (grants every other action)")
        if "NotResource" in st:
            problems.append(f"NotResource in Allow statement {sid} (grants every other resource)")
        actions = [str(a) for a in _as_list(st.get("Action"))]
        wild = [a for a in actions if "*" in a]
        if wild:
            problems.append(f"wildcard action {', '.join(wild)} in statement {sid}")
        resources = [str(r) for r in _as_list(st.get("Resource"))]
        if "*" in resources and not (actions and {a.lower() for a in actions} <= _NO_RESOURCE_LEVEL):
            problems.append(f'"*" resource in statement {sid}')
    return problems


_NO_RESOURCE_LEVEL = frozenset(a.lower() for a in NO_RESOURCE_LEVEL_ACTIONS)


def _identity_documents(stack: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for rtype, attr in IDENTITY_POLICIES:
        for address, body in _resources(stack, rtype):
            yield address, body.get(attr)
    for address, body in _resources(stack, "aws_iam_role"):
        for block in _as_list(body.get("inline_policy")):
            if isinstance(block, dict) and block.get("policy"):
                yield f"{address} inline_policy {block.get('name', '')}".rstrip(), block["policy"]


_AWS_MANAGED = re.compile(r"^arn:(?:[a-z-]+|\$\{[^}]+\}):iam::aws:policy/(?P<path>.+)$")
#: ``(resource type, argument)`` attaching managed policies to roles, users or groups.
ATTACHMENTS = (("aws_iam_role_policy_attachment", "policy_arn"), ("aws_iam_policy_attachment", "policy_arn"),
               ("aws_iam_user_policy_attachment", "policy_arn"), ("aws_iam_group_policy_attachment", "policy_arn"),
               ("aws_iam_role", "managed_policy_arns"), ("aws_iam_role_policy_attachments_exclusive", "policy_arns"))


def attachment_problem(policy_arn: str, *, aws: bool) -> str | None:
    """Why attaching ``policy_arn`` is a finding, or None: the stack's own managed policies are
    scanned as documents, AWS-managed ones must be allowed by ``AWS_MANAGED_POLICIES``."""
    if re.fullmatch(r"\$\{aws_iam_policy\.[^.}]+\.arn\}", policy_arn):
        return None
    match = _AWS_MANAGED.match(policy_arn)
    if match is None:
        return f"attached policy {policy_arn} is not defined in the stack: the scan cannot read it"
    name = match["path"].rsplit("/", 1)[-1]
    allowed = AWS_MANAGED_POLICIES.get(name)
    if allowed is None or (allowed[1] and aws):
        return f"AWS-managed policy {name} attached (not in AWS_MANAGED_POLICIES)"
    return None


# -- resource policies ----------------------------------------------------------------------------

#: ``(resource type, argument)`` of resource policies, where ``Principal "*"`` needs a condition.
RESOURCE_POLICIES = (
    ("aws_sqs_queue_policy", "policy"), ("aws_sqs_queue", "policy"),
    ("aws_sns_topic_policy", "policy"), ("aws_sns_topic", "policy"),
    ("aws_s3_bucket_policy", "policy"), ("aws_s3_bucket", "policy"),
    ("aws_ecr_repository_policy", "policy"), ("aws_secretsmanager_secret_policy", "policy"),
    ("aws_opensearch_domain", "access_policies"), ("aws_opensearch_domain_policy", "access_policies"),
    ("aws_elasticsearch_domain", "access_policies"), ("aws_glue_resource_policy", "policy"),
    ("aws_cloudwatch_event_bus_policy", "policy"), ("aws_kinesis_resource_policy", "policy"),
    ("aws_lambda_layer_version_permission", "policy"), ("aws_backup_vault_policy", "policy"),
    ("aws_api_gateway_rest_api_policy", "policy"), ("aws_dynamodb_resource_policy", "policy"),
)
KEY_POLICIES = (("aws_kms_key", "policy"), ("aws_kms_key_policy", "policy"))
#: Condition keys that pin who may call (their account, organisation) or on whose behalf a service
#: calls (the source resource or account): with one of these, ``Principal "*"`` is bounded.
CONSTRAINING_KEYS = frozenset(k.lower() for k in (
    "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalArn",
    "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths"))
_BOUNDING_OPERATORS = frozenset(("stringequals", "stringlike", "arnequals", "arnlike"))


def _any_principal(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))


def _bounded(statement: Mapping[str, Any]) -> bool:
    """Does a condition pin the account, organisation or source (not to a wildcard)?"""
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        op = str(operator).lower().split(":")[-1]
        if op not in _BOUNDING_OPERATORS or not isinstance(tests, dict):
            continue
        for key, values in tests.items():
            values = [str(v) for v in _as_list(values)]
            if str(key).lower() in CONSTRAINING_KEYS and values and all(v.strip("*?") for v in values):
                return True
    return False


def resource_policy_problems(document: Any, *, key_policy: bool = False) -> list[str]:
    statements = _statements(document)
    if statements is None:
        return ["policy is not a literal JSON document: the scan cannot read it"]
    problems = []
    for i, st in enumerate(statements):
        if not (_allows(st) and _any_principal(st)):
            continue
        sid = _label(st, i)
        if key_policy:
            problems.append(f'key policy allows Principal "*" in statement {sid}')
        elif not _bounded(st):
            problems.append(f'Principal "*" in statement {sid} without a condition on the caller\'s '
                            "account/organisation or the source ARN/account")
    return problems


# -- network ---------------------------------------------------------------------------------------

def _open_to_world(cidrs: Iterable[Any]) -> list[str]:
    out = []
    for cidr in cidrs:
        try:
            if ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0:
                out.append(str(cidr))
        except ValueError:
            continue  # a reference or a prefix list: not an address range
    return out


def _security_group_rules(stack: Mapping[str, Any]) -> Iterator[tuple[str, str, list[str]]]:
    """``(address, direction, ranges open to the world)`` of every rule in every form."""
    for rtype in ("aws_security_group", "aws_default_security_group"):
        for address, body in _resources(stack, rtype):
            for direction in ("ingress", "egress"):
                for rule in _as_list(body.get(direction)):
                    if isinstance(rule, dict):
                        yield address, direction, _open_to_world(
                            [*_as_list(rule.get("cidr_blocks")), *_as_list(rule.get("ipv6_cidr_blocks"))])
    for address, body in _resources(stack, "aws_security_group_rule"):
        yield address, str(body.get("type", "ingress")), _open_to_world(
            [*_as_list(body.get("cidr_blocks")), *_as_list(body.get("ipv6_cidr_blocks"))])
    for direction in ("ingress", "egress"):
        for address, body in _resources(stack, f"aws_vpc_security_group_{direction}_rule"):
            yield address, direction, _open_to_world([body.get("cidr_ipv4"), body.get("cidr_ipv6")])


def _data_event_gaps(stack: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Buckets whose object-level access no trail of the stack records (none without a trail;
    the trail's own bucket exempt): ``event_selector`` data resources or advanced selectors,
    naming the bucket or every bucket."""
    trails = [body for _, body in _resources(stack, "aws_cloudtrail")]
    if not trails:
        return
    own, covered, everything = set(), set(), False
    for trail in trails:
        own.add(str(trail.get("s3_bucket_name", "")).removeprefix("${aws_s3_bucket.").split(".")[0])
        values: list[str] = []
        for selector in _as_list(trail.get("event_selector")):
            for resource in _as_list((selector or {}).get("data_resource")):
                if (resource or {}).get("type") == "AWS::S3::Object":
                    values += [str(v) for v in _as_list(resource.get("values"))]
        for selector in _as_list(trail.get("advanced_event_selector")):
            fields = {str(f.get("field")): f for f in _as_list((selector or {}).get("field_selector"))
                      if isinstance(f, dict)}
            if "AWS::S3::Object" not in _as_list((fields.get("resources.type") or {}).get("equals")):
                continue
            arn = fields.get("resources.ARN")
            if arn is None:
                everything = True
            else:
                values += [str(v) for key in ("equals", "starts_with") for v in _as_list(arn.get(key))]
        for value in values:
            if value.rstrip("/") in ("arn:aws:s3", "arn:aws:s3:::") or value.endswith(":s3:::"):
                everything = True
            match = re.match(r"^\$\{aws_s3_bucket\.([^.}]+)\.arn\}", value)
            if match:
                covered.add(match[1])
    if everything:
        return
    for lid in stack.get("resource", {}).get("aws_s3_bucket", {}):
        if lid not in own and lid not in covered:
            yield f"aws_s3_bucket.{lid}", "object-level access not recorded (no CloudTrail S3 data events)"


def scan_stack(env: str, stack: dict[str, Any], *, aws: bool, protected: bool) -> list[Finding]:
    findings: list[Finding] = []

    def need(cond: bool, address: str, rule: str) -> None:
        if not cond:
            findings.append(Finding(env, address, rule))

    buckets = {lid: body for lid, body in stack.get("resource", {}).get("aws_s3_bucket", {}).items()}
    sse = {}
    for _, body in _resources(stack, "aws_s3_bucket_server_side_encryption_configuration"):
        lid = str(body["bucket"]).removeprefix("${aws_s3_bucket.").split(".")[0]
        rules = body.get("rule", [])
        sse[lid] = any(r.get("apply_server_side_encryption_by_default", {}).get("sse_algorithm") == "aws:kms" for r in rules)
    versioned = {str(b["bucket"]).removeprefix("${aws_s3_bucket.").split(".")[0]
                 for _, b in _resources(stack, "aws_s3_bucket_versioning")
                 if b.get("versioning_configuration", {}).get("status") == "Enabled"}
    blocked = {str(b["bucket"]).removeprefix("${aws_s3_bucket.").split(".")[0]
               for _, b in _resources(stack, "aws_s3_bucket_public_access_block")
               if all(b.get(k) is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                                 "restrict_public_buckets"))}
    tls = set()
    for _, b in _resources(stack, "aws_s3_bucket_policy"):
        statements = _statements(b["policy"]) or []
        if any(s.get("Effect") == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
               for s in statements):
            tls.add(str(b["bucket"]).removeprefix("${aws_s3_bucket.").split(".")[0])
    for lid, body in buckets.items():
        address = f"aws_s3_bucket.{lid}"
        need(sse.get(lid, False), address, "no SSE-KMS default encryption")
        need(lid in versioned, address, "versioning not enabled")
        need(lid in blocked, address, "public access not blocked (all four settings)")
        if aws:
            need(lid in tls, address, "no bucket policy denying non-TLS requests")
        if env == "prod":
            need(not body.get("force_destroy"), address, "force_destroy in prod")
        if protected:
            need(body.get("lifecycle", {}).get("prevent_destroy") is True, address, "data store without prevent_destroy")

    for address, body in _resources(stack, "aws_sqs_queue"):
        need(bool(body.get("kms_master_key_id")), address, "queue not encrypted with KMS")
        if not str(body.get("name", "")).endswith("-dlq"):
            need(bool(body.get("redrive_policy")), address, "stage queue without a dead-letter queue")
    for address, body in _resources(stack, "aws_sns_topic"):
        need(bool(body.get("kms_master_key_id")), address, "topic not encrypted with KMS")
    for address, body in _resources(stack, "aws_dynamodb_table"):
        sse_t = body.get("server_side_encryption", {})
        need(sse_t.get("enabled") is True and bool(sse_t.get("kms_key_arn")), address, "table without SSE under a customer key")
        need(body.get("point_in_time_recovery", {}).get("enabled") is True, address, "table without PITR")
        if protected:
            need(body.get("deletion_protection_enabled") is True, address, "table without deletion protection")
    for address, body in _resources(stack, "aws_kms_key"):
        need(body.get("enable_key_rotation") is True, address, "KMS key rotation off")
    # -- IAM: identity policies, managed policy attachments, resource and key policies -------------
    for address, document in _identity_documents(stack):
        for problem in identity_policy_problems(document):
            need(False, address, problem)
    for rtype, attr in ATTACHMENTS:
        for address, body in _resources(stack, rtype):
            for arn in _as_list(body.get(attr)):
                problem = attachment_problem(str(arn), aws=aws)
                need(problem is None, address, problem or "")
    for rtype, attr in RESOURCE_POLICIES:
        for address, body in _resources(stack, rtype):
            if body.get(attr):
                for problem in resource_policy_problems(body[attr]):
                    need(False, address, problem)
    for rtype, attr in KEY_POLICIES:
        for address, body in _resources(stack, rtype):
            if body.get(attr):
                for problem in resource_policy_problems(body[attr], key_policy=True):
                    need(False, address, problem)
    # -- Lambda and logs -----------------------------------------------------------------------
    for address, body in _resources(stack, "aws_lambda_function"):
        need(body.get("tracing_config", {}).get("mode") == "Active", address, "function without active tracing")
    for address, body in _resources(stack, "aws_lambda_function_url"):
        need(str(body.get("authorization_type", "")).upper() != "NONE", address,
             "public function URL (authorization_type NONE)")
    for address, body in _resources(stack, "aws_lambda_permission"):
        need(str(body.get("principal", "")).strip() != "*", address, 'Lambda permission for principal "*"')
    for address, body in _resources(stack, "aws_cloudwatch_log_group"):
        need(bool(body.get("retention_in_days")), address, "log group without retention")
        need(bool(body.get("kms_key_id")), address, "log group not encrypted with KMS")
    # -- APIs: IAM only (no WAF in front of them), CloudTrail data events -------------------------
    for address, body in _resources(stack, "aws_api_gateway_method"):
        need(body.get("authorization") == "AWS_IAM", address,
             f"API method authorised by {body.get('authorization')!r}, not AWS_IAM")
    for address, body in _resources(stack, "aws_appsync_graphql_api"):
        others = [p.get("authentication_type") for p in _as_list(body.get("additional_authentication_provider"))
                  if isinstance(p, dict)]
        need(body.get("authentication_type") == "AWS_IAM" and all(t == "AWS_IAM" for t in others), address,
             "GraphQL API accepts callers other than IAM principals")
    for address, problem in _data_event_gaps(stack):
        need(False, address, problem)
    # -- private network, Batch, warehouse -------------------------------------------------------
    for rtype in ("aws_internet_gateway", "aws_nat_gateway", "aws_egress_only_internet_gateway"):
        for address, _ in _resources(stack, rtype):
            need(False, address, "the private network has no internet path")
    for address, body in _resources(stack, "aws_subnet"):
        need(body.get("map_public_ip_on_launch") is False, address, "subnet hands out public IPs")
    for address, direction, open_ranges in _security_group_rules(stack):
        need(not open_ranges, address, f"{direction} open to {', '.join(open_ranges)}")
    if aws:
        for address, body in _resources(stack, "aws_vpc_endpoint"):
            need(bool(body.get("policy")), address, "VPC endpoint without an endpoint policy")
    for address, body in _resources(stack, "aws_ecr_repository"):
        need(body.get("image_tag_mutability") == "IMMUTABLE", address, "image tags are mutable")
        need(body.get("image_scanning_configuration", {}).get("scan_on_push") is True, address, "no scan on push")
        need(any(e.get("encryption_type") == "KMS" for e in body.get("encryption_configuration", [])), address,
             "repository not encrypted with KMS")
    for address, body in _resources(stack, "aws_batch_job_definition"):
        props = str(body.get("container_properties", "")).replace(" = ", ":").replace(" ", "")
        need('"assignPublicIp":"DISABLED"' in props, address, "job may get a public IP")
    for address, body in _resources(stack, "aws_redshiftserverless_namespace"):
        need(bool(body.get("kms_key_id")), address, "namespace not encrypted with the environment's key")
        need(body.get("manage_admin_password") is True and "admin_user_password" not in body, address,
             "admin password not managed by Secrets Manager")
    for address, body in _resources(stack, "aws_redshiftserverless_workgroup"):
        need(body.get("publicly_accessible") is False, address, "workgroup publicly accessible")
    return findings


def scan(outdir: Path, envs: list[str], *, is_aws: Callable[[str], bool], is_protected: Callable[[str], bool]) -> list[Finding]:
    findings: list[Finding] = []
    for env in envs:
        stack = json.loads((outdir / "stacks" / env / "cdk.tf.json").read_text())
        findings += scan_stack(env, stack, aws=is_aws(env), protected=is_protected(env))
    return findings


# -- checkov, suppressions, the whole scan ---------------------------------------------------------

@dataclass(frozen=True)
class Scanned:
    """One scanned stack: the kit's findings and checkov's results after the suppressions."""

    name: str
    findings: tuple[Finding, ...]
    checkov_passed: int | None = None
    failed: tuple[Any, ...] = ()
    suppressed: tuple[tuple[Any, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings and not self.failed


def suppress(scan_name: str, failures: Iterable[Any], *, skips: Mapping[str, str],
             suppressions: Iterable[Suppression] = SUPPRESSIONS) -> tuple[list[Any], list[tuple[Any, str]]]:
    """Split checkov's failures into (failed, [(suppressed, reason)]): a check skipped in
    ``.checkov.yaml`` (``skips``: {check id: reason}) or a matching scoped suppression."""
    rules = list(suppressions)
    failed, suppressed = [], []
    for failure in failures:
        reason = skips.get(failure.check_id)
        if reason is None:
            reason = next((s.reason for s in rules if s.matches(scan_name, failure.check_id, failure.address)), None)
        if reason is None:
            failed.append(failure)
        else:
            suppressed.append((failure, reason))
    return failed, suppressed


def every_service_on(env: str = "prod"):
    """``env``'s configuration with every optional service (``[services.*]``) switched on, with
    the values the services need and the environment files leave empty: what ``make
    policy-scan`` scans as ``prod+services`` (and the infra tests synthesize)."""
    import dataclasses

    from environments import load_environment
    from environments.sections.services import ServicesConfig

    cfg = load_environment(env)
    s = cfg.services
    on = {f.name: dataclasses.replace(getattr(s, f.name), enabled=True) for f in dataclasses.fields(ServicesConfig)}
    on["dms"] = dataclasses.replace(
        on["dms"], database_name="shop", table_name="orders", dataset="orders",
        source_secret_arn=f"arn:aws:secretsmanager:{cfg.region}:{cfg.account_id}:secret:pk-shop-source-AbCdEf")
    on["lakeformation"] = dataclasses.replace(
        on["lakeformation"], admins=(f"arn:aws:iam::{cfg.account_id}:role/pipeline-kit-deploy-{env}",))
    on["streaming"] = dataclasses.replace(on["streaming"], msk_enabled=True, msk_broker_count=3)
    on["opensearch"] = dataclasses.replace(
        on["opensearch"], admin_role_arns=(f"arn:aws:iam::{cfg.account_id}:role/pipeline-kit-admin-{env}",),
        dedicated_master_count=3, instance_count=3)
    return dataclasses.replace(cfg, services=ServicesConfig(**on))


def synthesize_all(workdir: Path) -> dict[str, tuple[dict[str, Any], Any]]:
    """``{scan name: (parsed cdk.tf.json, its configuration)}``: every environment, and prod with
    every optional service on (synthesized apart: it is a second ``prod`` stack)."""
    import main as composition
    from environments import ALL_ENVIRONMENTS, load_environment

    dirs = composition.synth(list(ALL_ENVIRONMENTS))
    out = {env: (json.loads((d / "cdk.tf.json").read_text(encoding="utf-8")), load_environment(env))
           for env, d in dirs.items()}
    services = every_service_on("prod")
    sdir = composition.synth([services], outdir=Path(workdir) / "prod-services-synth")["prod"]
    out[SERVICES_SCAN] = (json.loads((sdir / "cdk.tf.json").read_text(encoding="utf-8")), services)
    return out


def scan_all(stacks: Mapping[str, tuple[Mapping[str, Any], Any]], workdir: Path, *,
             use_checkov: bool = True) -> list[Scanned]:
    """The kit's rules and (``use_checkov``) checkov over ``{name: (stack, configuration)}``."""
    from kit import checkov_scan

    reports = {}
    skips: dict[str, str] = {}
    if use_checkov:
        config = checkov_scan.load_config()
        skips = config.skips
        reports = checkov_scan.run({name: stack for name, (stack, _) in stacks.items()}, Path(workdir) / "checkov",
                                   config=config)
    results = []
    for name, (stack, cfg) in stacks.items():
        kit_findings = tuple(Finding(name, f.address, f.rule) for f in scan_stack(
            cfg.name, dict(stack), aws=not cfg.on_emulator, protected=cfg.protection.prevent_destroy))
        report = reports.get(name)
        if report is None:
            results.append(Scanned(name, kit_findings))
            continue
        failed, suppressed = suppress(name, report.failures, skips=skips)
        results.append(Scanned(name, kit_findings, report.passed, tuple(failed), tuple(suppressed)))
    return results


def print_report(results: list[Scanned], out=sys.stdout) -> None:
    width = max([len(r.name) for r in results] + [len("scan")])
    print(f"{'scan':<{width}}  {'checkov failed':>14}  {'passed':>6}  {'suppressed':>10}  {'kit findings':>12}", file=out)
    for r in results:
        passed = "-" if r.checkov_passed is None else str(r.checkov_passed)
        failed = "-" if r.checkov_passed is None else str(len(r.failed))
        suppressed = "-" if r.checkov_passed is None else str(len(r.suppressed))
        print(f"{r.name:<{width}}  {failed:>14}  {passed:>6}  {suppressed:>10}  {len(r.findings):>12}", file=out)
    for r in results:
        for f in r.failed:
            print(f"FAIL {r.name}: {f.check_id} {f.address}: {f.check_name}", file=out)
        for finding in r.findings:
            print(f"FAIL {r.name}: kit {finding.address}: {finding.rule}", file=out)
    grouped: dict[tuple[str, str], dict[str, int]] = {}
    for r in results:
        for f, reason in r.suppressed:
            counts = grouped.setdefault((f.check_id, reason), {})
            counts[r.name] = counts.get(r.name, 0) + 1
    if grouped:
        print("suppressed (check: failures per scan: reason):", file=out)
        for (check, reason), counts in sorted(grouped.items()):
            where = ", ".join(f"{name} {n}" for name, n in counts.items())
            print(f"  {check}: {where}: {reason}", file=out)


def main(argv: list[str] | None = None) -> int:
    from kit import checkov_scan

    use_checkov = checkov_scan.python() is not None
    if not use_checkov and not checkov_scan.skip_allowed():
        print(f"error: checkov is not installed in .tools/checkov: run `make checkov` (or set "
              f"{checkov_scan.SKIP_ENV}=1 to run the kit's rules alone)", file=sys.stderr)
        return 2
    import main as composition

    workdir = composition.work_root() / "build" / "policy-scan"
    try:
        results = scan_all(synthesize_all(workdir), workdir, use_checkov=use_checkov)
    except checkov_scan.CheckovError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scanner = (f"checkov {checkov_scan.pinned_version()} + the kit's rules" if use_checkov
               else f"the kit's rules only (checkov skipped: {checkov_scan.SKIP_ENV} is set)")
    print(f"==> policy scan: {scanner}, {len(results)} stacks (prepared copies in {workdir})")
    print_report(results)
    bad = [r.name for r in results if not r.ok]
    print(f"==> policy scan: {'FAILED on ' + ', '.join(bad) if bad else 'no unsuppressed failure'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
