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
