"""Releases on moto: build once, publish by content address with sha256 checks, copy between
environments' buckets verifying every artifact, and the per-environment records."""

from __future__ import annotations

import json

import pytest

from kit.release import (
    Record,
    Release,
    build_release,
    copy_release,
    ensure_artifacts_bucket,
    publish,
    read_record,
    write_record,
)
from kit.ui import KitError

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Release:
    return build_release(tmp_path_factory.mktemp("releases"))


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    for bucket in ("pk-a-artifacts", "pk-b-artifacts"):
        ensure_artifacts_bucket(client, bucket, REGION, deny_insecure_transport=False)
    return client


def test_a_release_folder_holds_every_plugin_and_a_manifest(release):
    assert set(release.plugin_artifacts()) == {"validate", "cleanse", "archive", "notify", "api"}
    assert {"glue-script", "glue-library", "powertools-layer"} <= set(release.artifacts)
    manifest = json.loads((release.directory / "manifest.json").read_text())
    assert manifest["release"] == release.id
    assert (release.directory.parent / "LATEST").read_text().strip() == release.id


def test_a_modified_zip_is_refused_when_the_release_is_loaded(release, tmp_path):
    import shutil

    copy = tmp_path / release.id
    shutil.copytree(release.directory, copy)
    (copy / "validate.zip").write_bytes(b"tampered")
    with pytest.raises(KitError, match="validate.zip does not match its manifest sha256"):
        Release.load(copy)


def test_publish_puts_artifacts_under_content_addressed_keys(release, s3):
    publish(release, s3, "pk-a-artifacts", ["validate"])
    ref = release.artifacts["validate"]
    assert ref.key == f"artifacts/validate/{ref.sha256}.zip"
    body = s3.get_object(Bucket="pk-a-artifacts", Key=ref.key)["Body"].read()
    assert body == release.file("validate").read_bytes()


def test_copy_moves_exactly_the_release_bytes(release, s3):
    publish(release, s3, "pk-a-artifacts", ["validate", "cleanse"])
    copy_release(release, s3, "pk-a-artifacts", s3, "pk-b-artifacts", ["validate", "cleanse"])
    for name in ("validate", "cleanse"):
        ref = release.artifacts[name]
        assert s3.get_object(Bucket="pk-b-artifacts", Key=ref.key)["Body"].read() == release.file(name).read_bytes()


def test_copy_refuses_an_artifact_whose_bytes_changed_in_the_source(release, s3):
    ref = release.artifacts["notify"]
    s3.put_object(Bucket="pk-a-artifacts", Key=ref.key, Body=b"not the built bytes")
    with pytest.raises(KitError, match="does not match release .* refusing to promote it"):
        copy_release(release, s3, "pk-a-artifacts", s3, "pk-b-artifacts", ["notify"])
    assert "Contents" not in s3.list_objects_v2(Bucket="pk-b-artifacts", Prefix="artifacts/notify/")


def test_records_round_trip(aws, release):
    ssm = aws.client("ssm")
    write_record(ssm, "pk-a", Record(release=Release(id=release.id, artifacts=release.artifacts), smoke="passed",
                                     deployed_at="2026-11-22T00:00:00Z", promoted_from="dev"))
    record = read_record(ssm, "pk-a")
    assert (record.release.id, record.smoke, record.promoted_from) == (release.id, "passed", "dev")
    assert record.release.artifacts["validate"].sha256 == release.artifacts["validate"].sha256
    assert read_record(ssm, "pk-a", "previous") is None
