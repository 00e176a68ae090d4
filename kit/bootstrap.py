"""``make bootstrap ENV=<env>``: what an environment needs before its first deploy, created once
by an administrator and brought back to what the code says on every rerun (idempotent).

- the Terraform state bucket (versioned, encrypted, public access blocked, TLS-only) and the
  DynamoDB lock table; the artifacts bucket (readable by the next stage's deploy role);
- the account's API Gateway CloudWatch Logs role (an account-wide singleton);
- with a ``[ci]`` section: the account's GitHub OIDC provider and the environment's GitHub deploy
  and read-only roles, their managed policies and the workload permissions boundary every role
  of the stack carries (documents built by ``kit/github_oidc.py``); then the exact GitHub
  settings to make, or, with ``CONFIGURE_GITHUB=yes`` and ``GITHUB_TOKEN``, makes them itself
  through GitHub's REST API (a separate, opt-in step: the token needs admin rights on the
  repository, which a bootstrap of AWS resources should not require).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import github_oidc as gh
from .deploy import Target, prepare
from .ui import KitError, note, step, warn

API_GATEWAY_LOGS_ROLE = "pipeline-kit-apigateway-cloudwatch"
#: IAM keeps at most five versions of a managed policy.
MAX_POLICY_VERSIONS = 5
GITHUB_API = "https://api.github.com"


def bootstrap(t: Target) -> int:
    """State bucket (versioned, encrypted, TLS-only) and lock table for an AWS environment, the
    artifacts bucket, and the GitHub OIDC roles. Idempotent."""
    from botocore.exceptions import ClientError

    from .release import ensure_artifacts_bucket, secure_bucket

    prepare(t, None)
    s3, ddb = t.client("s3"), t.client("dynamodb")
    region = t.cfg.region
    if t.cfg.on_emulator and not t.cfg.is_rehearsal:
        made = ensure_artifacts_bucket(s3, t.cfg.bucket_name("artifacts"), region, deny_insecure_transport=False)
        step(f"{t.name} keeps its state in a local file; artifacts bucket: {'created' if made else 'present'}")
        return 0
    if t.cfg.state.backend == "s3" and not t.cfg.is_rehearsal:
        state_bucket, lock_table = t.cfg.state.bucket, t.cfg.state.dynamodb_table
    else:
        state_bucket = t.cfg.bucket_name("tfstate")
        lock_table = t.cfg.resource_name("tflock")
    created = ensure_artifacts_bucket(s3, state_bucket, region,
                                      deny_insecure_transport=t.cfg.storage.deny_insecure_transport)
    readers = tuple(t.cfg.promotion.reader_role_arns)
    if not created:
        secure_bucket(s3, state_bucket, deny_insecure_transport=t.cfg.storage.deny_insecure_transport)
    step(f"state bucket s3://{state_bucket}: {'created' if created else 'present'} (versioned, encrypted, "
         f"public access blocked{', TLS-only' if t.cfg.storage.deny_insecure_transport else ''})")
    try:
        ddb.create_table(TableName=lock_table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                         SSESpecification={"Enabled": True}, DeletionProtectionEnabled=True,
                         Tags=[{"Key": k, "Value": v} for k, v in t.cfg.tags.items()])
        ddb.get_waiter("table_exists").wait(TableName=lock_table)
        ddb.update_continuous_backups(TableName=lock_table,
                                      PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        step(f"lock table {lock_table}: created (LockID, encrypted, PITR, deletion protection)")
    except ddb.exceptions.ResourceInUseException:
        step(f"lock table {lock_table}: present")
    api_gateway_logging_role(t)
    bucket = t.cfg.bucket_name("artifacts")
    made = ensure_artifacts_bucket(s3, bucket, region, deny_insecure_transport=t.cfg.storage.deny_insecure_transport)
    try:
        secure_bucket(s3, bucket, deny_insecure_transport=t.cfg.storage.deny_insecure_transport, readers=readers)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "MalformedPolicy" or not readers:
            raise
        # S3 refuses a policy naming a role that does not exist (yet).
        raise KitError(f"s3://{bucket}: S3 refused the policy that lets the next stage read releases "
                       f"({exc.response['Error'].get('Message', 'MalformedPolicy')}): does "
                       f"{', '.join(readers)} exist? Bootstrap the next stage first (the stages from the last "
                       "back: prod, staging, test, dev), then rerun this one") from None
    step(f"artifacts bucket s3://{bucket}: {'created' if made else 'present'}"
         + (f"; readable by the next stage: {', '.join(readers)}" if readers else ""))
    if t.cfg.ci is None:
        note(f"{t.name} has no [ci] section: no GitHub OIDC provider or roles (add one to deploy it from GitHub Actions)")
        return 0
    arns = ensure_github_oidc(t.client("iam"), t.cfg, source=_stage_before(t))
    _check_promotion_readers(t, arns[gh.DEPLOY])
    print_github_settings(t, arns)
    if t.emulator is None and os.environ.get("CONFIGURE_GITHUB", "").lower() in ("yes", "true", "1"):
        token = os.environ.get("GITHUB_TOKEN", "")
        if not token:
            raise KitError("CONFIGURE_GITHUB=yes needs GITHUB_TOKEN (a token with admin rights on "
                           f"{t.cfg.ci.github_repository}: fine-grained, 'Administration' and 'Environments' write)")
        configure_github(GitHubApi(token), t.cfg, arns)
    return 0


def _stage_before(t: Target):
    from environments import PROMOTION_ORDER

    from .deploy import resolve

    order = list(PROMOTION_ORDER)
    if t.name not in order or order.index(t.name) == 0:
        return None
    return resolve(order[order.index(t.name) - 1], "emulator" if t.cfg.is_rehearsal else None).cfg


def _check_promotion_readers(t: Target, deploy_arn: str) -> None:
    source = _stage_before(t)
    if t.cfg.is_rehearsal:
        return  # the reader ARNs name the real accounts' roles, not the emulator's
    if source is not None and deploy_arn not in source.promotion.reader_role_arns:
        warn(f"{source.name}'s promotion.reader_role_arns does not list {deploy_arn}: promotions "
             f"{source.name} → {t.name} cannot read its releases or images (add it to "
             f"{os.path.basename(source.source) or source.name + '.toml'} and rerun `make bootstrap ENV={source.name}`)")


#: The AWS-managed policy earlier bootstraps attached to the API Gateway logging role (removed on rerun).
API_GATEWAY_LOGS_MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
API_GATEWAY_LOGS_POLICY = "write-api-gateway-logs"


def api_gateway_logs_policy(account_id: str, partition: str = "aws") -> dict[str, Any]:
    """The logging role's inline policy: the actions of ``AmazonAPIGatewayPushToCloudWatchLogs``
    (the set the API Gateway developer guide lists for the CloudWatch role), on the log groups
    API Gateway writes in this account only: execution logs (``API-Gateway-Execution-Logs_<api
    id>/<stage>``) and access logs (``/aws/apigateway/...``, where the kit's stages send them), in
    any region (the role is one per account). ``logs:DescribeLogGroups`` accepts ``"*"`` only."""
    groups = [f"arn:{partition}:logs:*:{account_id}:log-group:{name}"
              for name in ("API-Gateway-Execution-Logs_*", "/aws/apigateway/*")]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ApiGatewayLogGroups", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:FilterLogEvents",
                    "logs:GetLogEvents", "logs:PutLogEvents"],
         "Resource": groups + [f"{g}:log-stream:*" for g in groups]},
        {"Sid": "FindLogGroups", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
    ]}


def api_gateway_logging_role(t: Target) -> None:
    """API Gateway access and execution logs need the account's (per region) CloudWatch role: an
    account-wide singleton, so the kit sets it once here rather than in each environment's stack
    (dev and test share an account). Its permissions are an inline policy scoped to API Gateway's
    log groups (:func:`api_gateway_logs_policy`), brought back on every rerun; the AWS-managed
    ``AmazonAPIGatewayPushToCloudWatchLogs`` (``logs:*`` reads and writes on ``"*"``) is detached
    where an earlier bootstrap attached it."""
    iam, apigw = t.client("iam"), t.client("apigateway")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "apigateway.amazonaws.com"}}]}
    try:
        arn = iam.get_role(RoleName=API_GATEWAY_LOGS_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=API_GATEWAY_LOGS_ROLE, AssumeRolePolicyDocument=json.dumps(trust),
                              Description="pipeline-kit: lets API Gateway write access/execution logs")["Role"]["Arn"]
    partition, account = arn.split(":")[1], arn.split(":")[4]
    iam.put_role_policy(RoleName=API_GATEWAY_LOGS_ROLE, PolicyName=API_GATEWAY_LOGS_POLICY,
                        PolicyDocument=json.dumps(api_gateway_logs_policy(account, partition)))
    managed = API_GATEWAY_LOGS_MANAGED_POLICY.replace("arn:aws:", f"arn:{partition}:", 1)
    attached = iam.list_attached_role_policies(RoleName=API_GATEWAY_LOGS_ROLE)["AttachedPolicies"]
    if any(p["PolicyArn"] == managed for p in attached):
        iam.detach_role_policy(RoleName=API_GATEWAY_LOGS_ROLE, PolicyArn=managed)
        note(f"{API_GATEWAY_LOGS_ROLE}: AmazonAPIGatewayPushToCloudWatchLogs detached (an inline, scoped policy instead)")
    current = apigw.get_account().get("cloudwatchRoleArn")
    if current and current != arn:
        step(f"API Gateway logging role already set for this account/region ({current}): kept")
        return
    apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
    step(f"API Gateway logging role: {arn}")


# -- the GitHub OIDC provider and roles --------------------------------------------------------------

def _canonical(doc: Any) -> str:
    """A policy document as IAM hands it back (a dict, or URL-encoded JSON text), comparable."""
    if isinstance(doc, str):
        doc = json.loads(urllib.parse.unquote(doc))
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _no_such_entity(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "NoSuchEntity"


def ensure_github_oidc(iam, cfg, *, source=None) -> dict[str, str]:
    """Create or bring back to the code the account's GitHub OIDC provider, the workload boundary,
    the CI roles' managed policies and the two roles. Says what it changed; returns the role ARNs
    by kind (``deploy``, ``readonly``)."""
    b = gh.bundle(cfg, source=source)
    changes: list[str] = []
    changes += _ensure_provider(iam, cfg)
    scope = gh.Scope.of(cfg)
    for name, doc in b.policies.items():
        what = _ensure_policy(iam, scope.policy(name), name, doc, cfg)
        if what:
            changes.append(f"policy {name}: {what}")
    arns: dict[str, str] = {}
    for kind in gh.KINDS:
        name = gh.role_name(cfg, kind)
        trust, attached = b.roles[name]
        arn, role_changes = _ensure_role(iam, cfg, name, kind, trust, [scope.policy(p) for p in attached])
        arns[kind] = arn
        changes += [f"role {name}: {c}" for c in role_changes]
    changes += _remove_stale_policies(iam, cfg, set(b.policies))
    step(f"GitHub OIDC for {cfg.name}: " + ("no changes (matches the code)" if not changes
                                             else f"{len(changes)} change(s)"))
    for c in changes:
        note(c)
    for kind in gh.KINDS:
        note(f"{kind:8s} role {arns[kind]} ← {cfg.ci.github_repository} {gh.workflow(cfg.ci, kind)} on "
             f"{cfg.ci.ref}, GitHub environment `{gh.github_environment(cfg, kind)}`")
    return arns


def _ensure_provider(iam, cfg) -> list[str]:
    arn = gh.provider_arn(cfg)
    try:
        found = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except Exception as exc:  # noqa: BLE001 - only NoSuchEntity is expected
        if not _no_such_entity(exc):
            raise
        # No thumbprint: IAM secures GitHub's JWKS endpoint with its library of trusted root CAs
        # (the thumbprint is only used for an IdP whose certificate no trusted CA signed), and
        # CreateOpenIDConnectProvider fetches one itself when none is given.
        iam.create_open_id_connect_provider(
            Url=gh.OIDC_URL, ClientIDList=[gh.AUDIENCE],
            Tags=[{"Key": "Project", "Value": cfg.tags.get("Project", "pipeline-kit")},
                  {"Key": "ManagedBy", "Value": "pipeline-kit make bootstrap"}])
        return [f"OIDC provider {gh.OIDC_HOST}: created (audience {gh.AUDIENCE}; shared by every environment "
                "of this account)"]
    if gh.AUDIENCE not in found.get("ClientIDList", []):
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=gh.AUDIENCE)
        return [f"OIDC provider {gh.OIDC_HOST}: audience {gh.AUDIENCE} added"]
    return []


def _ensure_policy(iam, arn: str, name: str, doc: Mapping[str, Any], cfg) -> str | None:
    text = json.dumps(doc, separators=(",", ":"))
    try:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
    except Exception as exc:  # noqa: BLE001
        if not _no_such_entity(exc):
            raise
        iam.create_policy(PolicyName=name, PolicyDocument=text,
                          Description=f"pipeline-kit {cfg.name}: managed by make bootstrap (kit/github_oidc.py)",
                          Tags=[{"Key": k, "Value": v} for k, v in cfg.tags.items()])
        return "created"
    current = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
    if _canonical(current) == _canonical(doc):
        return None
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= MAX_POLICY_VERSIONS:
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
    return "updated to the code's document"


def _ensure_role(iam, cfg, name: str, kind: str, trust: Mapping[str, Any],
                 policy_arns: list[str]) -> tuple[str, list[str]]:
    changes: list[str] = []
    description = (f"pipeline-kit {cfg.name}: GitHub Actions {kind} role "
                   f"({cfg.ci.github_repository} {gh.workflow(cfg.ci, kind)} @ {cfg.ci.branch}); make bootstrap")
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except Exception as exc:  # noqa: BLE001
        if not _no_such_entity(exc):
            raise
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Description=description[:1000],
                               Tags=[{"Key": k, "Value": v} for k, v in cfg.tags.items()])["Role"]
        changes.append("created")
    else:
        if _canonical(role["AssumeRolePolicyDocument"]) != _canonical(trust):
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            changes.append("trust policy set back to the code's")
    attached = {p["PolicyArn"] for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
                for p in page["AttachedPolicies"]}
    for arn in policy_arns:
        if arn not in attached:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
            changes.append(f"attached {arn.rsplit('/', 1)[-1]}")
    for arn in sorted(attached - set(policy_arns)):
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        changes.append(f"detached {arn} (not in the code)")
    inline = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=name) for n in page["PolicyNames"]]
    for policy_name in inline:
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        changes.append(f"deleted inline policy {policy_name} (not in the code)")
    return role["Arn"], changes


def _remove_stale_policies(iam, cfg, wanted: set[str]) -> list[str]:
    """Kit policies of this environment the code no longer asks for (an optional service switched
    off): detached from every role, then deleted with their versions."""
    prefix = gh.ci_policy_prefix(cfg) + "-"
    changes = []
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for policy in page["Policies"]:
            name = policy["PolicyName"]
            if not name.startswith(prefix) or name in wanted:
                continue
            arn = policy["Arn"]
            for entities in iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=arn):
                for role in entities.get("PolicyRoles", []):
                    iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
            for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
                if not v["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=arn, VersionId=v["VersionId"])
            iam.delete_policy(PolicyArn=arn)
            changes.append(f"policy {name}: deleted (no longer needed)")
    return changes


# -- GitHub settings -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnvironmentSettings:
    """What one GitHub environment must hold."""

    name: str
    variables: Mapping[str, str]
    branch: str
    reviewers_required: bool


def github_settings(cfg, arns: Mapping[str, str]) -> list[EnvironmentSettings]:
    ci = cfg.ci
    return [
        EnvironmentSettings(name=gh.github_environment(cfg, gh.DEPLOY), branch=ci.branch,
                            variables={"AWS_DEPLOY_ROLE_ARN": arns[gh.DEPLOY], "AWS_REGION": cfg.region},
                            reviewers_required=cfg.name == "prod"),
        EnvironmentSettings(name=gh.github_environment(cfg, gh.READONLY), branch=ci.branch,
                            variables={"AWS_READONLY_ROLE_ARN": arns[gh.READONLY], "AWS_REGION": cfg.region},
                            reviewers_required=False),
    ]


def print_github_settings(t: Target, arns: Mapping[str, str]) -> None:
    cfg = t.cfg
    if t.emulator is not None:
        note("rehearsal on the emulator: nothing to set in GitHub (the ARNs above are the emulator's)")
        return
    step(f"GitHub settings of {cfg.ci.github_repository} for {cfg.name} (Settings → Environments; or rerun with "
         "CONFIGURE_GITHUB=yes GITHUB_TOKEN=<token> to set them through the API):")
    for env in github_settings(cfg, arns):
        note(f"environment `{env.name}`:")
        for k, v in env.variables.items():
            note(f"  variable {k} = {v}")
        note(f"  deployment branches and tags: selected branches → only `{env.branch}`")
        if env.reviewers_required:
            note("  required reviewers: at least one (with 'Prevent self-review')")


class GitHubApi:
    """A minimal client of GitHub's REST API (``send`` is replaceable for tests)."""

    def __init__(self, token: str, *, base: str = GITHUB_API,
                 send: Callable[[urllib.request.Request], tuple[int, Any]] | None = None) -> None:
        self.token, self.base = token, base.rstrip("/")
        self._send = send or _urlopen

    def __call__(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Accept": "application/vnd.github+json",
                                              "Authorization": f"Bearer {self.token}",
                                              "X-GitHub-Api-Version": "2022-11-28",
                                              "Content-Type": "application/json"})
        status, payload = self._send(req)
        if status >= 400 and status != 404:
            message = payload.get("message") if isinstance(payload, dict) else payload
            raise KitError(f"GitHub API {method} {path}: HTTP {status}: {message}")
        return status, payload


def _urlopen(req: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - https://api.github.com only
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def _prevents_self_review(environment: Mapping[str, Any]) -> bool:
    return any(r.get("type") == "required_reviewers" and r.get("prevent_self_review")
               for r in environment.get("protection_rules") or [])


def configure_github(api: GitHubApi, cfg, arns: Mapping[str, str]) -> list[str]:
    """Bring the GitHub environments of this stage to :func:`github_settings`: created if missing,
    deployment branches = only the configured branch (other branch policies removed), the role
    variables set; reviewers are kept as they are (prod without any is reported, not invented)."""
    repo = "/repos/" + cfg.ci.github_repository
    changes: list[str] = []
    for env in github_settings(cfg, arns):
        base = f"{repo}/environments/{urllib.parse.quote(env.name, safe='')}"
        status, current = api("GET", base)
        body: dict[str, Any] = {"deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True}}
        reviewers: list[dict[str, Any]] = []
        if status != 404 and isinstance(current, dict):
            for rule in current.get("protection_rules") or []:
                if rule.get("type") == "required_reviewers":
                    reviewers = [{"type": r["type"], "id": r["reviewer"]["id"]} for r in rule.get("reviewers", [])]
                    body["prevent_self_review"] = bool(rule.get("prevent_self_review"))
                elif rule.get("type") == "wait_timer":
                    body["wait_timer"] = rule.get("wait_timer", 0)
        if reviewers:
            body["reviewers"] = reviewers
        if env.reviewers_required:
            body["prevent_self_review"] = True
        if (status == 404 or not isinstance(current, dict)
                or current.get("deployment_branch_policy") != body["deployment_branch_policy"]
                or body.get("prevent_self_review") is True and not _prevents_self_review(current)):
            api("PUT", base, body)
            changes.append(f"environment {env.name}: {'created' if status == 404 else 'updated'} "
                           f"(deployment branches: selected, {env.branch} only"
                           f"{'; prevent self-review' if env.reviewers_required else ''})")
        _, listed = api("GET", f"{base}/deployment-branch-policies")
        policies = (listed or {}).get("branch_policies", []) if isinstance(listed, dict) else []
        if not any(p.get("name") == env.branch and p.get("type", "branch") == "branch" for p in policies):
            api("POST", f"{base}/deployment-branch-policies", {"name": env.branch, "type": "branch"})
            changes.append(f"environment {env.name}: branch policy {env.branch} added")
        for p in policies:
            if not (p.get("name") == env.branch and p.get("type", "branch") == "branch"):
                api("DELETE", f"{base}/deployment-branch-policies/{p['id']}")
                changes.append(f"environment {env.name}: branch policy {p.get('name')} removed")
        for name, value in env.variables.items():
            status, var = api("GET", f"{base}/variables/{name}")
            if status == 404:
                api("POST", f"{base}/variables", {"name": name, "value": value})
                changes.append(f"environment {env.name}: variable {name} set")
            elif not isinstance(var, dict) or var.get("value") != value:
                api("PATCH", f"{base}/variables/{name}", {"name": name, "value": value})
                changes.append(f"environment {env.name}: variable {name} updated")
        if env.reviewers_required and not reviewers:
            warn(f"GitHub environment {env.name} has no required reviewers: add at least one "
                 f"(Settings → Environments → {env.name}); prod deploys must wait for an approval")
    step(f"GitHub environments of {cfg.ci.github_repository}: {len(changes)} change(s)")
    for c in changes:
        note(c)
    return changes
