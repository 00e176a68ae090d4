"""The Batch container image of a release: build, push, promote (same digest), check."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess

import main as _main
from environments import EnvironmentConfig

from ..deploy import Target
from ..images import check_promoted_image, check_release_image, image_digest, image_ref
from ..release import Release, read_bucket_record
from ..ui import KitError, step


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise KitError("the Batch image needs a container engine: `docker` is not on PATH (the CI workflow "
                       "builds and pushes it; on this machine Batch jobs run in-process with `make run`)")
    return docker


def build(cfg: EnvironmentConfig, release: Release) -> None:
    """Build the Batch image from one release folder: the very zips Lambda runs."""
    docker = _docker()
    tag = image_ref(cfg, release.id).uri
    arch = cfg.compute.lambda_architecture.replace("x86_64", "amd64")
    folder = os.path.relpath(release.directory, _main.ROOT) if release.directory else ".."
    if folder.startswith(".."):
        raise KitError(f"the release folder must be inside the repository (the build context), got {release.directory}")
    cmd = [docker, "build", "-f", "lambdas/Dockerfile", "--platform", f"linux/{arch}",
           "--build-arg", f"RELEASE_DIR={folder}", "--build-arg", f"RELEASE_ID={release.id}", "-t", tag, "."]
    step(f"docker build of release {release.id} for linux/{arch} → {tag}")
    subprocess.run(cmd, cwd=_main.ROOT, check=True)


def push(t: Target, release: Release) -> None:
    """Push the built image to the environment's repository (immutable tags), then check it."""
    if t.emulator is not None:
        raise KitError(f"{t.label} runs no containers: there is no image to push (Batch jobs run in-process)")
    docker = _docker()
    ref = image_ref(t.cfg, release.id)
    token = t.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    subprocess.run([docker, "login", "--username", user, "--password-stdin", token["proxyEndpoint"]],
                   input=password.encode(), check=True)
    subprocess.run([docker, "push", ref.uri], check=True)
    check = check_release_image(t.client("ecr"), t.cfg, release.id)
    if not check.ok:
        raise KitError(check.message)
    step(check.message)


def promote(source: Target, target: Target) -> None:
    """Copy the image of the release ``--to`` runs from ``--from``'s repository, digest for digest
    (``crane copy``; the source repository's policy lets this stage's deploy role pull), then
    verify that the target's tag names the very digest the source runs."""
    if source.emulator is not None or target.emulator is not None:
        raise KitError("the emulator runs no containers: there is no image to promote")
    record = read_bucket_record(target.client("s3"), target.cfg.bucket_name("artifacts"))
    if record is None:
        raise KitError(f"no release is recorded in {target.label}: promote the release first (`make promote`)")
    release_id = record.release.id
    src, dst = image_ref(source.cfg, release_id), image_ref(target.cfg, release_id)
    digest = image_digest(source.client("ecr"), src)
    if digest is None:
        raise KitError(f"image {src.uri} is missing in {source.label}: nothing to promote")
    crane = shutil.which("crane")
    if crane is None:
        raise KitError("`crane` is not on PATH (go install github.com/google/go-containerregistry/cmd/crane@v0.20.2)")
    token = target.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    for registry in dict.fromkeys((src.registry, dst.registry)):
        subprocess.run([crane, "auth", "login", registry, "--username", user, "--password-stdin"],
                       input=password.encode(), check=True)
    step(f"copy {src.registry}/{src.repository}@{digest} → {dst.uri}")
    subprocess.run([crane, "copy", f"{src.registry}/{src.repository}@{digest}", dst.uri], check=True)
    check = check_promoted_image(source.client("ecr"), source.cfg, target.client("ecr"), target.cfg, release_id)
    if not check.ok:
        raise KitError(check.message)
    step(check.message)


def check_image(t: Target, release: Release) -> None:
    """Is the release's image in the environment's repository, under its immutable tag?"""
    if t.emulator is not None:
        raise KitError(f"{t.label} runs no containers: there is no image to check")
    check = check_release_image(t.client("ecr"), t.cfg, release.id)
    if not check.ok:
        raise KitError(check.message)
    step(check.message)
