"""Lazily created, cached boto3 clients: one per service per container, none at import time.

boto3 itself honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` (the local emulator); when
a custom endpoint is set, S3 uses path-style addressing (an emulator on ``127.0.0.1`` has no
virtual-host DNS). boto3 is imported on the first ``client()`` call, where X-Ray patching of
botocore happens too (nothing when tracing is off, see ``tracing``), so importing a handler stays cheap.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_session: Any = None


def _endpoint_configured(service: str) -> bool:
    return bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}"))


def _patch_tracing() -> None:
    from .tracing import tracer

    tracer.get()  # creates the Powertools Tracer and patches botocore, when tracing is on


#: ``client(PRESIGN)``: the S3 client that signs presigned URLs (SigV4, see ``client``).
PRESIGN = "s3-presign"


def client(service: str) -> Any:
    """The cached client for ``service`` (``"s3"``, ``"sqs"``, ...); created on first use.
    ``PRESIGN`` is an S3 client for presigned URLs (Signature Version 4, regional endpoint)."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            global _session
            import boto3
            from botocore.config import Config

            if _session is None:
                _patch_tracing()
                _session = boto3.session.Session()
            options: dict[str, Any] = {
                "retries": {"mode": "standard", "max_attempts": 5},
                "connect_timeout": 5,
                "read_timeout": 60,
            }
            name = service
            if service == PRESIGN:
                # Signature Version 4 (SSE-KMS objects require it, and it signs the headers a
                # presigned PUT must carry), virtual-hosted on the regional endpoint on AWS.
                name = "s3"
                options["signature_version"] = "s3v4"
                options["s3"] = {"addressing_style": "virtual"}
            if name == "s3" and _endpoint_configured("s3"):
                options["s3"] = {"addressing_style": "path"}
            found = _session.client(name, config=Config(**options))
            _clients[service] = found
    return found


def clear_clients() -> None:
    """Forget every cached client and the session (tests: call between mocked AWS accounts)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``"NoSuchKey"``, ``"404"``...), else None.

    Duck-typed so that this module does not import botocore."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None
