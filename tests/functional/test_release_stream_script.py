"""The streaming job's script is a release artifact like the batch job's (``glue-stream-script``)."""

from __future__ import annotations

import hashlib

import pytest

from glue.artifacts import GLUE_DIR
from kit.release import GLUE_ARTIFACTS, GLUE_STREAM_SCRIPT, Release, build_release


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Release:
    return build_release(tmp_path_factory.mktemp("releases"))


def test_the_release_holds_the_stream_script_byte_for_byte(release):
    assert release.file(GLUE_STREAM_SCRIPT).read_bytes() == (GLUE_DIR / "stream_events.py").read_bytes()


def test_the_stream_script_has_a_content_addressed_py_key(release):
    ref = release.artifacts[GLUE_STREAM_SCRIPT]
    digest = hashlib.sha256((GLUE_DIR / "stream_events.py").read_bytes()).hexdigest()
    assert ref.key == f"artifacts/glue-stream-script/{digest}.py"


def test_the_stream_script_is_not_a_plugin_artifact(release):
    assert GLUE_STREAM_SCRIPT in GLUE_ARTIFACTS and GLUE_STREAM_SCRIPT not in release.plugin_artifacts()
