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
