"""api handler on moto, the submission routes (issue 14): a presigned upload into landing (PUT with
the returned headers through ``requests``, which moto intercepts in-process), the upload's status
followed to its pipeline record with download links, and the synchronous cleanse. Contracts are made
here, in tmp_path (the handler's CONTRACTS_DIR points at them)."""

from __future__ import annotations

import base64
import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from plugin_loader import load_plugin_module


def _rest_event_builder():
    """``rest_event`` of test_api_handler.py (the API Gateway proxy event), shared, not copied."""
    spec = importlib.util.spec_from_file_location("_api_handler_events", Path(__file__).with_name("test_api_handler.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rest_event


rest_event = _rest_event_builder()

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

PEOPLE = """
[dataset]
format = "csv"
max_rejected_fraction = 0.5

[[columns]]
name = "id"
type = "integer"
required = true

[[columns]]
name = "email"
pii = true

[[columns]]
name = "phone"
pii = true
"""
CSV = b"id,email,phone\n1,ann@example.com,555\n2,,556\nx,bob@example.com,557\n"


@pytest.fixture
def api(aws, tmp_path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "people.toml").write_text(PEOPLE)
    key_arn = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv("PIPELINE_KMS_KEY_ARN", key_arn)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "api")
    module = load_plugin_module("api", "handler")
    monkeypatch.setattr(module, "CONTRACTS_DIR", folder)
    module._keys.clear()
    aws.kms_key_arn = key_arn
    return module


@pytest.fixture
def call(api, context):
    def _call(method: str, path: str, *, body: Any = None, content_type: str | None = None,
              base64_body: bool = False) -> tuple[int, Any]:
        event = rest_event(method, path, body=None if isinstance(body, bytes) else body)
        if isinstance(body, bytes):
            event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
            event["isBase64Encoded"] = base64_body
        if content_type is not None:
            event["headers"]["Content-Type"] = content_type
            event["multiValueHeaders"]["Content-Type"] = [content_type]
        response = api.lambda_handler(event, context)
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

    return _call


def request_upload(call, **body: Any) -> dict[str, Any]:
    status, answer = call("POST", "/datasets/people/files", body={"filename": "a.csv", "size": len(CSV), **body})
    assert status == 201, answer
    return answer


def put_status(aws, *, file_id: str, key: str, status: str = "processed", locations: dict | None = None) -> None:
    """A pipeline status item for ``key``, exactly as notify writes it."""
    from pipeline_shared.wiring.messages import StageMessage

    notify = load_plugin_module("notify", "core")
    message = StageMessage(
        file_id=file_id, dataset="people", status=status, produced_by="archive", bucket=aws.buckets["landing"],
        key=key, etag="abc", size=len(CSV), received_at="2024-05-01T10:00:00.000Z",
        counts={"records_in": 3, "valid": 2, "rejected": 1, "out": 2}, locations=locations or {},
        reason=None if status == "processed" else "too many bad rows",
    )
    item = notify.status_item(message, environment="test", now=datetime.now(UTC), ttl_days=30)
    aws.client("dynamodb").put_item(TableName=aws.tables["status"], Item=notify.to_item(item))


# --------------------------------------------------------------------------------------------
# POST /datasets/{name}/files and GET /files/{id}
# --------------------------------------------------------------------------------------------


def test_upload_answers_201_with_a_put_into_landing_under_the_dataset(aws, api, call):
    answer = request_upload(call)
    upload_id = answer["file_id"]
    assert answer["key"] == f"people/api/{datetime.now(UTC):%Y/%m/%d}/{upload_id}/a.csv"
    assert answer["status_url"] == f"/files/{upload_id}"
    assert answer["upload"]["method"] == "PUT"
    assert answer["upload"]["headers"] == {
        "Content-Type": "text/csv", "Content-Length": str(len(CSV)), "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": aws.kms_key_arn}


def test_the_upload_is_recorded_as_awaiting_upload(aws, api, call):
    answer = request_upload(call)
    item = aws.client("dynamodb").get_item(TableName=aws.tables["status"], Key={"file_id": {"S": answer["file_id"]}})
    item = item["Item"]
    assert (item["status"]["S"], item["dataset"]["S"], item["key"]["S"], item["bucket"]["S"]) == (
        "awaiting_upload", "people", answer["key"], aws.buckets["landing"])
    assert int(item["expires_at"]["N"]) >= datetime.now(UTC).timestamp() + 900 + 30 * 86400 - 5


def test_a_put_with_the_returned_headers_lands_the_file_encrypted_with_the_key(aws, api, call):
    answer = request_upload(call)
    response = requests.put(answer["upload"]["url"], data=CSV, headers=answer["upload"]["headers"], timeout=10)
    assert response.status_code == 200, response.text
    head = aws.client("s3").head_object(Bucket=aws.buckets["landing"], Key=answer["key"])
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], head["ContentLength"]) == (
        "aws:kms", aws.kms_key_arn, len(CSV))


def test_an_upload_to_an_unknown_dataset_is_404(api, call):
    status, answer = call("POST", "/datasets/nope/files", body={"filename": "a.csv", "size": 3})
    assert (status, answer["message"]) == (404, "unknown dataset 'nope' (known: people)")


def test_an_upload_above_the_configured_size_is_400(api, call, monkeypatch):
    monkeypatch.setenv("PIPELINE_API_UPLOAD_MAX_BYTES", "10")
    status, answer = call("POST", "/datasets/people/files", body={"filename": "a.csv", "size": 11})
    assert (status, answer["message"]) == (
        400, "field 'size' must be the file's exact size in bytes, a whole number from 1 to 10, got 11")


def test_an_upload_not_yet_seen_by_the_pipeline_reports_awaiting_upload(api, call):
    answer = request_upload(call)
    status, view = call("GET", answer["status_url"])
    assert (status, view["file_id"], view["status"], view["key"]) == (200, answer["file_id"], "awaiting_upload",
                                                                       answer["key"])
    assert "downloads" not in view


def test_an_upload_reports_the_newest_pipeline_record_of_its_key(aws, api, call):
    answer = request_upload(call)
    put_status(aws, file_id="a" * 32, key=answer["key"], status="quarantined")
    put_status(aws, file_id="b" * 32, key=answer["key"])
    put_status(aws, file_id="c" * 32, key="people/other.csv")
    status, view = call("GET", answer["status_url"])
    assert (status, view["file_id"], view["status"], view["upload_id"], view["files"]) == (
        200, "b" * 32, "processed", answer["file_id"], ["a" * 32, "b" * 32])


def test_a_processed_file_links_its_clean_output_with_a_working_presigned_get(aws, api, call):
    answer = request_upload(call)
    clean_key = "dataset=people/date=2024-05-01/" + "b" * 32 + ".csv"
    aws.put("clean", clean_key, b"id,email,phone\n1,t1,t2\n")
    put_status(aws, file_id="b" * 32, key=answer["key"],
               locations={"clean": [f"s3://{aws.buckets['clean']}/{clean_key}"]})
    _, view = call("GET", answer["status_url"])
    (link,) = view["downloads"]["clean"]
    assert link["key"] == clean_key
    assert requests.get(link["url"], timeout=10).content == b"id,email,phone\n1,t1,t2\n"


def test_a_quarantined_file_links_its_report(aws, api, call):
    report = "people/" + "q" * 32 + "/report.json"
    put_status(aws, file_id="d" * 32, key="people/in/a.csv", status="quarantined",
               locations={"quarantine_report": f"s3://{aws.buckets['quarantine']}/{report}"})
    _, view = call("GET", "/files/" + "d" * 32)
    assert view["downloads"]["quarantine_report"]["key"] == report
    assert set(view["downloads"]) == {"quarantine_report"}


# --------------------------------------------------------------------------------------------
# POST /datasets/{name}/cleanse
# --------------------------------------------------------------------------------------------


def test_cleanse_answers_tokenised_records_and_rejections(aws, api, call):
    from pipeline_shared.cleansing import Tokeniser

    status, answer = call("POST", "/datasets/people/cleanse", body=CSV, content_type="text/csv")
    token = Tokeniser(aws.token_key.encode())
    assert status == 200, answer
    assert answer["records"] == [{"id": "1", "email": token("ann@example.com"), "phone": token("555")},
                                 {"id": "2", "email": None, "phone": token("556")}]
    assert answer["rejections"] == [{"row": 3, "column": "id", "rule": "type", "message": "id: expected an integer"}]


def test_cleanse_writes_nothing_to_any_bucket(aws, api, call):
    call("POST", "/datasets/people/cleanse", body=CSV, content_type="text/csv")
    assert {purpose: aws.keys(purpose) for purpose in aws.buckets} == {purpose: [] for purpose in aws.buckets}


def test_cleanse_takes_a_base64_encoded_body(api, call):
    status, answer = call("POST", "/datasets/people/cleanse", body=CSV, content_type="text/csv", base64_body=True)
    assert (status, answer["rows_in"]) == (200, 3)


def test_cleanse_of_a_json_array(api, call):
    status, answer = call("POST", "/datasets/people/cleanse", body=[{"id": 7, "email": "", "phone": "1"}])
    assert (status, answer["valid"], answer["records"][0]["email"]) == (200, 1, None)


def test_cleanse_above_the_row_limit_is_413_with_the_upload_route(api, call, monkeypatch):
    monkeypatch.setenv("PIPELINE_API_SYNC_MAX_ROWS", "2")
    status, answer = call("POST", "/datasets/people/cleanse", body=CSV, content_type="text/csv")
    assert (status, answer) == (413, {
        "message": "the body holds 3 rows, more than the 2 this route cleanses synchronously; "
                   "use POST /datasets/people/files (presigned upload) for larger data",
        "upload_route": "/datasets/people/files"})


def test_cleanse_above_the_byte_limit_is_413(api, call, monkeypatch):
    monkeypatch.setenv("PIPELINE_API_SYNC_MAX_BYTES", "1024")
    status, answer = call("POST", "/datasets/people/cleanse", body=CSV + b"9,,\n" * 300, content_type="text/csv")
    assert (status, answer["upload_route"]) == (413, "/datasets/people/files")


def test_cleanse_of_bytes_that_are_not_utf8_is_400(api, call):
    status, answer = call("POST", "/datasets/people/cleanse", body=b"id,email,phone\n1,\xff,2\n",
                          content_type="text/csv", base64_body=True)
    assert (status, answer["message"]) == (400, "the request body is not UTF-8 text (invalid byte at offset 17)")


def test_cleanse_with_a_wrong_content_type_is_415(api, call):
    status, answer = call("POST", "/datasets/people/cleanse", body=CSV, content_type="application/xml")
    assert (status, answer["message"]) == (
        415, "Content-Type 'application/xml' is not accepted for dataset people (csv): send application/json or text/csv")


def test_cleanse_of_an_unknown_dataset_is_404(api, call):
    status, answer = call("POST", "/datasets/nope/cleanse", body=CSV, content_type="text/csv")
    assert (status, answer["message"]) == (404, "unknown dataset 'nope' (known: people)")
