"""Recovering deploys on moto: the state/emulator reconciliation (Epoch), the emulator's backup plan
name after a destroy, and the release records a rollback relies on."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from kit.deploy import Records, emulator_backup_plan_name
from kit.emulator import Epoch
from kit.release import DEPLOYED, DEPLOYING, Record, Release, history

REGION = "us-east-1"


class _Emulator:
    """What Epoch needs of the emulator: clients (moto in-process here)."""

    def client(self, service: str, region: str):
        return boto3.client(service, region_name=region)


@pytest.fixture()
def mocked():
    with mock_aws():
        yield


def _state(path, *resources):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 4, "resources": [
        {"mode": "managed", "type": t, "name": n, "instances": [{"attributes": attrs}]} for t, n, attrs in resources]}))


def _epoch(tmp_path):
    return Epoch(_Emulator(), env="local", region=REGION, state_file=tmp_path / "local" / "terraform.tfstate")


def test_no_state_is_fresh_and_gets_marked_before_anything_is_applied(mocked, tmp_path):
    epoch = _epoch(tmp_path)
    assert epoch.reconcile() == "fresh"
    assert epoch.marked()


def test_an_empty_state_file_left_by_a_killed_first_apply_is_fresh(mocked, tmp_path):
    epoch = _epoch(tmp_path)
    epoch.state_file.parent.mkdir(parents=True)
    epoch.state_file.write_text("")
    assert epoch.reconcile() == "fresh"


def test_a_state_the_emulator_holds_is_kept_when_its_marker_is_missing(mocked, tmp_path):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="pk-local-landing-123456789012")
    epoch = _epoch(tmp_path)
    _state(epoch.state_file, ("aws_iam_role", "gone", {"name": "never-created"}),
           ("aws_s3_bucket", "landing", {"bucket": "pk-local-landing-123456789012"}))
    assert epoch.reconcile() == "kept"
    assert epoch.state_file.exists() and epoch.marked()


def test_a_state_of_an_emulator_that_restarted_is_set_aside(mocked, tmp_path):
    epoch = _epoch(tmp_path)
    _state(epoch.state_file, ("aws_s3_bucket", "landing", {"bucket": "pk-local-landing-123456789012"}),
           ("aws_sqs_queue", "q", {"name": "pk-local-validate"}))
    moved = epoch.reconcile()
    assert moved.endswith(".stale-" + moved.rsplit(".stale-", 1)[1]) and not epoch.state_file.exists()
    assert epoch.marked()


def test_matching_markers_need_no_probe(mocked, tmp_path):
    epoch = _epoch(tmp_path)
    epoch.record()
    _state(epoch.state_file, ("aws_s3_bucket", "landing", {"bucket": "not-on-the-emulator"}))
    assert epoch.reconcile() == "current"


def _target(tmp_path, **over):
    cfg = SimpleNamespace(name_prefix="pk-local", backup=SimpleNamespace(enabled=True), region=REGION)
    fields = dict(emulator=object(), cfg=cfg, state_file=tmp_path / "terraform.tfstate",
                  client=lambda service: boto3.client(service, region_name=REGION),
                  artifacts_bucket="pk-local-artifacts-123456789012")
    return SimpleNamespace(**{**fields, **over})


def _plan(name):
    return boto3.client("backup", region_name=REGION).create_backup_plan(BackupPlan={
        "BackupPlanName": name, "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "v"}]})["BackupPlanId"]


def test_after_a_destroy_the_plan_takes_a_name_the_emulator_has_not_kept(mocked, tmp_path):
    backup = boto3.client("backup", region_name=REGION)
    backup.delete_backup_plan(BackupPlanId=_plan("pk-local-backup"))
    assert emulator_backup_plan_name(_target(tmp_path)) == "pk-local-backup-2"
    backup.delete_backup_plan(BackupPlanId=_plan("pk-local-backup-2"))
    assert emulator_backup_plan_name(_target(tmp_path)) == "pk-local-backup-3"


def test_a_plan_in_the_state_keeps_its_name(mocked, tmp_path):
    backup = boto3.client("backup", region_name=REGION)
    backup.delete_backup_plan(BackupPlanId=_plan("pk-local-backup"))
    target = _target(tmp_path)
    _state(target.state_file, ("aws_backup_plan", "plan", {"name": "pk-local-backup-2"}))
    assert emulator_backup_plan_name(target) == "pk-local-backup-2"


def test_a_fresh_emulator_uses_the_plain_name(mocked, tmp_path):
    assert emulator_backup_plan_name(_target(tmp_path)) == "pk-local-backup"


def test_on_aws_the_name_is_left_to_the_config(tmp_path):
    assert emulator_backup_plan_name(_target(tmp_path, emulator=None)) is None


def _record(release_id, *, status=DEPLOYED, smoke="passed", config_sha="c" * 64):
    return Record(release=Release(id=release_id, artifacts={}), smoke=smoke, deployed_at=f"2026-12-01T00:00:0{len(release_id) % 10}Z",
                  status=status, config={"key": f"deployments/{config_sha}.tf.json", "sha256": config_sha})


@pytest.fixture()
def records(mocked, tmp_path):
    target = _target(tmp_path)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=target.artifacts_bucket)
    return Records(target)


def test_a_failed_deploy_goes_back_to_the_good_deployment_before_it(records):
    before, new = _record("good", config_sha="a" * 64), _record("new", status=DEPLOYING, smoke="pending",
                                                                 config_sha="b" * 64)
    assert records.rollback_target(before, new) is before


def test_an_interrupted_deployment_is_never_a_rollback_target(records):
    good = _record("good", config_sha="a" * 64)
    records.write(good, "previous")
    interrupted = _record("cut", status=DEPLOYING, smoke="pending", config_sha="d" * 64)
    new = _record("new", status=DEPLOYING, smoke="pending", config_sha="b" * 64)
    assert records.rollback_target(interrupted, new).release.id == "good"


def test_the_same_deployment_is_not_its_own_rollback_target(records):
    same = _record("good", config_sha="a" * 64)
    assert records.rollback_target(same, _record("good", status=DEPLOYING, config_sha="a" * 64)) is None


def test_the_current_record_reaches_the_bucket_and_finished_deployments_the_history(records):
    records.write(_record("r1", config_sha="1" * 64))
    records.write(_record("r2", status=DEPLOYING, smoke="pending", config_sha="2" * 64))
    s3 = boto3.client("s3", region_name=REGION)
    current = json.loads(s3.get_object(Bucket=records.t.artifacts_bucket, Key="releases/current.json")["Body"].read())
    assert (current["release"], current["status"], current["smoke"]) == ("r2", DEPLOYING, "pending")
    assert [r.release.id for r in history(s3, records.t.artifacts_bucket)] == ["r1"]


def test_records_from_an_older_kit_read_as_deployed_without_a_configuration():
    old = Record.from_json(json.dumps({"release": "abc", "artifacts": {}, "smoke": "passed", "deployed_at": "x"}))
    assert (old.status, old.config, old.good) == (DEPLOYED, None, True)
