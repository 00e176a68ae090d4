"""``PluginStage`` builds one plug-in from its manifest and a frozen ``PipelineRefs`` alone (no
``PipelineStack``), its resources directly under the scope it is given (their addresses)."""

from __future__ import annotations

import json
from pathlib import Path

from cdktf import TerraformStack
from cdktf import Testing as CdkTesting  # aliased: pytest would try to collect "Testing"
from synth_helpers import resources

import modules  # noqa: F401  -- first: installs the lazy loader for the AWS bindings
from environments import load_environment
from modules.functions import FunctionCode
from modules.plugins import load_manifest
from modules.services import BucketRef, TableRef
from modules.stage import PipelineRefs, PluginStage, QueueRef

TOPIC = "arn:aws:sns:eu-west-1:111111111111:pk-dev-pipeline-events"
TARGET_URL = "https://sqs.eu-west-1.amazonaws.com/111111111111/pk-dev-sink"


def _refs() -> PipelineRefs:
    arn = "arn:aws:s3:::{}"
    return PipelineRefs(
        kms_key_arn="arn:aws:kms:eu-west-1:111111111111:key/k",
        buckets={b: BucketRef(name=f"pk-dev-{b}", arn=arn.format(f"pk-dev-{b}"), id=f"pk-dev-{b}")
                 for b in ("landing", "clean")},
        topics={"pipeline-events": TOPIC, "alarms": "arn:aws:sns:eu-west-1:111111111111:pk-dev-alarms"},
        tables={t: TableRef(name=f"pk-dev-{t}", arn=f"arn:aws:dynamodb:eu-west-1:111111111111:table/pk-dev-{t}")
                for t in ("status", "idempotency")},
        stage_queues={n: QueueRef(name=f"pk-dev-{n}", arn=f"arn:aws:sqs:eu-west-1:111111111111:pk-dev-{n}",
                                  url=f"https://sqs.eu-west-1.amazonaws.com/111111111111/pk-dev-{n}",
                                  dlq_name=f"pk-dev-{n}-dlq",
                                  dlq_url=f"https://sqs.eu-west-1.amazonaws.com/111111111111/pk-dev-{n}-dlq")
                      for n in ("watcher", "sink")},
        athena_workgroup_name="pk-dev-analytics",
        athena_workgroup_arn="arn:aws:athena:eu-west-1:111111111111:workgroup/pk-dev-analytics",
        glue_clean_database="pk_dev_clean", glue_clean_database_name="pk_dev_clean",
        metrics_namespace="PipelineKit/pk-dev", layer_arn="arn:aws:lambda:eu-west-1:111111111111:layer:p:1",
    )


def _synth(tmp_path: Path, *, code: FunctionCode | None, name: str = "watcher", source: str = "pipeline-events",
           datasets: tuple[str, ...] = ()) -> dict:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "manifest.toml").write_text(f'[plugin]\ndescription = "d"\n[consumes]\nsource = "{source}"\n'
                                          '[produces]\nstages = ["sink"]\n')
    app = CdkTesting.app()
    stack = TerraformStack(app, "under-test")
    stage = PluginStage(stack, manifest=load_manifest(folder), config=load_environment("dev"), refs=_refs(), code=code)
    stage.rejected_rows_alarms(datasets, period_seconds=300, evaluation_periods=1)
    return json.loads(CdkTesting.synth(stack))


def test_a_stage_subscribes_its_queue_from_the_refs_under_the_scope_it_is_given(tmp_path: Path) -> None:
    doc = _synth(tmp_path, code=None)
    [(lid, subscription)] = resources(doc, "aws_sns_topic_subscription").items()
    assert (subscription["topic_arn"], subscription["endpoint"], lid.split("_")[0]) == (
        TOPIC, "arn:aws:sqs:eu-west-1:111111111111:pk-dev-watcher", "events-to-watcher")


def test_a_stage_function_sends_to_the_queue_the_refs_name_for_its_target(tmp_path: Path) -> None:
    doc = _synth(tmp_path, code=FunctionCode(sha256_b64="aGFzaA==", s3_bucket="artifacts", s3_key="watcher.zip"))
    [function] = resources(doc, "aws_lambda_function").values()
    assert function["environment"]["variables"]["PIPELINE_QUEUE_SINK"] == TARGET_URL


def test_a_stage_without_code_has_its_log_group_and_no_function(tmp_path: Path) -> None:
    doc = _synth(tmp_path, code=None)
    assert ([g["name"] for g in resources(doc, "aws_cloudwatch_log_group").values()],
            resources(doc, "aws_lambda_function")) == (["/aws/lambda/pk-dev-watcher"], {})


def test_the_plug_in_consuming_landing_gets_a_rejected_rows_alarm_per_dataset_whatever_its_name(tmp_path: Path) -> None:
    doc = _synth(tmp_path, code=None, name="gatekeeper", source="landing", datasets=("sensor-a", "sensor_b"))
    alarms = {a["alarm_name"]: a for a in resources(doc, "aws_cloudwatch_metric_alarm").values()
              if a["alarm_name"].endswith("rejected-rows")}
    assert sorted(alarms) == ["pk-dev-sensor-a-rejected-rows", "pk-dev-sensor_b-rejected-rows"]
    assert {a["dimensions"]["service"] for a in alarms.values()} == {"gatekeeper"}
    assert {tuple(a["alarm_actions"]) for a in alarms.values()} == {("arn:aws:sns:eu-west-1:111111111111:pk-dev-alarms",)}


def test_a_plug_in_not_consuming_landing_gets_no_rejected_rows_alarm(tmp_path: Path) -> None:
    doc = _synth(tmp_path, code=None, datasets=("sensor-a",))
    assert [a["alarm_name"] for a in resources(doc, "aws_cloudwatch_metric_alarm").values()
            if a["alarm_name"].endswith("rejected-rows")] == []
