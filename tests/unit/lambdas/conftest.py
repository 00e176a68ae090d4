"""Unit tests of the plug-ins' pure logic: no AWS, no moto.

``sys.path`` gets ``lambdas/_shared`` (so ``import pipeline_shared`` works as in a plug-in zip);
plug-in modules are loaded under unique names by ``plugin_loader.load_plugin_module`` because
every plug-in has its own ``core`` and ``handler``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "lambdas" / "_shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))

from plugin_loader import load_plugin_module  # noqa: E402

SAMPLES = SHARED / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def validate_core():
    return load_plugin_module("validate", "core")


@pytest.fixture(scope="session")
def cleanse_core():
    return load_plugin_module("cleanse", "core")


@pytest.fixture(scope="session")
def archive_core():
    return load_plugin_module("archive", "core")


@pytest.fixture(scope="session")
def notify_core():
    return load_plugin_module("notify", "core")
