"""An environment's Terraform lifecycle besides deploy and rollback (``kit/deploy.py``): plan,
drift, destroy, and ``terraform validate`` of every environment."""

from __future__ import annotations

import json
import os
import sys

import main as _main

from .. import gates
from ..deploy import (
    PLAN_FILE,
    Steps,
    Target,
    _endpoints_to,
    mark_destroyed,
    prepare,
    release_from,
    state_root,
    synth_stack,
    terraform_for,
)
from ..release import Release, fetch_config, read_record
from ..terraform import Terraform, TerraformError
from ..ui import KitError, note, step, warn

#: Resource types the emulator cannot delete (EMULATOR.md): dropped from state before a destroy.
EMULATOR_UNDELETABLE = ("aws_athena_named_query.",)


def plan(t: Target, release: Release) -> None:
    """Synthesize, init and plan (saved); warn about data stores the plan would replace."""
    steps = Steps(5)
    prepare(t, steps)
    workdir = synth_stack(t, release, steps)
    tf = terraform_for(workdir, steps)
    steps(f"terraform plan (saved to {os.path.relpath(workdir / PLAN_FILE, _main.work_root())})")
    changes = tf.plan(PLAN_FILE)
    if changes:
        destructive = gates.destructive_data_store_changes(tf.show_json(PLAN_FILE))
        for c in destructive:
            warn(f"this plan would {c.verb} data store {c.address}: deploy will refuse it without "
                 "ALLOW_DATA_STORE_REPLACEMENT=yes")
    step(f"{t.label}: {'changes planned' if changes else 'no changes'}")


def destroy(t: Target) -> None:
    """Destroy what the environment runs, with the configuration of its recorded release
    (``CONFIRM=prod`` for prod); artifacts bucket, release records and tokenisation key are kept."""
    if t.name == "prod" and os.environ.get("CONFIRM") != "prod":
        raise KitError("refusing to destroy prod: run `make destroy ENV=prod CONFIRM=prod` if you really mean it "
                       "(its data stores are also protected by prevent_destroy)")
    steps = Steps(5)
    if t.emulator is not None:
        epoch = prepare(t, steps, start=False)
        if epoch is None or not t.state_file.exists():
            step(f"nothing to destroy: the emulator is not running or holds no deployment of {t.label}")
            return
    else:
        prepare(t, steps)
    record = read_record(t.client("ssm"), t.cfg.name_prefix)
    if record is not None and record.config is not None:
        # Destroy what was deployed, with the configuration that deployed it (the code may have
        # moved on since: new plug-ins would not match the recorded release).
        steps(f"configuration of release {record.release.id} from s3://{t.artifacts_bucket}/{record.config['key']}")
        workdir = t.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        config = json.loads(fetch_config(t.client("s3"), t.artifacts_bucket, record.config))
        if t.emulator is not None:
            config = _endpoints_to(config, t.emulator.url)
        (workdir / "cdk.tf.json").write_text(json.dumps(config, indent=2))
    else:
        workdir = synth_stack(t, record.release if record is not None else release_from(None), steps)
    tf = terraform_for(workdir, steps)
    if t.emulator is not None and t.cfg.protection.force_destroy:
        _empty_buckets_on_emulator(t)
    if t.emulator is not None:
        # The emulator cannot delete Athena named queries (no DeleteNamedQuery): forget them;
        # they go with the emulator's next reset or restart.
        listed = tf.run("state", "list", capture=True, check=False).stdout.split()
        unremovable = [a for a in listed if a.startswith(EMULATOR_UNDELETABLE)]
        if unremovable:
            tf.run("state", "rm", *unremovable, capture=True)
            note(f"{len(unremovable)} Athena named quer{'y' if len(unremovable) == 1 else 'ies'} left to the "
                 "emulator's next reset (it cannot delete them)")
    steps("terraform plan -destroy (saved)")
    if tf.plan(PLAN_FILE, destroy=True):
        steps("terraform apply (the saved destroy plan)")
        try:
            tf.apply(PLAN_FILE)
        except TerraformError:
            if t.emulator is None:
                raise
            # The emulator merges two ingress rules on one port (from two source groups) into one
            # permission: revoking the first revokes both, and the second revoke answers "not
            # found". A second pass re-reads what is left and finishes.
            warn("the emulator refused part of the destroy; a second pass re-reads what is left")
            if tf.plan(PLAN_FILE, destroy=True):
                tf.apply(PLAN_FILE)
    else:
        steps("nothing to destroy")
    mark_destroyed(t)
    step(f"{t.label} destroyed (artifacts bucket, release records and tokenisation key are kept)")


def _empty_buckets_on_emulator(t: Target) -> None:
    """Empty the environment's buckets object version by object version: the emulator answers
    the provider's batched DeleteObjects over versions and delete markers with HTTP 500, so
    ``force_destroy`` alone cannot empty a versioned bucket there."""
    from botocore.exceptions import ClientError

    from modules.plugins import BUCKETS

    s3 = t.client("s3")
    removed = 0
    for purpose in BUCKETS:
        bucket = t.cfg.bucket_name(purpose)
        try:
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
                    removed += 1
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchBucket":
                raise
    note(f"emptied the buckets on the emulator ({removed} object versions and delete markers)")


def drift(t: Target) -> int:
    """Exit status 0: the environment matches its code and recorded release; 2: drift."""
    steps = Steps(5)
    prepare(t, steps)
    record = read_record(t.client("ssm"), t.cfg.name_prefix)
    if record is None:
        raise KitError(f"no release is recorded in {t.label}: nothing deployed to compare with")
    workdir = synth_stack(t, record.release, steps)
    tf = terraform_for(workdir, steps)
    steps("terraform plan -detailed-exitcode -lock=false (read-only: never applied)")
    if not tf.plan(PLAN_FILE, extra=["-lock=false"]):
        step(f"{t.label}: no drift (matches the code and release {record.release.id})")
        return 0
    drifted = gates.changed_addresses(tf.show_json(PLAN_FILE))
    step(f"{t.label}: DRIFT — {len(drifted)} resource(s) differ from the code and release {record.release.id}:")
    for line in drifted:
        note(line)
    return 2


def validate(envs: list[str]) -> int:
    """``terraform validate`` of every environment in ``envs``: exit status 1 when one fails."""
    dirs = _main.synth(envs)
    failed = []
    for env, workdir in dirs.items():
        tf = Terraform.for_stack(workdir, state_root())
        tf.init(backend=False, quiet=True)
        proc = tf.validate()
        ok = proc.returncode == 0
        step(f"terraform validate {env}: {'ok' if ok else 'FAILED'}")
        if not ok:
            failed.append(env)
            print(proc.stdout, proc.stderr, file=sys.stderr)
    return 1 if failed else 0
