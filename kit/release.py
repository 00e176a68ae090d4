"""Releases: build once, publish by content address, record what each environment runs.

A release is a folder ``build/releases/<release-id>/`` holding the plug-in zips (and the kit's
own Powertools layer, used only on the emulator) and ``manifest.json``::

    {"release": "3f2a9c1d04be", "artifacts": {"validate": {"name": "validate", "file": "validate.zip",
     "sha256": "…", "size": 106493}, …}}

The release id is the commit (12 hex digits); with uncommitted changes under ``lambdas/`` it is
``<commit>-dirty-<content digest>``, so two different trees never share an id.

Each environment has an **artifacts bucket** (``<prefix>-artifacts-<account>``, created by
``make bootstrap``; on the emulator by the kit itself). Artifacts live there under
content-addressed keys ``artifacts/<name>/<sha256>.zip``; functions are deployed from those
keys, so the bytes deployed are the bytes built. Promotion copies the same keys from one
environment's bucket to the next one's and checks every sha256 on the way.

What an environment runs is recorded twice: in SSM (``/<prefix>/release/current`` — JSON: release
id, artifacts, smoke result, when, promoted from — and ``/<prefix>/release/previous``, the one
before, for rollback) and in its artifacts bucket (``releases/current.json``, and
``releases/<id>.json`` for every release it holds). Promotion reads the source environment's
record and artifacts **from its bucket**: S3 can be shared across accounts with a bucket policy
(``promotion.reader_role_arns`` in the environment file, applied by ``make bootstrap``), SSM cannot.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .ui import KitError, note

LAYER = "powertools-layer"
MANIFEST = "manifest.json"


#: Non-Lambda artifacts of a release: the Glue job's script and library (glue/), and the
#: streaming job's script (``glue/stream_events.py``, used by ``[services.streaming]``).
GLUE_SCRIPT, GLUE_LIBRARY, GLUE_STREAM_SCRIPT = "glue-script", "glue-library", "glue-stream-script"
#: Every Glue artifact a release holds (published to and deployed from the artifacts bucket).
GLUE_ARTIFACTS = (GLUE_SCRIPT, GLUE_LIBRARY, GLUE_STREAM_SCRIPT)
STREAM_SCRIPT = "stream_events.py"


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    sha256: str
    size: int
    ext: str = ".zip"

    @property
    def key(self) -> str:
        return f"artifacts/{self.name}/{self.sha256}{self.ext}"

    @property
    def filename(self) -> str:
        return f"{self.name}{self.ext}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size, "key": self.key, "file": self.filename}


@dataclass(frozen=True)
class Release:
    id: str
    artifacts: Mapping[str, ArtifactRef]
    #: The local folder holding the zips (None for a release known only from a record).
    directory: Path | None = None

    def plugin_artifacts(self) -> dict[str, ArtifactRef]:
        return {k: v for k, v in self.artifacts.items() if k not in (LAYER, *GLUE_ARTIFACTS)}

    def file(self, name: str) -> Path:
        if self.directory is None:
            raise KitError(f"release {self.id} has no local files")
        return self.directory / self.artifacts[name].filename

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.id, "artifacts": {k: v.to_dict() for k, v in sorted(self.artifacts.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], directory: Path | None = None) -> "Release":
        try:
            arts = {k: ArtifactRef(name=v["name"], sha256=v["sha256"], size=int(v["size"]),
                                   ext=Path(v.get("file", ".zip")).suffix or ".zip")
                    for k, v in data["artifacts"].items()}
            return cls(id=str(data["release"]), artifacts=arts, directory=directory)
        except (KeyError, TypeError, ValueError) as exc:
            raise KitError(f"not a release manifest ({exc!r} missing or wrong)") from None

    @classmethod
    def load(cls, directory: Path) -> "Release":
        path = directory / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise KitError(f"{path} does not exist: build a release with `make package`") from None
        except ValueError as exc:
            raise KitError(f"{path} is not valid JSON: {exc}") from None
        release = cls.from_dict(data, directory)
        for ref in release.artifacts.values():
            f = directory / ref.filename
            if not f.exists():
                raise KitError(f"release {release.id}: {f} is missing")
            if sha256_file(f) != ref.sha256:
                raise KitError(f"release {release.id}: {f} does not match its manifest sha256 (modified after build?)")
        return release


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- building ------------------------------------------------------------------------------

def build_release(releases_dir: Path, *, lambdas_dir: Path | None = None) -> Release:
    """Package every plug-in (and the emulator layer) into ``releases_dir/<release-id>/``."""
    from modules.plugins import discover_plugins

    from .package import build_all, commit_id, lambdas_dirty

    plugin_dirs = [m.directory for m in discover_plugins(lambdas_dir)]
    releases_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=releases_dir))
    try:
        artifacts = build_all(staging, plugin_dirs, layer=True, write_manifest=False)
        refs = {name: ArtifactRef(name=name, sha256=a.sha256, size=a.size) for name, a in artifacts.items()}
        from glue.artifacts import GLUE_DIR, SCRIPT, library_zip

        for name, ext, data in ((GLUE_SCRIPT, ".py", SCRIPT.read_bytes()), (GLUE_LIBRARY, ".zip", library_zip()),
                                (GLUE_STREAM_SCRIPT, ".py", (GLUE_DIR / STREAM_SCRIPT).read_bytes())):
            (staging / f"{name}{ext}").write_bytes(data)
            refs[name] = ArtifactRef(name=name, sha256=sha256_bytes(data), size=len(data), ext=ext)
        digest = sha256_bytes("".join(f"{n}={r.sha256}" for n, r in sorted(refs.items())).encode())[:12]
        commit = commit_id()
        dirty = lambdas_dirty() or lambdas_dir is not None
        release_id = f"{commit}-dirty-{digest}" if (dirty or commit == "unversioned") else commit
        release = Release(id=release_id, artifacts=refs)
        (staging / MANIFEST).write_text(json.dumps(release.to_dict(), indent=2, sort_keys=True) + "\n")
        target = releases_dir / release_id
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    (releases_dir / "LATEST").write_text(release_id + "\n")
    return Release.load(target)


def package(releases_dir: Path) -> Release:
    """``make package``: build a release into ``releases_dir`` and print what it holds (a malformed
    plug-in raises ``ManifestError``, which the command line reports in one line)."""
    release = build_release(releases_dir)
    print(f"==> packaged release {release.id} into {release.directory}")
    for name, a in sorted(release.artifacts.items()):
        print(f"    {name:20s} {a.size:>10,d} B  sha256 {a.sha256}")
    print(f"release={release.id}")
    return release


def latest(releases_dir: Path) -> Release | None:
    marker = releases_dir / "LATEST"
    if not marker.exists():
        return None
    return Release.load(releases_dir / marker.read_text().strip())


# -- publishing and promotion -------------------------------------------------------------------

def ensure_artifacts_bucket(s3, bucket: str, region: str, *, deny_insecure_transport: bool) -> bool:
    """Create the artifacts bucket if missing (versioned, encrypted, private); True if created."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise KitError(f"cannot reach artifacts bucket {bucket}: {exc}") from None
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    secure_bucket(s3, bucket, deny_insecure_transport=deny_insecure_transport)
    return True


def secure_bucket(s3, bucket: str, *, deny_insecure_transport: bool, readers: tuple[str, ...] = ()) -> None:
    """Versioning, default encryption, public access blocked, TLS-only (where the target has TLS),
    and read access to releases and artifacts for the ``readers`` (the next stage's deploy role)."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    statements: list[dict[str, Any]] = []
    if deny_insecure_transport:
        statements.append({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    if readers:
        statements.append({"Sid": "NextStageReadsReleases", "Effect": "Allow", "Principal": {"AWS": list(readers)},
                           "Action": "s3:GetObject",
                           "Resource": [f"arn:aws:s3:::{bucket}/artifacts/*", f"arn:aws:s3:::{bucket}/releases/*"]})
    if statements:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))


def _verify_object(s3, bucket: str, ref: ArtifactRef) -> None:
    body = s3.get_object(Bucket=bucket, Key=ref.key)["Body"].read()
    actual = sha256_bytes(body)
    if actual != ref.sha256 or len(body) != ref.size:
        raise KitError(f"s3://{bucket}/{ref.key}: sha256 {actual} / {len(body)} B does not match the release "
                       f"({ref.sha256} / {ref.size} B): refusing to deploy it")


def _exists(s3, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def publish(release: Release, s3, bucket: str, names: Iterable[str]) -> None:
    """Upload the named artifacts of a local release under their content-addressed keys and
    verify what the bucket holds (an existing key is verified, not overwritten)."""
    for name in names:
        ref = release.artifacts[name]
        if not _exists(s3, bucket, ref.key):
            with open(release.file(name), "rb") as f:
                s3.put_object(Bucket=bucket, Key=ref.key, Body=f, Metadata={"sha256": ref.sha256, "release": release.id})
        _verify_object(s3, bucket, ref)
    s3.put_object(Bucket=bucket, Key=f"releases/{release.id}.json",
                  Body=json.dumps(release.to_dict(), indent=2, sort_keys=True).encode())


def copy_release(release: Release, src_s3, src_bucket: str, dst_s3, dst_bucket: str, names: Iterable[str]) -> None:
    """Copy exactly the release's artifacts from one environment's bucket to another's, verifying
    the sha256 of what is read and of what lands."""
    for name in names:
        ref = release.artifacts[name]
        try:
            body = src_s3.get_object(Bucket=src_bucket, Key=ref.key)["Body"].read()
        except Exception as exc:  # noqa: BLE001 - botocore raises several kinds
            raise KitError(f"cannot read s3://{src_bucket}/{ref.key}: {exc}") from None
        if sha256_bytes(body) != ref.sha256:
            raise KitError(f"s3://{src_bucket}/{ref.key} does not match release {release.id} (sha256 differs): "
                           "refusing to promote it")
        if not _exists(dst_s3, dst_bucket, ref.key):
            dst_s3.put_object(Bucket=dst_bucket, Key=ref.key, Body=body,
                              Metadata={"sha256": ref.sha256, "release": release.id})
        _verify_object(dst_s3, dst_bucket, ref)
        note(f"{name:18s} sha256 {ref.sha256[:16]}… verified in s3://{dst_bucket}")
    dst_s3.put_object(Bucket=dst_bucket, Key=f"releases/{release.id}.json",
                      Body=json.dumps(release.to_dict(), indent=2, sort_keys=True).encode())


# -- records ----------------------------------------------------------------------------------

#: Record statuses: what the environment runs according to the record.
DEPLOYING, DEPLOYED, ROLLBACK_FAILED, DESTROYED = "deploying", "deployed", "rollback-failed", "destroyed"


@dataclass
class Record:
    """What one environment runs: a release, deployed with one Terraform configuration.

    ``status`` says how far the deploy got: ``deploying`` is written **before** anything is
    applied (an interrupted deploy leaves it, never a claim that the old release still runs),
    ``deployed`` once the apply finished, ``rollback-failed`` when a failed release could not be
    rolled back, ``destroyed`` after ``make destroy``. ``config`` names the synthesized Terraform
    configuration that was applied (``deployments/<sha256>.tf.json`` in the artifacts bucket):
    a rollback re-applies exactly it, whatever the newer release added or removed."""

    release: Release
    smoke: str  # "passed" | "failed" | "skipped" | "pending"
    deployed_at: str
    promoted_from: str | None = None
    status: str = DEPLOYED
    config: dict[str, str] | None = None
    rolled_back_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def good(self) -> bool:
        """A deployment that finished and was not found broken: a rollback target."""
        return self.status == DEPLOYED and self.smoke in ("passed", "skipped")

    @property
    def config_sha256(self) -> str | None:
        return (self.config or {}).get("sha256")

    def same_deployment(self, other: "Record | None") -> bool:
        if other is None:
            return False
        if self.config_sha256 and other.config_sha256:
            return self.config_sha256 == other.config_sha256
        return self.release.id == other.release.id

    def to_json(self) -> str:
        return json.dumps({**self.release.to_dict(), "smoke": self.smoke, "deployed_at": self.deployed_at,
                           "promoted_from": self.promoted_from, "status": self.status, "config": self.config,
                           "rolled_back_from": self.rolled_back_from, **self.extra}, sort_keys=True,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Record":
        data = json.loads(text)
        config = data.get("config")
        return cls(release=Release.from_dict(data), smoke=data.get("smoke", "unknown"),
                   deployed_at=data.get("deployed_at", ""), promoted_from=data.get("promoted_from"),
                   status=data.get("status", DEPLOYED), config=config if isinstance(config, dict) else None,
                   rolled_back_from=data.get("rolled_back_from"))


def config_key(sha256: str) -> str:
    return f"deployments/{sha256}.tf.json"


def store_config(s3, bucket: str, path: Path) -> dict[str, str]:
    """Keep the synthesized Terraform configuration a deploy applies (content-addressed), so a
    rollback can apply exactly it again. Returns the record's ``config`` reference."""
    body = path.read_bytes()
    digest = sha256_bytes(body)
    key = config_key(digest)
    if not _exists(s3, bucket, key):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json",
                      Metadata={"sha256": digest})
    return {"key": key, "sha256": digest}


def fetch_config(s3, bucket: str, ref: dict[str, str]) -> bytes:
    """The stored configuration of a deployment, its sha256 verified."""
    try:
        body = s3.get_object(Bucket=bucket, Key=ref["key"])["Body"].read()
    except Exception as exc:  # noqa: BLE001 - botocore raises several kinds
        raise KitError(f"the Terraform configuration of that deployment (s3://{bucket}/{ref['key']}) cannot be "
                       f"read: {exc}") from None
    if sha256_bytes(body) != ref["sha256"]:
        raise KitError(f"s3://{bucket}/{ref['key']} does not match its recorded sha256: refusing to apply it")
    return body


def write_bucket_record(s3, bucket: str, record: Record) -> None:
    """``releases/current.json`` (what promotion reads) and, for every finished deployment, a
    history entry ``releases/history/<deployed_at>-<release>.json`` (what ``make rollback TO=``
    searches)."""
    body = record.to_json().encode()
    s3.put_object(Bucket=bucket, Key="releases/current.json", Body=body, ContentType="application/json")
    if record.status == DEPLOYED and record.config:
        stamp = record.deployed_at.replace(":", "").replace("-", "")
        s3.put_object(Bucket=bucket, Key=f"releases/history/{stamp}-{record.release.id}.json", Body=body,
                      ContentType="application/json")


def history(s3, bucket: str) -> list[Record]:
    """Every finished deployment recorded in the bucket, newest first."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="releases/history/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    out = []
    for key in sorted(keys, reverse=True):
        try:
            out.append(Record.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()))
        except (ValueError, KitError):
            continue
    return out


def read_bucket_record(s3, bucket: str) -> Record | None:
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key="releases/current.json")["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise KitError(f"cannot read the release record in s3://{bucket}: {exc}") from None
    return Record.from_json(body.decode())


def record_name(name_prefix: str, which: str) -> str:
    return f"/{name_prefix}/release/{which}"


def read_record(ssm, name_prefix: str, which: str = "current") -> Record | None:
    try:
        value = ssm.get_parameter(Name=record_name(name_prefix, which))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return Record.from_json(value)


def write_record(ssm, name_prefix: str, record: Record, which: str = "current") -> None:
    ssm.put_parameter(Name=record_name(name_prefix, which), Value=record.to_json(), Type="String", Overwrite=True,
                      Description=f"pipeline-kit: the release this environment runs ({which})")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
