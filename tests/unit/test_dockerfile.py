"""``lambdas/Dockerfile`` (the AWS Batch image), checked without Docker: the base image, the pins
against ``requirements.txt`` (and that ``--no-deps`` misses no dependency), the release layout it
reads, the batch-capable plug-ins it unpacks, a non-root user; and its unpack step run for real
on a release built by ``kit.release``."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "lambdas" / "Dockerfile"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and heredocs kept whole."""
    lines = DOCKERFILE.read_text().splitlines()
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        heredoc = re.search(r"<<-?[\"']?(\w+)[\"']?", line)
        if heredoc:
            body = []
            while lines[i] != heredoc.group(1):
                body.append(lines[i])
                i += 1
            i += 1
            line += "\n" + "\n".join(body)
        keyword, _, args = line.strip().partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins


def pip_pins() -> dict[str, str]:
    (install,) = [a for k, a in instructions() if k == "RUN" and "pip install" in a]
    return {canonical(t.split("==")[0]): t.split("==")[1] for t in shlex.split(install.split("&&")[0]) if "==" in t}


def unpack_script() -> str:
    (script,) = [a.split("\n", 1)[1] for k, a in instructions() if k == "RUN" and a.startswith("python3 - <<'EOF'")]
    return script


def test_the_base_image_is_python_312_slim():
    (arg,) = [a for k, a in instructions() if k == "ARG" and a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.12-slim(-\w+)?", arg)
    assert [a.split()[0] for k, a in instructions() if k == "FROM"] == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


def test_boto3_and_powertools_are_pinned_as_in_requirements():
    pins, wanted = pip_pins(), requirements()
    assert pins["boto3"] == wanted["boto3"]
    assert pins["aws-lambda-powertools"] == wanted["aws-lambda-powertools"]


def test_every_pin_matches_requirements():
    wanted = requirements()
    assert {name: (version, wanted.get(name)) for name, version in pip_pins().items() if wanted.get(name) != version} == {}


def test_no_deps_installs_every_dependency_of_what_it_installs():
    """``pip install --no-deps``: each listed package's own requirements (for Python 3.12, no
    extras) must be listed too."""
    from packaging.requirements import Requirement

    pins = pip_pins()
    missing = set()
    for name in pins:
        for spec in metadata.requires(name) or []:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate({"python_version": "3.12", "extra": ""}):
                continue
            if canonical(req.name) not in pins:
                missing.add(f"{name} → {req.name}")
    assert missing == set()


def test_the_plugins_unpacked_are_the_batch_capable_ones():
    from modules.plugins import discover_plugins

    (arg,) = [a for k, a in instructions() if k == "ARG" and a.startswith("PLUGINS=")]
    assert sorted(shlex.split(arg.split("=", 1)[1])[0].split()) == sorted(m.name for m in discover_plugins() if m.runtime.batch)


def test_the_release_folder_is_a_required_build_arg_and_copied_whole():
    args = [a for k, a in instructions() if k == "ARG"]
    assert "RELEASE_DIR" in args
    assert ("COPY", "${RELEASE_DIR}/ /tmp/release/") in instructions()
    assert any(k == "RUN" and 'test -n "${RELEASE_DIR}"' in a for k, a in instructions())


def test_the_unpack_step_reads_the_release_manifest_by_its_kit_names():
    from kit.release import MANIFEST

    script = unpack_script()
    assert f'"{MANIFEST}"' in script and 'ref["file"]' in script and 'ref["sha256"]' in script


def test_the_code_lands_where_the_job_definition_points_pythonpath():
    assert ("COPY", "--from=release /opt/pipeline/ /opt/pipeline/") in instructions()
    assert 'root = pathlib.Path("/tmp/release"), pathlib.Path("/opt/pipeline")' in unpack_script()


def test_the_working_directory_is_kept_off_sys_path():
    """batch_job reads sys.path and never edits it: with PYTHONSAFEPATH the plug-in's folder
    (PYTHONPATH) is the path's first entry, as the zip root is in Lambda."""
    (env,) = [a for k, a in instructions() if k == "ENV"]
    assert "PYTHONSAFEPATH=1" in env.split()


def test_the_image_runs_as_a_non_root_user():
    (user,) = [a for k, a in instructions() if k == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert any(k == "RUN" and f"useradd --uid {user.split(':')[0]}" in a for k, a in instructions())


def test_only_the_releases_reach_the_build_context():
    ignore = (ROOT / "lambdas" / "Dockerfile.dockerignore").read_text().split("\n")
    assert [line for line in ignore if line and not line.startswith("#")] == ["**", "!build/releases/**"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    from kit.release import build_release

    return build_release(tmp_path_factory.mktemp("releases"))


def run_unpack(release, root: Path, plugins: str) -> subprocess.CompletedProcess:
    script = unpack_script().replace('"/tmp/release"', json.dumps(str(release.directory))).replace(
        '"/opt/pipeline"', json.dumps(str(root)))
    return subprocess.run([sys.executable, "-c", script], env={"PLUGINS": plugins}, capture_output=True, text=True,
                          timeout=60)


def test_the_unpack_step_lays_out_the_release_zips_as_lambda_does(release, tmp_path):
    proc = run_unpack(release, tmp_path / "opt", "cleanse validate")
    assert proc.returncode == 0, proc.stderr
    for plugin in ("cleanse", "validate"):
        folder = tmp_path / "opt" / plugin
        assert (folder / "handler.py").read_bytes() == (ROOT / "lambdas" / plugin / "handler.py").read_bytes()
        assert (folder / "pipeline_shared" / "batch_job.py").is_file()
    record = json.loads((tmp_path / "opt" / "release.json").read_text())
    assert record == {"release": release.id, "plugins": {p: release.artifacts[p].sha256 for p in ("cleanse", "validate")}}


def test_the_unpack_step_refuses_a_zip_that_does_not_match_the_manifest(release, tmp_path):
    zip_path = release.directory / "validate.zip"
    original = zip_path.read_bytes()
    try:
        zip_path.write_bytes(original + b"\0")
        proc = run_unpack(release, tmp_path / "opt", "validate")
    finally:
        zip_path.write_bytes(original)
    assert proc.returncode != 0
    assert "validate.zip: sha256" in proc.stderr and "does not match manifest.json" in proc.stderr
