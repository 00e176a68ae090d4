"""The REST API's contract: its routes, the request bodies API Gateway validates, the media types
it passes byte for byte, and the ``[api]`` limits with the variables that carry them.

The stack builds API Gateway from this (``modules/stage.py`` → ``modules/api.py``), ``make openapi``
documents it (``kit/openapi.py``), and the API plug-in (``lambdas/api``) serves it: its router
answers exactly ``ROUTES`` and parses the bodies these schemas describe (every field further).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from . import env
from .queries import QUERIES

#: (method, path) in API Gateway notation: the API's whole surface.
ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/files/{id}"),
    ("GET", "/datasets/{name}/stats"),
    ("POST", "/queries"),
    ("GET", "/queries/{id}"),
    ("POST", "/datasets/{name}/files"),
    ("POST", "/datasets/{name}/cleanse"),
)
QUERY_ROUTE = ("POST", "/queries")
UPLOAD_ROUTE = ("POST", "/datasets/{name}/files")


def upload_route(dataset: str) -> str:
    """The upload route of ``dataset`` (what a 413 points to)."""
    return UPLOAD_ROUTE[1].replace("{name}", dataset)


# -- POST /queries ------------------------------------------------------------------------------
#: Dataset names as the contracts define them (``pipeline_shared.contracts``).
DATASET_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
REQUEST_FIELDS = ("dataset", "query", "from", "to", "limit")

#: The body as a JSON Schema (draft-04, what an API Gateway model takes): the gateway checks the
#: shape, the plug-in's ``parse_query_request`` everything (known datasets, real dates, range).
QUERY_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "QueryRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["dataset", "query"],
    "properties": {
        "dataset": {"type": "string", "pattern": DATASET_RE.pattern},
        "query": {"type": "string", "enum": sorted(QUERIES)},
        "from": {"type": "string", "pattern": DATE_PATTERN},
        "to": {"type": "string", "pattern": DATE_PATTERN},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
}

# -- POST /datasets/{name}/files ----------------------------------------------------------------
UPLOAD_FIELDS = ("filename", "size", "content_type")
MAX_FILENAME = 200
FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CONTENT_TYPE_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(; ?charset=[A-Za-z0-9_-]+)?$")

#: The body as a JSON Schema (draft-04, an API Gateway model); the gateway checks the shape,
#: ``parse_upload_request`` everything (extension, size limit, type).
UPLOAD_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "UploadRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["filename", "size"],
    "properties": {
        "filename": {"type": "string", "minLength": 1, "maxLength": MAX_FILENAME, "pattern": FILENAME_RE.pattern},
        "size": {"type": "integer", "minimum": 1},
        "content_type": {"type": "string", "minLength": 3, "maxLength": 100, "pattern": CONTENT_TYPE_RE.pattern},
    },
}

#: The request models API Gateway validates bodies with, by route.
REQUEST_MODELS: dict[tuple[str, str], dict[str, Any]] = {
    QUERY_ROUTE: QUERY_REQUEST_SCHEMA,
    UPLOAD_ROUTE: UPLOAD_REQUEST_SCHEMA,
}

# -- POST /datasets/{name}/cleanse --------------------------------------------------------------
#: The content type of each dataset format (an upload naming none gets it; the cleanse route
#: takes these bodies as text).
FORMAT_CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
#: What API Gateway passes to the function byte for byte (base64, ``isBase64Encoded``): the
#: cleanse route's text bodies, so the function checks their UTF-8 itself (400, never 500).
BINARY_MEDIA_TYPES = tuple(sorted(set(FORMAT_CONTENT_TYPES.values())))


# -- the [api] limits ---------------------------------------------------------------------------
#: Largest synchronous body: Lambda's 6 MB synchronous payload, the body base64-encoded in the event.
MAX_SYNC_BYTES = 4 * 1024 * 1024
#: Largest object one S3 PUT request uploads.
MAX_UPLOAD_BYTES = 5 * 1024**3


@dataclass(frozen=True)
class Limit:
    """One ``[api]`` field: the variable that carries it to the function, default and bounds."""

    variable: str
    default: int
    minimum: int
    maximum: int


#: ``[api]`` field → its limit (``environments/sections/api.py`` takes defaults and bounds from here).
LIMITS: dict[str, Limit] = {
    "sync_max_bytes": Limit(env.API_SYNC_MAX_BYTES, 1024 * 1024, 1024, MAX_SYNC_BYTES),
    "sync_max_rows": Limit(env.API_SYNC_MAX_ROWS, 10_000, 1, 100_000),
    "presign_expiry_seconds": Limit(env.API_PRESIGN_EXPIRY_SECONDS, 900, 60, 3600),
    "upload_max_bytes": Limit(env.API_UPLOAD_MAX_BYTES, 1024**3, 1, MAX_UPLOAD_BYTES),
}


@dataclass(frozen=True)
class ApiLimits:
    """The ``[api]`` limits, as the function gets them (``PIPELINE_API_*``)."""

    sync_max_bytes: int = LIMITS["sync_max_bytes"].default
    sync_max_rows: int = LIMITS["sync_max_rows"].default
    presign_expiry_seconds: int = LIMITS["presign_expiry_seconds"].default
    upload_max_bytes: int = LIMITS["upload_max_bytes"].default

    def environment(self) -> dict[str, str]:
        """The function's ``PIPELINE_API_*`` variables (what the wiring sets)."""
        return {LIMITS[f.name].variable: str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ApiLimits:
        """From ``PIPELINE_API_*`` (an unset variable takes ``[api]``'s default); ``ValueError``
        naming the variable when one is not a whole number within ``[api]``'s bounds."""
        values: dict[str, int] = {}
        for attribute, limit in LIMITS.items():
            raw = environ.get(limit.variable, "").strip()
            if not raw:
                values[attribute] = limit.default
                continue
            if not raw.isdigit() or not limit.minimum <= int(raw) <= limit.maximum:
                raise ValueError(f"environment variable {limit.variable} must be a whole number from "
                                 f"{limit.minimum} to {limit.maximum}, got {raw!r}")
            values[attribute] = int(raw)
        return cls(**values)
