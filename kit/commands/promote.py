"""``make promote``: the release running (and smoke-tested) in one stage goes to the next one, as is."""

from __future__ import annotations

import os

from .. import gates
from ..deploy import Flags, Target, artifact_names, artifacts_bucket, deploy_release, prepare
from ..promotion import check_promotion
from ..release import DEPLOYED, copy_release, read_bucket_record
from ..ui import KitError, note, step, warn


def promote(source: Target, target: Target, *, flags: Flags) -> None:
    """Copy the release ``source`` runs (deployed, smoke test passed) into ``target``'s artifacts
    bucket and deploy it there; ``EXPECT_RELEASE`` pins the release a pipeline run built."""
    check_promotion(source.name, target.name)

    gates.check_approval(target.name, flags.approve)
    if source.emulator is not None and not source.emulator.is_running():
        raise KitError(f"no emulator at {source.emulator.url}: nothing is deployed in {source.label}")
    # Read through S3 (the source's artifacts bucket): it works across accounts, SSM does not.
    record = read_bucket_record(source.client("s3"), source.cfg.bucket_name("artifacts"))
    if record is None:
        raise KitError(f"no release is recorded in {source.label}: deploy it first (`make deploy ENV={source.name}`)")
    expected = os.environ.get("EXPECT_RELEASE")
    if expected and expected != record.release.id:
        raise KitError(f"{source.label} runs release {record.release.id}, not the expected {expected} "
                       "(EXPECT_RELEASE): refusing to promote a release this pipeline run did not build")
    if record.status != DEPLOYED:
        raise KitError(f"refusing to promote release {record.release.id}: {source.label} does not run it "
                       f"(record status: {record.status})")
    if record.smoke != "passed":
        raise KitError(f"refusing to promote release {record.release.id}: its smoke test did not pass in "
                       f"{source.label} (smoke: {record.smoke})")
    step(f"promote release {record.release.id} (smoke passed in {source.label} at {record.deployed_at}) "
         f"→ {target.label}")
    prepare(target, None)
    dst_bucket = artifacts_bucket(target)
    copy_release(record.release, source.client("s3"), source.cfg.bucket_name("artifacts"),
                 target.client("s3"), dst_bucket, artifact_names(target, record.release))
    deploy_release(target, record.release, flags=flags, promoted_from=source.name, publish_release=False)
    if target.cfg.batch.enabled and target.emulator is None:
        from ..images import check_promoted_image

        check = check_promoted_image(source.client("ecr"), source.cfg, target.client("ecr"), target.cfg,
                                     record.release.id)
        if not check.ok and "not promoted unchanged" in check.message:
            raise KitError(check.message)
        (note if check.ok else warn)(check.message)
