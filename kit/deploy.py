"""Deploying, rolling back and destroying one environment (``make deploy`` / ``rollback`` / ``destroy``).

A deploy: publish the release's artifacts → synthesize → keep the synthesized configuration in the
artifacts bucket → record the deploy as ``deploying`` → plan to a saved file → gates → apply that
plan → smoke test → record it ``deployed`` (or roll back). Everything is written so that a deploy
cut short at any point is finished by running ``make deploy`` again:

- Terraform runs in its own process group and is stopped cleanly on Ctrl-C/SIGTERM
  (``kit/terraform.py``); a Terraform left running by a killed kit is waited for.
- On the emulator, the state and the emulator are reconciled **before** planning
  (``kit/emulator.py`` ``Epoch``): a state the emulator still holds is kept, a state of an emulator
  that restarted is set aside.
- Resources Terraform created but never recorded (it was killed mid-call) collide with "already
  exists" on the next apply: the kit adopts them with import blocks (``kit/recovery.py``),
  automatically on the emulator and with ``ADOPT_EXISTING=yes`` on AWS.
- The release record says ``deploying`` before the apply, so it never claims that a release runs
  which does not; a rollback re-applies the **exact configuration** of the deployment before (kept
  content-addressed in the artifacts bucket), whatever the failed release added or removed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import main as _main
from environments import EnvironmentConfig

from . import gates
from .emulator import Emulator, Epoch
from .recovery import Context, clear_imports, collisions, plan_adoption, write_imports
from .release import (
    DEPLOYED,
    DEPLOYING,
    DESTROYED,
    GLUE_ARTIFACTS,
    LAYER,
    ROLLBACK_FAILED,
    Record,
    Release,
    build_release,
    ensure_artifacts_bucket,
    fetch_config,
    history,
    now_iso,
    publish,
    read_record,
    store_config,
    write_bucket_record,
    write_record,
)
from .terraform import Terraform, TerraformError, lock_id
from .ui import KitError, note, step, warn

ROOT = _main.ROOT
PLAN_FILE = "tfplan"
#: Seconds the smoke test waits for its file's status record (``SMOKE_TIMEOUT``): the local runner's
#: drain on a loaded machine, or the real pipeline on AWS.
SMOKE_TIMEOUT_SECONDS = 600
#: Rounds of "adopt what collided, plan, apply" one deploy may take (each must adopt something new).
ADOPTION_ROUNDS = 20


def state_root() -> Path:
    return _main.work_root() / ".state"


# -- targets ----------------------------------------------------------------------------------

@dataclass
class Target:
    """One environment on one target: where it deploys, its clients, its Terraform folders."""

    cfg: EnvironmentConfig

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def label(self) -> str:
        return f"{self.cfg.name} (rehearsal on the emulator)" if self.cfg.is_rehearsal else self.cfg.name

    @property
    def emulator(self) -> Emulator | None:
        if self.cfg.emulator is None:
            return None
        return Emulator(host=self.cfg.emulator.host, port=self.cfg.emulator.port, state_dir=state_root())

    @property
    def outdir(self) -> Path:
        return _main.default_outdir() / "rehearsal" if self.cfg.is_rehearsal else _main.default_outdir()

    @property
    def workdir(self) -> Path:
        return _main.stack_dir(self.outdir.resolve(), self.cfg.name)

    @property
    def state_file(self) -> Path:
        return _main.work_root() / self.cfg.state.path

    @property
    def artifacts_bucket(self) -> str:
        return self.cfg.bucket_name("artifacts")

    def client(self, service: str):
        emu = self.emulator
        if emu is not None:
            return emu.client(service, self.cfg.region)
        import boto3

        return boto3.client(service, region_name=self.cfg.region)

    def cli_args(self) -> list[str]:
        return ["--env", self.cfg.name] + (["--target", "emulator"] if self.cfg.is_rehearsal else [])


def resolve(env: str, target: str | None = None) -> Target:
    cfg = _main._configs([env])[0]
    if target == "aws" and cfg.on_emulator:
        raise KitError(f"{env} runs on the emulator only")
    if target == "emulator" and not cfg.on_emulator:
        local = _main._configs(["local"])[0]
        assert local.emulator is not None
        cfg = cfg.rehearsal(port=local.emulator.port, host=local.emulator.host)
    return Target(cfg)


class Steps:
    def __init__(self, total: int) -> None:
        self.n, self.total = 0, total

    def __call__(self, message: str) -> None:
        self.n += 1
        step(f"[{self.n}/{self.total}] {message}")


@dataclass(frozen=True)
class Flags:
    """The operator's switches (environment variables set through make)."""

    approve: str | None = None
    allow_replace: bool = False
    smoke: bool = True
    adopt: bool = False

    @classmethod
    def from_env(cls) -> "Flags":
        def yes(name: str) -> bool:
            return os.environ.get(name, "").lower() in ("yes", "true", "1")

        return cls(approve=os.environ.get("APPROVE") or None, allow_replace=yes("ALLOW_DATA_STORE_REPLACEMENT"),
                   smoke=os.environ.get("SMOKE", "1").lower() not in ("0", "no", "false"),
                   adopt=yes("ADOPT_EXISTING"))


# -- building blocks ---------------------------------------------------------------------------

def release_from(path: str | None) -> Release:
    if path:
        return Release.load(Path(path))
    release = build_release(_main.releases_dir())
    note(f"release {release.id} built from the working tree ({len(release.plugin_artifacts())} plug-in artifacts)")
    return release


def prepare(t: Target, steps: Steps | None, *, start: bool = True) -> Epoch | None:
    """Emulator: running, and the local state belongs to it (reconciled and marked before any
    plan). AWS: the credentials reach the account."""
    say = steps or step
    emu = t.emulator
    if emu is not None:
        if start:
            started = emu.ensure_running()
            say(f"emulator {'started' if started else 'already running'} at {emu.url}"
                + (f" (log: {os.path.relpath(emu.log_file, ROOT)}; stop it with `make down`)" if started else ""))
        elif not emu.is_running():
            return None
        epoch = Epoch(emu, env=f"rehearsal-{t.name}" if t.cfg.is_rehearsal else t.name, region=t.cfg.region,
                      state_file=t.state_file)
        verdict = epoch.reconcile()
        if verdict == "kept":
            note("the local state and the emulator belong together (a deploy was cut short before it finished): "
                 "state kept")
        elif verdict not in ("current", "fresh"):
            note("the emulator does not hold what the local state describes (restarted or reset); "
                 f"old state moved to {os.path.relpath(verdict, _main.work_root())}")
        return epoch
    say(f"check AWS credentials for account {t.cfg.account_id}")
    check_credentials(t.cfg)
    return None


def check_credentials(cfg: EnvironmentConfig) -> None:
    import boto3
    import botocore.exceptions

    try:
        ident = boto3.client("sts", region_name=cfg.region).get_caller_identity()
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
        raise KitError(f"no AWS credentials for {cfg.name}: configure a profile or role for account "
                       f"{cfg.account_id} (AWS_PROFILE=...), or rehearse it on the emulator with TARGET=emulator") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise KitError(f"cannot reach AWS STS to check the credentials for {cfg.name}: {exc}") from None
    except botocore.exceptions.ClientError as exc:
        raise KitError(f"the AWS credentials were refused: {exc}") from None
    if ident["Account"] != cfg.account_id:
        raise KitError(f"the credentials are for account {ident['Account']}, but {cfg.name} lives in "
                       f"{cfg.account_id} ({os.path.relpath(cfg.source, ROOT)}); refusing to deploy there")
    note(f"credentials: {ident['Arn']}")


def artifacts_bucket(t: Target) -> str:
    bucket = t.artifacts_bucket
    if t.emulator is not None:
        if ensure_artifacts_bucket(t.client("s3"), bucket, t.cfg.region,
                                   deny_insecure_transport=t.cfg.storage.deny_insecure_transport):
            note(f"artifacts bucket s3://{bucket} created on the emulator")
        return bucket
    from botocore.exceptions import ClientError

    try:
        t.client("s3").head_bucket(Bucket=bucket)
    except ClientError:
        raise KitError(f"artifacts bucket s3://{bucket} does not exist or is not reachable: "
                       f"run `make bootstrap ENV={t.name}` once (it creates the state bucket, lock table and "
                       "artifacts bucket)") from None
    return bucket


def artifact_names(t: Target, release: Release) -> list[str]:
    names = sorted(release.plugin_artifacts()) + [n for n in GLUE_ARTIFACTS if n in release.artifacts]
    return names + [LAYER] if t.emulator is not None else names


def schema_check() -> None:
    """Refuse to deploy a contract change that breaks BACKWARD compatibility (kit/schema_check.py)."""
    from .schema_check import run as schema_check_run

    lines: list[str] = []
    code = schema_check_run(out=lambda line: None, err=lines.append)
    if code != 0:
        raise KitError("a dataset contract change breaks BACKWARD compatibility with the registered schema:\n  "
                       + "\n  ".join(lines))


def emulator_backup_plan_name(t: Target) -> str | None:
    """The emulator keeps a deleted AWS Backup plan for ever and refuses to create another of the
    same name (EMULATOR.md): there the plan takes the name the state already holds, or the first
    ``<prefix>-backup[-N]`` no plan on the emulator, deleted ones included, has taken."""
    if t.emulator is None or not t.cfg.backup.enabled:
        return None
    base = f"{t.cfg.name_prefix}-backup"
    try:
        state = json.loads(t.state_file.read_text() or "{}") if t.state_file.exists() else {}
    except ValueError:
        state = {}
    for resource in state.get("resources", []):
        if resource.get("type") == "aws_backup_plan" and resource.get("mode") == "managed":
            for instance in resource.get("instances", []):
                name = (instance.get("attributes") or {}).get("name")
                if name:
                    return name
    taken = {p.get("BackupPlanName") for p in
             t.client("backup").list_backup_plans(IncludeDeleted=True).get("BackupPlansList", [])}
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    if name != base:
        note(f"backup plan {base} lingers deleted on the emulator: this deployment's plan is {name}")
    return name


def synth_stack(t: Target, release: Release, steps: Steps) -> Path:
    schema_check()
    steps(f"synthesize {t.label} with release {release.id}")
    started = time.perf_counter()
    cfg = t.cfg
    plan_name = emulator_backup_plan_name(t)
    if plan_name is not None:
        cfg = dataclasses.replace(cfg, backup=dataclasses.replace(cfg.backup, plan_name=plan_name))
    workdir = _main.synth([cfg], outdir=t.outdir, release=release)[t.name]
    note(f"{os.path.relpath(workdir / 'cdk.tf.json', _main.work_root())} in {time.perf_counter() - started:.1f}s")
    return workdir


def terraform_for(workdir: Path, steps: Steps | None) -> Terraform:
    tf = Terraform.for_stack(workdir, state_root())
    tf.wait_for_previous_run()
    (steps or step)("terraform init")
    tf.init()
    return tf


def _unlock_if_ours(t: Target, tf: Terraform, error: TerraformError) -> bool:
    """A state lock left by a Terraform of this machine that is gone (killed): release it."""
    ident = lock_id(error.output)
    if ident is None:
        return False
    from .terraform import _who

    if f"Who:       {_who()}" not in error.output and f"Who: {_who()}" not in " ".join(error.output.split()):
        raise KitError(f"the state of {t.label} is locked by another Terraform run (lock ID {ident}): wait for it. "
                       f"If that run is dead (a cancelled CI job), release the lock with "
                       f"`terraform -chdir={os.path.relpath(tf.workdir, _main.work_root())} force-unlock {ident}`")
    warn(f"the state lock {ident} was left by a Terraform of this machine that no longer runs: releasing it")
    tf.run("force-unlock", "-force", ident, capture=True)
    return True


def _emulator_gone(t: Target) -> bool:
    return t.emulator is not None and t.emulator.probe(timeout=10.0) == "down"


def untaint_data_stores(tf: Terraform) -> list[str]:
    """Data stores an interrupted or failed apply left *tainted* (created, but a later step of
    their creation — a tag, the key rotation, a waiter — was cut short) are untainted before
    planning: the next plan then finishes them in place instead of destroying and re-creating
    them (a KMS key can only be scheduled for deletion, and ``prevent_destroy`` would refuse the
    plan in staging and prod). Anything else tainted is replaced as Terraform plans it."""
    try:
        state = json.loads(tf.run("state", "pull", capture=True).stdout or "{}")
    except (TerraformError, ValueError):
        return []
    found = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed" or resource.get("type") not in gates.DATA_STORE_TYPES:
            continue
        for instance in resource.get("instances", []):
            if instance.get("status") == "tainted":
                address = f"{resource['type']}.{resource['name']}"
                if "index_key" in instance:
                    address += f"[{json.dumps(instance['index_key'])}]"
                found.append(address)
    for address in found:
        tf.run("untaint", address, capture=True)
    if found:
        warn("data store(s) left tainted by an interrupted or failed apply are finished in place, not re-created: "
             + ", ".join(found))
    return found


def apply_plan(t: Target, tf: Terraform, steps: Steps | None, *, flags: Flags, rollback: bool = False) -> bool:
    """plan (saved) → gates → apply that plan; True when something changed. An apply that collides
    with objects the state does not know (a run killed mid-call) adopts them with import blocks
    and goes on — automatically on the emulator, with ``ADOPT_EXISTING=yes`` on AWS — for as long
    as each round adopts something new (a resource whose dependency collided is only tried, and
    collides, in the next round)."""
    say = steps or step
    clear_imports(tf.workdir)
    untaint_data_stores(tf)
    changed = False
    adopted: dict[str, str] = {}
    handled: set[str] = set()
    for round_no in range(ADOPTION_ROUNDS):
        if round_no == 0:
            say(f"terraform plan (saved to {os.path.relpath(tf.workdir / PLAN_FILE, _main.work_root())})")
        else:
            note("terraform plan (with the adopted resources)")
        try:
            has_changes = tf.plan(PLAN_FILE)
        except TerraformError as exc:
            if round_no == 0 and _unlock_if_ours(t, tf, exc):
                has_changes = tf.plan(PLAN_FILE)
            else:
                raise
        if not has_changes:
            if round_no == 0:
                say("no changes: nothing to apply")
            clear_imports(tf.workdir)
            return changed
        plan = tf.show_json(PLAN_FILE)
        allowed = gates.check_data_stores(plan, allowed=flags.allow_replace, rollback=rollback)
        finishing = [c for c in allowed if c.finishing]
        if finishing:
            warn("finishing a replacement an interrupted apply started (the old object was deposed): "
                 + ", ".join(c.describe() for c in finishing))
        others = [c for c in allowed if not c.finishing]
        if others:
            warn(("removing what the failed release added: " if rollback else
                  "applying data-store destruction/replacement as explicitly allowed: ")
                 + ", ".join(c.address for c in others))
        gates.check_approval(t.name, flags.approve)
        if round_no == 0:
            say("terraform apply (the saved plan)")
        try:
            tf.apply(PLAN_FILE)
        except TerraformError as exc:
            if _emulator_gone(t):
                raise KitError(f"the emulator at {t.emulator.url} stopped answering during the apply: run "
                               "`make deploy` again (it starts a new emulator and deploys afresh)") from None
            found = [f for f in collisions(exc.output) if f.address not in handled]
            if not found:
                raise
            adoption = plan_adoption(found, plan, Context(account_id=t.cfg.account_id, region=t.cfg.region,
                                                          client=t.client), on_emulator=t.emulator is not None)
            if adoption.unresolved:
                raise KitError("these resources exist but are not in the state, and the kit cannot adopt them: "
                               + "; ".join(f"{a} ({why})" for a, why in adoption.unresolved.items())
                               + ". Import them (a Terraform `import` block) or delete them, then rerun") from None
            if t.emulator is None and not flags.adopt:
                raise KitError(f"{len(adoption.imports)} resource(s) exist in AWS but not in the state (a deploy was "
                               f"killed mid-apply?): {adoption.describe()}. If they are this environment's, rerun "
                               "with ADOPT_EXISTING=yes to import them") from None
            handled |= adoption.addresses
            adopted.update(adoption.imports)
            write_imports(tf.workdir, dataclasses.replace(adoption, imports=dict(adopted)))
            warn(f"{len(adoption.addresses)} resource(s) were created by an interrupted run but never recorded: "
                 f"adopting them ({adoption.describe()})")
            changed = True
            continue
        clear_imports(tf.workdir)
        return True
    raise KitError(f"the apply still collided with unrecorded resources after {ADOPTION_ROUNDS} rounds of adoption")


# -- records ---------------------------------------------------------------------------------------

class Records:
    """The environment's release records: SSM (``/<prefix>/release/{current,previous,last-failed}``)
    and the artifacts bucket (``releases/current.json``, what promotion reads, and the history)."""

    def __init__(self, t: Target) -> None:
        self.t = t
        self.ssm = t.client("ssm")

    def read(self, which: str = "current") -> Record | None:
        return read_record(self.ssm, self.t.cfg.name_prefix, which)

    def write(self, record: Record, which: str = "current") -> None:
        write_record(self.ssm, self.t.cfg.name_prefix, record, which)
        if which == "current":
            write_bucket_record(self.t.client("s3"), self.t.artifacts_bucket, record)

    def rollback_target(self, before: Record | None, new: Record) -> Record | None:
        """What a failed deploy of ``new`` goes back to: the deployment before it when that one was
        good (and is not the same deployment), else the recorded ``previous``."""
        for candidate in (before, self.read("previous")):
            if candidate is not None and candidate.good and not candidate.same_deployment(new):
                return candidate
        return None


def smoke_test(t: Target, release: Release):
    from .smoke import run_smoke

    runner_args = t.cli_args() if t.emulator is not None else None
    try:
        timeout = float(os.environ.get("SMOKE_TIMEOUT", SMOKE_TIMEOUT_SECONDS))
    except ValueError:
        raise KitError(f"SMOKE_TIMEOUT must be a number of seconds, got {os.environ['SMOKE_TIMEOUT']!r}") from None
    return run_smoke(t.cfg, t.client, release_id=release.id, runner_args=runner_args, timeout=timeout)


def ensure_secrets(t: Target) -> None:
    from .secrets import ensure_tokenisation_key, parameter_name

    created = ensure_tokenisation_key(t.client("ssm"), name_prefix=t.cfg.name_prefix,
                                      kms_alias=f"alias/{t.cfg.resource_name('data')}")
    note(f"tokenisation key {parameter_name(t.cfg.name_prefix)}: {'created (SecureString)' if created else 'present, kept'}")


def check_image(t: Target, release: Release) -> None:
    """Batch jobs run the release's container image: say whether it is in the repository."""
    if not t.cfg.batch.enabled:
        return
    if t.emulator is not None:
        note("Batch image check skipped on the emulator (it runs no containers: `make run` executes a "
             "routed job's entrypoint in-process)")
        return
    from .images import check_release_image

    check = check_release_image(t.client("ecr"), t.cfg, release.id)
    (note if check.ok else warn)(check.message)


# -- deploy ----------------------------------------------------------------------------------------

def deploy_release(t: Target, release: Release, *, flags: Flags, promoted_from: str | None = None,
                   publish_release: bool = True) -> Record:
    """The whole deploy of one release to one environment, with gates, smoke test and rollback."""
    started = time.perf_counter()
    gates.check_approval(t.name, flags.approve)
    steps = Steps(7)
    prepare(t, steps)
    bucket = artifacts_bucket(t)
    records = Records(t)
    before = records.read()
    if publish_release:
        steps(f"publish release {release.id} to s3://{bucket} (content-addressed, sha256 verified)")
        publish(release, t.client("s3"), bucket, artifact_names(t, release))
    else:
        steps(f"release {release.id} already in s3://{bucket} (sha256 verified)")
    workdir = synth_stack(t, release, steps)
    config = store_config(t.client("s3"), bucket, workdir / "cdk.tf.json")
    record = Record(release=release, smoke="pending", deployed_at=now_iso(), promoted_from=promoted_from,
                    status=DEPLOYING, config=config)
    target = records.rollback_target(before, record)
    if target is not None and target is before:
        records.write(before, "previous")
    tf = terraform_for(workdir, steps)
    records.write(record)  # before anything is applied: never claim the old release still runs
    apply_plan(t, tf, steps, flags=flags)
    record.status = DEPLOYED
    ensure_secrets(t)
    check_image(t, release)
    if flags.smoke:
        steps(f"smoke test: a sample file through {t.label}")
        result = smoke_test(t, release)
        if not result.passed:
            record.smoke = "failed"
            records.write(record, "last-failed")
            records.write(record)
            rollback_after_failure(t, records, target, record, result.detail, flags=flags)
        note(f"smoke test passed: {result.detail}")
        record.smoke = "passed"
    else:
        steps("smoke test skipped (SMOKE=0)")
        record.smoke = "skipped"
    records.write(record)
    step(f"{t.label} runs release {release.id} (smoke {record.smoke}) — deployed in "
         f"{time.perf_counter() - started:.0f}s" + (f" (emulator at {t.emulator.url})" if t.emulator else ""))
    return record


# -- rollback --------------------------------------------------------------------------------------

def _endpoints_to(config: dict, url: str) -> dict:
    """A stored emulator configuration, pointed at the emulator that runs now (the port may differ)."""
    for block in config.get("provider", {}).get("aws", []):
        for endpoints in block.get("endpoints", []):
            for service in endpoints:
                endpoints[service] = url
    return config


def apply_recorded(t: Target, target: Record, *, flags: Flags, steps: Steps | None = None) -> None:
    """Apply exactly the configuration a recorded deployment applied (fetched from the artifacts
    bucket, sha256 verified) into the environment's stack folder."""
    if target.config is None:
        # Recorded by an older kit, without its configuration: synthesize the current code with
        # that release's artifacts (works while the plug-ins have not changed).
        from modules.plugins import discover_plugins

        missing = [p.name for p in discover_plugins() if p.name not in target.release.artifacts]
        if missing:
            raise KitError(f"release {target.release.id} was recorded without its Terraform configuration (an older "
                           f"kit) and has no artifact for plug-in(s) {', '.join(missing)} of the current code: "
                           "deploy a fixed release instead")
        workdir = synth_stack(t, target.release, steps or Steps(3))
    else:
        body = fetch_config(t.client("s3"), t.artifacts_bucket, target.config)
        workdir = t.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        config = json.loads(body)
        if t.emulator is not None:
            config = _endpoints_to(config, t.emulator.url)
        (workdir / "cdk.tf.json").write_text(json.dumps(config, indent=2))
        note(f"configuration of release {target.release.id} ({target.config['key']}) written to "
             f"{os.path.relpath(workdir / 'cdk.tf.json', _main.work_root())}")
    tf = terraform_for(workdir, steps)
    apply_plan(t, tf, steps, flags=flags, rollback=True)


def rollback_after_failure(t: Target, records: Records, target: Record | None, failed: Record, detail: str, *,
                           flags: Flags) -> None:
    """A deploy whose smoke test failed: go back to ``target`` (the deployment before) and raise."""
    if target is None:
        raise KitError(f"smoke test FAILED on {t.label} for release {failed.release.id}: {detail}. "
                       "There is no previous release to roll back to; the failed release stays deployed "
                       "and is recorded as failed (it cannot be promoted)")
    step(f"smoke test FAILED: {detail}")
    step(f"rolling back {t.label} to the previous release {target.release.id}")
    restored = roll_back(t, records, target, failed=failed, flags=flags)
    raise KitError(f"smoke test FAILED on {t.label} for release {failed.release.id}: {detail}. "
                   f"Rolled back automatically to release {target.release.id}, which runs there now"
                   + (f" (smoke {restored.smoke})" if restored.smoke != "skipped" else ""))


def roll_back(t: Target, records: Records, target: Record, *, failed: Record | None, flags: Flags) -> Record:
    """Re-apply ``target``'s configuration, smoke-test it, record it as current."""
    steps = Steps(4)
    try:
        apply_recorded(t, target, flags=flags, steps=steps)
    except (KitError, KeyboardInterrupt):
        if failed is not None:
            failed.status = ROLLBACK_FAILED
            records.write(failed)
        raise
    restored = dataclasses.replace(target, deployed_at=now_iso(), status=DEPLOYED, promoted_from=target.promoted_from,
                                   rolled_back_from=failed.release.id if failed is not None else None,
                                   smoke="skipped")
    if flags.smoke:
        steps(f"smoke test of release {target.release.id} after the rollback")
        result = smoke_test(t, target.release)
        restored.smoke = "passed" if result.passed else "failed"
        (note if result.passed else warn)(f"smoke test after the rollback {restored.smoke}: {result.detail}")
    records.write(restored)
    return restored


def rollback(t: Target, *, to: str | None, flags: Flags) -> Record:
    """``make rollback``: back to the recorded previous deployment, or to the newest recorded
    deployment of release ``to``."""
    gates.check_approval(t.name, flags.approve)
    prepare(t, None)
    records = Records(t)
    current = records.read()
    if to:
        found = [r for r in history(t.client("s3"), t.artifacts_bucket) if r.release.id == to and r.good]
        if not found:
            raise KitError(f"no finished, smoke-tested deployment of release {to} is recorded in {t.label} "
                           f"(s3://{t.artifacts_bucket}/releases/history/)")
        target = found[0]
    else:
        target = records.read("previous")
        if target is None or not target.good:
            raise KitError(f"{t.label} has no previous deployment to roll back to (nothing recorded as "
                           f"/{t.cfg.name_prefix}/release/previous)")
    if current is not None and current.same_deployment(target) and current.status == DEPLOYED:
        step(f"{t.label} already runs release {target.release.id} with that configuration: nothing to roll back")
        return current
    step(f"roll back {t.label} from release {current.release.id if current else '(none)'} to {target.release.id} "
         f"(deployed {target.deployed_at})")
    restored = roll_back(t, records, target, failed=current, flags=flags)
    if current is not None and current.good and not current.same_deployment(target):
        records.write(current, "previous")
    step(f"{t.label} runs release {target.release.id} again (smoke {restored.smoke})")
    return restored


# -- destroy ---------------------------------------------------------------------------------------

def mark_destroyed(t: Target) -> None:
    """After a destroy, the record says so: nothing runs, nothing can be promoted from here."""
    records = Records(t)
    current = records.read()
    if current is not None:
        current.status = DESTROYED
        current.deployed_at = now_iso()
        records.write(current)
