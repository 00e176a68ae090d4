"""The one place the Powertools for AWS Lambda (Python) release is pinned.

AWS environments use the official public layer for their region and architecture; the
emulator cannot hold that layer, so ``local`` publishes the kit's own layer built from the same
release (installed from requirements.txt, which must pin the same version: a test checks it).
"""

from __future__ import annotations

POWERTOOLS_VERSION = "3.23.0"
#: The public layer's version number that carries POWERTOOLS_VERSION (the same for every
#: Python version and architecture; published as /aws/service/powertools/python/<arch>/<py>/<version>).
POWERTOOLS_LAYER_VERSION = 27
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
PYTHON_TAG = "python312"


def official_layer_arn(region: str, architecture: str, partition: str = "aws") -> str:
    if architecture not in ("arm64", "x86_64"):
        raise ValueError(f"architecture must be arm64 or x86_64, got {architecture!r}")
    return (f"arn:{partition}:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            f"AWSLambdaPowertoolsPythonV3-{PYTHON_TAG}-{architecture}:{POWERTOOLS_LAYER_VERSION}")
