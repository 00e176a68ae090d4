"""``make policy-scan``: static security policy checks over the synthesized Terraform JSON.

Runs offline on ``cdktf.out`` (every environment is synthesized first). Each rule names the
resource and what is wrong; the exit code is 1 when any rule fails. The rules are the kit's
security baseline, so that a change to a module cannot quietly drop one:

- S3: every bucket has SSE-KMS, versioning, all four public-access blocks, and (AWS environments)
  a policy denying non-TLS requests; no bucket is force-destroyable in prod.
- SQS: every queue is encrypted with KMS; every stage queue has a redrive policy (DLQs excepted).
- SNS: every topic is encrypted with KMS.
- DynamoDB: SSE with a customer key, PITR, and deletion protection where the data stores are protected.
- KMS: key rotation on.
- IAM: no wildcard action and no ``"*"`` resource in any inline role policy (except for actions
  AWS only authorises on ``"*"``, such as ``ecr:GetAuthorizationToken``, alone in their statement).
- Lambda: active tracing; CloudWatch log groups have a retention and a KMS key.
- Network: no internet or NAT gateway, no subnet handing out public IPs, no ingress from 0.0.0.0/0.
- ECR: immutable tags, scan on push, KMS; Batch jobs get no public IP.
- Redshift Serverless: namespace with the environment's key and a managed admin password (none
  in the configuration); workgroup not publicly accessible.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

#: Actions AWS authorises on "*" only (no resource-level permissions): a statement holding nothing
#: else may name "*" (the Service Authorization Reference lists no resource type for them).
NO_RESOURCE_LEVEL_ACTIONS = frozenset({"ecr:GetAuthorizationToken"})


@dataclass(frozen=True)
class Finding:
    env: str
    address: str
    rule: str

    def __str__(self) -> str:
        return f"{self.env}: {self.address}: {self.rule}"


def _resources(stack: dict[str, Any], rtype: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for lid, body in stack.get("resource", {}).get(rtype, {}).items():
        yield f"{rtype}.{lid}", body


def _refs(stack: dict[str, Any], rtype: str, target_type: str, attr: str = "bucket") -> set[str]:
    """Logical ids of ``target_type`` resources referenced by ``rtype`` resources' ``attr``."""
    out = set()
    for _, body in _resources(stack, rtype):
        value = str(body.get(attr, ""))
        prefix = "${" + target_type + "."
        if value.startswith(prefix):
            out.add(value[len(prefix):].split(".")[0])
    return out


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
        doc = json.loads(b["policy"])
        if any(s.get("Effect") == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
               for s in doc.get("Statement", [])):
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
    for address, body in _resources(stack, "aws_iam_role_policy"):
        for st in json.loads(body["policy"]).get("Statement", []):
            actions = st.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            resources = st.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            need(not [a for a in actions if "*" in a], address, f"wildcard action in statement {st.get('Sid')}")
            need("*" not in resources or set(actions) <= NO_RESOURCE_LEVEL_ACTIONS, address,
                 f'"*" resource in statement {st.get("Sid")}')
    for address, body in _resources(stack, "aws_lambda_function"):
        need(body.get("tracing_config", {}).get("mode") == "Active", address, "function without active tracing")
    for address, body in _resources(stack, "aws_cloudwatch_log_group"):
        need(bool(body.get("retention_in_days")), address, "log group without retention")
        need(bool(body.get("kms_key_id")), address, "log group not encrypted with KMS")
    # -- private network, Batch, warehouse -------------------------------------------------------
    for rtype in ("aws_internet_gateway", "aws_nat_gateway", "aws_egress_only_internet_gateway"):
        for address, _ in _resources(stack, rtype):
            need(False, address, "the private network has no internet path")
    for address, body in _resources(stack, "aws_subnet"):
        need(body.get("map_public_ip_on_launch") is False, address, "subnet hands out public IPs")
    for address, body in _resources(stack, "aws_vpc_security_group_ingress_rule"):
        need(body.get("cidr_ipv4") != "0.0.0.0/0" and body.get("cidr_ipv6") != "::/0", address,
             "ingress open to the internet")
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


def main() -> int:
    import main as composition
    from environments import ALL_ENVIRONMENTS, load_environment

    dirs = composition.synth(list(ALL_ENVIRONMENTS))
    outdir = next(iter(dirs.values())).parent.parent
    configs = {e: load_environment(e) for e in ALL_ENVIRONMENTS}
    findings = scan(outdir, list(ALL_ENVIRONMENTS), is_aws=lambda e: not configs[e].on_emulator,
                    is_protected=lambda e: configs[e].protection.prevent_destroy)
    for f in findings:
        print(f"FAIL {f}")
    total = sum(len(bodies) for d in dirs.values()
                for bodies in json.loads((d / "cdk.tf.json").read_text()).get("resource", {}).values())
    print(f"==> policy scan: {len(findings)} finding(s) over {len(dirs)} environments ({total} resources)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
