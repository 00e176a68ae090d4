"""GitHub Actions → AWS through OIDC, in code (issue 13): the policy documents ``make bootstrap``
applies, as pure functions of an environment's configuration (``kit/bootstrap.py`` applies them).

Per account, one IAM OIDC provider for ``token.actions.githubusercontent.com`` (audience
``sts.amazonaws.com``; dev and test share it). Per environment:

``<prefix>-github-deploy``
    trusted only by jobs of ``[ci] deploy_workflow`` on ``[ci] branch`` that run in the GitHub
    environment named like the environment (``dev``, ``test``, ``staging``, ``prod``). Its
    permissions (``deploy_policies``) are scoped to the environment's names wherever AWS has
    resource-level permissions, to its tags where names are ids, and it may create or change a
    role only when that role carries the workload boundary (``boundary_policy``).
``<prefix>-github-readonly``
    trusted only by jobs of ``[ci] drift_workflow`` on the branch in the GitHub environment
    ``<env>-readonly``; it reads configuration (``read_policy``) and the Terraform state, and is
    denied the data-plane reads (objects, items, messages, secrets, log events, query results).

**What the trust policy pins, and how.** GitHub's ``sub`` for a job in an environment is
``repo:<owner>/<repo>:environment:<env>``: it carries neither the branch nor the workflow. Since
2026-02 AWS STS also accepts GitHub's ``repository``, ``repository_id``, ``environment``, ``ref``,
``job_workflow_ref``, ``workflow``, ``actor``, ``actor_id`` and ``enterprise_id`` claims as
condition keys of ``AssumeRoleWithWebIdentity`` (:data:`GITHUB_CONDITION_KEYS`), so the trust
policy pins all of it with ``StringEquals`` (no wildcard anywhere): ``aud``, the exact ``sub``,
``repository`` (and ``repository_id`` when configured), ``environment``, ``ref`` =
``refs/heads/<branch>`` and ``job_workflow_ref`` = ``<owner>/<repo>/<workflow>@refs/heads/<branch>``.
A token without one of those claims fails the condition (``StringEquals`` on a missing key is
false): the policy fails closed. GitHub's environment settings (deployment branches = the
branch, required reviewers for prod) are a second lock on the GitHub side.

**Sizes.** A customer managed policy holds at most 6,144 characters (whitespace not counted),
so the deploy permissions are split into a few policies by concern; :func:`policy_size` and a
unit test keep each under the limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from environments import PROMOTION_ORDER, EnvironmentConfig
from environments.sections.ci import CiConfig, partition_of, workload_boundary_arn, workload_boundary_name

OIDC_HOST = "token.actions.githubusercontent.com"
OIDC_URL = f"https://{OIDC_HOST}"
#: The audience aws-actions/configure-aws-credentials asks GitHub for.
AUDIENCE = "sts.amazonaws.com"
#: GitHub OIDC claims AWS STS evaluates as ``token.actions.githubusercontent.com:<claim>``
#: condition keys (``aud`` and ``sub`` always; the others since the 2026-02 "STS supports
#: validation of select identity provider specific claims" release). Others (``workflow_ref``,
#: ``event_name``, ``ref_type``, …) are not condition keys: a condition on them never matches.
GITHUB_CONDITION_KEYS = ("aud", "sub", "actor", "actor_id", "enterprise_id", "environment", "job_workflow_ref",
                         "ref", "repository", "repository_id", "workflow")
#: The most characters (whitespace excluded) IAM accepts in one customer managed policy.
MANAGED_POLICY_MAX_CHARS = 6144

DEPLOY = "deploy"
READONLY = "readonly"
KINDS = (DEPLOY, READONLY)
#: The tag every resource carries (``[tags] Environment``, enforced by the config).
ENV_TAG = "Environment"

#: AWS services that may receive a workload role from the deploy role (``iam:PassedToService``).
PASSED_TO_SERVICES = (
    "appsync.amazonaws.com", "backup.amazonaws.com", "batch.amazonaws.com", "cloudtrail.amazonaws.com",
    "datazone.amazonaws.com", "dms.amazonaws.com", "ecs-tasks.amazonaws.com", "es.amazonaws.com",
    "events.amazonaws.com", "firehose.amazonaws.com", "glue.amazonaws.com", "lakeformation.amazonaws.com",
    "lambda.amazonaws.com", "opensearchservice.amazonaws.com", "redshift.amazonaws.com",
    "redshift-serverless.amazonaws.com", "scheduler.amazonaws.com", "vpc-flow-logs.amazonaws.com",
)
#: Service-linked roles a first deploy may create (``iam:AWSServiceName``): each service creates
#: its own on first use, with the permissions AWS defines, under ``role/aws-service-role/``.
SERVICE_LINKED_ROLES = (
    "backup.amazonaws.com", "batch.amazonaws.com", "delivery.logs.amazonaws.com", "ecs.amazonaws.com",
    "elasticache.amazonaws.com", "kafka.amazonaws.com", "lakeformation.amazonaws.com", "memorydb.amazonaws.com",
    "opensearchservice.amazonaws.com", "rds.amazonaws.com", "redshift.amazonaws.com",
)

#: Write actions that accept only ``"Resource": "*"`` (Service Authorization Reference: their
#: "Resource types" column is empty), each with what the deploy needs it for. Every other write
#: action of the kit's policies names the environment's resources (or is conditioned on them).
STAR_ONLY_WRITE_ACTIONS: Mapping[str, str] = {
    "backup-storage:MountCapsule": "CreateBackupVault needs it (AWS Backup vault storage)",
    "ecr:GetAuthorizationToken": "docker login to the environment's repository (image push/promotion)",
    "glue:CreateSecurityConfiguration": "the environment's Glue security configuration (encrypted logs, bookmarks)",
    "glue:DeleteSecurityConfiguration": "its removal",
    "logs:CreateLogDelivery": "vended log delivery (MSK, ElastiCache logs to CloudWatch Logs)",
    "logs:DeleteLogDelivery": "its removal",
    "logs:UpdateLogDelivery": "its update",
    "logs:PutResourcePolicy": "lets OpenSearch/MSK/EventBridge write into the environment's log groups",
    "logs:DeleteResourcePolicy": "its removal",
    "lakeformation:PutDataLakeSettings": "the lake's administrators ([services.lakeformation] only)",
    "lakeformation:GrantPermissions": "catalog grants ([services.lakeformation] only)",
    "lakeformation:RevokePermissions": "their removal",
    "lakeformation:BatchGrantPermissions": "catalog grants in batches",
    "lakeformation:BatchRevokePermissions": "their removal",
    "lakeformation:RegisterResource": "registers the clean bucket with Lake Formation",
    "lakeformation:DeregisterResource": "its removal",
    "secretsmanager:GetRandomPassword": "Redshift's managed admin password",
    "timestream:DescribeEndpoints": "every Timestream call discovers its endpoint first",
}

#: Data-plane reads the read-only role is denied even if a read pattern would match them.
DATA_READS = (
    "athena:GetQueryResults", "athena:GetQueryResultsStream", "dynamodb:BatchGetItem", "dynamodb:GetItem",
    "dynamodb:GetRecords", "dynamodb:Query", "dynamodb:Scan", "ecr:BatchGetImage", "ecr:GetAuthorizationToken",
    "ecr:GetDownloadUrlForLayer", "glue:GetConnection", "glue:GetConnections", "kinesis:GetRecords",
    "kinesis:GetShardIterator", "kinesis:SubscribeToShard", "lakeformation:GetDataAccess",
    "lambda:InvokeFunction", "logs:FilterLogEvents", "logs:GetLogEvents", "logs:GetLogRecord",
    "logs:GetQueryResults", "logs:StartLiveTail", "logs:StartQuery", "redshift-data:GetStatementResult",
    "redshift-serverless:GetCredentials", "s3:GetObject", "s3:GetObjectVersion", "secretsmanager:GetSecretValue",
    "sqs:ReceiveMessage", "ssm:GetParameter", "ssm:GetParameterHistory", "ssm:GetParameters",
    "ssm:GetParametersByPath",
)


#: What an action on a database or table also needs on the Data Catalog itself (``catalog``):
#: catalog-level actions (resource policy, encryption settings) are not among them.
CATALOG_ACTIONS = (
    "glue:BatchCreatePartition", "glue:BatchDeletePartition", "glue:BatchDeleteTable",
    "glue:BatchDeleteTableVersion", "glue:BatchGetPartition", "glue:BatchUpdatePartition", "glue:CreateDatabase",
    "glue:CreatePartition", "glue:CreatePartitionIndex", "glue:CreateTable", "glue:DeleteDatabase",
    "glue:DeletePartition", "glue:DeletePartitionIndex", "glue:DeleteTable", "glue:DeleteTableVersion",
    "glue:GetDatabase", "glue:GetDatabases", "glue:GetPartition", "glue:GetPartitionIndexes", "glue:GetPartitions",
    "glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions", "glue:GetTables", "glue:UpdateDatabase",
    "glue:UpdatePartition", "glue:UpdateTable",
)


@dataclass(frozen=True)
class Scope:
    """The ARN parts of one environment: partition, region, account, name prefix."""

    partition: str
    region: str
    account: str
    prefix: str
    env: str

    @classmethod
    def of(cls, cfg: EnvironmentConfig) -> "Scope":
        return cls(partition=partition_of(cfg.region), region=cfg.region, account=cfg.account_id,
                   prefix=cfg.name_prefix, env=cfg.name)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region else ''}:"
                f"{self.account if account else ''}:{resource}")

    @property
    def glue_prefix(self) -> str:
        """Glue database names: the prefix with ``_`` (``pk-dev`` → ``pk_dev_raw``)."""
        return self.prefix.lower().replace("-", "_")

    def buckets(self) -> list[str]:
        """Every bucket of the environment: ``<prefix>-<purpose>-<account>`` (and its objects)."""
        bucket = f"arn:{self.partition}:s3:::{self.prefix}-*-{self.account}"
        return [bucket, f"{bucket}/*"]

    def role(self, name: str) -> str:
        return self.arn("iam", f"role/{name}", region=False)

    def policy(self, name: str) -> str:
        return self.arn("iam", f"policy/{name}", region=False)


# -- names --------------------------------------------------------------------------------------

def role_name(cfg: EnvironmentConfig, kind: str) -> str:
    return cfg.resource_name("github", kind)


def role_arn(cfg: EnvironmentConfig, kind: str) -> str:
    return Scope.of(cfg).role(role_name(cfg, kind))


def provider_arn(cfg: EnvironmentConfig) -> str:
    return Scope.of(cfg).arn("iam", f"oidc-provider/{OIDC_HOST}", region=False)


def boundary_name(cfg: EnvironmentConfig) -> str:
    return workload_boundary_name(cfg.name_prefix)


def boundary_arn(cfg: EnvironmentConfig) -> str:
    return workload_boundary_arn(region=cfg.region, account_id=cfg.account_id, name_prefix=cfg.name_prefix)


def ci_policy_prefix(cfg: EnvironmentConfig) -> str:
    """Every managed policy of the CI roles is named ``<prefix>-github-…``."""
    return cfg.resource_name("github")


def github_environment(cfg: EnvironmentConfig, kind: str) -> str:
    """The GitHub environment whose jobs assume the role (deploy.yml / drift.yml use these)."""
    return cfg.name if kind == DEPLOY else f"{cfg.name}-readonly"


def workflow(ci: CiConfig, kind: str) -> str:
    return ci.deploy_workflow if kind == DEPLOY else ci.drift_workflow


def subject(ci: CiConfig, environment: str) -> str:
    """GitHub's ``sub`` for a job in ``environment`` (immutable format when the ids are set)."""
    env = environment.replace(":", "%3A")
    if ci.github_owner_id is not None and ci.github_repository_id is not None:
        repo = f"{ci.owner}@{ci.github_owner_id}/{ci.repository_name}@{ci.github_repository_id}"
    else:
        repo = ci.github_repository
    return f"repo:{repo}:environment:{env}"


def job_workflow_ref(ci: CiConfig, workflow_path: str) -> str:
    """``job_workflow_ref`` of a job defined in ``workflow_path`` itself (not a reusable workflow):
    ``<owner>/<repo>/<path>@refs/heads/<branch>``."""
    return f"{ci.github_repository}/{workflow_path}@{ci.ref}"


def _ci(cfg: EnvironmentConfig) -> CiConfig:
    if cfg.ci is None:
        raise ValueError(f"{cfg.name} has no [ci] section")
    return cfg.ci


# -- trust --------------------------------------------------------------------------------------

def trust_conditions(cfg: EnvironmentConfig, kind: str) -> dict[str, str]:
    """The claims a token must carry, exactly (``StringEquals``), to assume the ``kind`` role."""
    ci = _ci(cfg)
    env = github_environment(cfg, kind)
    claims = {
        "aud": AUDIENCE,
        "sub": subject(ci, env),
        "repository": ci.github_repository,
        "environment": env,
        "ref": ci.ref,
        "job_workflow_ref": job_workflow_ref(ci, workflow(ci, kind)),
    }
    if ci.github_repository_id is not None:
        claims["repository_id"] = str(ci.github_repository_id)
    assert set(claims) <= set(GITHUB_CONDITION_KEYS)
    return {f"{OIDC_HOST}:{claim}": value for claim, value in claims.items()}


def trust_policy(cfg: EnvironmentConfig, kind: str) -> dict[str, Any]:
    sid = "GitHubDeployWorkflowOnBranch" if kind == DEPLOY else "GitHubDriftWorkflowOnBranch"
    return _doc([{
        "Sid": sid, "Effect": "Allow", "Principal": {"Federated": provider_arn(cfg)},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": trust_conditions(cfg, kind)},
    }])


# -- statements ---------------------------------------------------------------------------------

def _doc(statements: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(sid: str, actions: Sequence[str], resources: Sequence[str] | str,
           condition: Mapping[str, Mapping[str, Any]] | None = None, *, effect: str = "Allow") -> dict[str, Any]:
    out: dict[str, Any] = {"Sid": sid, "Effect": effect, "Action": sorted(dict.fromkeys(actions)),
                           "Resource": resources if isinstance(resources, str) else list(dict.fromkeys(resources))}
    if condition:
        out["Condition"] = {k: dict(v) for k, v in condition.items()}
    return out


def _deny(sid: str, actions: Sequence[str], resources: Sequence[str] | str,
          condition: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    return _allow(sid, actions, resources, condition, effect="Deny")


def _tagged(s: Scope) -> dict[str, dict[str, str]]:
    return {"StringEquals": {f"aws:ResourceTag/{ENV_TAG}": s.env}}


def _tagging(s: Scope) -> dict[str, dict[str, str]]:
    return {"StringEquals": {f"aws:RequestTag/{ENV_TAG}": s.env}}


def _state(cfg: EnvironmentConfig) -> tuple[list[str], str, str]:
    """([state bucket ARN, state object(s) ARN], lock table ARN, state bucket name): the S3
    backend's state, and its lock table (which also holds the state's ``-md5`` digest item)."""
    s = Scope.of(cfg)
    st = cfg.state
    bucket, key = st.bucket or cfg.bucket_name("tfstate"), st.key or ""
    table = st.dynamodb_table or cfg.resource_name("tflock")
    return ([f"arn:{s.partition}:s3:::{bucket}", f"arn:{s.partition}:s3:::{bucket}/{key}*"],
            s.arn("dynamodb", f"table/{table}"), bucket)


def _workload_roles(cfg: EnvironmentConfig) -> list[str]:
    """The roles the stack may create: ``<prefix>-*`` and DMS's two account-wide fixed names."""
    s = Scope.of(cfg)
    roles = [s.role(f"{s.prefix}-*")]
    if cfg.services.dms.enabled:
        roles += [s.role("dms-vpc-role"), s.role("dms-cloudwatch-logs-role")]
    return roles


def _log_groups(s: Scope) -> list[str]:
    return [s.arn("logs", f"log-group:{pattern}") for pattern in
            (f"/aws/*/{s.prefix}-*", f"/aws/*/{s.prefix}/*", f"{s.prefix}-*", f"dms-tasks-{s.prefix}-*")]


def _source(cfg: EnvironmentConfig, source: EnvironmentConfig | None) -> EnvironmentConfig | None:
    if source is None:
        return None
    order = list(PROMOTION_ORDER)
    if cfg.name in order and order.index(cfg.name) > 0 and source.name == order[order.index(cfg.name) - 1]:
        return source
    raise ValueError(f"{source.name} is not the stage before {cfg.name}")


def deploy_policies(cfg: EnvironmentConfig, *, source: EnvironmentConfig | None = None) -> dict[str, dict[str, Any]]:
    """The deploy role's own managed policies (besides :func:`read_policy`), by name.
    ``source``: the stage before (its artifacts and images are promoted from)."""
    s = Scope.of(cfg)
    src = _source(cfg, source)
    out = {
        f"{ci_policy_prefix(cfg)}-deploy-core": _doc(_core_statements(cfg, s)),
        f"{ci_policy_prefix(cfg)}-deploy-roles": _doc(_role_statements(cfg, s)),
        f"{ci_policy_prefix(cfg)}-deploy-pipeline": _doc(_pipeline_statements(cfg, s, src)),
    }
    network = _network_statements(cfg, s)
    if network:
        out[f"{ci_policy_prefix(cfg)}-deploy-network"] = _doc(network)
    services = _service_statements(cfg, s)
    if services:
        out[f"{ci_policy_prefix(cfg)}-deploy-services"] = _doc(services)
    return out


def _core_statements(cfg: EnvironmentConfig, s: Scope) -> list[dict[str, Any]]:
    """The Terraform state and lock, the release records, the environment's KMS key (by tag);
    nothing of what bootstrap owns; nothing another environment's tag claims."""
    state, lock, state_bucket = _state(cfg)
    artifacts = f"arn:{s.partition}:s3:::{cfg.bucket_name('artifacts')}"
    key = s.arn("kms", "key/*")
    return [
        _allow("TerraformState", ["s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:ListBucket",
                                  "s3:DeleteObject", "s3:GetObject", "s3:PutObject"], state),
        _allow("TerraformLock", ["dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem",
                                 "dynamodb:PutItem"], [lock]),
        _allow("ReleaseRecordsAndTokenisationKey",
               ["ssm:AddTagsToResource", "ssm:GetParameter", "ssm:GetParameters", "ssm:ListTagsForResource",
                "ssm:PutParameter"], [s.arn("ssm", f"parameter/{s.prefix}/*")]),
        _allow("CreateEnvironmentKey", ["kms:CreateKey", "kms:TagResource"], "*", _tagging(s)),
        _allow("UseEnvironmentKey", [
            "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt", "kms:DeleteAlias",
            "kms:DescribeKey", "kms:DisableKeyRotation", "kms:EnableKeyRotation", "kms:Encrypt",
            "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus", "kms:ListGrants", "kms:ListResourceTags", "kms:PutKeyPolicy",
            "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant", "kms:RevokeGrant", "kms:ScheduleKeyDeletion",
            "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription"], [key], _tagged(s)),
        _allow("EnvironmentKeyAlias", ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
               [s.arn("kms", f"alias/{s.prefix}-*")]),
        _deny("BootstrapOwnsTheStateAndArtifactsBuckets", [
            "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutBucketObjectLockConfiguration",
            "s3:PutBucketOwnershipControls", "s3:PutBucketPolicy", "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration",
            "s3:PutReplicationConfiguration"], [f"arn:{s.partition}:s3:::{state_bucket}", artifacts]),
        _deny("KeepStateHistory", ["s3:DeleteObjectVersion"], [f"arn:{s.partition}:s3:::{state_bucket}/*"]),
        _deny("BootstrapOwnsTheLockTable", ["dynamodb:DeleteTable", "dynamodb:UpdateContinuousBackups",
                                            "dynamodb:UpdateTable"], [lock]),
        # Resources named by ids (VPCs, keys, APIs, plans, ...) cannot be scoped by name: never
        # change one that another environment's tag claims (dev and test share an account).
        _deny("NotAnotherEnvironmentsResources", [
            "apigateway:DELETE", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT", "appsync:Delete*",
            "appsync:Update*", "backup:Delete*", "backup:Update*", "datazone:Delete*", "datazone:Update*",
            "dms:Delete*", "dms:Modify*", "ec2:Associate*", "ec2:Authorize*", "ec2:Create*", "ec2:Delete*",
            "ec2:Disassociate*", "ec2:Modify*", "ec2:Replace*", "ec2:Revoke*", "kms:*",
            "redshift-serverless:Delete*", "redshift-serverless:Update*"], "*",
            {"StringNotEquals": {f"aws:ResourceTag/{ENV_TAG}": s.env},
             "Null": {f"aws:ResourceTag/{ENV_TAG}": "false"}}),
    ]


def _role_statements(cfg: EnvironmentConfig, s: Scope) -> list[dict[str, Any]]:
    """Roles of the stack: only with the workload boundary, passed only to the kit's services;
    never the CI roles, their policies, the boundary or the OIDC provider."""
    ci_roles = [role_arn(cfg, kind) for kind in KINDS]
    roles = _workload_roles(cfg)
    boundary = boundary_arn(cfg)
    return [
        _allow("WorkloadRolesOnlyWithBoundary", [
            "iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
            "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"], roles,
            {"StringEquals": {"iam:PermissionsBoundary": boundary}}),
        _allow("WorkloadRoles", [
            "iam:DeleteRole", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole", "iam:ListRolePolicies", "iam:ListRoleTags", "iam:TagRole",
            "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription"], roles),
        _allow("PassWorkloadRoles", ["iam:PassRole"], roles,
               {"StringEquals": {"iam:PassedToService": list(PASSED_TO_SERVICES)}}),
        _allow("ServiceLinkedRoles", ["iam:CreateServiceLinkedRole"],
               [s.arn("iam", "role/aws-service-role/*", region=False)],
               {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}}),
        _deny("NeverTouchTheCiRolesOrTheBoundary", ["iam:*"],
              [*ci_roles, boundary, s.policy(f"{ci_policy_prefix(cfg)}-*"), provider_arn(cfg)]),
        _deny("NeverDropABoundary", ["iam:DeleteRolePermissionsBoundary"], "*"),
    ]


def _pipeline_statements(cfg: EnvironmentConfig, s: Scope, src: EnvironmentConfig | None) -> list[dict[str, Any]]:
    from modules.powertools import POWERTOOLS_LAYER_ACCOUNT

    p, g = s.prefix, s.glue_prefix
    glue_named = [s.arn("glue", r) for r in (f"database/{g}_*", f"table/{g}_*/*", f"userDefinedFunction/{g}_*/*",
                                             f"crawler/{p}-*", f"job/{p}-*", f"trigger/{p}-*", f"registry/{p}-*",
                                             f"schema/{p}-*/*")]
    out = [
        _allow("EnvironmentBuckets", ["s3:*"], s.buckets()),
        _allow("EnvironmentQueuesTopicsTables", ["dynamodb:*", "sns:*", "sqs:*"],
               [s.arn("sqs", f"{p}-*"), s.arn("sns", f"{p}-*"), s.arn("dynamodb", f"table/{p}-*"),
                s.arn("dynamodb", f"table/{p}-*/*")]),
        _allow("EnvironmentFunctions", ["lambda:*"],
               [s.arn("lambda", f"function:{p}-*"), s.arn("lambda", f"layer:{p}-*")]),
        _allow("EnvironmentEventSourceMappings", [
            "lambda:CreateEventSourceMapping", "lambda:DeleteEventSourceMapping", "lambda:GetEventSourceMapping",
            "lambda:UpdateEventSourceMapping"], "*",
            {"ArnLike": {"lambda:FunctionArn": s.arn("lambda", f"function:{p}-*")}}),
        _allow("TagEventSourceMappings", ["lambda:ListTags", "lambda:TagResource", "lambda:UntagResource"],
               [s.arn("lambda", "event-source-mapping:*")]),
        _allow("PowertoolsPublicLayer", ["lambda:GetLayerVersion"],
               [f"arn:{s.partition}:lambda:{s.region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:AWSLambdaPowertoolsPythonV3-*:*"]),
        _allow("EnvironmentLogGroups", ["logs:*"], _log_groups(s)),
        _allow("EnvironmentAlarmsDashboardsRulesSchedules", ["cloudwatch:*", "events:*", "scheduler:*"],
               [s.arn("cloudwatch", f"alarm:{p}-*"), s.arn("cloudwatch", f"dashboard/{p}-*", region=False),
                s.arn("events", f"rule/{p}-*"), s.arn("scheduler", f"schedule/*/{p}-*"),
                s.arn("scheduler", "schedule-group/default")]),
        _allow("EnvironmentRestApi", ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST",
                                      "apigateway:PUT"],
               [s.arn("apigateway", r, account=False) for r in ("/restapis", "/restapis/*", "/tags/*")]),
        _allow("EnvironmentCatalog", ["glue:*"], glue_named),
        _allow("DataCatalogForTheEnvironmentsDatabases", CATALOG_ACTIONS, [s.arn("glue", "catalog")]),
        _allow("StarOnlyWrites", ["backup-storage:MountCapsule", "glue:CreateSecurityConfiguration",
                                  "glue:DeleteSecurityConfiguration", "logs:DeleteResourcePolicy",
                                  "logs:PutResourcePolicy"], "*"),
        _allow("EnvironmentWorkgroupTrailBackup", ["athena:*", "backup:*", "cloudtrail:*"],
               [s.arn("athena", f"workgroup/{p}-*"), s.arn("cloudtrail", f"trail/{p}-*"),
                s.arn("backup", f"backup-vault:{p}-*"), s.arn("backup", "backup-plan:*")]),
    ]
    if src is not None:
        so = Scope.of(src)
        bucket = f"arn:{so.partition}:s3:::{src.bucket_name('artifacts')}"
        out.append(_allow("ReadReleasesOfTheStageBefore", ["s3:GetObject"],
                          [f"{bucket}/artifacts/*", f"{bucket}/releases/*"]))
        if src.batch.enabled:
            out.append(_allow("PullImagesOfTheStageBefore", [
                "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeImages",
                "ecr:GetDownloadUrlForLayer"], [so.arn("ecr", f"repository/{so.prefix}-*")]))
    return out


def _network_statements(cfg: EnvironmentConfig, s: Scope) -> list[dict[str, Any]]:
    p = s.prefix
    out: list[dict[str, Any]] = []
    if cfg.network.enabled:
        # EC2 resources are named by ids: scoped to the region (and, by the core policy's deny,
        # away from other environments' tagged resources). Only what the network module builds.
        out.append(_allow("EnvironmentNetwork", [
            "ec2:AssociateRouteTable", "ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress",
            "ec2:CreateFlowLogs", "ec2:CreateRouteTable", "ec2:CreateSecurityGroup", "ec2:CreateSubnet",
            "ec2:CreateTags", "ec2:CreateVpc", "ec2:CreateVpcEndpoint", "ec2:DeleteFlowLogs",
            "ec2:DeleteRouteTable", "ec2:DeleteSecurityGroup", "ec2:DeleteSubnet", "ec2:DeleteTags",
            "ec2:DeleteVpc", "ec2:DeleteVpcEndpoints", "ec2:DisassociateRouteTable",
            "ec2:ModifySecurityGroupRules", "ec2:ModifySubnetAttribute", "ec2:ModifyVpcAttribute",
            "ec2:ModifyVpcEndpoint", "ec2:ReplaceRouteTableAssociation", "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
            "ec2:UpdateSecurityGroupRuleDescriptionsIngress"],
            [f"arn:{s.partition}:ec2:{s.region}:*:*"]))
    if cfg.batch.enabled:
        out += [
            _allow("EnvironmentBatchAndImages", ["batch:*", "ecr:*"],
                   [s.arn("batch", f"compute-environment/{p}-*"), s.arn("batch", f"job-queue/{p}-*"),
                    s.arn("batch", f"job-definition/{p}-*"), s.arn("batch", f"scheduling-policy/{p}-*"),
                    s.arn("ecr", f"repository/{p}-*")]),
            _allow("RegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
        ]
    if cfg.redshift.enabled:
        out += _redshift_statements(s)
    return out


def _redshift_statements(s: Scope) -> list[dict[str, Any]]:
    return [
        # Namespaces and workgroups are named by ids; the core policy's deny keeps other
        # environments' (tagged) ones out of reach.
        _allow("EnvironmentWarehouse", ["redshift-serverless:*"], [s.arn("redshift-serverless", "*")]),
        _allow("WarehouseStatements", ["redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement"],
               [s.arn("redshift-serverless", "workgroup/*")], _tagged(s)),
        _allow("OwnStatementsOnly", ["redshift-data:CancelStatement", "redshift-data:DescribeStatement",
                                     "redshift-data:GetStatementResult", "redshift-data:ListStatements"], "*",
               {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}),
        _allow("ManagedAdminSecret", [
            "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue", "secretsmanager:RotateSecret", "secretsmanager:TagResource",
            "secretsmanager:UntagResource", "secretsmanager:UpdateSecret"],
            [s.arn("secretsmanager", f"secret:redshift!{s.prefix}-*")]),
        _allow("ManagedAdminPassword", ["secretsmanager:GetRandomPassword"], "*"),
    ]


def _service_statements(cfg: EnvironmentConfig, s: Scope) -> list[dict[str, Any]]:
    """The optional data services that are switched on (rerun bootstrap after switching one on)."""
    sv, p = cfg.services, s.prefix
    out: list[dict[str, Any]] = []
    if sv.elasticache.enabled:
        out.append(_allow("ElastiCache", ["elasticache:*"], [s.arn("elasticache", r) for r in (
            f"replicationgroup:{p}-*", f"cluster:{p}-*", f"subnetgroup:{p}-*", f"user:{p}-*",
            f"usergroup:{p}-*", f"parametergroup:{p}-*", "parametergroup:default.*", f"snapshot:{p}-*")]))
    if sv.memorydb.enabled:
        out.append(_allow("MemoryDB", ["memorydb:*"], [s.arn("memorydb", r) for r in (
            f"cluster/{p}-*", f"acl/{p}-*", f"user/{p}-*", f"subnetgroup/{p}-*", "parametergroup/default.*",
            f"parametergroup/{p}-*", f"snapshot/{p}-*")]))
    if sv.documentdb.enabled or sv.neptune.enabled:
        out.append(_allow("DocumentDbNeptune", ["rds:*"], [s.arn("rds", r) for r in (
            f"cluster:{p}-*", f"db:{p}-*", f"cluster-pg:{p}-*", "cluster-pg:default.*", f"subgrp:{p}-*",
            f"cluster-snapshot:{p}-*", "pg:default.*")]))
    if sv.documentdb.enabled:
        out.append(_allow("DocumentDbManagedMasterSecret", [
            "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret",
            "secretsmanager:RotateSecret", "secretsmanager:TagResource"],
            [s.arn("secretsmanager", "secret:rds!cluster-*")]))
    if sv.opensearch.enabled:
        out.append(_allow("OpenSearch", ["es:*"], [s.arn("es", f"domain/{p}-*")]))
    if sv.timestream.enabled:
        out += [_allow("Timestream", ["timestream:*"], [s.arn("timestream", f"database/{p}-*"),
                                                         s.arn("timestream", f"database/{p}-*/table/*")]),
                _allow("TimestreamEndpoints", ["timestream:DescribeEndpoints"], "*")]
    if sv.dms.enabled:
        out.append(_allow("Dms", ["dms:*"], [s.arn("dms", "*")]))
    if sv.streaming.enabled:
        out.append(_allow("Streams", ["firehose:*", "kinesis:*"], [s.arn("kinesis", f"stream/{p}-*"),
                                                                   s.arn("firehose", f"deliverystream/{p}-*")]))
        if sv.streaming.msk_enabled:
            out.append(_allow("Msk", ["kafka:*"], [s.arn("kafka", f"cluster/{p}-*/*"),
                                                   s.arn("kafka", f"configuration/{p}-*/*")]))
    if sv.streaming.enabled or sv.elasticache.enabled:
        out.append(_allow("VendedLogDelivery", ["logs:CreateLogDelivery", "logs:DeleteLogDelivery",
                                                "logs:UpdateLogDelivery"], "*"))
    if sv.appsync.enabled:
        out += [_allow("AppSync", ["appsync:*"], [s.arn("appsync", "apis/*")]),
                _allow("AppSyncCreate", ["appsync:CreateGraphqlApi", "appsync:TagResource"], "*", _tagging(s)),
                _allow("AppSyncLogGroup", ["logs:*"], [s.arn("logs", "log-group:/aws/appsync/apis/*")])]
    if sv.lakeformation.enabled:
        out.append(_allow("LakeFormation", [
            "lakeformation:BatchGrantPermissions", "lakeformation:BatchRevokePermissions",
            "lakeformation:DeregisterResource", "lakeformation:GrantPermissions",
            "lakeformation:PutDataLakeSettings", "lakeformation:RegisterResource",
            "lakeformation:RevokePermissions"], "*"))
    if sv.datazone.enabled:
        out += [_allow("DataZone", ["datazone:*"], [s.arn("datazone", "domain/*")]),
                _allow("DataZoneCreate", ["datazone:CreateDomain", "datazone:TagResource"], "*", _tagging(s))]
    return out


# -- read -----------------------------------------------------------------------------------------

#: Configuration reads Terraform's refresh needs, for every service the stack may hold. Patterns
#: end in ``Describe*``/``List*`` or name metadata ``Get`` actions: no pattern here matches a
#: data-plane read (objects, items, records, messages, secrets, log events, query results).
READ_ACTIONS = (
    "appsync:GetGraphqlApi", "appsync:GetResolver", "appsync:GetDataSource", "appsync:GetSchemaCreationStatus",
    "appsync:GetType", "appsync:List*", "athena:BatchGetNamedQuery", "athena:GetNamedQuery",
    "athena:GetWorkGroup", "athena:List*", "backup:Describe*", "backup:GetBackupPlan",
    "backup:GetBackupSelection", "backup:GetBackupVaultAccessPolicy", "backup:GetBackupVaultNotifications",
    "backup:List*", "batch:Describe*", "batch:List*", "cloudtrail:Describe*", "cloudtrail:GetEventSelectors",
    "cloudtrail:GetInsightSelectors", "cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:List*",
    "cloudwatch:Describe*", "cloudwatch:GetDashboard", "cloudwatch:List*", "datazone:GetDomain",
    "datazone:GetEnvironmentBlueprint*", "datazone:GetProject", "datazone:List*", "dms:Describe*", "dms:List*",
    "dynamodb:Describe*", "dynamodb:List*", "ec2:Describe*", "ec2:GetManagedPrefixListEntries", "ecr:Describe*",
    "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy", "ecr:List*", "elasticache:Describe*",
    "elasticache:List*", "es:Describe*", "es:List*", "events:Describe*", "events:List*", "firehose:Describe*",
    "firehose:List*", "glue:GetCrawler*", "glue:GetDatabase*", "glue:GetDataCatalogEncryptionSettings",
    "glue:GetJob", "glue:GetJobs", "glue:GetPartitionIndexes", "glue:GetRegistry", "glue:GetSchema*",
    "glue:GetSecurityConfiguration*", "glue:GetTable*", "glue:GetTags", "glue:GetTrigger*", "glue:List*",
    "iam:GetOpenIDConnectProvider", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole", "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:ListPolicyVersions",
    "iam:ListRolePolicies", "iam:ListRoleTags", "kafka:Describe*", "kafka:GetBootstrapBrokers", "kafka:List*",
    "kinesis:Describe*", "kinesis:List*", "kms:Describe*", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:List*", "lakeformation:DescribeResource", "lakeformation:GetDataLakeSettings",
    "lakeformation:ListPermissions", "lakeformation:ListResources", "lambda:GetEventSourceMapping",
    "lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig", "lambda:GetFunctionConcurrency",
    "lambda:GetFunctionConfiguration", "lambda:GetLayerVersion", "lambda:GetPolicy", "lambda:List*",
    "logs:Describe*", "logs:GetDataProtectionPolicy", "logs:GetLogDelivery", "logs:List*", "memorydb:Describe*",
    "memorydb:List*", "rds:Describe*", "rds:ListTagsForResource", "redshift-data:DescribeStatement",
    "redshift-serverless:GetNamespace", "redshift-serverless:GetWorkgroup", "redshift-serverless:List*",
    "s3:GetAccelerateConfiguration", "s3:GetBucket*", "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:ListAllMyBuckets", "s3:ListBucket",
    "scheduler:GetSchedule", "scheduler:GetScheduleGroup", "scheduler:List*", "secretsmanager:DescribeSecret",
    "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecrets", "sns:GetSubscriptionAttributes",
    "sns:GetTopicAttributes", "sns:List*", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:List*",
    "ssm:DescribeParameters", "ssm:ListTagsForResource", "tag:GetResources", "timestream:DescribeDatabase",
    "timestream:DescribeEndpoints", "timestream:DescribeTable", "timestream:List*",
)


def read_policy(cfg: EnvironmentConfig) -> dict[str, Any]:
    """Configuration reads, shared by both roles (``<prefix>-github-read``)."""
    s = Scope.of(cfg)
    return _doc([
        _allow("ReadConfiguration", list(READ_ACTIONS), "*"),
        _allow("ReadRestApis", ["apigateway:GET"],
               [s.arn("apigateway", r, account=False) for r in ("/restapis", "/restapis/*", "/account", "/tags/*")]),
    ])


def readonly_policies(cfg: EnvironmentConfig) -> dict[str, dict[str, Any]]:
    """The read-only role's own policy (besides :func:`read_policy`): the state and the release
    record, and an explicit deny of every data-plane read outside them."""
    s = Scope.of(cfg)
    state, lock, _ = _state(cfg)
    record = s.arn("ssm", f"parameter/{s.prefix}/release/*")
    doc = _doc([
        _allow("ReadTerraformState", ["s3:GetObject", "s3:ListBucket"], state),
        _allow("ReadStateDigest", ["dynamodb:GetItem"], [lock]),
        _allow("ReadReleaseRecord", ["ssm:GetParameter"], [record]),
        {"Sid": "NoDataPlaneReads", "Effect": "Deny", "Action": sorted(DATA_READS),
         "NotResource": [*state, lock, record]},
    ])
    return {f"{ci_policy_prefix(cfg)}-readonly": doc}


# -- boundary ---------------------------------------------------------------------------------------

def boundary_policy(cfg: EnvironmentConfig) -> dict[str, Any]:
    """The most any role of the environment's stack may do: the environment's own resources (by
    name, or by tag where names are ids) and the few account-wide actions workloads need at run
    time. No IAM or STS action at all, so no role the deploy creates can create or change roles,
    or assume any. Nothing of the Terraform state; no write to the artifacts bucket."""
    s = Scope.of(cfg)
    p, g = s.prefix, s.glue_prefix
    state, lock, state_bucket = _state(cfg)
    artifacts = f"arn:{s.partition}:s3:::{cfg.bucket_name('artifacts')}"
    sv = cfg.services
    named = [
        *s.buckets(), s.arn("sqs", f"{p}-*"), s.arn("sns", f"{p}-*"), s.arn("dynamodb", f"table/{p}-*"),
        s.arn("dynamodb", f"table/{p}-*/*"), s.arn("kinesis", f"stream/{p}-*"),
        s.arn("firehose", f"deliverystream/{p}-*"), s.arn("athena", f"workgroup/{p}-*"),
        s.arn("ssm", f"parameter/{p}/*"), s.arn("lambda", f"function:{p}-*"),
        s.arn("batch", f"job-queue/{p}-*"), s.arn("batch", f"job-definition/{p}-*"),
        s.arn("ecr", f"repository/{p}-*"), s.arn("backup", f"backup-vault:{p}-*"), s.arn("backup", "backup-plan:*"),
        # the Backup role tags the recovery points it makes (ids, not names)
        s.arn("backup", "recovery-point:*"),
        s.arn("es", f"domain/{p}-*"),
        *[s.arn("glue", r) for r in (f"database/{g}_*", f"table/{g}_*/*", f"crawler/{p}-*", f"job/{p}-*",
                                     f"trigger/{p}-*", f"registry/{p}-*", f"schema/{p}-*/*")],
        s.arn("events", "rule/AwsBackupManagedRule*"),
    ]
    secrets = [s.arn("secretsmanager", f"secret:redshift!{p}-*")]
    if sv.dms.enabled and sv.dms.source_secret_arn:
        secrets.append(sv.dms.source_secret_arn)
    statements = [
        _allow("EnvironmentResources", [
            "athena:*", "backup:*", "batch:*", "dynamodb:*", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer", "es:*", "events:*", "firehose:*", "glue:*", "kinesis:*",
            "lambda:InvokeFunction", "s3:*", "sns:*", "sqs:*", "ssm:GetParameter", "ssm:GetParameters"], named),
        _allow("DataCatalogForTheEnvironmentsDatabases", CATALOG_ACTIONS, [s.arn("glue", "catalog")]),
        _allow("EnvironmentKey", ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt",
                                  "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
                                  "kms:ReEncryptFrom", "kms:ReEncryptTo"], [s.arn("kms", "key/*")], _tagged(s)),
        _allow("EnvironmentSecrets", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], secrets),
        _allow("WarehouseByTag", ["redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement",
                                  "redshift-serverless:GetCredentials", "redshift-serverless:GetNamespace",
                                  "redshift-serverless:GetWorkgroup"],
               [s.arn("redshift-serverless", "workgroup/*"), s.arn("redshift-serverless", "namespace/*")], _tagged(s)),
        _allow("GlueRoleChecks", ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies"], [s.role(f"{p}-*")]),
        # Run-time actions that accept only "*" (or act on AWS-owned resources): logs, metrics,
        # traces, the network interfaces of VPC functions/jobs/endpoints, job and statement
        # status, the registry login, backup's resource discovery, Lake Formation's credential
        # vending for Spectrum, AppSync mutations (status announcements).
        _allow("RunTime", [
            "appsync:GraphQL", "batch:DescribeJobs", "batch:ListJobs", "cloudwatch:GetMetricData",
            "cloudwatch:ListMetrics", "cloudwatch:PutMetricData", "dynamodb:ListBackups", "dynamodb:ListTables",
            "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
            "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission", "ec2:Describe*",
            "ec2:ModifyNetworkInterfaceAttribute", "ec2:UnassignPrivateIpAddresses", "ecr:GetAuthorizationToken",
            "events:ListRules",
            "glue:GetSecurityConfiguration", "glue:GetSecurityConfigurations", "lakeformation:GetDataAccess",
            "logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
            "logs:DescribeLogStreams", "logs:PutLogEvents", "redshift-data:CancelStatement",
            "redshift-data:DescribeStatement", "redshift-data:GetStatementResult", "redshift-data:ListStatements",
            "s3:GetBucketLocation", "s3:ListAllMyBuckets", "tag:GetResources", "xray:GetSamplingRules",
            "xray:GetSamplingStatisticSummaries", "xray:GetSamplingTargets", "xray:PutTelemetryRecords",
            "xray:PutTraceSegments"], "*"),
        _allow("NetworkInterfaceTags", ["ec2:CreateTags", "ec2:DeleteTags"],
               [f"arn:{s.partition}:ec2:{s.region}:{s.account}:network-interface/*"]),
    ]
    if sv.datazone.enabled:
        statements.append(_allow("DataZone", ["datazone:*"], "*"))
    statements += [
        _deny("NoTerraformState", ["dynamodb:*", "s3:*"], [*state, f"arn:{s.partition}:s3:::{state_bucket}", lock]),
        _deny("ArtifactsAreReadOnly", ["s3:Delete*", "s3:Put*"], [artifacts, f"{artifacts}/*"]),
    ]
    return _doc(statements)


# -- sizes and bundles ------------------------------------------------------------------------------

def policy_size(doc: Mapping[str, Any]) -> int:
    """Characters IAM counts against the managed policy limit (whitespace excluded)."""
    return len(json.dumps(doc, separators=(",", ":")))


@dataclass(frozen=True)
class Bundle:
    """Everything bootstrap applies for one environment: managed policies by name, and each
    role's trust policy and attached policy names."""

    policies: Mapping[str, dict[str, Any]]
    roles: Mapping[str, tuple[dict[str, Any], tuple[str, ...]]]
    boundary: str


def bundle(cfg: EnvironmentConfig, *, source: EnvironmentConfig | None = None) -> Bundle:
    read_name = f"{ci_policy_prefix(cfg)}-read"
    deploy = deploy_policies(cfg, source=source)
    readonly = readonly_policies(cfg)
    policies: dict[str, dict[str, Any]] = {boundary_name(cfg): boundary_policy(cfg), read_name: read_policy(cfg),
                                           **deploy, **readonly}
    for name, doc in policies.items():
        size = policy_size(doc)
        if size > MANAGED_POLICY_MAX_CHARS:
            raise ValueError(f"policy {name} is {size} characters; IAM accepts at most {MANAGED_POLICY_MAX_CHARS}")
    roles = {
        role_name(cfg, DEPLOY): (trust_policy(cfg, DEPLOY), (read_name, *deploy)),
        role_name(cfg, READONLY): (trust_policy(cfg, READONLY), (read_name, *readonly)),
    }
    return Bundle(policies=policies, roles=roles, boundary=boundary_name(cfg))
