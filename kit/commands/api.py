"""``kit api``: call a route of the deployed REST API through the local runner (emulator only);
with ``--upload``, the whole presigned upload flow."""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from ..deploy import Target, state_root
from ..ui import KitError, note, step, warn

#: ``--body-file`` extension → Content-Type (``--content-type`` overrides).
_BODY_TYPES = {".json": "application/json", ".csv": "text/csv", ".jsonl": "application/x-ndjson",
               ".ndjson": "application/x-ndjson"}
#: A file's final statuses (pipeline_shared.wiring.messages.FINAL_STATUSES).
_FINAL_STATUSES = ("processed", "quarantined", "gone")


def _api_print(response: dict) -> dict | None:
    """Print ``HTTP <code>`` and the body (pretty JSON when it is JSON); returns the parsed body."""
    print(f"HTTP {response.get('statusCode')}", flush=True)
    body = response.get("body") or ""
    try:
        parsed = json.loads(body)
    except ValueError:
        print(body, flush=True)
        return None
    print(json.dumps(parsed, indent=2, sort_keys=True), flush=True)
    return parsed


def _api_http(url: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None,
              what: str) -> bytes:
    """One plain HTTP request to a presigned URL; a refusal is one clear line."""
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace").replace("\n", " ")
        raise KitError(f"{what}: HTTP {exc.code} {exc.reason}: {detail}") from None
    except urllib.error.URLError as exc:
        raise KitError(f"{what}: {exc.reason}") from None


def _api_upload(t: Target, invoke: Callable[..., dict], *, method: str, path: str, upload: str,
                content_type: str | None, download: str | None, timeout: float) -> int:
    """POST /datasets/<name>/files for ``--upload``, PUT the file with the returned headers, run
    the local pipeline, follow GET /files/<id> to a final status, ``--download`` its outputs."""
    from ..runner import run

    if method != "POST" or not re.fullmatch(r"/datasets/[^/]+/files", path):
        raise KitError(f"--upload goes with POST /datasets/<name>/files, not {method} {path}")
    file = Path(upload)
    if not file.is_file():
        raise KitError(f"--upload {upload}: no such file")
    data = file.read_bytes()
    if not data:
        raise KitError(f"--upload {upload}: the file is empty")
    request = {"filename": file.name, "size": len(data)}
    if content_type:
        request["content_type"] = content_type
    created = _api_print(invoke(method, path, body=json.dumps(request)))
    if not isinstance(created, dict) or "upload" not in created:
        return 1
    upload, file_id = created["upload"], created["file_id"]
    emulator = urlsplit(t.emulator.url)
    target = urlsplit(upload["url"])
    if (target.scheme, target.netloc) != (emulator.scheme, emulator.netloc):
        raise KitError(f"the upload URL points at {target.scheme}://{target.netloc}, not the emulator at "
                       f"{t.emulator.url}: is AWS_ENDPOINT_URL set in the API function's environment?")
    step(f"PUT {len(data)} bytes of {file.name} to the presigned URL (s3 key {created['key']})")
    _api_http(upload["url"], method=upload.get("method", "PUT"), data=data, headers=upload["headers"],
              what="the presigned PUT was refused")
    step("run the local pipeline (what `make run DRAIN_ONLY=1` does)")
    deadline = time.monotonic() + timeout
    view: dict | None = None
    while True:
        outcome = run(t.cfg, t.emulator, samples=None, state_dir=state_root(),
                      timeout=max(deadline - time.monotonic(), 1.0), quiet=True)
        response = invoke("GET", f"/files/{file_id}")
        try:
            view = json.loads(response.get("body") or "{}")
        except ValueError:
            view = None
        if int(response.get("statusCode", 500)) != 200 or not isinstance(view, dict):
            _api_print(response)
            raise KitError(f"GET /files/{file_id} answered HTTP {response.get('statusCode')}")
        if view.get("status") in _FINAL_STATUSES or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    step(f"GET /files/{file_id}")
    _api_print({"statusCode": 200, "body": json.dumps(view)})
    for problem in outcome.problems(redrive=f"make redrive ENV={t.name}"):
        warn(problem)
    status = view.get("status")
    if status not in _FINAL_STATUSES:
        raise KitError(f"file {file_id} is still {status!r} after {timeout:g}s (--timeout); "
                       f"see `make status ENV={t.name} FILE={file_id}`")
    if download:
        folder = Path(download)
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


def call(t: Target, method: str, path: str, *, body: str | None = None, body_file: str | None = None,
         content_type: str | None = None, upload: str | None = None, download: str | None = None,
         timeout: float = 300.0, query: dict[str, str] | None = None) -> int:
    """Call a route of the deployed REST API through the local runner (emulator only); with
    ``upload``, the whole presigned upload flow (see ``_api_upload``). Exit status 1 on an HTTP
    error (or a file that did not end processed)."""
    from ..runner import invoke_api

    if t.emulator is None or not t.emulator.is_running():
        raise KitError("`kit api` answers through the local runner on a running emulator: run `make deploy` first")

    def invoke(verb: str, route: str, *, body=None, content_type: str = "application/json") -> dict:
        return invoke_api(t.cfg, t.emulator, verb, route, body=body, query=query or None,
                          state_dir=state_root(), content_type=content_type)

    if upload is not None:
        return _api_upload(t, invoke, method=method, path=path, upload=upload, content_type=content_type,
                           download=download, timeout=timeout)
    payload: str | bytes | None = body
    media_type = content_type or "application/json"
    if body is not None and content_type is None:
        try:
            json.loads(body)
        except ValueError as exc:
            raise KitError(f"--body is not valid JSON ({exc}); use --body-file with --content-type for other data") from None
    if body_file is not None:
        source = Path(body_file)
        if not source.is_file():
            raise KitError(f"--body-file {body_file}: no such file")
        suffix = source.suffix.lower()
        if content_type is None and suffix not in _BODY_TYPES:
            raise KitError(f"--body-file {source.name}: say its type with --content-type "
                           f"(known extensions: {', '.join(_BODY_TYPES)})")
        media_type = content_type or _BODY_TYPES[suffix]
        payload = source.read_bytes()
    response = invoke(method, path, body=payload, content_type=media_type)
    _api_print(response)
    return 0 if int(response.get("statusCode", 500)) < 400 else 1
