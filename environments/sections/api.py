"""Config section ``[api]``: the limits of the REST API's submission routes (issue 14).

``POST /datasets/{name}/files`` hands out a presigned S3 PUT URL into landing that signs the exact
``Content-Length`` (the announced size, at most ``upload_max_bytes``), the ``Content-Type`` and the
SSE-KMS headers, so S3 refuses a PUT of another size or without the environment key; ``POST
/datasets/{name}/cleanse`` cleanses a small body synchronously; ``GET /files/{id}`` signs download
URLs of the clean output and the quarantine report. The stack passes these values to the API
function as environment variables (``PIPELINE_API_*``)::

    [api]
    sync_max_bytes = 1048576        # larger bodies: 413, pointing to the upload route
    sync_max_rows = 10000
    presign_expiry_seconds = 900    # upload and download URLs
    upload_max_bytes = 1073741824   # largest size an upload may announce (signed Content-Length)

Why the ceilings: a synchronous Lambda invocation carries at most 6 MB each way (the API Gateway
event holds the body, base64-encoded for binary media types: 4/3 of its size, and the answer
repeats every row with its column names), so a body above 4 MiB cannot be answered reliably; one S3
PUT uploads at most 5 GiB; a presigned URL signed with the function's role credentials lives at
most as long as those credentials (hours), so expiries stay short.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline_shared.wiring.api import LIMITS, MAX_SYNC_BYTES, MAX_UPLOAD_BYTES

from environments._fields import _between

__all__ = ["ApiConfig", "MAX_SYNC_BYTES", "MAX_UPLOAD_BYTES"]


def _limit(name: str):  # noqa: ANN202 - a dataclass field
    """The field's default and bounds, from the runtime contract (``pipeline_shared.wiring.api``)."""
    limit = LIMITS[name]
    return field(default=limit.default, metadata=_between(limit.minimum, limit.maximum))


@dataclass(frozen=True)
class ApiConfig:
    """Limits of the API's submission and download routes."""

    #: Largest body ``POST /datasets/{name}/cleanse`` cleanses synchronously (bytes); above: 413.
    sync_max_bytes: int = _limit("sync_max_bytes")
    #: Most rows (lines of CSV / JSON Lines text, items of a JSON array) it cleanses; above: 413.
    sync_max_rows: int = _limit("sync_max_rows")
    #: How long the presigned upload (PUT) and download (GET) URLs stay valid (seconds).
    presign_expiry_seconds: int = _limit("presign_expiry_seconds")
    #: Largest file an upload may announce (bytes); the PUT URL signs that exact Content-Length.
    upload_max_bytes: int = _limit("upload_max_bytes")

    def environment(self) -> dict[str, str]:
        """The API function's ``PIPELINE_API_*`` variables."""
        return {limit.variable: str(getattr(self, name)) for name, limit in LIMITS.items()}
