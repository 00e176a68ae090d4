"""IAM for Batch routing: a batch-capable plug-in (manifest ``runtime.batch``) may submit jobs to
exactly the environment's job queue and its own job definition, when ``ResourceArns.batch`` is
given; nothing otherwise. The pure ``policy_statements`` is checked directly, and once through a
synthesized ``PluginFunction`` role policy."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import modules  # noqa: F401  -- installs the lazy loader before any AWS binding is imported
from modules.functions import (
    AlarmSettings,
    BatchRefs,
    FunctionCode,
    PluginFunction,
    QueueRefs,
    ResourceArns,
    policy_statements,
)
from modules.plugins import load_manifest
from modules.policy import policy_json

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111111111111"
REGION = "eu-west-1"
QUEUE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/pk-x-batch"
DEF_ARNS = {p: f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/pk-x-{p}-batch" for p in ("validate", "cleanse")}
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/pk-x-validate"


def arns(batch: BatchRefs | None) -> ResourceArns:
    return ResourceArns(
        buckets={b: f"arn:aws:s3:::pk-x-{b}" for b in ("landing", "clean", "quarantine", "archive")},
        topics={"pipeline-events": f"arn:aws:sns:{REGION}:{ACCOUNT}:pk-x-pipeline-events"},
        tables={t: f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/pk-x-{t}" for t in ("status", "idempotency")},
        parameters={"tokenisation-key": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/pk-x/tokenisation-key"},
        queues={q: f"arn:aws:sqs:{REGION}:{ACCOUNT}:pk-x-{q}" for q in ("validate", "cleanse", "archive", "notify")},
        kms_key=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k",
        batch=batch,
    )


REFS = BatchRefs(job_queue_arn=QUEUE_ARN, job_definition_arns=DEF_ARNS)


def manifest(plugin: str, *, batch: bool | None = None):
    m = load_manifest(ROOT / "lambdas" / plugin)
    if batch is not None:
        m = dataclasses.replace(m, runtime=dataclasses.replace(m.runtime, batch=batch))
    return m


def statements(plugin: str, refs: BatchRefs | None, *, batch: bool | None = None) -> dict[str, dict[str, Any]]:
    doc = json.loads(policy_json(policy_statements(manifest(plugin, batch=batch), arns(refs),
                                                   input_queue_arn=arns(refs).queues[plugin], log_group_arn=LOG_GROUP)))
    return {s["Sid"]: s for s in doc["Statement"]}


@pytest.mark.parametrize("plugin", ["validate", "cleanse"])
def test_batch_capable_plugin_may_submit_to_the_queue_and_its_own_definition_only(plugin):
    statement = statements(plugin, REFS)["SubmitBatchJobs"]
    assert statement == {"Sid": "SubmitBatchJobs", "Effect": "Allow", "Action": "batch:SubmitJob",
                         "Resource": [QUEUE_ARN, DEF_ARNS[plugin], f"{DEF_ARNS[plugin]}:*"]}


def test_no_batch_refs_means_no_batch_statement():
    assert not [s for s in statements("validate", None).values() if "batch:" in json.dumps(s["Action"])]


def test_a_plugin_that_is_not_batch_capable_gets_no_batch_statement_even_with_refs():
    assert not [s for s in statements("archive", REFS).values() if "batch:" in json.dumps(s["Action"])]


def test_the_shipped_manifests_mark_validate_and_cleanse_batch_capable_only():
    from modules.plugins import discover_plugins

    assert sorted(m.name for m in discover_plugins() if m.runtime.batch) == ["cleanse", "validate"]


def test_a_batch_capable_plugin_without_its_definition_is_refused():
    refs = BatchRefs(job_queue_arn=QUEUE_ARN, job_definition_arns={"validate": DEF_ARNS["validate"]})
    with pytest.raises(ValueError, match="plug-in cleanse is batch-capable .runtime.batch., but BatchRefs has no job "
                                         "definition for it"):
        statements("cleanse", refs)


def test_a_definition_arn_with_its_revision_is_refused():
    refs = BatchRefs(job_queue_arn=QUEUE_ARN, job_definition_arns={"validate": DEF_ARNS["validate"] + ":3"})
    with pytest.raises(ValueError, match=r"must be the ARN without its revision .the job definition's arn_prefix., "
                                         r"got 'arn:aws:batch:.*pk-x-validate-batch:3'"):
        statements("validate", refs)


def test_the_synthesized_role_policy_holds_the_submit_statement():
    from cdktf import TerraformStack
    from cdktf import Testing as CdkTesting

    app = CdkTesting.app()
    stack = TerraformStack(app, "under-test")
    PluginFunction(
        stack, "validate", name="pk-x-validate", manifest=manifest("validate"),
        code=FunctionCode(sha256_b64="c2hh", filename="validate.zip"), architecture="arm64", memory_mb=512,
        timeout_seconds=120, layers=[], log_group_name="/aws/lambda/pk-x-validate", log_group_arn=LOG_GROUP,
        input_queue=QueueRefs(arn=arns(REFS).queues["validate"], name="pk-x-validate", dlq_name="pk-x-validate-dlq"),
        arns=arns(REFS), environment={}, alarms=AlarmSettings(topic_arn="arn:aws:sns:r:a:t", errors_threshold=1,
                                                               throttles_threshold=1, dlq_depth_threshold=1,
                                                               oldest_message_age_seconds=600),
    )
    doc = json.loads(CdkTesting.synth(stack))
    (policy,) = doc["resource"]["aws_iam_role_policy"].values()
    submit = [s for s in json.loads(policy["policy"])["Statement"] if s["Sid"] == "SubmitBatchJobs"]
    assert submit == [{"Sid": "SubmitBatchJobs", "Effect": "Allow", "Action": "batch:SubmitJob",
                       "Resource": [QUEUE_ARN, DEF_ARNS["validate"], f"{DEF_ARNS['validate']}:*"]}]
