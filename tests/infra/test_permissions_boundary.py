"""Every role of an AWS environment's stack carries the workload boundary the GitHub deploy role
is bound to (issue 13: the deploy role may create or change a role only with it), and the
boundary lets through what the stack's own role policies grant (else a workload would fail at
run time): checked action by action, and resource by resource where the policy names one."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest

from environments import PROMOTION_ORDER, load_environment
from kit import github_oidc as gh

TOKEN = re.compile(r"\$\{[^}]+\}")


@pytest.fixture(scope="module")
def prod_with_every_service(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    from test_services_stack import all_services_on

    import main

    cfg = all_services_on()
    root = tmp_path_factory.mktemp("boundary")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIPELINE_KIT_WORKDIR", str(root))
        workdir = main.synth([cfg], outdir=root / "cdktf.out")["prod"]
    return cfg, json.loads((Path(workdir) / "cdk.tf.json").read_text(encoding="utf-8"))


def _roles(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return doc["resource"].get("aws_iam_role", {})


@pytest.mark.parametrize("env", PROMOTION_ORDER)
def test_every_role_of_an_aws_environment_carries_the_workload_boundary(stacks, env: str) -> None:
    expected = gh.boundary_arn(load_environment(env))
    roles = _roles(stacks[env])
    assert roles
    assert {rid: r.get("permissions_boundary") for rid, r in roles.items()} == {rid: expected for rid in roles}


def test_local_roles_carry_no_boundary(stacks) -> None:
    assert all("permissions_boundary" not in r for r in _roles(stacks["local"]).values())


def test_every_role_with_every_service_on_carries_the_boundary(prod_with_every_service) -> None:
    cfg, doc = prod_with_every_service
    assert {r.get("permissions_boundary") for r in _roles(doc).values()} == {gh.boundary_arn(cfg)}


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _granted(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(role policy, action, resource) of every Allow of the stack's inline role policies; a
    resource built from a Terraform reference becomes a pattern (``${...}`` → ``*``)."""
    out = []
    for rid, body in doc["resource"].get("aws_iam_role_policy", {}).items():
        for st in json.loads(body["policy"])["Statement"]:
            if st["Effect"] != "Allow":
                continue
            for action in _as_list(st["Action"]):
                for resource in _as_list(st.get("Resource", "*")):
                    out.append((rid, action, TOKEN.sub("*", resource)))
    return out


def _boundary_allows(boundary: dict[str, Any], action: str, resource: str) -> bool:
    """Does a boundary Allow match the action, and (when the grant names an ARN) some resource
    the grant names? A grant made only of references (``*``) is checked by action alone."""
    for st in boundary["Statement"]:
        if st["Effect"] != "Allow" or not any(fnmatch.fnmatchcase(action, a) for a in _as_list(st["Action"])):
            continue
        patterns = _as_list(st["Resource"])
        if not resource.startswith("arn:") or "*" in patterns:
            return True
        if any(fnmatch.fnmatchcase(resource.replace("*", "x"), p) for p in patterns):
            return True
    return False


def _uncovered(cfg, doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    boundary = gh.boundary_policy(cfg)
    return [g for g in _granted(doc) if not _boundary_allows(boundary, g[1], g[2])]


@pytest.mark.parametrize("env", PROMOTION_ORDER)
def test_the_boundary_lets_through_what_the_stacks_role_policies_grant(stacks, env: str) -> None:
    assert _uncovered(load_environment(env), stacks[env]) == []


def test_the_boundary_lets_through_every_optional_services_role_policies(prod_with_every_service) -> None:
    cfg, doc = prod_with_every_service
    assert _uncovered(cfg, doc) == []


def test_the_coverage_check_catches_a_grant_the_boundary_does_not_allow(stacks) -> None:
    cfg = load_environment("dev")
    doc = json.loads(json.dumps(stacks["dev"]))
    rid, body = next(iter(doc["resource"]["aws_iam_role_policy"].items()))
    policy = json.loads(body["policy"])
    policy["Statement"].append({"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*"})
    policy["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject",
                                "Resource": f"arn:aws:s3:::pk-test-clean-{cfg.account_id}/*"})
    body["policy"] = json.dumps(policy)
    assert [(a, r) for _, a, r in _uncovered(cfg, doc)] == [
        ("iam:CreateUser", "*"), ("s3:GetObject", f"arn:aws:s3:::pk-test-clean-{cfg.account_id}/*")]


def test_a_rehearsal_on_the_emulator_keeps_the_boundary_with_the_emulators_account() -> None:
    cfg = load_environment("dev").rehearsal(port=4566)
    assert dataclasses.asdict(cfg.ci) == dataclasses.asdict(load_environment("dev").ci)
    assert gh.boundary_arn(cfg) == "arn:aws:iam::123456789012:policy/pk-dev-workload-boundary"
