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
    from modules.plugins import discover_plugins

    assert set(release.plugin_artifacts()) == {m.name for m in discover_plugins()}
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


# -- a content address already holding other bytes (same size) is never trusted: made-up releases

BUILT = b"the bytes that were built\n" * 4
OTHER = bytes(reversed(BUILT))  # same size, different content


def made_release(tmp_path, data: bytes = BUILT) -> Release:
    from kit.release import ArtifactRef, sha256_bytes

    (tmp_path / "thing.zip").write_bytes(data)
    ref = ArtifactRef(name="thing", sha256=sha256_bytes(data), size=len(data))
    return Release(id="r-test", artifacts={"thing": ref}, directory=tmp_path)


def refusal(bucket: str, release: Release) -> str:
    from kit.release import sha256_bytes

    ref = release.artifacts["thing"]
    return (f"s3://{bucket}/{ref.key}: sha256 {sha256_bytes(OTHER)} / {len(OTHER)} B does not match the release "
            f"({ref.sha256} / {ref.size} B): refusing to deploy it")


def test_publish_over_different_bytes_of_the_same_size_is_refused(s3, tmp_path):
    release = made_release(tmp_path)
    ref = release.artifacts["thing"]
    s3.put_object(Bucket="pk-a-artifacts", Key=ref.key, Body=OTHER)
    with pytest.raises(KitError) as caught:
        publish(release, s3, "pk-a-artifacts", ["thing"])
    assert str(caught.value) == refusal("pk-a-artifacts", release)
    assert s3.get_object(Bucket="pk-a-artifacts", Key=ref.key)["Body"].read() == OTHER  # not overwritten
    assert "Contents" not in s3.list_objects_v2(Bucket="pk-a-artifacts", Prefix="releases/")  # not recorded


def test_copy_into_a_bucket_holding_different_bytes_of_the_same_size_is_refused(s3, tmp_path):
    release = made_release(tmp_path)
    ref = release.artifacts["thing"]
    publish(release, s3, "pk-a-artifacts", ["thing"])
    s3.put_object(Bucket="pk-b-artifacts", Key=ref.key, Body=OTHER)
    with pytest.raises(KitError) as caught:
        copy_release(release, s3, "pk-a-artifacts", s3, "pk-b-artifacts", ["thing"])
    assert str(caught.value) == refusal("pk-b-artifacts", release)
    assert "Contents" not in s3.list_objects_v2(Bucket="pk-b-artifacts", Prefix="releases/")


def test_copy_from_a_source_holding_different_bytes_of_the_same_size_is_refused(s3, tmp_path):
    release = made_release(tmp_path)
    s3.put_object(Bucket="pk-a-artifacts", Key=release.artifacts["thing"].key, Body=OTHER)
    with pytest.raises(KitError) as caught:
        copy_release(release, s3, "pk-a-artifacts", s3, "pk-b-artifacts", ["thing"])
    assert str(caught.value) == (f"s3://pk-a-artifacts/{release.artifacts['thing'].key} does not match release "
                                 "r-test (sha256 differs): refusing to promote it")
    assert "Contents" not in s3.list_objects_v2(Bucket="pk-b-artifacts")
