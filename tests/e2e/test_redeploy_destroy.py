"""Runs last (file order): re-plan, a reset emulator next to leftover state, destroy."""

from __future__ import annotations

from names import PREFIX, bucket


def test_second_deploy_reports_no_changes(deployed):
    kit, _ = deployed
    proc = kit.run("deploy", "--env", "local")
    assert "No changes." in proc.stdout
    assert "no changes: nothing to apply" in proc.stdout


def test_reset_emulator_next_to_leftover_state_redeploys_without_cleanup(deployed):
    kit, _ = deployed
    kit.emulator.reset()
    proc = kit.run("deploy", "--env", "local")
    assert "old state moved to" in proc.stdout
    assert "Apply complete!" in proc.stdout
    assert kit.client("s3").head_bucket(Bucket=bucket("landing"))["ResponseMetadata"]["HTTPStatusCode"] == 200


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
