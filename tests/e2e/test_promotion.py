"""Build once, promote the identical artifacts dev → test → staging → prod, rehearsed on the
session emulator (each AWS environment with its own names and its own local state); a broken
release is stopped at its first smoke test and rolled back.

Runs after test_pipeline_local and before test_redeploy_destroy (file order)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ("dev", "test", "staging", "prod")
REGION = "eu-west-1"  # the AWS environments' region (environments/*.toml)


def deployed_shas(kit, env: str) -> dict[str, str]:
    """plug-in → sha256 (hex) of the code each function runs, as the emulator reports it."""
    lam = kit.client("lambda", REGION)
    out = {}
    for plugin in ("validate", "cleanse", "archive", "notify"):
        conf = lam.get_function_configuration(FunctionName=f"pk-{env}-{plugin}")
        out[plugin] = base64.b64decode(conf["CodeSha256"]).hex()
    return out


def record(kit, env: str, which: str = "current") -> dict:
    return json.loads(kit.client("ssm", REGION).get_parameter(Name=f"/pk-{env}/release/{which}")["Parameter"]["Value"])


@pytest.fixture(scope="module")
def chain(kit_factory):
    kit = kit_factory("promotion")
    package = kit.run("package")
    release_id = package.stdout.strip().splitlines()[-1].removeprefix("release=")
    release_dir = kit.workdir / "build" / "releases" / release_id
    built = {k: v["sha256"] for k, v in json.loads((release_dir / "manifest.json").read_text())["artifacts"].items()}
    outputs = {"dev": kit.run("deploy", "--env", "dev", "--target", "emulator", "--release", str(release_dir)).stdout}
    for src, dst in zip(CHAIN, CHAIN[1:]):
        extra = {"APPROVE": "prod"} if dst == "prod" else {}
        outputs[dst] = kit.run("promote", "--from", src, "--to", dst, "--target", "emulator", env=extra).stdout
    return kit, release_id, built, outputs


def test_every_stage_passed_its_smoke_test(chain):
    _, release_id, _, outputs = chain
    for env in CHAIN:
        assert f"runs release {release_id} (smoke passed)" in outputs[env], env


def test_every_environment_runs_the_byte_identical_artifacts_that_were_built(chain):
    kit, _, built, _ = chain
    expected = {p: built[p] for p in ("validate", "cleanse", "archive", "notify")}
    for env in CHAIN:
        assert deployed_shas(kit, env) == expected, env


def test_promotion_records_where_each_release_came_from(chain):
    kit, release_id, _, _ = chain
    assert record(kit, "dev")["promoted_from"] is None
    for src, dst in zip(CHAIN, CHAIN[1:]):
        rec = record(kit, dst)
        assert (rec["release"], rec["smoke"], rec["promoted_from"]) == (release_id, "passed", src)


def test_promotion_copies_verify_every_sha256(chain):
    _, _, built, outputs = chain
    for name in ("validate", "cleanse", "archive", "notify"):
        assert f"sha256 {built[name][:16]}… verified in s3://pk-test-artifacts-" in outputs["test"]


def test_skipping_a_stage_is_refused(chain):
    kit, _, _, _ = chain
    proc = kit.run("promote", "--from", "dev", "--to", "staging", "--target", "emulator", check=False)
    assert proc.returncode == 1
    assert "refusing to promote dev → staging: releases move one stage at a time" in proc.stderr


def test_prod_without_approval_is_refused(chain):
    kit, _, _, _ = chain
    proc = kit.run("promote", "--from", "staging", "--to", "prod", "--target", "emulator", check=False)
    assert proc.returncode == 1
    assert "prod needs an explicit approval: rerun with APPROVE=prod" in proc.stderr


@pytest.fixture(scope="module")
def broken(chain, tmp_path_factory):
    """A release whose cleanse fails on every record, deployed to dev."""
    from kit.release import build_release

    kit, good_id, _, _ = chain
    lambdas = tmp_path_factory.mktemp("broken") / "lambdas"
    shutil.copytree(ROOT / "lambdas", lambdas, ignore=shutil.ignore_patterns("__pycache__", "samples"))
    handler = lambdas / "cleanse" / "handler.py"
    handler.write_text(handler.read_text().replace(
        "def record_handler(record", "def record_handler(record, *_a, **_k):\n    raise RuntimeError('broken release')\n\n\ndef _unused(record", 1))
    release = build_release(kit.workdir / "build" / "releases", lambdas_dir=lambdas)
    proc = kit.run("deploy", "--env", "dev", "--target", "emulator", "--release", str(release.directory), check=False)
    return kit, good_id, release, proc


def test_a_broken_release_fails_its_first_smoke_test(broken):
    _, _, release, proc = broken
    assert proc.returncode == 1
    assert f"smoke test FAILED on dev (rehearsal on the emulator) for release {release.id}" in proc.stderr


def test_a_broken_release_is_rolled_back_automatically(broken):
    kit, good_id, release, proc = broken
    assert f"Rolled back automatically to release {good_id}" in proc.stderr
    assert record(kit, "dev")["release"] == good_id
    assert record(kit, "dev", "last-failed")["release"] == release.id
    good = deployed_shas(kit, "test")
    assert deployed_shas(kit, "dev") == good


def test_the_broken_release_never_reaches_the_next_stage(broken):
    kit, good_id, release, _ = broken
    proc = kit.run("promote", "--from", "dev", "--to", "test", "--target", "emulator")
    assert f"promote release {good_id}" in proc.stdout
    assert record(kit, "test")["release"] == good_id


@pytest.fixture(scope="module")
def broken_plugin_added(chain, broken, tmp_path_factory):
    """A release that ADDS a plug-in (a pipeline-events consumer failing every record), deployed to
    dev from a scratch copy of the repository that holds it — the way a user adds a plug-in."""
    import subprocess
    import sys

    from tests.scratch import add_failing_events_plugin, scratch_copy

    kit, good_id, _, _ = chain
    repo = scratch_copy(tmp_path_factory.mktemp("repo-with-extra"))
    add_failing_events_plugin(repo)
    proc = subprocess.run([sys.executable, "-m", "kit", "deploy", "--env", "dev", "--target", "emulator"], cwd=repo,
                          env={**kit.env(), "PYTHONDONTWRITEBYTECODE": "1"}, text=True, capture_output=True,
                          timeout=1800)
    failed = record(kit, "dev", "last-failed")
    return kit, good_id, failed["release"], proc


def test_a_release_adding_a_broken_plugin_fails_its_smoke_test_and_is_rolled_back(broken_plugin_added):
    kit, good_id, failed_id, proc = broken_plugin_added
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"smoke test FAILED on dev (rehearsal on the emulator) for release {failed_id}" in proc.stderr
    assert f"Rolled back automatically to release {good_id}, which runs there now" in proc.stderr


def test_after_the_rollback_the_added_plugin_is_gone_and_the_old_functions_run(broken_plugin_added):
    kit, good_id, _, _ = broken_plugin_added
    lam, sqs = kit.client("lambda", REGION), kit.client("sqs", REGION)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_configuration(FunctionName="pk-dev-extra")
    assert not sqs.list_queues(QueueNamePrefix="pk-dev-extra").get("QueueUrls")
    assert deployed_shas(kit, "dev") == deployed_shas(kit, "test")


def test_the_records_say_what_runs_after_the_rollback(broken_plugin_added):
    kit, good_id, failed_id, _ = broken_plugin_added
    current = record(kit, "dev")
    assert (current["release"], current["status"], current["rolled_back_from"]) == (good_id, "deployed", failed_id)
    assert current["smoke"] == "passed"  # the smoke test ran again on the restored release
    assert record(kit, "dev", "last-failed")["release"] == failed_id
    bucket_record = json.loads(kit.client("s3", REGION).get_object(
        Bucket="pk-dev-artifacts-123456789012", Key="releases/current.json")["Body"].read())
    assert (bucket_record["release"], bucket_record["status"]) == (good_id, "deployed")


def test_the_restored_pipeline_processes_files_and_what_the_broken_releases_dead_lettered(broken_plugin_added):
    kit, _, _, _ = broken_plugin_added
    # The broken cleanse release (fixture `broken`) dead-lettered its smoke file: the restored
    # release processes it once redriven, then a run of the samples leaves every DLQ empty.
    moved = kit.run("redrive", "--env", "dev", "--target", "emulator")
    assert "cleanse: 1 message(s) moved pk-dev-cleanse-dlq → pk-dev-cleanse" in moved.stdout
    proc = kit.run("run", "--env", "dev", "--target", "emulator")
    assert "dead-letter queues: all empty" in proc.stdout
