"""``make bootstrap`` on in-process moto (issue 13): the GitHub OIDC provider and an environment's
deploy and read-only roles are created with exactly the documents of ``kit/github_oidc.py``; a
rerun changes nothing and says so; a rerun after someone changed a role by hand brings it back
and says what it changed; dev and test share their account's provider."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse

import pytest
from moto import mock_aws

from environments import load_environment
from kit import github_oidc as gh

ACCOUNT = "111111111111"  # dev and test (environments/dev.toml, test.toml)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch):
    """A fresh mocked account 111111111111 with AWS's managed policies (the API Gateway logging
    role attaches one)."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    with mock_aws():
        import boto3

        yield boto3.client("iam", region_name="eu-west-1")


def _bootstrap(cfg) -> None:
    from kit.bootstrap import bootstrap
    from kit.deploy import Target

    assert bootstrap(Target(cfg)) == 0


def _doc(value) -> dict:
    return json.loads(urllib.parse.unquote(value)) if isinstance(value, str) else value


def _policy_doc(iam, arn: str) -> dict:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return _doc(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])


def _attached(iam, role: str) -> set[str]:
    return {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}


def test_bootstrap_creates_the_provider_and_the_roles_the_code_describes(account) -> None:
    iam, cfg = account, load_environment("dev")
    _bootstrap(cfg)
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=gh.provider_arn(cfg))
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    expected = gh.bundle(cfg)
    for name, doc in expected.policies.items():
        assert _policy_doc(iam, gh.Scope.of(cfg).policy(name)) == doc, name
    for name, (trust, attached) in expected.roles.items():
        assert _doc(iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]) == trust
        assert _attached(iam, name) == set(attached)


def test_a_second_bootstrap_changes_nothing_and_says_so(account, capsys: pytest.CaptureFixture[str]) -> None:
    iam, cfg = account, load_environment("dev")
    _bootstrap(cfg)
    versions = {p["PolicyName"]: p["DefaultVersionId"] for p in iam.list_policies(Scope="Local")["Policies"]}
    capsys.readouterr()
    _bootstrap(cfg)
    assert "GitHub OIDC for dev: no changes (matches the code)" in capsys.readouterr().out
    assert {p["PolicyName"]: p["DefaultVersionId"] for p in iam.list_policies(Scope="Local")["Policies"]} == versions


def test_dev_and_test_share_their_accounts_one_provider(account) -> None:
    iam = account
    _bootstrap(load_environment("dev"))
    _bootstrap(load_environment("test"))
    assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1
    assert {"pk-dev-github-deploy", "pk-test-github-deploy"} <= {r["RoleName"] for r in iam.list_roles()["Roles"]}


def test_a_rerun_undoes_changes_made_by_hand_and_says_what_it_changed(account, capsys: pytest.CaptureFixture[str]) -> None:
    iam, cfg = account, load_environment("dev")
    _bootstrap(cfg)
    role = gh.role_name(cfg, gh.DEPLOY)
    loose = gh.trust_policy(cfg, gh.DEPLOY)
    loose["Statement"][0]["Condition"] = {"StringLike": {f"{gh.OIDC_HOST}:sub": "repo:your-org/*"}}
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(loose))
    extra = iam.create_policy(PolicyName="hand-made", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn=extra)
    iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}))
    core = gh.Scope.of(cfg).policy("pk-dev-github-deploy-core")
    iam.create_policy_version(PolicyArn=core, SetAsDefault=True, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
    capsys.readouterr()

    _bootstrap(cfg)

    out = capsys.readouterr().out
    assert _doc(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]) == gh.trust_policy(cfg, gh.DEPLOY)
    assert _attached(iam, role) == set(gh.bundle(cfg).roles[role][1])
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    assert _policy_doc(iam, core) == gh.bundle(cfg).policies["pk-dev-github-deploy-core"]
    for said in ("trust policy set back to the code's", f"detached {extra} (not in the code)",
                 "deleted inline policy inline", "policy pk-dev-github-deploy-core: updated"):
        assert said in out, said


def test_a_policy_updated_many_times_keeps_within_iams_five_versions(account) -> None:
    from kit.bootstrap import MAX_POLICY_VERSIONS, _ensure_policy

    iam, cfg = account, load_environment("dev")
    arn = gh.Scope.of(cfg).policy("pk-dev-github-probe")
    for i in range(MAX_POLICY_VERSIONS + 3):
        doc = {"Version": "2012-10-17", "Statement": [{"Sid": f"V{i}", "Effect": "Allow", "Action": "s3:ListBucket",
                                                       "Resource": f"arn:aws:s3:::pk-dev-{i}"}]}
        _ensure_policy(iam, arn, "pk-dev-github-probe", doc, cfg)
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == MAX_POLICY_VERSIONS
    assert _policy_doc(iam, arn)["Statement"][0]["Sid"] == f"V{MAX_POLICY_VERSIONS + 2}"


def test_switching_a_service_off_removes_its_policy(account, capsys: pytest.CaptureFixture[str]) -> None:
    iam, dev = account, load_environment("dev")
    with_cache = dataclasses.replace(dev, services=dataclasses.replace(
        dev.services, elasticache=dataclasses.replace(dev.services.elasticache, enabled=True)))
    _bootstrap(with_cache)
    role = gh.role_name(dev, gh.DEPLOY)
    assert "pk-dev-github-deploy-services" in _attached(iam, role)
    capsys.readouterr()
    _bootstrap(dev)
    assert "pk-dev-github-deploy-services" not in _attached(iam, role)
    assert "pk-dev-github-deploy-services" not in {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
    assert "policy pk-dev-github-deploy-services: deleted (no longer needed)" in capsys.readouterr().out


def test_make_bootstrap_prints_the_github_settings_to_make(account, capsys: pytest.CaptureFixture[str]) -> None:
    from kit.cli import main

    assert main(["bootstrap", "--env", "test"]) == 0
    out = capsys.readouterr().out
    assert f"variable AWS_DEPLOY_ROLE_ARN = arn:aws:iam::{ACCOUNT}:role/pk-test-github-deploy" in out
    assert f"variable AWS_READONLY_ROLE_ARN = arn:aws:iam::{ACCOUNT}:role/pk-test-github-readonly" in out
    assert "environment `test-readonly`:" in out and "selected branches → only `main`" in out


def test_an_environment_without_ci_gets_no_roles(account, capsys: pytest.CaptureFixture[str]) -> None:
    iam = account
    _bootstrap(dataclasses.replace(load_environment("dev"), ci=None))
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert "has no [ci] section" in capsys.readouterr().out


def test_a_next_stage_role_that_does_not_exist_yet_is_named_with_the_order_to_follow(
        account, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    import kit.release
    from kit.ui import KitError

    real = kit.release.secure_bucket

    def refuse_readers(s3, bucket, *, deny_insecure_transport, readers=()):
        if readers:  # what S3 answers for a principal that does not exist (moto does not check)
            raise ClientError({"Error": {"Code": "MalformedPolicy", "Message": "Invalid principal in policy"}},
                              "PutBucketPolicy")
        return real(s3, bucket, deny_insecure_transport=deny_insecure_transport)

    monkeypatch.setattr(kit.release, "secure_bucket", refuse_readers)
    with pytest.raises(KitError, match=r"pk-test-github-deploy exist\? Bootstrap the next stage first "
                                       r"\(the stages from the last back: prod, staging, test, dev\)"):
        _bootstrap(load_environment("dev"))
