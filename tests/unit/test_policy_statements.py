"""A plug-in's role grants exactly what its manifest declares (``modules.functions.policy_statements``).

Manifests are built here (nothing is read from ``lambdas/``); the environment holds every bucket,
topic, table, a few parameters and several stage queues, so an undeclared resource is always there
to be wrongly granted. The rule is stated per kind of resource — declared → granted, undeclared →
never named — not as a copy of every statement, so actions or conditions may be added to a grant
without touching these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import modules  # noqa: F401  -- installs the lazy loader before any AWS binding is imported
from modules.functions import ResourceArns, policy_statements
from modules.plugins import BUCKETS, TABLES, TOPICS, Permissions, PluginManifest, Runtime

ACCOUNT, REGION = "111111111111", "eu-west-1"
STAGES = ("alpha", "beta", "gamma", "delta")
PARAMETERS = ("tokenisation-key", "api-secret", "feature-flags")
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/pk-x-alpha"
ARNS = ResourceArns(
    buckets={b: f"arn:aws:s3:::pk-x-{b}-bucket" for b in BUCKETS},
    topics={t: f"arn:aws:sns:{REGION}:{ACCOUNT}:pk-x-{t}-topic" for t in TOPICS},
    tables={t: f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/pk-x-{t}-table" for t in TABLES},
    parameters={p: f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/pk-x/{p}" for p in PARAMETERS},
    queues={q: f"arn:aws:sqs:{REGION}:{ACCOUNT}:pk-x-{q}-queue" for q in STAGES},
    kms_key=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k",
)

#: (name, consumes, produces, permissions): a spread of what a manifest may declare.
MANIFESTS = [
    ("nothing", ("landing",), (), Permissions()),
    ("reader", ("landing",), ("beta",), Permissions(read_buckets=("landing",), write_buckets=("quarantine",),
                                                     tables=("idempotency",), parameters=("tokenisation-key",))),
    ("mover", ("alpha",), ("gamma", "delta"), Permissions(read_buckets=("landing", "clean"),
                                                          write_buckets=("archive",), delete_buckets=("landing",),
                                                          publish_topics=("pipeline-events",))),
    ("everything", ("alpha",), STAGES[1:], Permissions(read_buckets=BUCKETS, write_buckets=BUCKETS,
                                                       delete_buckets=BUCKETS, publish_topics=TOPICS,
                                                       tables=TABLES, parameters=PARAMETERS)),
]


def manifest(name: str, consumes: tuple[str, ...], produces: tuple[str, ...], perms: Permissions) -> PluginManifest:
    return PluginManifest(name=name, directory=Path("/nowhere") / name, description=name,
                          handler="handler.lambda_handler", consumes=consumes, produces=produces,
                          permissions=perms, runtime=Runtime())


def pairs(m: PluginManifest, *, input_queue: str | None = ARNS.queues["alpha"]) -> set[tuple[str, str]]:
    """Every (action, resource) the statements allow."""
    out = set()
    for s in policy_statements(m, ARNS, input_queue_arn=input_queue, log_group_arn=LOG_GROUP):
        assert s.effect == "Allow" and s.resources, s
        out |= {(a, r) for a in s.actions for r in s.resources}
    return out


def granted(found: set[tuple[str, str]], *actions: str) -> set[str]:
    return {r for a, r in found if a in actions}


def named(found: set[tuple[str, str]], arn: str) -> bool:
    return any(r == arn or r.startswith(arn + "/") for _, r in found)


CASES = pytest.mark.parametrize(("name", "consumes", "produces", "perms"), MANIFESTS, ids=[m[0] for m in MANIFESTS])


@CASES
def test_objects_are_read_written_and_deleted_in_the_declared_buckets_only(name, consumes, produces, perms):
    found = pairs(manifest(name, consumes, produces, perms))
    objects = {b: f"{ARNS.buckets[b]}/*" for b in BUCKETS}
    assert granted(found, "s3:GetObject") == {objects[b] for b in perms.read_buckets}
    assert granted(found, "s3:GetObjectVersion") == {objects[b] for b in perms.read_buckets}
    assert granted(found, "s3:ListBucket") == {ARNS.buckets[b] for b in perms.read_buckets}
    assert granted(found, "s3:PutObject") == {objects[b] for b in perms.write_buckets}
    assert granted(found, "s3:DeleteObject") == {objects[b] for b in perms.delete_buckets}
    assert granted(found, "s3:DeleteObjectVersion") == {objects[b] for b in perms.delete_buckets}  # exact versions


@CASES
def test_an_undeclared_bucket_is_named_by_no_statement(name, consumes, produces, perms):
    found = pairs(manifest(name, consumes, produces, perms))
    declared = {*perms.read_buckets, *perms.write_buckets, *perms.delete_buckets}
    assert {b for b in BUCKETS if named(found, ARNS.buckets[b])} == declared
    assert {r for a, r in found if a.startswith("s3:")} <= {
        x for b in declared for x in (ARNS.buckets[b], f"{ARNS.buckets[b]}/*")
    }


@CASES
def test_topics_tables_and_parameters_are_exactly_the_declared_ones(name, consumes, produces, perms):
    found = pairs(manifest(name, consumes, produces, perms))
    assert {r for a, r in found if a.startswith("sns:")} == {ARNS.topics[t] for t in perms.publish_topics}
    assert granted(found, "sns:Publish") == {ARNS.topics[t] for t in perms.publish_topics}
    assert {r for a, r in found if a.startswith("dynamodb:")} == {
        x for t in perms.tables for x in (ARNS.tables[t], f"{ARNS.tables[t]}/index/*")
    }
    assert granted(found, "dynamodb:GetItem") >= {ARNS.tables[t] for t in perms.tables}
    assert granted(found, "dynamodb:PutItem") >= {ARNS.tables[t] for t in perms.tables}
    assert {r for a, r in found if a.startswith("ssm:")} == {ARNS.parameters[p] for p in perms.parameters}
    assert granted(found, "ssm:GetParameter") == {ARNS.parameters[p] for p in perms.parameters}


@CASES
def test_messages_go_only_to_the_queues_of_produces_stages(name, consumes, produces, perms):
    found = pairs(manifest(name, consumes, produces, perms))
    assert granted(found, "sqs:SendMessage") == {ARNS.queues[q] for q in produces}


@CASES
def test_only_the_input_queue_is_consumed(name, consumes, produces, perms):
    found = pairs(manifest(name, consumes, produces, perms))
    consumed = {r for a, r in found if a.startswith("sqs:") and a != "sqs:SendMessage"}
    assert consumed == {ARNS.queues["alpha"]}


def test_a_plugin_without_input_queue_consumes_none():
    m = manifest("api", ("api",), (), Permissions(tables=("status",)))
    found = pairs(m, input_queue=None)
    assert {r for a, r in found if a.startswith("sqs:")} == set()


@CASES
def test_wildcards_stay_inside_a_named_resource(name, consumes, produces, perms):
    found = pairs(manifest(name, consumes, produces, perms))
    assert [a for a, _ in found if "*" in a] == []
    inside = (f"{LOG_GROUP}:log-stream:*", *(f"{b}/*" for b in ARNS.buckets.values()),
              *(f"{t}/index/*" for t in ARNS.tables.values()))
    assert {r for _, r in found if "*" in r} <= set(inside)


# -- the environment key: only through the services that encrypt what the plug-in touches --------

KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def key_statements(m: PluginManifest, *, input_queue: str | None = ARNS.queues["alpha"],
                   arns: ResourceArns = ARNS) -> list:
    return [s for s in policy_statements(m, arns, input_queue_arn=input_queue, log_group_arn=LOG_GROUP)
            if arns.kms_key in s.resources]


def via(statement) -> set[str]:
    (operator,) = statement.conditions
    assert operator == "StringEquals"
    values = statement.conditions[operator]["kms:ViaService"]
    return {values} if isinstance(values, str) else set(values)


@CASES
def test_the_key_is_used_only_through_aws_services_of_the_region(name, consumes, produces, perms):
    (statement,) = key_statements(manifest(name, consumes, produces, perms))
    assert set(statement.actions) == set(KEY_ACTIONS)
    assert statement.resources == [ARNS.kms_key]
    assert via(statement) and all(v.endswith(f".{REGION}.amazonaws.com") for v in via(statement))


@pytest.mark.parametrize(("perms", "produces", "services"), [
    (Permissions(read_buckets=("landing",)), (), {"s3", "sqs"}),
    (Permissions(write_buckets=("clean",)), (), {"s3", "sqs"}),
    (Permissions(publish_topics=("pipeline-events",)), (), {"sns", "sqs"}),
    (Permissions(tables=("status",)), (), {"dynamodb", "sqs"}),
    (Permissions(parameters=("tokenisation-key",)), (), {"ssm", "sqs"}),
    (Permissions(), ("beta",), {"sqs"}),
    (Permissions(delete_buckets=("landing",)), (), {"sqs"}),  # deleting an object needs no key
], ids=["read", "write", "publish", "tables", "parameters", "produces", "delete-only"])
def test_each_declaration_adds_the_service_that_encrypts_for_it(perms, produces, services):
    (statement,) = key_statements(manifest("p", ("alpha",), produces, perms))
    assert via(statement) == {f"{s}.{REGION}.amazonaws.com" for s in services}


def test_a_plugin_that_touches_nothing_encrypted_gets_no_key():
    assert key_statements(manifest("api", ("api",), (), Permissions()), input_queue=None) == []


def test_the_region_of_the_key_services_may_be_given_apart_from_the_key_arn():
    import dataclasses

    arns = dataclasses.replace(ARNS, kms_key="${aws_kms_key.key.arn}", region="us-east-2")
    (statement,) = key_statements(manifest("p", ("alpha",), (), Permissions()), arns=arns)
    assert via(statement) == {"sqs.us-east-2.amazonaws.com"}


def test_a_key_reference_without_a_region_is_refused():
    import dataclasses

    arns = dataclasses.replace(ARNS, kms_key="${aws_kms_key.key.arn}")
    with pytest.raises(ValueError, match=r"ResourceArns.region is required when kms_key is not a literal KMS key ARN"):
        key_statements(manifest("p", ("alpha",), (), Permissions()), arns=arns)


# -- tracing and the VPC attachment (the function role's statements beyond the manifest) --------

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pk-x-alpha"
VPC_ID = "vpc-0abc"


def _no_resource_level() -> frozenset[str]:
    from kit.policy_scan import NO_RESOURCE_LEVEL_ACTIONS

    return frozenset(NO_RESOURCE_LEVEL_ACTIONS)


def test_tracing_is_xrays_star_only_actions_alone_in_their_statement():
    from modules.functions import tracing_statements

    (statement,) = tracing_statements()
    assert statement.effect == "Allow" and list(statement.resources) == ["*"]
    assert set(statement.actions) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                                      "xray:GetSamplingTargets"}
    assert set(statement.actions) <= _no_resource_level()


def _network_statements():
    from modules.functions import network_interface_statements

    return {s.sid: s for s in network_interface_statements(function_arn=FUNCTION_ARN, vpc_id=VPC_ID, region=REGION,
                                                           account_id=ACCOUNT)}


def test_lambda_may_manage_network_interfaces_of_this_account_and_region_in_the_vpc_only():
    allowed = [s for s in _network_statements().values() if s.effect == "Allow" and "*" not in s.resources]
    (statement,) = allowed
    assert set(statement.actions) == {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                                      "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"}
    assert all(r.startswith(f"arn:aws:ec2:{REGION}:{ACCOUNT}:") and r.endswith("/*") for r in statement.resources)
    assert statement.conditions == {"ArnEqualsIfExists": {"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC_ID}"}}


def test_only_the_describe_actions_that_accept_star_alone_are_granted_on_star():
    starred = [s for s in _network_statements().values() if s.effect == "Allow" and "*" in s.resources]
    (statement,) = starred
    assert list(statement.resources) == ["*"]
    assert set(statement.actions) == {"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"}
    assert set(statement.actions) <= _no_resource_level()


def test_the_functions_own_code_may_use_none_of_the_network_permissions():
    statements = _network_statements().values()
    (deny,) = [s for s in statements if s.effect == "Deny"]
    granted = {a for s in statements if s.effect == "Allow" for a in s.actions}
    assert set(deny.actions) == granted
    assert deny.conditions == {"ArnEquals": {"lambda:SourceFunctionArn": FUNCTION_ARN}}


# -- the interface endpoints a plug-in's function calls from the private subnets ---------------


@pytest.mark.parametrize(("perms", "produces", "batch", "endpoints"), [
    (Permissions(read_buckets=("landing",), write_buckets=("clean",), tables=("status",)), (), True, set()),
    (Permissions(), ("beta",), False, {"sqs"}),
    (Permissions(publish_topics=("pipeline-events",)), (), False, {"sns"}),
    (Permissions(parameters=("tokenisation-key",)), (), False, {"ssm"}),
    (Permissions(athena=True), (), False, {"athena"}),
], ids=["gateways-only", "produces", "publishes", "parameters", "athena"])
def test_a_plugin_calls_the_endpoints_of_what_it_declares(perms, produces, batch, endpoints):
    from modules.functions import interface_services_for

    assert set(interface_services_for(manifest("p", ("alpha",), produces, perms), batch_enabled=batch)) == endpoints


@pytest.mark.parametrize(("runtime_batch", "enabled", "expected"), [(True, True, ["batch"]), (True, False, []),
                                                                    (False, True, [])])
def test_a_batch_capable_plugin_calls_batch_only_where_batch_is_on(runtime_batch, enabled, expected):
    from modules.functions import interface_services_for

    m = PluginManifest(name="big", directory=Path("/nowhere/big"), description="big",
                       handler="handler.lambda_handler", consumes=("alpha",), produces=(), permissions=Permissions(),
                       runtime=Runtime(batch=runtime_batch))
    assert interface_services_for(m, batch_enabled=enabled) == expected
