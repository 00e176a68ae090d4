"""The kit's command line: ``python -m kit <command> --env <env>`` (the Makefile calls this).

Commands: synth, package (``python -m kit.package``), plan, deploy, promote, destroy, drift,
bootstrap, validate, run, emulator-up, down.

Every command that touches an environment takes ``--target aws|emulator``: ``local`` is always on
the emulator; an AWS environment goes to AWS unless ``--target emulator`` rehearses it on the
local emulator, with its own names (the emulator's account id) and its own state file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import main as _main
from environments import ALL_ENVIRONMENTS, PROMOTION_ORDER, ConfigError
from modules.plugins import ManifestError

from . import gates
from .deploy import (  # noqa: F401 - Target, resolve, state_root are imported from here by the commands' modules
    PLAN_FILE,
    Flags,
    Records,
    Steps,
    Target,
    artifact_names,
    artifacts_bucket,
    deploy_release,
    mark_destroyed,
    prepare,
    release_from,
    resolve,
    rollback,
    state_root,
    synth_stack,
    terraform_for,
)
from .promotion import check_promotion
from .release import (
    DEPLOYED,
    copy_release,
    fetch_config,
    read_bucket_record,
    read_record,
)
from .terraform import Terraform, TerraformError, TerraformInterrupted, sigterm_as_interrupt
from .ui import KitError, note, step, warn

ROOT = _main.ROOT
#: Resource types the emulator cannot delete (EMULATOR.md): dropped from state before a destroy.
EMULATOR_UNDELETABLE = ("aws_athena_named_query.",)

def cmd_synth(args: argparse.Namespace) -> int:
    return _main.main([f"--env={e}" for e in args.envs])


def cmd_package(args: argparse.Namespace) -> int:
    from .package import main as package_main

    return package_main([])


def cmd_plan(args: argparse.Namespace) -> int:
    t = resolve(args.env, args.target)
    steps = Steps(5)
    release = release_from(args.release)
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
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    t = resolve(args.env, args.target)
    deploy_release(t, release_from(args.release), flags=Flags.from_env())
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Back to the previous deployment (or the newest good one of release ``--to``): its exact
    Terraform configuration, then a smoke test."""
    t = resolve(args.env, args.target)
    rollback(t, to=args.to, flags=Flags.from_env())
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    src, dst = args.source, args.to
    check_promotion(src, dst)
    source, target = resolve(src, args.target), resolve(dst, args.target)
    flags = Flags.from_env()
    gates.check_approval(dst, flags.approve)
    if source.emulator is not None and not source.emulator.is_running():
        raise KitError(f"no emulator at {source.emulator.url}: nothing is deployed in {source.label}")
    # Read through S3 (the source's artifacts bucket): it works across accounts, SSM does not.
    record = read_bucket_record(source.client("s3"), source.cfg.bucket_name("artifacts"))
    if record is None:
        raise KitError(f"no release is recorded in {source.label}: deploy it first (`make deploy ENV={src}`)")
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
    deploy_release(target, record.release, flags=flags, promoted_from=src, publish_release=False)
    if target.cfg.batch.enabled and target.emulator is None:
        from .images import check_promoted_image

        check = check_promoted_image(source.client("ecr"), source.cfg, target.client("ecr"), target.cfg,
                                     record.release.id)
        if not check.ok and "not promoted unchanged" in check.message:
            raise KitError(check.message)
        (note if check.ok else warn)(check.message)
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    t = resolve(args.env, args.target)
    if t.name == "prod" and os.environ.get("CONFIRM") != "prod":
        raise KitError("refusing to destroy prod: run `make destroy ENV=prod CONFIRM=prod` if you really mean it "
                       "(its data stores are also protected by prevent_destroy)")
    steps = Steps(5)
    if t.emulator is not None:
        epoch = prepare(t, steps, start=False)
        if epoch is None or not t.state_file.exists():
            step(f"nothing to destroy: the emulator is not running or holds no deployment of {t.label}")
            return 0
    else:
        prepare(t, steps)
    record = read_record(t.client("ssm"), t.cfg.name_prefix)
    if record is not None and record.config is not None:
        # Destroy what was deployed, with the configuration that deployed it (the code may have
        # moved on since: new plug-ins would not match the recorded release).
        steps(f"configuration of release {record.release.id} from s3://{t.artifacts_bucket}/{record.config['key']}")
        workdir = t.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        import json as _json

        from .deploy import _endpoints_to

        config = _json.loads(fetch_config(t.client("s3"), t.artifacts_bucket, record.config))
        if t.emulator is not None:
            config = _endpoints_to(config, t.emulator.url)
        (workdir / "cdk.tf.json").write_text(_json.dumps(config, indent=2))
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
    return 0


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


def cmd_drift(args: argparse.Namespace) -> int:
    """Exit 0: the environment matches its code and recorded release; exit 2: drift."""
    t = resolve(args.env, args.target)
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


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """State bucket, lock table, artifacts bucket, and the GitHub OIDC provider and roles
    (``kit/bootstrap.py``). Idempotent."""
    from .bootstrap import bootstrap

    return bootstrap(resolve(args.env, args.target))


def cmd_validate(args: argparse.Namespace) -> int:
    dirs = _main.synth(args.envs)
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

    t = resolve(args.env, args.target)
    emu = t.emulator
    if emu is None:
        raise KitError(f"`make run` drives the pipeline on the emulator; {t.name} runs in AWS "
                       "(rehearse it with TARGET=emulator)")
    if not emu.is_running():
        raise KitError(f"no emulator at {emu.url}: run `make deploy` first")
    if args.timeout <= 0:
        raise KitError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    samples = None if args.drain_only else (Path(args.samples) if args.samples else SAMPLES)
    outcome = run(t.cfg, emu, samples=samples, state_dir=state_root(), timeout=args.timeout, quiet=args.quiet)
    problems = outcome.problems(redrive=f"make redrive ENV={t.name}"
                                + (" TARGET=emulator" if t.cfg.is_rehearsal else ""))
    if problems:
        raise KitError("; ".join(problems))
    return 0


#: ``--body-file`` extension → Content-Type (``--content-type`` overrides).
_BODY_TYPES = {".json": "application/json", ".csv": "text/csv", ".jsonl": "application/x-ndjson",
               ".ndjson": "application/x-ndjson"}
#: A file's final statuses (pipeline_shared.messages.FINAL_STATUSES).
_FINAL_STATUSES = ("processed", "quarantined", "gone")


def _api_print(response: dict) -> dict | None:
    """Print ``HTTP <code>`` and the body (pretty JSON when it is JSON); returns the parsed body."""
    import json as _json

    print(f"HTTP {response.get('statusCode')}", flush=True)
    body = response.get("body") or ""
    try:
        parsed = _json.loads(body)
    except ValueError:
        print(body, flush=True)
        return None
    print(_json.dumps(parsed, indent=2, sort_keys=True), flush=True)
    return parsed


def _api_http(url: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None,
              what: str) -> bytes:
    """One plain HTTP request to a presigned URL; a refusal is one clear line."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace").replace("\n", " ")
        raise KitError(f"{what}: HTTP {exc.code} {exc.reason}: {detail}") from None
    except urllib.error.URLError as exc:
        raise KitError(f"{what}: {exc.reason}") from None


def _api_upload(t, args, invoke) -> int:
    """POST /datasets/<name>/files for ``--upload``, PUT the file with the returned headers, run
    the local pipeline, follow GET /files/<id> to a final status, ``--download`` its outputs."""
    import json as _json
    import re
    import time
    from urllib.parse import urlsplit

    from .runner import run

    if args.method != "POST" or not re.fullmatch(r"/datasets/[^/]+/files", args.path):
        raise KitError(f"--upload goes with POST /datasets/<name>/files, not {args.method} {args.path}")
    path = Path(args.upload)
    if not path.is_file():
        raise KitError(f"--upload {args.upload}: no such file")
    data = path.read_bytes()
    if not data:
        raise KitError(f"--upload {args.upload}: the file is empty")
    request = {"filename": path.name, "size": len(data)}
    if args.content_type:
        request["content_type"] = args.content_type
    created = _api_print(invoke(args.method, args.path, body=_json.dumps(request)))
    if not isinstance(created, dict) or "upload" not in created:
        return 1
    upload, file_id = created["upload"], created["file_id"]
    emulator = urlsplit(t.emulator.url)
    target = urlsplit(upload["url"])
    if (target.scheme, target.netloc) != (emulator.scheme, emulator.netloc):
        raise KitError(f"the upload URL points at {target.scheme}://{target.netloc}, not the emulator at "
                       f"{t.emulator.url}: is AWS_ENDPOINT_URL set in the API function's environment?")
    step(f"PUT {len(data)} bytes of {path.name} to the presigned URL (s3 key {created['key']})")
    _api_http(upload["url"], method=upload.get("method", "PUT"), data=data, headers=upload["headers"],
              what="the presigned PUT was refused")
    step("run the local pipeline (what `make run DRAIN_ONLY=1` does)")
    deadline = time.monotonic() + args.timeout
    view: dict | None = None
    while True:
        outcome = run(t.cfg, t.emulator, samples=None, state_dir=state_root(),
                      timeout=max(deadline - time.monotonic(), 1.0), quiet=True)
        response = invoke("GET", f"/files/{file_id}")
        try:
            view = _json.loads(response.get("body") or "{}")
        except ValueError:
            view = None
        if int(response.get("statusCode", 500)) != 200 or not isinstance(view, dict):
            _api_print(response)
            raise KitError(f"GET /files/{file_id} answered HTTP {response.get('statusCode')}")
        if view.get("status") in _FINAL_STATUSES or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    step(f"GET /files/{file_id}")
    _api_print({"statusCode": 200, "body": _json.dumps(view)})
    for problem in outcome.problems(redrive=f"make redrive ENV={t.name}"):
        warn(problem)
    status = view.get("status")
    if status not in _FINAL_STATUSES:
        raise KitError(f"file {file_id} is still {status!r} after {args.timeout:g}s (--timeout); "
                       f"see `make status ENV={t.name} FILE={file_id}`")
    if args.download:
        folder = Path(args.download)
        downloads = view.get("downloads") or {}
        entries = [*(downloads.get("clean") or [])] + [downloads[k] for k in ("quarantine_report", "rejected_rows")
                                                       if downloads.get(k)]
        if not entries:
            warn(f"file {file_id} is {status}: nothing to download")
        for entry in entries:
            out = folder / entry["key"]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(_api_http(entry["url"], what=f"the download of {entry['key']} was refused"))
            note(f"downloaded {out}")
    if status != "processed":
        print(f"error: file {file_id} ended {status}: {view.get('reason') or 'see its status above'}", file=sys.stderr)
        return 1
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    """Call a route of the deployed REST API through the local runner (emulator only); with
    ``--upload``, the whole presigned upload flow (see ``_api_upload``)."""
    import json as _json

    from .runner import invoke_api

    if args.timeout <= 0:
        raise KitError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    bad = [q for q in args.query or [] if "=" not in q]
    if bad:
        raise KitError(f"--query {bad[0]!r}: write key=value")
    query = dict(q.split("=", 1) for q in args.query or [])
    given = [name for name, value in (("--body", args.body), ("--body-file", args.body_file),
                                      ("--upload", args.upload)) if value is not None]
    if len(given) > 1:
        raise KitError(f"{' and '.join(given)} cannot be combined: give one request body")
    if args.download and args.upload is None:
        raise KitError("--download goes with --upload (it fetches the uploaded file's outputs)")
    t = resolve(args.env, args.target)
    if t.emulator is None or not t.emulator.is_running():
        raise KitError("`kit api` answers through the local runner on a running emulator: run `make deploy` first")

    def invoke(method: str, path: str, *, body=None, content_type: str = "application/json") -> dict:
        return invoke_api(t.cfg, t.emulator, method, path, body=body, query=query or None,
                          state_dir=state_root(), content_type=content_type)

    if args.upload is not None:
        return _api_upload(t, args, invoke)
    body: str | bytes | None = args.body
    content_type = args.content_type or "application/json"
    if args.body is not None and args.content_type is None:
        try:
            _json.loads(args.body)
        except ValueError as exc:
            raise KitError(f"--body is not valid JSON ({exc}); use --body-file with --content-type for other data") from None
    if args.body_file is not None:
        path = Path(args.body_file)
        if not path.is_file():
            raise KitError(f"--body-file {args.body_file}: no such file")
        suffix = path.suffix.lower()
        if args.content_type is None and suffix not in _BODY_TYPES:
            raise KitError(f"--body-file {path.name}: say its type with --content-type "
                           f"(known extensions: {', '.join(_BODY_TYPES)})")
        content_type = args.content_type or _BODY_TYPES[suffix]
        body = path.read_bytes()
    response = invoke(args.method, args.path, body=body, content_type=content_type)
    _api_print(response)
    return 0 if int(response.get("statusCode", 500)) < 400 else 1


def cmd_emulator_up(args: argparse.Namespace) -> int:
    t = resolve(args.env)
    emu = t.emulator
    if emu is None:
        raise KitError(f"{t.name} does not deploy onto the emulator")
    started = emu.ensure_running()
    step(f"emulator {'started' if started else 'already running'} at {emu.url}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    t = resolve(args.env)
    emu = t.emulator
    if emu is None:
        raise KitError(f"{t.name} does not deploy onto the emulator: nothing to stop")
    if emu.stop():
        step(f"emulator at {emu.url} stopped (its data is gone; the next deploy starts afresh)")
    elif emu.is_running():
        warn(f"an emulator answers at {emu.url} but this kit did not start it; leaving it alone")
    else:
        step(f"no emulator running at {emu.url}")
    return 0


def _docker() -> str:
    import shutil

    docker = shutil.which("docker")
    if docker is None:
        raise KitError("the Batch image needs a container engine: `docker` is not on PATH (the CI workflow "
                       "builds and pushes it; on this machine Batch jobs run in-process with `make run`)")
    return docker


def cmd_image_build(args: argparse.Namespace) -> int:
    """Build the Batch image from one release folder: the very zips Lambda runs."""
    from .images import image_ref

    docker = _docker()
    release = release_from(args.release)
    cfg = resolve(args.env).cfg
    tag = image_ref(cfg, release.id).uri
    arch = cfg.compute.lambda_architecture.replace("x86_64", "amd64")
    folder = os.path.relpath(release.directory, _main.ROOT) if release.directory else ".."
    if folder.startswith(".."):
        raise KitError(f"the release folder must be inside the repository (the build context), got {release.directory}")
    cmd = [docker, "build", "-f", "lambdas/Dockerfile", "--platform", f"linux/{arch}",
           "--build-arg", f"RELEASE_DIR={folder}", "--build-arg", f"RELEASE_ID={release.id}", "-t", tag, "."]
    step(f"docker build of release {release.id} for linux/{arch} → {tag}")
    subprocess.run(cmd, cwd=_main.ROOT, check=True)
    return 0


def cmd_image_push(args: argparse.Namespace) -> int:
    """Push the built image to the environment's repository (immutable tags), then check it."""
    import base64

    from .images import check_release_image, image_ref

    t = resolve(args.env)
    if t.emulator is not None:
        raise KitError(f"{t.label} runs no containers: there is no image to push (Batch jobs run in-process)")
    docker = _docker()
    release = release_from(args.release)
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
    return 0


def cmd_image_promote(args: argparse.Namespace) -> int:
    """Copy the image of the release ``--to`` runs from ``--from``'s repository, digest for digest
    (``crane copy``; the source repository's policy lets this stage's deploy role pull), then
    verify that the target's tag names the very digest the source runs."""
    import base64
    import shutil

    from .images import check_promoted_image, image_digest, image_ref

    source, target = resolve(args.source), resolve(args.to)
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
    return 0


def cmd_image_check(args: argparse.Namespace) -> int:
    from .images import check_release_image

    t = resolve(args.env)
    if t.emulator is not None:
        raise KitError(f"{t.label} runs no containers: there is no image to check")
    release = release_from(args.release)
    check = check_release_image(t.client("ecr"), t.cfg, release.id)
    if not check.ok:
        raise KitError(check.message)
    step(check.message)
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
