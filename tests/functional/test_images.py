"""The release image checks over ECR (moto): the deploy's "is the image there" and the promotion's
"is it the very digest the source runs"."""

from __future__ import annotations

import dataclasses
import json

import boto3
import pytest
from moto import mock_aws

from environments import load_environment
from kit.images import check_promoted_image, check_release_image, image_digest, image_ref

RELEASE = "abc1234"


def _manifest(layer: str) -> str:
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                                  "digest": "sha256:" + "c" * 64},
                       "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1,
                                   "digest": "sha256:" + layer * 64}]})


@pytest.fixture
def envs():
    # Both environments in the one mocked account and region (moto's default account).
    dev, test = (dataclasses.replace(load_environment(n), account_id="123456789012") for n in ("dev", "test"))
    with mock_aws():
        ecr = boto3.client("ecr", region_name=dev.region)
        for cfg in (dev, test):
            ecr.create_repository(repositoryName=image_ref(cfg, RELEASE).repository,
                                  imageTagMutability="IMMUTABLE")
        yield ecr, dev, test


def _push(ecr, cfg, layer: str) -> str:
    ref = image_ref(cfg, RELEASE)
    ecr.put_image(repositoryName=ref.repository, imageManifest=_manifest(layer), imageTag=RELEASE)
    return image_digest(ecr, ref)


def test_image_ref_is_the_environments_repository_tagged_with_the_release() -> None:
    cfg = load_environment("prod")
    assert image_ref(cfg, RELEASE).uri == f"{cfg.account_id}.dkr.ecr.{cfg.region}.amazonaws.com/pk-prod-plugins:{RELEASE}"


def test_a_missing_image_is_reported_with_the_commands_that_push_it(envs) -> None:
    ecr, dev, _ = envs
    check = check_release_image(ecr, dev, RELEASE)
    assert not check.ok
    assert "pk-dev-plugins:abc1234 is missing" in check.message
    assert f"make image-push ENV=dev RELEASE={RELEASE}" in check.message


def test_a_missing_repository_counts_as_a_missing_image(envs) -> None:
    ecr, dev, _ = envs
    other = dataclasses.replace(dev, name_prefix="pk-none")
    assert image_digest(ecr, image_ref(other, RELEASE)) is None


def test_a_pushed_image_is_found_with_its_digest(envs) -> None:
    ecr, dev, _ = envs
    digest = _push(ecr, dev, "a")
    check = check_release_image(ecr, dev, RELEASE)
    assert check.ok and digest in check.message


def test_promotion_accepts_the_same_digest(envs) -> None:
    ecr, dev, test = envs
    _push(ecr, dev, "a")
    _push(ecr, test, "a")
    check = check_promoted_image(ecr, dev, ecr, test, RELEASE)
    assert check.ok, check.message


def test_promotion_names_the_copy_command_when_the_target_lacks_the_image(envs) -> None:
    ecr, dev, test = envs
    digest = _push(ecr, dev, "a")
    check = check_promoted_image(ecr, dev, ecr, test, RELEASE)
    assert not check.ok
    assert f"crane copy {image_ref(dev, RELEASE).registry}/pk-dev-plugins@{digest} {image_ref(test, RELEASE).uri}" in check.message


def test_promotion_refuses_another_image_under_the_same_tag(envs) -> None:
    ecr, dev, test = envs
    _push(ecr, dev, "a")
    _push(ecr, test, "b")
    check = check_promoted_image(ecr, dev, ecr, test, RELEASE)
    assert not check.ok and "not promoted unchanged" in check.message


def test_image_build_without_a_container_engine_says_so(monkeypatch, capsys) -> None:
    from kit.cli import main

    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["image-build", "--env", "dev"]) != 0
    err = capsys.readouterr().err
    assert "the Batch image needs a container engine: `docker` is not on PATH" in err


def test_images_are_not_pushed_to_the_emulator(monkeypatch, capsys) -> None:
    from kit.cli import main

    assert main(["image-push", "--env", "local"]) != 0
    assert "runs no containers: there is no image to push" in capsys.readouterr().err
