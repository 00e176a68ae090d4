"""The kit's command line: ``python -m kit <command> --env <env>`` (the Makefile calls this).

Commands: synth, package, plan, deploy, promote, rollback, destroy, drift, bootstrap, validate, run,
api, image-*, emulator-up, down, and the operations (``kit/ops.py``: redrive, replay, status).

This module only parses the arguments, resolves the environment and maps errors to exit
statuses; what each command does lives in its own module: ``kit/deploy.py`` (deploy, rollback),
``kit/bootstrap.py``, ``kit/commands/`` (promote, plan/drift/destroy/validate, api, images, the
emulator), ``kit/release.py`` (package).

Every command that touches an environment takes ``--target aws|emulator``: ``local`` is always on
the emulator; an AWS environment goes to AWS unless ``--target emulator`` rehearses it on the
local emulator, with its own names (the emulator's account id) and its own state file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import main as _main
from environments import ALL_ENVIRONMENTS, PROMOTION_ORDER, ConfigError
from modules.plugins import ManifestError

from .deploy import Flags, deploy_release, release_from, resolve, rollback
from .promotion import check_promotion
from .terraform import TerraformInterrupted, sigterm_as_interrupt
from .ui import KitError


def cmd_synth(args: argparse.Namespace) -> int:
    return _main.main([f"--env={e}" for e in args.envs])


def cmd_package(args: argparse.Namespace) -> int:
    from .release import package

    package(_main.releases_dir())
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from .commands import environment

    environment.plan(resolve(args.env, args.target), release_from(args.release))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    deploy_release(resolve(args.env, args.target), release_from(args.release), flags=Flags.from_env())
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Back to the previous deployment (or the newest good one of release ``--to``): its exact
    Terraform configuration, then a smoke test."""
    rollback(resolve(args.env, args.target), to=args.to, flags=Flags.from_env())
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from .commands.promote import promote

    check_promotion(args.source, args.to)  # before anything is resolved
    promote(resolve(args.source, args.target), resolve(args.to, args.target), flags=Flags.from_env())
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from .commands import environment

    environment.destroy(resolve(args.env, args.target))
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    """Exit 0: the environment matches its code and recorded release; exit 2: drift."""
    from .commands import environment

    return environment.drift(resolve(args.env, args.target))


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """State bucket, lock table, artifacts bucket, and the GitHub OIDC provider and roles
    (``kit/bootstrap.py``). Idempotent."""
    from .bootstrap import bootstrap

    return bootstrap(resolve(args.env, args.target))


def cmd_validate(args: argparse.Namespace) -> int:
    from .commands import environment

    return environment.validate(args.envs)


def cmd_run(args: argparse.Namespace) -> int:
    from .commands.local import run_pipeline
    from .runner import SAMPLES

    samples = None if args.drain_only else (Path(args.samples) if args.samples else SAMPLES)
    run_pipeline(resolve(args.env, args.target), samples=samples, timeout=args.timeout, quiet=args.quiet)
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    """The flags are checked before the environment is looked at (``kit/commands/api.py``)."""
    from .commands import api

    if args.timeout <= 0:
        raise KitError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    bad = [q for q in args.query or [] if "=" not in q]
    if bad:
        raise KitError(f"--query {bad[0]!r}: write key=value")
    given = [name for name, value in (("--body", args.body), ("--body-file", args.body_file),
                                      ("--upload", args.upload)) if value is not None]
    if len(given) > 1:
        raise KitError(f"{' and '.join(given)} cannot be combined: give one request body")
    if args.download and args.upload is None:
        raise KitError("--download goes with --upload (it fetches the uploaded file's outputs)")
    return api.call(resolve(args.env, args.target), args.method, args.path, body=args.body,
                    body_file=args.body_file, content_type=args.content_type, upload=args.upload,
                    download=args.download, timeout=args.timeout,
                    query=dict(q.split("=", 1) for q in args.query or []))


def cmd_emulator_up(args: argparse.Namespace) -> int:
    from .commands.local import emulator_up

    emulator_up(resolve(args.env))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from .commands.local import down

    down(resolve(args.env))
    return 0


def cmd_image_build(args: argparse.Namespace) -> int:
    from .commands import images

    images.build(resolve(args.env).cfg, release_from(args.release))
    return 0


def cmd_image_push(args: argparse.Namespace) -> int:
    from .commands import images

    images.push(resolve(args.env), release_from(args.release))
    return 0


def cmd_image_promote(args: argparse.Namespace) -> int:
    from .commands import images

    images.promote(resolve(args.source), resolve(args.to))
    return 0


def cmd_image_check(args: argparse.Namespace) -> int:
    from .commands import images

    images.check_image(resolve(args.env), release_from(args.release))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kit", description="pipeline-kit commands")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, help: str, *, target: bool = True, release: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--env", default="local", choices=ALL_ENVIRONMENTS)
        if target:
            p.add_argument("--target", choices=("aws", "emulator"), default=None,
                           help="AWS environments: deploy to AWS (default) or rehearse on the emulator")
        if release:
            p.add_argument("--release", default=None, help="a release folder (build/releases/<id>); "
                                                           "default: build one from the working tree")
        p.set_defaults(func=func)
        return p

    def with_envs(name: str, func, help: str) -> None:
        p = sub.add_parser(name, help=help)
        p.add_argument("envs", nargs="*", default=list(ALL_ENVIRONMENTS), metavar="ENV")
        p.set_defaults(func=func)

    with_envs("synth", cmd_synth, "synthesize Terraform JSON")
    sub.add_parser("package", help="build a release once (build/releases/<id>)").set_defaults(func=cmd_package)
    command("plan", cmd_plan, "synthesize, init and plan one environment", release=True)
    command("deploy", cmd_deploy, "deploy a release: publish, plan, gates, apply, smoke test, rollback", release=True)
    promote = sub.add_parser("promote", help="promote the release running in FROM to the next environment")
    promote.add_argument("--from", dest="source", required=True, choices=PROMOTION_ORDER)
    promote.add_argument("--to", required=True, choices=PROMOTION_ORDER)
    promote.add_argument("--target", choices=("aws", "emulator"), default=None)
    promote.set_defaults(func=cmd_promote)
    rollback_parser = command("rollback", cmd_rollback, "go back to the previous deployment (or the newest good "
                                                        "one of --to RELEASE): its exact configuration, smoke-tested")
    rollback_parser.add_argument("--to", default=None, help="a release id recorded in the environment's history")
    command("destroy", cmd_destroy, "destroy one environment")
    command("drift", cmd_drift, "exit 2 when the environment differs from its code and release")
    command("bootstrap", cmd_bootstrap, "create the state bucket, lock table, artifacts bucket and the "
                                         "GitHub OIDC provider and roles")
    with_envs("validate", cmd_validate, "terraform validate every environment")
    run_parser = command("run", cmd_run, "drive the pipeline on the emulator with the sample files")
    run_parser.add_argument("--samples", help="folder of <dataset>/<file> samples (default: lambdas/_shared/samples)")
    run_parser.add_argument("--drain-only", action="store_true",
                            help="upload nothing: process what is queued, a table of the files processed")
    run_parser.add_argument("--quiet", action="store_true", help="no per-file table")
    run_parser.add_argument("--timeout", type=float, default=300.0,
                            help="seconds to wait for every queue to empty (default 300)")
    api_parser = command("api", cmd_api, "call a route of the deployed REST API through the local runner")
    api_parser.add_argument("method", choices=("GET", "POST", "PUT", "DELETE", "PATCH"))
    api_parser.add_argument("path", help="e.g. /files/<file_id>")
    api_parser.add_argument("--body", default=None, help="a JSON request body")
    api_parser.add_argument("--body-file", default=None, metavar="PATH",
                            help="the request body from a file (e.g. POST /datasets/<name>/cleanse); its type "
                                 "from the extension (.json, .csv, .jsonl) or --content-type")
    api_parser.add_argument("--content-type", default=None,
                            help="Content-Type of --body/--body-file; with --upload, the upload's content_type")
    api_parser.add_argument("--upload", default=None, metavar="PATH",
                            help="with POST /datasets/<name>/files: request a presigned URL, PUT this file with "
                                 "the returned headers, run the local pipeline, follow GET /files/<id>")
    api_parser.add_argument("--download", default=None, metavar="DIR",
                            help="with --upload: fetch the clean output (or quarantine report) into DIR "
                                 "through the returned presigned GET URLs")
    api_parser.add_argument("--timeout", type=float, default=300.0,
                            help="with --upload: seconds to wait for the pipeline and a final status (default 300)")
    api_parser.add_argument("--query", action="append", help="key=value query string parameter (repeatable)")
    command("image-build", cmd_image_build, "build the Batch container image of a release (needs docker)",
            target=False, release=True)
    command("image-push", cmd_image_push, "push the release's Batch image to ENV's repository (needs docker)",
            target=False, release=True)
    image_promote = sub.add_parser("image-promote", help="copy the Batch image of the release TO runs from FROM "
                                                         "(same digest; needs crane)")
    image_promote.add_argument("--from", dest="source", required=True, choices=PROMOTION_ORDER)
    image_promote.add_argument("--to", required=True, choices=PROMOTION_ORDER)
    image_promote.set_defaults(func=cmd_image_promote)
    command("image-check", cmd_image_check, "is the release's Batch image in ENV's repository?",
            target=False, release=True)
    command("emulator-up", cmd_emulator_up, "start the emulator if it is not running", target=False)
    command("down", cmd_down, "stop the emulator the kit started", target=False)
    from . import ops  # redrive, replay, status
    ops.register(sub, command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "envs"):
        unknown = [e for e in args.envs if e not in ALL_ENVIRONMENTS]
        if unknown:
            print(f"error: unknown environment {unknown[0]!r} (known: {', '.join(ALL_ENVIRONMENTS)})", file=sys.stderr)
            return 2
    try:
        with sigterm_as_interrupt():
            return args.func(args)
    except (ConfigError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TerraformInterrupted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 130
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to carry on (a deploy picks up where it stopped)", file=sys.stderr)
        return 130
