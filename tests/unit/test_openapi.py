"""docs/openapi.json: generated from the API plug-in's routes (kit/openapi.py), checked in, current."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from kit import openapi

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def core():
    return openapi.load_core()


@pytest.fixture(scope="module")
def document(core):
    return openapi.build(core)


def fake_core(core, routes):
    """The real core with other ROUTES (a module of its own: the real one is left alone)."""
    fake = types.ModuleType("fake_api_core")
    fake.__dict__.update({k: v for k, v in vars(core).items() if not k.startswith("__")})
    fake.ROUTES = tuple(routes)
    return fake


def test_the_checked_in_document_is_up_to_date(document):
    assert CHECKED_IN.is_file(), "docs/openapi.json is missing: run `make openapi`"
    assert CHECKED_IN.read_text(encoding="utf-8") == openapi.render(document), (
        "docs/openapi.json is stale: run `make openapi`"
    )


def test_every_route_has_an_operation_and_every_operation_a_route(document, core):
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == {(m.upper(), p) for m, p in core.ROUTES}


def test_the_document_is_a_valid_openapi_3_0_document(document):
    assert document["openapi"].startswith("3.0.")
    validate(document)  # raises with the offending path when the structure is wrong


def test_every_operation_is_sigv4_signed(document):
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
    for item in document["paths"].values():
        for op in item.values():
            assert op["security"] == [{"sigv4": []}]


def test_path_parameters_are_declared_and_required(document):
    for path, item in document["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for op in item.values():
            declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}
            assert set(declared) == names, path
            assert all(p["required"] is True for p in declared.values())


def test_request_bodies_reuse_the_plugins_schemas(document, core):
    schemas = document["components"]["schemas"]
    upload = {k: v for k, v in core.UPLOAD_REQUEST_SCHEMA.items() if k != "$schema"}
    query = {k: v for k, v in core.QUERY_REQUEST_SCHEMA.items() if k != "$schema"}
    assert (schemas["UploadRequest"], schemas["QueryRequest"]) == (upload, query)
    body = document["paths"]["/datasets/{name}/files"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/UploadRequest"}


def test_the_cleanse_route_documents_its_media_types_and_413(document):
    op = document["paths"]["/datasets/{name}/cleanse"]["post"]
    assert set(op["requestBody"]["content"]) == {"application/json", "text/csv", "application/x-ndjson"}
    assert op["responses"]["413"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TooLarge"}
    assert {"200", "400", "403", "404", "415", "429", "500"} <= set(op["responses"])


def test_a_route_without_an_operation_is_refused(core):
    with pytest.raises(ValueError, match=re.escape("no operation documented for route(s) DELETE /files/{id}")):
        openapi.build(fake_core(core, [*core.ROUTES, ("DELETE", "/files/{id}")]))


def test_an_operation_without_a_route_is_refused(core):
    routes = [r for r in core.ROUTES if r != ("GET", "/queries/{id}")]
    with pytest.raises(ValueError, match=re.escape("operation(s) documented for no route of core.ROUTES: GET /queries/{id}")):
        openapi.build(fake_core(core, routes))


def test_check_mode_fails_on_a_stale_file_and_names_the_fix(tmp_path: Path, capsys):
    stale = tmp_path / "openapi.json"
    stale.write_text(json.dumps({"openapi": "3.0.3"}), encoding="utf-8")
    assert openapi.main(["--check", "--output", str(stale)]) == 1
    assert "is stale: run `make openapi`" in capsys.readouterr().err
    assert openapi.main(["--output", str(stale)]) == 0
    assert openapi.main(["--check", "--output", str(stale)]) == 0
