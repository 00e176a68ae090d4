"""Load the prebuilt AWS provider bindings one submodule at a time.

``import cdktf_cdktf_provider_aws.s3_bucket`` normally runs the package ``__init__``, which
imports all ~2,100 submodules (about 15-20 s; terraform-cdk issue #3753) before the first
resource. We register a bare package object instead, so that importing a submodule loads only
that submodule and the shared jsii assembly it needs (``_jsii``). Every public name stays where
the bindings put it: ``from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket`` works as usual.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

PACKAGE = "cdktf_cdktf_provider_aws"


def install_lazy_bindings() -> None:
    """Idempotent: make ``cdktf_cdktf_provider_aws`` a bare package in ``sys.modules``."""
    # jsii on Node 20 prints an end-of-life banner on every run.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(
            f"{PACKAGE} is not installed: run `make venv` (it installs the pinned requirements)"
        )
    package = types.ModuleType(PACKAGE)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    package.__package__ = PACKAGE
    sys.modules[PACKAGE] = package
