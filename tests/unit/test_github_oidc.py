"""The GitHub OIDC roles as pure policy documents (``kit/github_oidc.py``, issue 13): who each role
trusts (exactly one GitHub environment, workflow and branch of one repository, no wildcard), what
the deploy role may touch (its environment's names and tags, roles only with the boundary), what
the read-only role may not read, what the boundary lets a workload role do; the ``[ci]`` section's
validation; the shipped files agree with the workflows; the opt-in GitHub step against a fake API."""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from environments import PROMOTION_ORDER, ConfigError, load_environment, load_environment_file
from environments.config import ENVIRONMENTS_DIR
from environments.sections.ci import CiConfig
from kit import github_oidc as gh

ROOT = Path(__file__).resolve().parents[2]
CLAIM = gh.OIDC_HOST + ":"
READ_VERBS = re.compile(r"^[a-z0-9-]+:(Describe|Get|List|BatchGet)[A-Za-z*]*$")


def _cfg(env: str, **ci: Any):
    cfg = load_environment(env)
    return dataclasses.replace(cfg, ci=dataclasses.replace(cfg.ci, **ci)) if ci else cfg


def _conditions(cfg, kind: str) -> dict[str, str]:
    (statement,) = gh.trust_policy(cfg, kind)["Statement"]
    assert set(statement["Condition"]) == {"StringEquals"}, statement["Condition"]
    return statement["Condition"]["StringEquals"]


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["Statement"]


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _allows(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        for st in _statements(doc):
            if st["Effect"] == "Allow":
                yield st


def _allowed(docs: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Does an Allow statement match (action, resource), ignoring conditions and denies?"""
    return any(any(fnmatch.fnmatchcase(action, a) for a in _as_list(st["Action"]))
               and any(fnmatch.fnmatchcase(resource, r) for r in _as_list(st.get("Resource", [])))
               for st in _allows(docs))


def _deploy_docs(cfg, source=None) -> list[dict[str, Any]]:
    return [gh.read_policy(cfg), *gh.deploy_policies(cfg, source=source).values()]


# -- trust -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", PROMOTION_ORDER)
def test_the_deploy_role_trusts_exactly_its_environment_workflow_and_branch(env: str) -> None:
    cfg = load_environment(env)
    repo = cfg.ci.github_repository
    assert _conditions(cfg, gh.DEPLOY) == {
        CLAIM + "aud": "sts.amazonaws.com",
        CLAIM + "sub": f"repo:{repo}:environment:{env}",
        CLAIM + "repository": repo,
        CLAIM + "environment": env,
        CLAIM + "ref": "refs/heads/main",
        CLAIM + "job_workflow_ref": f"{repo}/.github/workflows/deploy.yml@refs/heads/main",
    }


@pytest.mark.parametrize("env", PROMOTION_ORDER)
def test_the_readonly_role_trusts_only_the_readonly_environment_of_the_drift_workflow(env: str) -> None:
    conditions = _conditions(load_environment(env), gh.READONLY)
    assert conditions[CLAIM + "sub"].endswith(f":environment:{env}-readonly")
    assert conditions[CLAIM + "environment"] == f"{env}-readonly"
    assert conditions[CLAIM + "job_workflow_ref"].endswith("/.github/workflows/drift.yml@refs/heads/main")


def test_prod_does_not_trust_staging_nor_any_other_stage() -> None:
    prod = {kind: set(_conditions(load_environment("prod"), kind).values()) for kind in gh.KINDS}
    for other in ("dev", "test", "staging"):
        for kind in gh.KINDS:
            theirs = _conditions(load_environment(other), kind)
            assert theirs[CLAIM + "sub"] not in prod[gh.DEPLOY] | prod[gh.READONLY]
            assert theirs[CLAIM + "environment"] not in prod[gh.DEPLOY] | prod[gh.READONLY]


def test_the_deploy_and_readonly_roles_trust_disjoint_environments_and_workflows() -> None:
    cfg = load_environment("staging")
    deploy, readonly = _conditions(cfg, gh.DEPLOY), _conditions(cfg, gh.READONLY)
    for claim in ("sub", "environment", "job_workflow_ref"):
        assert deploy[CLAIM + claim] != readonly[CLAIM + claim], claim


@pytest.mark.parametrize("env", PROMOTION_ORDER)
def test_no_trust_condition_holds_a_wildcard(env: str) -> None:
    for kind in gh.KINDS:
        for key, value in _conditions(load_environment(env), kind).items():
            assert not set(value) & set("*?"), f"{kind} {key} = {value!r}"


@pytest.mark.parametrize("env", PROMOTION_ORDER)
def test_every_trust_condition_is_a_key_aws_sts_evaluates(env: str) -> None:
    for kind in gh.KINDS:
        claims = {key.removeprefix(CLAIM) for key in _conditions(load_environment(env), kind)}
        assert claims <= set(gh.GITHUB_CONDITION_KEYS), claims - set(gh.GITHUB_CONDITION_KEYS)
        assert {"sub", "aud", "ref", "job_workflow_ref"} <= claims  # the branch and the workflow are pinned


def test_the_trust_names_the_provider_of_the_environments_own_account() -> None:
    cfg = load_environment("staging")
    (statement,) = gh.trust_policy(cfg, gh.DEPLOY)["Statement"]
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{cfg.account_id}:oidc-provider/{gh.OIDC_HOST}"}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"


def test_a_configured_branch_moves_ref_and_job_workflow_ref() -> None:
    conditions = _conditions(_cfg("dev", branch="release/2026"), gh.DEPLOY)
    assert conditions[CLAIM + "ref"] == "refs/heads/release/2026"
    assert conditions[CLAIM + "job_workflow_ref"].endswith("@refs/heads/release/2026")


def test_immutable_subject_claims_carry_the_owner_and_repository_ids() -> None:
    conditions = _conditions(_cfg("prod", github_repository="acme/data", github_owner_id=11, github_repository_id=22),
                             gh.DEPLOY)
    assert conditions[CLAIM + "sub"] == "repo:acme@11/data@22:environment:prod"
    assert conditions[CLAIM + "repository_id"] == "22"


# -- the deploy role's permissions ----------------------------------------------------------------------

def test_no_deploy_statement_allows_every_action_or_every_iam_action() -> None:
    for st in _allows(_deploy_docs(load_environment("prod"))):
        assert not {"*", "iam:*", "sts:*"} & set(_as_list(st["Action"])), st["Sid"]


def test_unconditioned_star_resources_carry_only_reads_or_star_only_writes() -> None:
    for cfg in (load_environment("prod"), _all_services("prod")):
        for st in _allows(_deploy_docs(cfg)):
            if st["Resource"] != "*" or "Condition" in st:
                continue
            loose = [a for a in _as_list(st["Action"])
                     if not READ_VERBS.match(a) and a not in gh.STAR_ONLY_WRITE_ACTIONS]
            assert loose == [], f"{st['Sid']}: {loose}"


def test_dev_deploy_role_cannot_touch_tests_resources_in_the_shared_account() -> None:
    dev, test = load_environment("dev"), load_environment("test")
    assert dev.account_id == test.account_id
    a = test.account_id
    theirs = {
        "s3:PutObject": f"arn:aws:s3:::pk-test-landing-{a}/x.csv",
        "s3:DeleteBucket": f"arn:aws:s3:::pk-test-clean-{a}",
        "sqs:DeleteQueue": f"arn:aws:sqs:eu-west-1:{a}:pk-test-validate",
        "dynamodb:DeleteTable": f"arn:aws:dynamodb:eu-west-1:{a}:table/pk-test-status",
        "lambda:UpdateFunctionCode": f"arn:aws:lambda:eu-west-1:{a}:function:pk-test-validate",
        "iam:PutRolePolicy": f"arn:aws:iam::{a}:role/pk-test-validate-role",
        "glue:DeleteDatabase": f"arn:aws:glue:eu-west-1:{a}:database/pk_test_raw",
        "logs:DeleteLogGroup": f"arn:aws:logs:eu-west-1:{a}:log-group:/aws/lambda/pk-test-validate",
        "ssm:PutParameter": f"arn:aws:ssm:eu-west-1:{a}:parameter/pk-test/release/current",
    }
    docs = list(gh.deploy_policies(dev).values())
    for action, arn in theirs.items():
        assert not _allowed(docs, action, arn), (action, arn)
        assert _allowed(docs, action, arn.replace("pk-test", "pk-dev").replace("pk_test", "pk_dev")), (action, arn)


def test_roles_are_created_and_changed_only_with_the_workload_boundary() -> None:
    cfg = load_environment("prod")
    boundary = f"arn:aws:iam::{cfg.account_id}:policy/pk-prod-workload-boundary"
    for st in _allows(_deploy_docs(cfg)):
        actions = set(_as_list(st["Action"]))
        if actions & {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"}:
            assert st["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": boundary}}, st["Sid"]
            assert all(r.startswith(f"arn:aws:iam::{cfg.account_id}:role/pk-prod-") for r in _as_list(st["Resource"]))


def test_the_deploy_role_is_denied_its_own_role_policies_and_the_boundary() -> None:
    cfg = load_environment("prod")
    denied = {r for doc in gh.deploy_policies(cfg).values() for st in _statements(doc)
              if st["Effect"] == "Deny" and "iam:*" in _as_list(st["Action"]) for r in _as_list(st["Resource"])}
    assert gh.role_arn(cfg, gh.DEPLOY) in denied and gh.role_arn(cfg, gh.READONLY) in denied
    assert gh.boundary_arn(cfg) in denied and gh.provider_arn(cfg) in denied
    assert any(fnmatch.fnmatchcase(gh.Scope.of(cfg).policy("pk-prod-github-deploy-core"), r) for r in denied)


def test_the_environment_key_is_used_only_by_its_tag() -> None:
    cfg = load_environment("dev")
    for st in _allows(list(gh.deploy_policies(cfg).values())):
        if any(a.startswith("kms:") for a in _as_list(st["Action"])) and st["Sid"] != "EnvironmentKeyAlias":
            tag = st["Condition"]["StringEquals"]
            assert tag in ({"aws:ResourceTag/Environment": "dev"}, {"aws:RequestTag/Environment": "dev"}), st["Sid"]


def test_resources_named_by_ids_of_another_environment_are_denied() -> None:
    (deny,) = [st for doc in gh.deploy_policies(load_environment("dev")).values() for st in _statements(doc)
               if st["Sid"] == "NotAnotherEnvironmentsResources"]
    assert deny["Effect"] == "Deny" and deny["Resource"] == "*"
    assert deny["Condition"] == {"StringNotEquals": {"aws:ResourceTag/Environment": "dev"},
                                 "Null": {"aws:ResourceTag/Environment": "false"}}
    assert {"ec2:Delete*", "kms:*", "apigateway:DELETE"} <= set(deny["Action"])


def test_an_optional_service_adds_its_permissions_only_when_switched_on() -> None:
    off = gh.deploy_policies(load_environment("prod"))
    on = gh.deploy_policies(_all_services("prod"))
    assert "pk-prod-github-deploy-services" not in off
    sids = {st["Sid"] for st in _statements(on["pk-prod-github-deploy-services"])}
    assert {"ElastiCache", "OpenSearch", "LakeFormation", "Dms"} <= sids


def test_a_promotion_reads_only_the_releases_and_images_of_the_stage_before() -> None:
    staging, prod = load_environment("staging"), load_environment("prod")
    docs = list(gh.deploy_policies(prod, source=staging).values())
    bucket = f"arn:aws:s3:::pk-staging-artifacts-{staging.account_id}"
    assert _allowed(docs, "s3:GetObject", f"{bucket}/releases/current.json")
    assert not _allowed(docs, "s3:PutObject", f"{bucket}/releases/current.json")
    assert not _allowed(docs, "s3:GetObject", f"arn:aws:s3:::pk-staging-landing-{staging.account_id}/x")
    assert _allowed(docs, "ecr:BatchGetImage",
                    f"arn:aws:ecr:eu-west-1:{staging.account_id}:repository/pk-staging-plugins")


def test_only_the_stage_just_before_is_a_promotion_source() -> None:
    with pytest.raises(ValueError, match="dev is not the stage before staging"):
        gh.deploy_policies(load_environment("staging"), source=load_environment("dev"))


# -- the read-only role ---------------------------------------------------------------------------------

def test_the_readonly_role_allows_no_write() -> None:
    cfg = load_environment("prod")
    for st in _allows([gh.read_policy(cfg), *gh.readonly_policies(cfg).values()]):
        for action in _as_list(st["Action"]):
            assert READ_VERBS.match(action) or action in ("apigateway:GET", "s3:ListBucket",
                                                          "s3:ListAllMyBuckets"), (st["Sid"], action)


def test_the_readonly_role_is_denied_data_reads_outside_the_state_and_the_release_record() -> None:
    cfg = load_environment("prod")
    (deny,) = [st for st in _statements(gh.readonly_policies(cfg)["pk-prod-github-readonly"]) if st["Effect"] == "Deny"]
    assert {"s3:GetObject", "secretsmanager:GetSecretValue", "dynamodb:Query", "logs:GetLogEvents",
            "sqs:ReceiveMessage", "athena:GetQueryResults"} <= set(deny["Action"])
    assert f"arn:aws:s3:::{cfg.state.bucket}/{cfg.state.key}*" in deny["NotResource"]
    assert f"arn:aws:ssm:eu-west-1:{cfg.account_id}:parameter/pk-prod/release/*" in deny["NotResource"]
    assert not any(fnmatch.fnmatchcase(f"arn:aws:s3:::pk-prod-landing-{cfg.account_id}/a.csv", r)
                   for r in deny["NotResource"])


def test_no_shared_read_pattern_matches_a_data_plane_read() -> None:
    patterns = gh.READ_ACTIONS
    hits = [(a, p) for a in gh.DATA_READS for p in patterns if fnmatch.fnmatchcase(a, p)]
    assert hits == []


# -- the workload boundary ------------------------------------------------------------------------------

def test_the_boundary_allows_no_iam_change_and_no_role_assumption() -> None:
    cfg = _all_services("prod")
    for st in _allows([gh.boundary_policy(cfg)]):
        for action in _as_list(st["Action"]):
            assert not action.startswith("sts:"), (st["Sid"], action)
            if action.startswith("iam:"):
                assert READ_VERBS.match(action), (st["Sid"], action)


def test_the_boundary_keeps_workloads_out_of_the_state_and_off_the_artifacts() -> None:
    cfg = load_environment("dev")
    denies = {st["Sid"]: st for st in _statements(gh.boundary_policy(cfg)) if st["Effect"] == "Deny"}
    assert f"arn:aws:s3:::{cfg.state.bucket}" in denies["NoTerraformState"]["Resource"]
    assert f"arn:aws:dynamodb:eu-west-1:{cfg.account_id}:table/{cfg.state.dynamodb_table}" in denies["NoTerraformState"]["Resource"]
    assert "s3:Put*" in denies["ArtifactsAreReadOnly"]["Action"]


def test_the_boundary_reaches_no_other_environments_data() -> None:
    dev, a = load_environment("dev"), load_environment("dev").account_id
    docs = [gh.boundary_policy(dev)]
    assert _allowed(docs, "s3:GetObject", f"arn:aws:s3:::pk-dev-clean-{a}/x")
    assert not _allowed(docs, "s3:GetObject", f"arn:aws:s3:::pk-test-clean-{a}/x")
    assert not _allowed(docs, "dynamodb:Scan", f"arn:aws:dynamodb:eu-west-1:{a}:table/pk-test-status")


# -- sizes ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", PROMOTION_ORDER)
def test_every_policy_fits_iams_managed_policy_limit(env: str) -> None:
    for cfg in (load_environment(env), _all_services(env)):
        for name, doc in gh.bundle(cfg).policies.items():
            assert gh.policy_size(doc) <= gh.MANAGED_POLICY_MAX_CHARS, (name, gh.policy_size(doc))


def test_the_deploy_role_holds_at_most_iams_default_ten_managed_policies() -> None:
    b = gh.bundle(_all_services("prod"), source=load_environment("staging"))
    for name, (_, attached) in b.roles.items():
        assert len(attached) <= 10, (name, attached)


def _all_services(env: str):
    cfg = load_environment(env)
    s = cfg.services
    on = {f.name: dataclasses.replace(getattr(s, f.name), enabled=True) for f in dataclasses.fields(s)}
    on["dms"] = dataclasses.replace(on["dms"], source_secret_arn=f"arn:aws:secretsmanager:{cfg.region}:"
                                                                 f"{cfg.account_id}:secret:src-AbCdEf")
    on["streaming"] = dataclasses.replace(on["streaming"], msk_enabled=True)
    return dataclasses.replace(cfg, services=type(s)(**on), network=dataclasses.replace(cfg.network, enabled=True),
                               redshift=dataclasses.replace(cfg.redshift, enabled=True))


# -- the [ci] section ---------------------------------------------------------------------------------

def _write_env(tmp_path: Path, env: str, ci: dict[str, Any] | None) -> Path:
    text = (ENVIRONMENTS_DIR / f"{env}.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^\[ci\]\n.*?(?=^\[|\Z)", "", text)
    if ci is not None:
        text += "\n[ci]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in ci.items())
    path = tmp_path / f"{env}.toml"
    path.write_text(text, encoding="utf-8")
    tomllib.loads(text)
    return path


def test_a_ci_section_loads_typed() -> None:
    ci = load_environment("prod").ci
    assert isinstance(ci, CiConfig) and ci.ref == "refs/heads/main" and ci.owner and ci.repository_name


@pytest.mark.parametrize(("ci", "field", "message"), [
    ({"github_repository": "acme/*"}, "ci.github_repository", "owner/repository on github.com"),
    ({"github_repository": "acme"}, "ci.github_repository", "owner/repository"),
    ({"github_repository": "acme/data", "branch": "release/*"}, "ci.branch", "no wildcards"),
    ({"github_repository": "acme/data", "deploy_workflow": "deploy.yml"}, "ci.deploy_workflow", ".github/workflows/"),
    ({"github_repository": "acme/data", "github_owner_id": 5}, "ci.github_repository_id", "together"),
    ({"github_repository": "acme/data", "drift_workflow": ".github/workflows/deploy.yml"}, "ci.drift_workflow",
     "must differ from deploy_workflow"),
    ({"github_repository": "acme/data", "github_owner_id": 0, "github_repository_id": 1}, "ci.github_owner_id",
     "positive"),
    ({"repository": "acme/data"}, "ci.repository", "unknown key"),
])
def test_a_bad_ci_section_names_the_file_and_the_field(tmp_path: Path, ci: dict[str, Any], field: str,
                                                        message: str) -> None:
    path = _write_env(tmp_path, "staging", ci)
    with pytest.raises(ConfigError) as err:
        load_environment_file(path)
    assert err.value.field == field and message in err.value.problem
    assert str(path) in str(err.value)


def test_local_has_no_ci_section(tmp_path: Path) -> None:
    path = _write_env(tmp_path, "local", {"github_repository": "acme/data"})
    with pytest.raises(ConfigError, match=r"local\.toml: ci: only AWS environments have a \[ci\] section"):
        load_environment_file(path)


def test_an_environment_without_ci_section_loads(tmp_path: Path) -> None:
    assert load_environment_file(_write_env(tmp_path, "dev", None)).ci is None


# -- the shipped files agree with each other ---------------------------------------------------------------

def test_each_stage_lets_the_next_stages_deploy_role_read_its_releases() -> None:
    for previous, stage in zip(PROMOTION_ORDER, PROMOTION_ORDER[1:]):
        assert gh.role_arn(load_environment(stage), gh.DEPLOY) in load_environment(previous).promotion.reader_role_arns


def _jobs_in(workflow_path: str) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / workflow_path).read_text(encoding="utf-8"))["jobs"]


@pytest.mark.parametrize("env", PROMOTION_ORDER)
def test_the_trusted_workflows_run_jobs_in_the_trusted_github_environments(env: str) -> None:
    cfg = load_environment(env)
    deploy_envs = {job.get("environment") for job in _jobs_in(cfg.ci.deploy_workflow).values()}
    assert gh.github_environment(cfg, gh.DEPLOY) in deploy_envs
    (drift_job,) = [job for job in _jobs_in(cfg.ci.drift_workflow).values() if job.get("environment")]
    matrix_envs = drift_job["strategy"]["matrix"]["env"]
    rendered = {drift_job["environment"].replace("${{ matrix.env }}", e) for e in matrix_envs}
    assert gh.github_environment(cfg, gh.READONLY) in rendered


# -- the opt-in GitHub step ----------------------------------------------------------------------------------

class FakeGitHub:
    """GitHub's environments, branch policies and variables, in memory."""

    def __init__(self, environments: dict[str, dict[str, Any]] | None = None) -> None:
        self.envs = environments or {}
        self.calls: list[tuple[str, str]] = []
        self.next_id = 1

    def send(self, req) -> tuple[int, Any]:
        import json
        import urllib.parse

        method, path = req.get_method(), urllib.parse.unquote(req.full_url.removeprefix("https://api.github.com"))
        body = json.loads(req.data) if req.data else None
        self.calls.append((method, path))
        m = re.match(r"^/repos/[^/]+/[^/]+/environments/([^/]+)(/.*)?$", path)
        assert m, path
        name, rest = m.group(1), m.group(2) or ""
        env = self.envs.get(name)
        if rest == "":
            if method == "GET":
                return (404, {"message": "Not Found"}) if env is None else (200, env)
            env = self.envs.setdefault(name, {"name": name, "protection_rules": [], "policies": [], "vars": {}})
            env["deployment_branch_policy"] = body["deployment_branch_policy"]
            if body.get("prevent_self_review"):
                env.setdefault("protection_rules", []).append({"type": "required_reviewers",
                                                               "prevent_self_review": True, "reviewers": []})
            return 200, env
        if rest == "/deployment-branch-policies":
            if method == "GET":
                return 200, {"branch_policies": env["policies"]}
            env["policies"].append({"id": self.next_id, **body})
            self.next_id += 1
            return 200, env["policies"][-1]
        if rest.startswith("/deployment-branch-policies/"):
            env["policies"] = [p for p in env["policies"] if str(p["id"]) != rest.rsplit("/", 1)[1]]
            return 204, None
        if rest == "/variables":
            env["vars"][body["name"]] = body["value"]
            return 201, None
        var = rest.rsplit("/", 1)[1]
        if method == "GET":
            return (404, None) if var not in env["vars"] else (200, {"name": var, "value": env["vars"][var]})
        env["vars"][var] = body["value"]
        return 204, None


def _arns(cfg) -> dict[str, str]:
    return {kind: gh.role_arn(cfg, kind) for kind in gh.KINDS}


def test_configure_github_creates_both_environments_pinned_to_the_branch_with_the_role_variables() -> None:
    from kit.bootstrap import GitHubApi, configure_github

    cfg, fake = load_environment("staging"), FakeGitHub()
    configure_github(GitHubApi("t", send=fake.send), cfg, _arns(cfg))
    assert fake.envs["staging"]["vars"] == {"AWS_DEPLOY_ROLE_ARN": gh.role_arn(cfg, gh.DEPLOY), "AWS_REGION": "eu-west-1"}
    assert fake.envs["staging-readonly"]["vars"]["AWS_READONLY_ROLE_ARN"] == gh.role_arn(cfg, gh.READONLY)
    for env in ("staging", "staging-readonly"):
        assert fake.envs[env]["deployment_branch_policy"] == {"protected_branches": False, "custom_branch_policies": True}
        assert [(p["name"], p["type"]) for p in fake.envs[env]["policies"]] == [("main", "branch")]


def test_configure_github_twice_changes_nothing_the_second_time() -> None:
    from kit.bootstrap import GitHubApi, configure_github

    cfg, fake = load_environment("dev"), FakeGitHub()
    configure_github(GitHubApi("t", send=fake.send), cfg, _arns(cfg))
    assert configure_github(GitHubApi("t", send=fake.send), cfg, _arns(cfg)) == []


def test_configure_github_removes_other_branch_policies_and_fixes_a_wrong_variable() -> None:
    from kit.bootstrap import GitHubApi, configure_github

    cfg = load_environment("test")
    fake = FakeGitHub({"test": {"name": "test", "protection_rules": [], "vars": {"AWS_DEPLOY_ROLE_ARN": "arn:old"},
                                "deployment_branch_policy": None,
                                "policies": [{"id": 90, "name": "feature/*", "type": "branch"}]}})
    changes = configure_github(GitHubApi("t", send=fake.send), cfg, _arns(cfg))
    assert [p["name"] for p in fake.envs["test"]["policies"]] == ["main"]
    assert fake.envs["test"]["vars"]["AWS_DEPLOY_ROLE_ARN"] == gh.role_arn(cfg, gh.DEPLOY)
    assert any("feature/* removed" in c for c in changes) and any("AWS_DEPLOY_ROLE_ARN updated" in c for c in changes)


def test_configure_github_keeps_prods_reviewers_and_prevents_self_review() -> None:
    from kit.bootstrap import GitHubApi, configure_github

    cfg = load_environment("prod")
    sent: list[dict[str, Any]] = []
    fake = FakeGitHub({"prod": {"name": "prod", "vars": {}, "policies": [], "deployment_branch_policy": None,
                                "protection_rules": [{"type": "required_reviewers", "prevent_self_review": False,
                                                      "reviewers": [{"type": "Team", "reviewer": {"id": 7}}]}]}})

    def spy(req):
        import json

        if req.get_method() == "PUT" and req.full_url.endswith("/environments/prod"):
            sent.append(json.loads(req.data))
        return fake.send(req)

    configure_github(GitHubApi("t", send=spy), cfg, _arns(cfg))
    assert sent[0]["reviewers"] == [{"type": "Team", "id": 7}] and sent[0]["prevent_self_review"] is True


def test_configure_github_warns_when_prod_has_no_reviewer(capsys: pytest.CaptureFixture[str]) -> None:
    from kit.bootstrap import GitHubApi, configure_github

    cfg = load_environment("prod")
    configure_github(GitHubApi("t", send=FakeGitHub().send), cfg, _arns(cfg))
    assert "GitHub environment prod has no required reviewers" in capsys.readouterr().err


def test_a_github_api_error_names_the_call() -> None:
    from kit.bootstrap import GitHubApi
    from kit.ui import KitError

    api = GitHubApi("t", send=lambda req: (403, {"message": "Resource not accessible by integration"}))
    with pytest.raises(KitError, match=r"GitHub API PUT /repos/a/b/environments/dev: HTTP 403: Resource not accessible"):
        api("PUT", "/repos/a/b/environments/dev", {})
