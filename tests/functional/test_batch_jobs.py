"""Batch routing on moto: validate and cleanse hand an object above the threshold to AWS Batch
(one SubmitJob carrying the unit of work), and the job entrypoint (``pipeline_shared.batch_job``)
run on that payload writes exactly what the Lambda path writes for the same file.

moto's Batch runs with ``use_docker`` off (as on the emulator): SubmitJob is recorded, nothing runs;
the tests run the entrypoint themselves on the submitted parameters, with the job's environment
(the function's minus the routing variables, plus ``PIPELINE_RUNS_ON=batch``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lambda_events import sqs_event
from pipeline_shared import batch as routing
from pipeline_shared import batch_job
from pipeline_shared.wiring.messages import StageMessage

from kit.runner import large_sample

OK = {"batchItemFailures": []}
THRESHOLD = 65536


@pytest.fixture
def batch(aws, monkeypatch):
    """A Batch job queue and one job definition per batch-capable plug-in in the mocked account;
    returns ``route(plugin)``, which sets that function's routing variables."""
    from moto.core.config import default_user_config

    monkeypatch.setitem(default_user_config["batch"], "use_docker", False)
    ec2, iam, client = aws.client("ec2"), aws.client("iam"), aws.client("batch")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="pk-test-batch", Description="batch", VpcId=vpc)["GroupId"]
    role = iam.create_role(RoleName="pk-test-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = client.create_compute_environment(
        computeEnvironmentName="pk-test-batch", type="MANAGED", state="ENABLED", serviceRole=role,
        computeResources={"type": "FARGATE", "maxvCpus": 4, "subnets": [subnet], "securityGroupIds": [group]},
    )["computeEnvironmentArn"]
    queue = client.create_job_queue(jobQueueName="pk-test-batch", state="ENABLED", priority=1,
                                    computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    definitions = {
        plugin: client.register_job_definition(
            jobDefinitionName=f"pk-test-{plugin}-batch", type="container", platformCapabilities=["FARGATE"],
            containerProperties={
                "image": "pipeline:test",
                "command": ["python", "-m", "pipeline_shared.batch_job", "--plugin", plugin, "--payload", "Ref::payload"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
                "executionRoleArn": role,
            },
        )["jobDefinitionArn"]
        for plugin in ("validate", "cleanse")
    }

    def route(plugin: str, above: int = THRESHOLD) -> None:
        monkeypatch.setenv(routing.JOB_QUEUE_VAR, queue)
        monkeypatch.setenv(routing.JOB_DEFINITION_VAR, definitions[plugin])
        monkeypatch.setenv(routing.ROUTE_ABOVE_VAR, str(above))

    route.queue, route.definitions = queue, definitions  # type: ignore[attr-defined]
    return route


def jobs(aws, queue: str) -> list[dict[str, Any]]:
    ids = [j["jobId"] for j in aws.client("batch").list_jobs(jobQueue=queue)["jobSummaryList"]]
    return aws.client("batch").describe_jobs(jobs=ids)["jobs"] if ids else []


def run_job(job: dict[str, Any], module, monkeypatch) -> int:
    """The job as Batch would run it: its command with ``Ref::payload`` substituted, the job's
    environment (no routing variables, ``PIPELINE_RUNS_ON=batch``)."""
    for name in routing.ROUTING_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(routing.RUNS_ON_VAR, "batch")
    monkeypatch.setenv("AWS_BATCH_JOB_ID", job["jobId"])
    command = [job["parameters"].get(c[5:], c) if c.startswith("Ref::") else c for c in job["container"]["command"]]
    assert command[:3] == ["python", "-m", "pipeline_shared.batch_job"]
    return batch_job.main(command[3:], handler_module=module)


def lambda_path(monkeypatch) -> None:
    """Routing off, and the idempotency table emptied, as if the object had come in small."""
    for name in (*routing.ROUTING_VARS, routing.RUNS_ON_VAR):
        monkeypatch.delenv(name, raising=False)


def forget_idempotency(aws) -> None:
    ddb = aws.client("dynamodb")
    for item in ddb.scan(TableName=aws.tables["idempotency"])["Items"]:
        ddb.delete_item(TableName=aws.tables["idempotency"], Key={"id": item["id"]})


def large_orders(bad_rows: int = 0) -> bytes:
    body = large_sample(THRESHOLD + 4096)
    bad = b"".join(f"ORD-9{n:05d},C00001,not-an-email,2024-06-01,1.00,EUR,paid,true\n".encode() for n in range(bad_rows))
    return body + bad


def quarantine_outputs(aws) -> dict[str, Any]:
    """Every quarantine object (reports without their ``generated_at``), then removed."""
    out: dict[str, Any] = {}
    s3 = aws.client("s3")
    for key in aws.keys("quarantine"):
        body = aws.get("quarantine", key)
        if key.endswith(".json"):
            doc = json.loads(body)
            doc.pop("generated_at", None)
            out[key] = doc
        else:
            out[key] = body
        s3.delete_object(Bucket=aws.buckets["quarantine"], Key=key)
    return out


def clean_outputs(aws) -> dict[str, tuple[bytes, dict[str, str]]]:
    s3 = aws.client("s3")
    out = {}
    for key in aws.keys("clean"):
        got = s3.get_object(Bucket=aws.buckets["clean"], Key=key)
        out[key] = (got["Body"].read(), got["Metadata"])
        s3.delete_object(Bucket=aws.buckets["clean"], Key=key)
    return out


# -- validate ---------------------------------------------------------------------------------


def test_a_large_object_is_routed_as_exactly_one_job_carrying_the_landed_object(
        aws, land, validate, context, batch, capsys):
    batch("validate")
    body = land("orders/2024/large.csv", large_orders())
    assert validate.lambda_handler(sqs_event([body]), context) == OK
    (job,) = jobs(aws, batch.queue)
    landed = validate.core.parse_notification(body)[0]
    assert job["jobName"] == f"validate-{landed.file_id}"
    assert job["jobDefinition"] == batch.definitions["validate"]
    assert json.loads(job["parameters"]["payload"]) == landed.to_dict()
    assert aws.bodies("cleanse") == [] and aws.bodies("notify") == [] and aws.keys("quarantine") == []
    assert '"FilesRoutedToBatch"' in capsys.readouterr().out


def test_an_object_at_the_threshold_is_validated_in_lambda(aws, land, validate, context, batch):
    batch("validate", above=len(large_orders()))
    validate.lambda_handler(sqs_event([land("orders/2024/large.csv", large_orders())]), context)
    assert jobs(aws, batch.queue) == []
    assert [m["status"] for m in aws.bodies("cleanse")] == ["validated"]


def test_a_large_file_the_precheck_rejects_is_quarantined_by_the_job(aws, land, validate, context, batch,
                                                                     monkeypatch):
    # quarantining means hashing the file (its copy is verified by SHA-256): a job, not a Lambda
    batch("validate")
    validate.lambda_handler(sqs_event([land("nosuchdataset/large.csv", large_orders())]), context)
    assert aws.bodies("notify") == []
    (job,) = jobs(aws, batch.queue)
    assert run_job(job, validate, monkeypatch) == batch_job.EXIT_OK
    assert [m["status"] for m in aws.bodies("notify")] == ["quarantined"]


def test_a_redelivery_does_not_submit_twice(aws, land, validate, context, batch, logs):
    logs.attach(validate)
    batch("validate")
    event = sqs_event([land("orders/2024/large.csv", large_orders())])
    assert validate.lambda_handler(event, context) == OK
    assert validate.lambda_handler(event, context) == OK
    assert len(jobs(aws, batch.queue)) == 1
    messages = [e["message"] for e in logs("validate")]
    assert messages.count("file routed to AWS Batch") == 1
    assert "duplicate delivery: already validated, nothing done" in messages


def test_the_validate_job_writes_what_the_lambda_path_writes(aws, land, validate, context, batch, monkeypatch):
    batch("validate")
    event = sqs_event([land("orders/2024/large.csv", large_orders(bad_rows=3))])
    validate.lambda_handler(event, context)
    (job,) = jobs(aws, batch.queue)
    assert run_job(job, validate, monkeypatch) == batch_job.EXIT_OK  # not blocked by the Lambda's record
    on_batch = (aws.bodies("cleanse"), aws.bodies("notify"), quarantine_outputs(aws))

    lambda_path(monkeypatch)
    forget_idempotency(aws)
    validate.lambda_handler(event, context)
    in_lambda = (aws.bodies("cleanse"), aws.bodies("notify"), quarantine_outputs(aws))
    assert on_batch == in_lambda
    assert on_batch[0][0]["counts"]["rejected"] == 3 and len(on_batch[2]) == 3  # rows, report, Athena copy


def test_a_job_run_twice_does_the_work_once(aws, land, validate, context, batch, monkeypatch, logs):
    logs.attach(validate)
    batch("validate")
    validate.lambda_handler(sqs_event([land("orders/2024/large.csv", large_orders())]), context)
    (job,) = jobs(aws, batch.queue)
    assert run_job(job, validate, monkeypatch) == batch_job.EXIT_OK
    assert run_job(job, validate, monkeypatch) == batch_job.EXIT_OK
    assert len(aws.bodies("cleanse")) == 1
    finished = [e for e in logs("validate") if e["message"] == "batch job finished"]
    assert [(e["duplicate_delivery"], e["runs_on"], e["job_id"]) for e in finished] == [
        (False, "batch", job["jobId"]), (True, "batch", job["jobId"])]


def test_a_retry_attempt_takes_over_from_an_attempt_that_died_in_progress(aws, land, validate, context, batch,
                                                                          monkeypatch):
    batch("validate")
    validate.lambda_handler(sqs_event([land("orders/2024/large.csv", large_orders())]), context)
    (job,) = jobs(aws, batch.queue)

    def process_object(data):  # same namespace and name as validate's job step: the attempt is killed
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        routing.job_step("validate", process_object)(json.loads(job["parameters"]["payload"]))
    monkeypatch.setenv("AWS_BATCH_JOB_ATTEMPT", "1")  # a duplicate job meanwhile: blocked, in progress
    assert run_job(job, validate, monkeypatch) == batch_job.EXIT_FAILED
    monkeypatch.setenv("AWS_BATCH_JOB_ATTEMPT", "2")  # Batch's retry of the killed attempt
    assert run_job(job, validate, monkeypatch) == batch_job.EXIT_OK
    assert [m["status"] for m in aws.bodies("cleanse")] == ["validated"]


# -- cleanse ----------------------------------------------------------------------------------


def validated(aws, key: str, body: bytes) -> StageMessage:
    put = aws.put("landing", key, body)
    from pipeline_shared import keys

    return StageMessage(
        file_id=keys.file_id(aws.buckets["landing"], key, version_id=put["VersionId"]), dataset="orders",
        status="validated", produced_by="validate", bucket=aws.buckets["landing"], key=key,
        version_id=put["VersionId"], etag=put["ETag"].strip('"'), size=len(body), received_at="2024-06-30T23:00:00Z",
        counts={"records_in": 1, "valid": 1, "rejected": 0}, locations={"landing": f"s3://{aws.buckets['landing']}/{key}"},
    )


def test_a_large_file_is_routed_by_cleanse_with_its_stage_message(aws, cleanse, context, batch):
    batch("cleanse")
    message = validated(aws, "orders/2024/large.csv", large_orders())
    assert cleanse.lambda_handler(sqs_event([message]), context) == OK
    (job,) = jobs(aws, batch.queue)
    assert job["jobName"] == f"cleanse-{message.file_id}"
    assert json.loads(job["parameters"]["payload"]) == message.to_dict()
    assert aws.keys("clean") == [] and aws.bodies("archive") == []


def test_the_cleanse_job_writes_what_the_lambda_path_writes(aws, cleanse, context, batch, monkeypatch):
    batch("cleanse")
    event = sqs_event([validated(aws, "orders/2024/large.csv", large_orders())])
    cleanse.lambda_handler(event, context)
    (job,) = jobs(aws, batch.queue)
    assert run_job(job, cleanse, monkeypatch) == batch_job.EXIT_OK
    on_batch = (clean_outputs(aws), aws.bodies("archive"))

    lambda_path(monkeypatch)
    forget_idempotency(aws)
    cleanse.lambda_handler(event, context)
    in_lambda = (clean_outputs(aws), aws.bodies("archive"))
    assert on_batch == in_lambda
    rows = sum(len(body.splitlines()) - 1 for body, _ in on_batch[0].values())
    assert rows == len(large_orders().splitlines()) - 1  # unique order ids: de-duplication keeps every row
    assert len(on_batch[0]) == 3  # three order dates → three partitions


def test_a_failing_job_exits_non_zero_and_the_retry_is_not_blocked(aws, cleanse, context, batch, monkeypatch, logs):
    logs.attach(cleanse)
    batch("cleanse")
    cleanse.lambda_handler(sqs_event([validated(aws, "orders/2024/large.csv", large_orders())]), context)
    (job,) = jobs(aws, batch.queue)
    monkeypatch.delenv("PIPELINE_BUCKET_CLEAN")  # this attempt fails
    assert run_job(job, cleanse, monkeypatch) == batch_job.EXIT_FAILED
    assert aws.keys("clean") == [] and aws.bodies("archive") == []
    failed = [e for e in logs("cleanse") if e["level"] == "ERROR"]
    assert "PIPELINE_BUCKET_CLEAN is not set" in failed[-1]["exception"]
    monkeypatch.setenv("PIPELINE_BUCKET_CLEAN", aws.buckets["clean"])  # Batch retries the same job
    assert run_job(job, cleanse, monkeypatch) == batch_job.EXIT_OK
    assert [m["status"] for m in aws.bodies("archive")] == ["cleansed"]


def test_a_malformed_job_exits_2_without_touching_anything(aws, cleanse, batch, monkeypatch):
    job = {"jobId": "j-1", "parameters": {"payload": "{not json"},
           "container": {"command": ["python", "-m", "pipeline_shared.batch_job", "--plugin", "cleanse",
                                     "--payload", "Ref::payload"]}}
    assert run_job(job, cleanse, monkeypatch) == batch_job.EXIT_BAD_JOB
    assert aws.keys("clean") == []


# -- the local runner plays AWS Batch ---------------------------------------------------------


def test_the_local_runner_runs_each_submitted_job_once_and_reports_the_file_as_via_batch(
        aws, land, validate, context, batch, tmp_path, monkeypatch, logs):
    import os

    from kit.runner import LocalRunner, Stage, report

    logs.attach(validate)
    batch("validate")
    function_env = {k: v for k, v in os.environ.items() if k.startswith(("PIPELINE_", "POWERTOOLS_"))}
    runner = LocalRunner.__new__(LocalRunner)  # its Batch part only: stages, clients, ledger
    runner.stages = [Stage(name="validate", function_name="pk-test-validate", queue_url="", queue_arn="", dlq_url="",
                           batch_size=5, timeout=60, environment=function_env, module=validate)]
    runner.batch, runner.aws_env, runner.batch_runs, runner.missing_queues = aws.client("batch"), {}, [], {}
    runner.log_path, runner._ledger_path = tmp_path / "run.log", tmp_path / "batch-jobs-run.json"
    key = "orders/run-1/large.csv"
    validate.lambda_handler(sqs_event([land(key, large_orders())]), context)
    assert aws.bodies("cleanse") == []
    for name in routing.ROUTING_VARS:  # the runner's own environment has none (the function's has)
        monkeypatch.delenv(name)
    assert runner.run_batch_jobs() == 1
    assert runner.run_batch_jobs() == 0  # the ledger remembers it
    assert [m["status"] for m in aws.bodies("cleanse")] == ["validated"]
    (ran,) = runner.batch_runs
    assert (ran.plugin, ran.key, ran.exit_code, ran.attempts) == ("validate", key, 0, 1)
    finished = [e for e in logs("validate") if e["message"] == "batch job finished"]
    assert [(e["runs_on"], e["job_id"], "function_request_id" in e) for e in finished] == [
        ("batch", ran.job_id, False)]  # nothing of the Lambda invocation carried over
    text, rows = report([key], [{"key": key, "dataset": "orders", "status": "processed",
                                 "locations": {"clean": ["s3://c/1"], "archive": "s3://a/1"}}], {}, runner.batch_runs)
    assert rows[0]["batch"] == ["validate"] and "via Batch: validate" in text


def test_the_local_runner_skips_a_job_queue_that_does_not_exist(aws, tmp_path):
    from kit.runner import LocalRunner, Stage

    runner = LocalRunner.__new__(LocalRunner)
    queue = "arn:aws:batch:eu-west-1:123456789012:job-queue/pk-test-nope"
    runner.stages = [Stage(name="validate", function_name="f", queue_url="", queue_arn="", dlq_url="", batch_size=5,
                           timeout=60, environment={routing.JOB_QUEUE_VAR: queue})]
    runner.batch, runner.aws_env, runner.batch_runs, runner.missing_queues = aws.client("batch"), {}, [], {}
    runner._ledger_path = tmp_path / "batch-jobs-run.json"
    assert runner.run_batch_jobs() == 0
    assert "does not exist" in runner.missing_queues[queue]

