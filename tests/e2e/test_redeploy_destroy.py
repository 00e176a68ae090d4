"""Runs last among the `local` tests (file order): a deploy that finds resources missing from its
state, a second deploy with nothing to do, deploys interrupted every way (Terraform killed, the kit
interrupted, the kit killed) after a reset, each followed by a deploy that converges with no manual
step, then destroy, and a deploy after the destroy."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from names import PREFIX, bucket

ROOT = Path(__file__).resolve().parents[2]
#: Resource types whose creation collides with an existing object (on the emulator as on AWS).
COLLIDING = ("aws_iam_role", "aws_lambda_function", "aws_dynamodb_table", "aws_cloudwatch_log_group",
             "aws_glue_crawler", "aws_glue_catalog_table", "aws_kms_alias", "aws_backup_vault", "aws_ecr_repository",
             "aws_athena_workgroup", "aws_vpc_security_group_egress_rule", "aws_s3_bucket")
#: Seconds one interrupted step may take before the test gives up (a loaded machine is slow).
STEP_TIMEOUT = 1200


def _terraform(kit):
    from kit.terraform import Terraform

    return Terraform.for_stack(kit.workdir / "cdktf.out" / "stacks" / "local", kit.workdir / ".state")


def _state_resources(kit) -> int:
    state = json.loads((kit.workdir / ".state" / "local" / "terraform.tfstate").read_text() or "{}")
    return sum(len(r.get("instances", [])) for r in state.get("resources", []))


class Running:
    """`kit deploy` in the background, its output in a file the test watches."""

    def __init__(self, kit, log: Path, **env: str) -> None:
        self.kit, self.log = kit, log
        self.out = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "kit", "deploy", "--env", "local"], cwd=ROOT,
                                     env={**kit.env(), **env}, stdout=self.out, stderr=subprocess.STDOUT, text=True)

    def text(self) -> str:
        return self.log.read_text()

    def why(self) -> str:
        text = self.text()
        lines = [line for line in text.splitlines()
                 if re.search(r"^==>|warning|error|must be replaced|forces replacement|tainted", line)]
        return "\n".join(lines[-60:]) + "\n---\n" + text[-2000:]

    def wait_for_creations(self, count: int) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        while self.text().count("Creation complete") < count:
            assert self.proc.poll() is None, f"the deploy ended before it was interrupted:\n{self.why()}"
            assert time.monotonic() < deadline, f"no {count} creations within {STEP_TIMEOUT}s"
            time.sleep(0.5)

    def terraform_pid(self) -> int:
        (record,) = list((self.kit.workdir / ".state" / "runs").glob("*.json"))
        return json.loads(record.read_text())["pid"]

    def finish(self) -> int:
        code = self.proc.wait(timeout=STEP_TIMEOUT)
        self.out.close()
        return code


def test_resources_missing_from_the_state_are_adopted(deployed):
    kit, _ = deployed
    tf = _terraform(kit)
    chosen: dict[str, str] = {}
    for address in tf.run("state", "list", capture=True).stdout.split():
        kind = address.split(".")[0]
        if kind in COLLIDING and kind not in chosen:
            chosen[kind] = address
    assert set(chosen) == set(COLLIDING)
    tf.run("state", "rm", *chosen.values(), capture=True)
    proc = kit.run("deploy", "--env", "local", env={"SMOKE": "0"})
    assert "created by an interrupted run but never recorded: adopting them" in proc.stderr
    for address in chosen.values():
        assert address in proc.stderr
    assert "imported" in proc.stdout


def test_second_deploy_reports_no_changes(deployed):
    kit, _ = deployed
    proc = kit.run("deploy", "--env", "local")
    assert "No changes." in proc.stdout
    assert "no changes: nothing to apply" in proc.stdout


def test_interrupted_deploys_converge_on_the_next_with_no_manual_step(deployed):
    kit, _ = deployed
    logs = kit.workdir / "interrupted-deploys"
    logs.mkdir(exist_ok=True)
    kit.emulator.reset()  # a restarted emulator next to the leftover state: a full apply to interrupt

    first = Running(kit, logs / "1-terraform-killed.log", SMOKE="0")
    first.wait_for_creations(40)
    subprocess.run(["kill", "-KILL", str(first.terraform_pid())], check=True)
    assert first.finish() != 0
    assert "old state moved to" in first.text()  # the reset emulator's stale state, set aside once
    # Terraform saves intermediate state at most every 20 s: what it created since is unrecorded.

    second = Running(kit, logs / "2-kit-interrupted.log", SMOKE="0")
    second.wait_for_creations(15)
    second.proc.send_signal(signal.SIGINT)
    assert second.finish() == 130
    text = second.text()
    assert "asking terraform apply to stop cleanly" in text and "was stopped cleanly and saved its state" in text
    assert "old state moved to" not in text  # the state matching the emulator is never discarded
    assert _state_resources(kit) >= 15  # a clean stop saves everything created so far

    third = Running(kit, logs / "3-kit-killed.log", SMOKE="0")
    third.wait_for_creations(5)
    third.proc.kill()
    third.finish()

    proc = kit.run("deploy", "--env", "local")
    assert "old state moved to" not in proc.stdout
    assert "Apply complete!" in proc.stdout
    assert "runs release" in proc.stdout and "(smoke passed)" in proc.stdout
    assert kit.client("s3").head_bucket(Bucket=bucket("landing"))["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "No changes." in kit.run("plan", "--env", "local").stdout


def test_destroy_removes_everything(deployed):
    kit, _ = deployed
    proc = kit.run("destroy", "--env", "local")
    assert "Destroy complete!" in proc.stdout or "Apply complete!" in proc.stdout
    names = [b["Name"] for b in kit.client("s3").list_buckets()["Buckets"]]
    # Everything Terraform made is gone; the kit's artifacts bucket (releases, outside the
    # stack: it outlives a destroy so a redeploy or rollback finds its artifacts) stays.
    assert [n for n in names if n.startswith(PREFIX)] == [bucket("artifacts")]
    assert not kit.client("sqs").list_queues(QueueNamePrefix=PREFIX).get("QueueUrls")
    assert not [t for t in kit.client("dynamodb").list_tables()["TableNames"] if t.startswith(PREFIX)]


def test_destroy_records_that_nothing_runs(deployed):
    kit, _ = deployed
    record = json.loads(kit.client("ssm").get_parameter(Name=f"/{PREFIX}/release/current")["Parameter"]["Value"])
    assert record["status"] == "destroyed"


def test_deploy_after_destroy_converges(deployed):
    kit, _ = deployed
    proc = kit.run("deploy", "--env", "local")
    assert "Apply complete!" in proc.stdout and "(smoke passed)" in proc.stdout
    assert f"backup plan {PREFIX}-backup lingers deleted on the emulator" in proc.stdout
    plans = kit.client("backup").list_backup_plans()["BackupPlansList"]
    assert [p["BackupPlanName"] for p in plans if p["BackupPlanName"].startswith(PREFIX)] == [f"{PREFIX}-backup-2"]
