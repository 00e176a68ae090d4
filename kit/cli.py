"""The kit's command line: ``python -m kit <command> --env <env>`` (the Makefile calls this).

Commands: synth, plan, deploy, destroy, validate, emulator-up, down.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from environments import ALL_ENVIRONMENTS, ConfigError, EnvironmentConfig
from modules.plugins import ManifestError

from .emulator import Emulator, Epoch
from .terraform import Terraform
from .ui import KitError, note, step, warn

import main as _main

ROOT = _main.ROOT
PLAN_FILE = "tfplan"


def state_root() -> Path:
    return _main.work_root() / ".state"


def load(env: str) -> EnvironmentConfig:
    import main

    return main._configs([env])[0]


def emulator_for(cfg: EnvironmentConfig) -> Emulator:
    assert cfg.emulator is not None
    return Emulator(host=cfg.emulator.host, port=cfg.emulator.port, state_dir=state_root())


def state_file(cfg: EnvironmentConfig) -> Path:
    return _main.work_root() / cfg.state.path


class Steps:
    def __init__(self, total: int) -> None:
        self.n, self.total = 0, total

    def __call__(self, message: str) -> None:
        self.n += 1
        step(f"[{self.n}/{self.total}] {message}")


def _synth(cfg: EnvironmentConfig, steps: Steps) -> Path:
    import main

    steps(f"synthesize {cfg.name} from {os.path.relpath(cfg.source, ROOT)} and {len(_plugins())} plug-in manifest(s)")
    started = time.perf_counter()
    workdir = main.synth([cfg.name])[cfg.name]
    note(f"{os.path.relpath(workdir / 'cdk.tf.json', ROOT)} in {time.perf_counter() - started:.1f}s")
    return workdir


def _plugins():
    from modules.plugins import discover_plugins

    return discover_plugins()


def _prepare_target(cfg: EnvironmentConfig, steps: Steps, *, start: bool = True) -> Epoch | None:
    """Emulator environments: make sure the emulator runs and the local state belongs to it.
    AWS environments: make sure the credentials reach the environment's account."""
    if cfg.on_emulator:
        emu = emulator_for(cfg)
        if start:
            started = emu.ensure_running()
            steps(f"emulator {'started' if started else 'already running'} at {emu.url}"
                  + (f" (log: {os.path.relpath(emu.log_file, ROOT)}; stop it with `make down`)" if started else ""))
        elif not emu.is_running():
            return None
        epoch = Epoch(emu, env=cfg.name, region=cfg.region, state_file=state_file(cfg))
        if epoch.state_is_stale():
            moved = epoch.set_aside_stale_state()
            note(f"the emulator does not hold what the local state describes (restarted or reset); "
                 f"old state moved to {os.path.relpath(moved, ROOT)}")
        return epoch
    steps(f"check AWS credentials for account {cfg.account_id}")
    _check_credentials(cfg)
    return None


def _check_credentials(cfg: EnvironmentConfig) -> None:
    import boto3
    import botocore.exceptions

    try:
        ident = boto3.client("sts", region_name=cfg.region).get_caller_identity()
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
        raise KitError(f"no AWS credentials for {cfg.name}: configure a profile or role for account "
                       f"{cfg.account_id} (AWS_PROFILE=...), or deploy ENV=local onto the emulator") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise KitError(f"cannot reach AWS STS to check the credentials for {cfg.name}: {exc}") from None
    except botocore.exceptions.ClientError as exc:
        raise KitError(f"the AWS credentials were refused: {exc}") from None
    if ident["Account"] != cfg.account_id:
        raise KitError(f"the credentials are for account {ident['Account']}, but {cfg.name} lives in "
                       f"{cfg.account_id} ({os.path.relpath(cfg.source, ROOT)}); refusing to deploy there")
    note(f"credentials: {ident['Arn']}")


def _terraform(cfg: EnvironmentConfig, workdir: Path, steps: Steps) -> Terraform:
    tf = Terraform.for_stack(workdir, state_root())
    steps("terraform init")
    tf.init()
    return tf


def _ensure_secrets(cfg: EnvironmentConfig) -> None:
    from .secrets import ensure_tokenisation_key, parameter_name

    if cfg.on_emulator:
        ssm = emulator_for(cfg).client("ssm", cfg.region)
    else:
        import boto3

        ssm = boto3.client("ssm", region_name=cfg.region)
    created = ensure_tokenisation_key(ssm, name_prefix=cfg.name_prefix, kms_alias=f"alias/{cfg.resource_name('data')}")
    note(f"tokenisation key {parameter_name(cfg.name_prefix)}: {'created (SecureString)' if created else 'present, kept'}")


def cmd_synth(args: argparse.Namespace) -> int:
    import main

    return main.main([f"--env={e}" for e in args.envs])


def cmd_plan(args: argparse.Namespace) -> int:
    cfg = load(args.env)
    steps = Steps(4)
    workdir = _synth(cfg, steps)
    _prepare_target(cfg, steps)
    tf = _terraform(cfg, workdir, steps)
    steps(f"terraform plan (saved to {os.path.relpath(workdir / PLAN_FILE, ROOT)})")
    changes = tf.plan(PLAN_FILE)
    step(f"{cfg.name}: {'changes planned' if changes else 'no changes'}")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    cfg = load(args.env)
    steps = Steps(5)
    workdir = _synth(cfg, steps)
    epoch = _prepare_target(cfg, steps)
    tf = _terraform(cfg, workdir, steps)
    steps(f"terraform plan (saved to {os.path.relpath(workdir / PLAN_FILE, ROOT)})")
    changes = tf.plan(PLAN_FILE)
    if changes:
        steps("terraform apply (the saved plan)")
        tf.apply(PLAN_FILE)
    else:
        steps("no changes: nothing to apply")
    _ensure_secrets(cfg)
    if epoch is not None:
        epoch.record()
    step(f"{cfg.name} deployed in {time.perf_counter() - started:.0f}s"
         + (f" (emulator at {emulator_for(cfg).url})" if cfg.on_emulator else ""))
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    cfg = load(args.env)
    if cfg.name == "prod" and os.environ.get("CONFIRM") != "prod":
        raise KitError("refusing to destroy prod: run `make destroy ENV=prod CONFIRM=prod` if you really mean it "
                       "(its data stores are also protected by prevent_destroy)")
    steps = Steps(5)
    workdir = _synth(cfg, steps)
    if cfg.on_emulator:
        epoch = _prepare_target(cfg, steps, start=False)
        if epoch is None or not state_file(cfg).exists():
            steps("nothing to destroy: the emulator is not running or holds no deployment")
            return 0
        steps(f"emulator at {emulator_for(cfg).url}")
    else:
        epoch = _prepare_target(cfg, steps)
    tf = _terraform(cfg, workdir, steps)
    steps("terraform plan -destroy")
    if tf.plan(PLAN_FILE, destroy=True):
        steps("terraform apply (the saved destroy plan)")
        tf.apply(PLAN_FILE)
    else:
        steps("nothing to destroy")
    if epoch is not None:
        epoch.forget()
    step(f"{cfg.name} destroyed")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    import main

    dirs = main.synth(args.envs)
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


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import SAMPLES, run

    cfg = load(args.env)
    if not cfg.on_emulator:
        raise KitError(f"`make run` drives the pipeline on the emulator; {cfg.name} runs in AWS")
    emu = emulator_for(cfg)
    if not emu.is_running():
        raise KitError(f"no emulator at {emu.url}: run `make deploy` first")
    rows = run(cfg, emu, samples=None if args.drain_only else (Path(args.samples) if args.samples else SAMPLES),
               state_dir=state_root())
    lost = [r["key"] for r in rows if r["status"] == "NO STATUS"]
    if lost:
        raise KitError(f"{len(lost)} file(s) have no status record: {', '.join(lost)}")
    return 0


def cmd_emulator_up(args: argparse.Namespace) -> int:
    cfg = load(args.env)
    if not cfg.on_emulator:
        raise KitError(f"{cfg.name} does not deploy onto the emulator")
    emu = emulator_for(cfg)
    started = emu.ensure_running()
    step(f"emulator {'started' if started else 'already running'} at {emu.url}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    cfg = load(args.env)
    if not cfg.on_emulator:
        raise KitError(f"{cfg.name} does not deploy onto the emulator: nothing to stop")
    emu = emulator_for(cfg)
    if emu.stop():
        step(f"emulator at {emu.url} stopped (its data is gone; the next deploy starts afresh)")
    elif emu.is_running():
        warn(f"an emulator answers at {emu.url} but this kit did not start it; leaving it alone")
    else:
        step(f"no emulator running at {emu.url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kit", description="pipeline-kit commands")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_env(name: str, func, help: str) -> None:
        p = sub.add_parser(name, help=help)
        p.add_argument("--env", default="local", choices=ALL_ENVIRONMENTS)
        p.set_defaults(func=func)

    def with_envs(name: str, func, help: str) -> None:
        p = sub.add_parser(name, help=help)
        p.add_argument("envs", nargs="*", default=list(ALL_ENVIRONMENTS), metavar="ENV")
        p.set_defaults(func=func)

    with_envs("synth", cmd_synth, "synthesize Terraform JSON")
    with_env("plan", cmd_plan, "synthesize, init and plan one environment")
    with_env("deploy", cmd_deploy, "synthesize, init, plan and apply one environment")
    with_env("destroy", cmd_destroy, "destroy one environment")
    with_envs("validate", cmd_validate, "terraform validate every environment")
    run_parser = sub.add_parser("run", help="drive the local pipeline with the sample files")
    run_parser.add_argument("--env", default="local", choices=ALL_ENVIRONMENTS)
    run_parser.add_argument("--samples", help="folder of <dataset>/<file> samples (default: lambdas/_shared/samples)")
    run_parser.add_argument("--drain-only", action="store_true",
                            help="upload nothing: only process what is already queued")
    run_parser.set_defaults(func=cmd_run)
    with_env("emulator-up", cmd_emulator_up, "start the emulator if it is not running")
    with_env("down", cmd_down, "stop the emulator the kit started")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "envs"):
        unknown = [e for e in args.envs if e not in ALL_ENVIRONMENTS]
        if unknown:
            print(f"error: unknown environment {unknown[0]!r} (known: {', '.join(ALL_ENVIRONMENTS)})", file=sys.stderr)
            return 2
    try:
        return args.func(args)
    except (ConfigError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
