"""The Batch container image of a release: where it lives and whether it is there.

Each environment has its own ECR repository (``<prefix>-plugins``, immutable tags). A release's
image is tagged with the release id; the Batch job definitions of that release name
``<repository>:<release id>``. The image is built once (``make image``, from the release's own zips)
and pushed to the first environment; promotion copies the same digest to the next environment's
repository (the CI workflow does it with ``crane copy``, the repository policy lets the next stage's
deploy role pull). The kit checks, it does not build: there is no container engine on the machines
the kit's tests run on, and the emulator runs no containers (``make run`` executes a routed job's
entrypoint in-process).
"""

from __future__ import annotations

from dataclasses import dataclass

from environments import EnvironmentConfig


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str

    @property
    def uri(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"


def image_ref(cfg: EnvironmentConfig, release_id: str) -> ImageRef:
    """The image a release's job definitions run in ``cfg``'s environment."""
    return ImageRef(registry=f"{cfg.account_id}.dkr.ecr.{cfg.region}.amazonaws.com",
                    repository=cfg.resource_name("plugins"), tag=release_id)


def image_digest(ecr, ref: ImageRef) -> str | None:
    """The digest behind ``ref``'s tag, or None when the tag (or the repository) does not exist."""
    try:
        found = ecr.describe_images(repositoryName=ref.repository, imageIds=[{"imageTag": ref.tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    except ecr.exceptions.RepositoryNotFoundException:
        return None
    details = found.get("imageDetails") or []
    return details[0]["imageDigest"] if details else None


@dataclass(frozen=True)
class ImageCheck:
    ok: bool
    message: str


def check_release_image(ecr, cfg: EnvironmentConfig, release_id: str) -> ImageCheck:
    """Is the release's image in this environment's repository?"""
    ref = image_ref(cfg, release_id)
    digest = image_digest(ecr, ref)
    if digest is None:
        return ImageCheck(False, f"image {ref.uri} is missing: Batch jobs of release {release_id} cannot start "
                                 f"until it is pushed (`make image RELEASE={release_id}` then "
                                 f"`make image-push ENV={cfg.name} RELEASE={release_id}`, or the CI workflow)")
    return ImageCheck(True, f"image {ref.uri} present ({digest})")


def check_promoted_image(src_ecr, src: EnvironmentConfig, dst_ecr, dst: EnvironmentConfig,
                         release_id: str) -> ImageCheck:
    """After a promotion: the target's image must be the very digest the source runs."""
    src_ref, dst_ref = image_ref(src, release_id), image_ref(dst, release_id)
    src_digest = image_digest(src_ecr, src_ref)
    dst_digest = image_digest(dst_ecr, dst_ref)
    if src_digest is None:
        return ImageCheck(False, f"image {src_ref.uri} is missing in {src.name}: nothing to promote for Batch")
    if dst_digest is None:
        return ImageCheck(False, f"image {dst_ref.uri} is missing: copy it unchanged with "
                                 f"`crane copy {src_ref.registry}/{src_ref.repository}@{src_digest} {dst_ref.uri}`")
    if dst_digest != src_digest:
        return ImageCheck(False, f"image {dst_ref.uri} is {dst_digest}, but {src.name} runs {src_digest}: "
                                 "the tag names another image (it was not promoted unchanged)")
    return ImageCheck(True, f"image {dst_ref.uri} is the digest {src.name} runs ({src_digest})")
