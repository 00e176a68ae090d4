"""The OpenAPI 3.0 document of the REST API, generated from the API plug-in's routes.

``python -m kit.openapi`` (``make openapi``) writes ``docs/openapi.json``; ``--check``
(``make openapi CHECK=1``, and ``tests/unit/test_openapi.py``) fails when the file is stale.

The paths and methods come from the plug-in's ``core.ROUTES``, the runtime contract's
(``pipeline_shared.wiring.api``: what the ``RestApi`` construct deploys); the request bodies reuse its
JSON Schemas (``QUERY_REQUEST_SCHEMA``, ``UPLOAD_REQUEST_SCHEMA``: what API Gateway's request
validators check). What a route means —
summary, parameters, bodies, answers — is written here, one entry of ``OPERATIONS`` per route: a
route without an entry, or an entry without a route, is an error (``build`` raises, naming it).

Every method is IAM-authorised: the ``sigv4`` security scheme carries API Gateway's
``x-amazon-apigateway-authtype: awsSigv4``. The document is environment-agnostic: the server URL
has ``api_id``, ``region`` and ``stage`` variables, and the limits are ``[api]``'s defaults (an
environment may set others: see README "Catalog, query, API and governance").
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "openapi.json"
OPENAPI_VERSION = "3.0.3"
#: The document's own version: bump it when the API's contract changes (not per release).
API_VERSION = "1.1.0"
STAGE = "v1"

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answer(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": _json(_ref(schema))}


#: Answers every route can give (the gateway's own, and the function's last resort).
COMMON_RESPONSES: dict[str, dict[str, Any]] = {
    "403": _answer("not signed, or the caller's IAM policy does not allow execute-api:Invoke on this "
                   "method and path (API Gateway)", "GatewayError"),
    "429": _answer("throttled: the stage's rate or burst limit (API Gateway)", "GatewayError"),
    "500": _answer("internal error: {\"message\": \"internal error (request id ...)\"}"),
}


def _api_limits() -> dict[str, int]:
    from environments.sections.api import ApiConfig

    cfg = ApiConfig()
    return {"sync_max_bytes": cfg.sync_max_bytes, "sync_max_rows": cfg.sync_max_rows,
            "presign_expiry_seconds": cfg.presign_expiry_seconds, "upload_max_bytes": cfg.upload_max_bytes}


def operations(core: ModuleType) -> dict[tuple[str, str], dict[str, Any]]:
    """What each route means (OpenAPI operation objects, path parameters included)."""
    limits = _api_limits()
    dataset = {
        "name": "name", "in": "path", "required": True,
        "description": "a dataset: the name of a contract (lambdas/_shared/pipeline_shared/contracts/<name>.toml)",
        "schema": {"type": "string", "pattern": core.DATASET_RE.pattern},
    }
    file_id = {
        "name": "id", "in": "path", "required": True,
        "description": "a file id, or the upload id POST /datasets/{name}/files answered (32 hex digits)",
        "schema": {"type": "string", "pattern": core.FILE_ID_RE.pattern},
    }
    query_id = {
        "name": "id", "in": "path", "required": True, "description": "the query id POST /queries answered",
        "schema": {"type": "string", "pattern": core.QUERY_ID_RE.pattern},
    }
    return {
        ("GET", "/files/{id}"): {
            "operationId": "getFile",
            "summary": "A file's status; download URLs once processed or quarantined",
            "description": (
                "The file's status record (404 when unknown or expired). For a processed file, "
                "`downloads.clean` lists presigned GET URLs of its clean outputs; for a quarantined file, "
                "or one with rejected rows, `downloads.quarantine_report` (and `downloads.rejected_rows`). "
                "For an upload id: the newest pipeline record of the uploaded key (with `upload_id` and "
                "`files`, every file id of that key since), or `status: awaiting_upload` until the pipeline "
                f"has seen the file. The URLs expire after [api].presign_expiry_seconds "
                f"(default {limits['presign_expiry_seconds']})."
            ),
            "parameters": [file_id],
            "responses": {
                "200": {"description": "the status", "content": _json(_ref("FileStatus"))},
                "400": _answer("malformed id"),
                "404": _answer("no status for this id (unknown, or expired)"),
            },
        },
        ("GET", "/datasets/{name}/stats"): {
            "operationId": "getDatasetStats",
            "summary": "Counts by status and row totals of a dataset's files",
            "parameters": [dataset, {
                "name": "days", "in": "query", "required": False,
                "description": f"the window, in days up to now (default {core.DEFAULT_STATS_DAYS})",
                "schema": {"type": "integer", "minimum": 1, "maximum": core.MAX_STATS_DAYS,
                           "default": core.DEFAULT_STATS_DAYS},
            }],
            "responses": {
                "200": {"description": "the summary", "content": _json(_ref("DatasetStats"))},
                "400": _answer("days out of range"),
                "404": _answer("unknown dataset"),
            },
        },
        ("POST", "/queries"): {
            "operationId": "startQuery",
            "summary": "Start an allow-listed Athena query (asynchronous: poll GET /queries/{id})",
            "description": ("Queries are chosen by name (`query`) for one dataset and a date range; SQL is "
                            "never accepted. Answers at once: queries outlive API Gateway's 30 s limit."),
            "requestBody": {"required": True, "content": _json(_ref("QueryRequest"))},
            "responses": {
                "202": {"description": "started", "content": _json(_ref("QueryStarted"))},
                "400": _answer("a body the gateway's validator or the function refuses (message names the field)",
                               "ValidationError"),
                "429": _answer("too many queries running (Athena), or throttled"),
            },
        },
        ("GET", "/queries/{id}"): {
            "operationId": "getQuery",
            "summary": "A query's state; a page of rows once SUCCEEDED",
            "parameters": [query_id, {
                "name": "max_results", "in": "query", "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": core.MAX_PAGE_SIZE,
                           "default": core.DEFAULT_PAGE_SIZE},
            }, {
                "name": "next_token", "in": "query", "required": False,
                "description": "the previous page's `next_token`",
                "schema": {"type": "string", "maxLength": core.MAX_NEXT_TOKEN},
            }],
            "responses": {
                "200": {"description": "state (and rows)", "content": _json(_ref("QueryState"))},
                "400": _answer("malformed id, max_results or next_token"),
                "404": _answer("no such query (in this API's workgroup)"),
            },
        },
        ("POST", "/datasets/{name}/files"): {
            "operationId": "createUpload",
            "summary": "A presigned S3 PUT URL into landing for one file of the dataset",
            "description": (
                "Answers 201 with a file id (the upload id) and `upload`: PUT the file's bytes to `upload.url` "
                "with exactly `upload.headers` (Content-Type, the exact Content-Length announced as `size`, "
                "`x-amz-server-side-encryption: aws:kms` and the environment's key id: all signed, so S3 "
                "refuses another size, type or key). The URL expires after [api].presign_expiry_seconds "
                f"(default {limits['presign_expiry_seconds']}); `size` is at most [api].upload_max_bytes "
                f"(default {limits['upload_max_bytes']}). The file then flows through the pipeline: follow "
                "it with GET `status_url`."
            ),
            "parameters": [dataset],
            "requestBody": {"required": True, "content": _json(_ref("UploadRequest"))},
            "responses": {
                "201": {"description": "the upload URL", "content": _json(_ref("Upload"))},
                "400": _answer("a body the gateway's validator or the function refuses (wrong extension for the "
                               "dataset's format, size out of range, ...)", "ValidationError"),
                "404": _answer("unknown dataset"),
            },
        },
        ("POST", "/datasets/{name}/cleanse"): {
            "operationId": "cleanse",
            "summary": "Validate, cleanse and tokenise a small body synchronously (nothing is stored)",
            "description": (
                "The body is checked against the dataset's contract and cleansed and tokenised by the same "
                "code as the pipeline's stages. `application/json`: an array of records (objects keyed by "
                "column); `text/csv` (header first) for a CSV dataset; `application/x-ndjson` for a JSON Lines "
                f"dataset; UTF-8. At most [api].sync_max_bytes (default {limits['sync_max_bytes']}) bytes and "
                f"[api].sync_max_rows (default {limits['sync_max_rows']}) rows: above, 413 pointing to "
                "POST /datasets/{name}/files. A broken rule is a rejection in the answer, not an error."
            ),
            "parameters": [dataset],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "array", "minItems": 1,
                                                 "items": {"type": "object", "additionalProperties": True}}},
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            }},
            "responses": {
                "200": {"description": "clean records and rejections", "content": _json(_ref("CleanseResult"))},
                "400": _answer("empty, not UTF-8, not JSON, or not readable as the dataset's format"),
                "404": _answer("unknown dataset"),
                "413": _answer("above the synchronous limit (bytes or rows): use the upload route", "TooLarge"),
                "415": _answer("a content type the dataset's format does not take, or a charset other than UTF-8"),
            },
        },
    }


def _schema(json_schema: dict[str, Any]) -> dict[str, Any]:
    """A draft-04 JSON Schema as an OpenAPI 3.0 Schema Object (no ``$schema``)."""
    out = copy.deepcopy(json_schema)
    out.pop("$schema", None)
    return out


def schemas(core: ModuleType) -> dict[str, Any]:
    string, integer = {"type": "string"}, {"type": "integer"}
    nullable_string = {"type": "string", "nullable": True}
    download = {"type": "object", "required": ["key", "url"],
                "properties": {"key": string, "url": {"type": "string", "format": "uri"}}}
    return {
        "Error": {"type": "object", "required": ["message"], "properties": {"message": string}},
        "GatewayError": {"type": "object", "properties": {"message": string, "Message": string}},
        "ValidationError": {"type": "object", "required": ["message"], "properties": {
            "message": string, "details": {"type": "string", "description": "the gateway validator's findings"}}},
        "TooLarge": {"type": "object", "required": ["message", "upload_route"], "properties": {
            "message": string, "upload_route": {"type": "string", "example": "/datasets/orders/files"}}},
        "QueryRequest": _schema(core.QUERY_REQUEST_SCHEMA),
        "UploadRequest": _schema(core.UPLOAD_REQUEST_SCHEMA),
        "Upload": {"type": "object", "required": ["file_id", "key", "upload", "expires_at", "status_url"],
                   "properties": {
                       "file_id": {"type": "string", "pattern": core.FILE_ID_RE.pattern},
                       "key": {"type": "string", "description": "<dataset>/api/<yyyy>/<mm>/<dd>/<file_id>/<filename>"},
                       "upload": {"type": "object", "required": ["method", "url", "headers"], "properties": {
                           "method": {"type": "string", "enum": ["PUT"]},
                           "url": {"type": "string", "format": "uri"},
                           "headers": {"type": "object", "additionalProperties": string,
                                       "description": "send every one, unchanged"}}},
                       "expires_at": {"type": "string", "format": "date-time"},
                       "status_url": {"type": "string", "example": "/files/<file_id>"}}},
        "FileStatus": {"type": "object", "required": ["file_id", "status"], "additionalProperties": True,
                       "properties": {
                           "file_id": string,
                           "status": {"type": "string", "example": "processed",
                                      "description": "awaiting_upload, processed, quarantined, ..."},
                           "dataset": string, "bucket": string, "key": string, "size": integer,
                           "received_at": string, "updated_at": string, "reason": string,
                           "upload_expires_at": {"type": "string", "description": "awaiting_upload: the PUT URL's expiry"},
                           "counts": {"type": "object", "additionalProperties": integer},
                           "locations": {"type": "object", "additionalProperties": True},
                           "upload_id": {"type": "string", "description": "the upload this file came from"},
                           "files": {"type": "array", "items": string},
                           "downloads": {"type": "object", "properties": {
                               "clean": {"type": "array", "items": download},
                               "quarantine_report": download, "rejected_rows": download}}}},
        "DatasetStats": {"type": "object", "additionalProperties": True, "properties": {
            "dataset": string, "days": integer, "from": string, "to": string,
            "files": integer, "by_status": {"type": "object", "additionalProperties": integer},
            "rows": {"type": "object", "additionalProperties": integer},
            "bytes": {"type": "object", "additionalProperties": integer},
            "last_updated_at": nullable_string, "truncated": {"type": "boolean"}}},
        "QueryStarted": {"type": "object", "required": ["id", "state"], "additionalProperties": True, "properties": {
            "id": string, "state": {"type": "string", "enum": ["QUEUED"]}, "query": string, "dataset": string,
            "from": string, "to": string, "limit": integer}},
        "QueryState": {"type": "object", "required": ["id", "state"], "additionalProperties": True, "properties": {
            "id": string, "state": {"type": "string", "example": "SUCCEEDED",
                                    "description": "QUEUED, RUNNING, " + ", ".join(core.FINISHED_STATES)},
            "finished": {"type": "boolean"}, "submitted_at": nullable_string, "completed_at": nullable_string,
            "statistics": {"type": "object", "additionalProperties": True},
            "reason": string,
            "columns": {"type": "array", "items": {"type": "object", "properties": {"name": string, "type": string}}},
            "rows": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
            "next_token": nullable_string}},
        "Rejection": {"type": "object", "required": ["row", "rule", "message"], "properties": {
            "row": {"type": "integer", "minimum": 1}, "column": nullable_string, "rule": string, "message": string}},
        "CleanseResult": {"type": "object",
                          "required": ["dataset", "rows_in", "valid", "rejected", "duplicates", "records", "rejections"],
                          "properties": {
                              "dataset": string, "rows_in": integer, "valid": integer, "rejected": integer,
                              "duplicates": integer,
                              "accepted": {"type": "boolean", "description": "false: as a file it would be quarantined"},
                              "reason": string,
                              "records": {"type": "array", "items": {"type": "object", "additionalProperties": True},
                                          "description": "clean records, PII columns tokenised"},
                              "rejections": {"type": "array", "items": _ref("Rejection")}}},
    }


def load_core() -> ModuleType:
    """The pure ``core`` of the plug-in that consumes "api"."""
    from plugin_loader import load_plugin_module

    from modules.plugins import discover_plugins

    api = [p for p in discover_plugins() if p.consumes_api]
    if not api:
        raise ValueError("no plug-in consumes 'api': there is no REST API to document")
    return load_plugin_module(api[0].name, "core", lambdas_dir=api[0].directory.parent)


def build(core: ModuleType | None = None) -> dict[str, Any]:
    """The OpenAPI document of ``core.ROUTES``."""
    core = core or load_core()
    routes = [(m.upper(), p) for m, p in core.ROUTES]
    ops = operations(core)
    missing = [f"{m} {p}" for m, p in routes if (m, p) not in ops]
    if missing:
        raise ValueError(f"kit/openapi.py: no operation documented for route(s) {', '.join(missing)}")
    extra = [f"{m} {p}" for m, p in ops if (m, p) not in routes]
    if extra:
        raise ValueError(f"kit/openapi.py: operation(s) documented for no route of core.ROUTES: {', '.join(extra)}")
    paths: dict[str, dict[str, Any]] = {}
    for method, path in routes:
        op = copy.deepcopy(ops[(method, path)])
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        if declared != set(_PARAM.findall(path)):
            raise ValueError(f"kit/openapi.py: {method} {path} declares path parameters {sorted(declared)}")
        op["responses"] = {**op["responses"], **{k: v for k, v in COMMON_RESPONSES.items() if k not in op["responses"]}}
        op["responses"] = dict(sorted(op["responses"].items()))
        op["security"] = [{"sigv4": []}]
        op["tags"] = [path.split("/")[1]]
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "pipeline-kit API",
            "version": API_VERSION,
            "description": (
                "The REST API of a pipeline-kit environment (API Gateway, Lambda proxy). Every request is "
                "signed with AWS Signature Version 4 (service `execute-api`) by an IAM principal allowed "
                "`execute-api:Invoke` on `arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>` "
                "(path parameters as `*`): per-dataset access is a policy on `.../POST/datasets/<name>/*`. "
                "Generated by `make openapi` from the API plug-in's routes; do not edit."
            ),
        },
        "servers": [{
            "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
            "variables": {"api_id": {"default": "abcdef1234", "description": "the REST API id (terraform output)"},
                          "region": {"default": "eu-west-1"}, "stage": {"default": STAGE}},
        }],
        "security": [{"sigv4": []}],
        "tags": [{"name": t} for t in sorted({p.split("/")[1] for _, p in routes})],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"sigv4": {
                "type": "apiKey", "name": "Authorization", "in": "header",
                "description": "AWS Signature Version 4 (IAM), service execute-api",
                "x-amazon-apigateway-authtype": "awsSigv4",
            }},
            "schemas": schemas(core),
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default docs/openapi.json)")
    parser.add_argument("--check", action="store_true", help="write nothing: exit 1 when the file is stale")
    args = parser.parse_args(argv)
    try:
        text = render(build())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    if args.check:
        if current != text:
            print(f"error: {shown} is {'missing' if current is None else 'stale'}: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{shown} is up to date")
        return 0
    if current == text:
        print(f"{shown} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
