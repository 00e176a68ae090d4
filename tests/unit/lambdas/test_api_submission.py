"""api core, the submission routes (issue 14): POST /datasets/{name}/files (request checks, key,
status item, presigned PUT parameters and the URL's signed headers), GET /files/{id} following an
upload and its download links, POST /datasets/{name}/cleanse (every refusal with its message; the
same clean rows and tokens as the cleanse stage). Contracts are made here, in tmp_path."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pipeline_shared.cleansing import Tokeniser
from pipeline_shared.contracts import known_datasets, load_contract, parse_contract
from plugin_loader import load_plugin_module

NOW = datetime(2024, 5, 31, 12, 0, 0, tzinfo=UTC)
TODAY = NOW.date()
UPLOAD_ID = "0123456789abcdef0123456789abcdef"
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
TOKEN_KEY = b"unit-test-tokenisation-key-of-32-bytes!"

PEOPLE = """
[dataset]
format = "csv"
max_rejected_fraction = 0.5
key_columns = ["id"]
partition_column = "joined"

[[columns]]
name = "id"
type = "integer"
required = true

[[columns]]
name = "email"
pii = true
case = "lower"

[[columns]]
name = "phone"
pii = true

[[columns]]
name = "joined"
type = "date"
required = true

[[columns]]
name = "amount"
type = "decimal"
"""

CLICKS = """
[dataset]
format = "jsonl"
max_rejected_fraction = 0.5
key_columns = ["click_id"]

[[columns]]
name = "click_id"
required = true

[[columns]]
name = "user"
pii = true

[[columns]]
name = "at"
type = "timestamp"
required = true

[[columns]]
name = "count"
type = "integer"
"""

#: a data file per contract: good rows, an empty PII value, a duplicate key, a bad row
DATA = {
    "people": (
        "id,email,phone,joined,amount\n"
        "1, Ann@Example.com ,+44 1,2024-05-01,10.50\n"
        "2,,+44 2,2024-05-02,\n"
        "1,ann@example.com,+44 1,2024-05-01,10.50\n"
        "x,bob@example.com,+44 3,2024-05-01,1\n"
        "3,cy@example.com,,2024-05-01,3\n"
    ),
    "clicks": (
        '{"click_id": "c1", "user": "ann", "at": "2024-05-01T10:00:00Z", "count": 2}\n'
        '{"click_id": "c2", "user": "", "at": "2024-05-01T11:00:00Z"}\n'
        '{"click_id": "c1", "user": "ann", "at": "2024-05-01T10:00:00Z", "count": 2}\n'
        '{"click_id": "c3", "user": "bob", "at": "yesterday"}\n'
    ),
}


@pytest.fixture(scope="module")
def core():
    return load_plugin_module("api", "core")


@pytest.fixture(scope="module")
def cleanse_core():
    return load_plugin_module("cleanse", "core")


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "people.toml").write_text(PEOPLE)
    (folder / "clicks.toml").write_text(CLICKS)
    return folder


@pytest.fixture
def people(contracts: Path):
    return parse_contract(contracts / "people.toml")


@pytest.fixture
def clicks(contracts: Path):
    return parse_contract(contracts / "clicks.toml")


def refused(core, call, *args, **kwargs):
    with pytest.raises(core.ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


# --------------------------------------------------------------------------------------------
# limits
# --------------------------------------------------------------------------------------------


def test_limits_default_to_the_api_section_defaults(core):
    assert core.ApiLimits.from_environment({}) == core.ApiLimits(
        sync_max_bytes=1048576, sync_max_rows=10000, presign_expiry_seconds=900, upload_max_bytes=1073741824
    )


def test_limits_are_read_from_the_pipeline_api_variables(core):
    limits = core.ApiLimits.from_environment({"PIPELINE_API_SYNC_MAX_ROWS": "5", "PIPELINE_API_UPLOAD_MAX_BYTES": "99"})
    assert (limits.sync_max_rows, limits.upload_max_bytes) == (5, 99)


def test_a_limit_out_of_bounds_names_its_variable(core):
    with pytest.raises(ValueError) as caught:
        core.ApiLimits.from_environment({"PIPELINE_API_PRESIGN_EXPIRY_SECONDS": "7200"})
    assert str(caught.value) == (
        "environment variable PIPELINE_API_PRESIGN_EXPIRY_SECONDS must be a whole number from 60 to 3600, got '7200'"
    )


# --------------------------------------------------------------------------------------------
# POST /datasets/{name}/files
# --------------------------------------------------------------------------------------------


def upload(core, body, *, file_format="csv", max_bytes=1000):
    raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    return core.parse_upload_request(raw, dataset="people", file_format=file_format, max_bytes=max_bytes)


def test_upload_request_defaults_the_content_type_from_the_format(core):
    assert upload(core, {"filename": "a.csv", "size": 10}) == core.UploadRequest("a.csv", 10, "text/csv")
    assert upload(core, {"filename": "a.jsonl", "size": 1}, file_format="jsonl").content_type == "application/x-ndjson"


def test_upload_request_of_a_gzip_file_defaults_to_application_gzip(core):
    assert upload(core, {"filename": "a.csv.gz", "size": 10}).content_type == "application/gzip"


def test_upload_request_keeps_the_given_content_type(core):
    got = upload(core, {"filename": "a.csv", "size": 10, "content_type": "text/csv; charset=utf-8"})
    assert got.content_type == "text/csv; charset=utf-8"


def test_upload_request_of_exactly_the_limit_is_accepted(core):
    assert upload(core, {"filename": "a.csv", "size": 1000}, max_bytes=1000).size == 1000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, 'a JSON request body is required, e.g. {"filename": "data.csv", "size": 1234}'),
        ("{nope", "the request body is not valid JSON (Expecting property name enclosed in double quotes: line 1 "
                  'column 2 (char 1)); expected e.g. {"filename": "data.csv", "size": 1234}'),
        ([1], 'the request body must be a JSON object, got list; e.g. {"filename": "data.csv", "size": 1234}'),
        ({"filename": "a.csv", "size": 1, "bucket": "x"}, "unknown field(s) 'bucket' (allowed: filename, size, content_type)"),
        ({"size": 1}, 'field \'filename\' is required, e.g. {"filename": "data.csv", "size": 1234}'),
        ({"filename": "../a.csv", "size": 1}, "field 'filename' '../a.csv' is not valid: 1-200 letters, digits, '.', "
                                             "'_' and '-', starting with a letter or digit (no path)"),
        ({"filename": "x/a.csv", "size": 1}, "field 'filename' 'x/a.csv' is not valid: 1-200 letters, digits, '.', "
                                            "'_' and '-', starting with a letter or digit (no path)"),
        ({"filename": "a.json", "size": 1}, "field 'filename' 'a.json' must end in .csv or .csv.gz (dataset people is csv)"),
        ({"filename": "a.csv"}, "field 'size' is required: the file's exact size in bytes (1 to 1000)"),
        ({"filename": "a.csv", "size": 0}, "field 'size' must be the file's exact size in bytes, a whole number from 1 "
                                          "to 1000, got 0"),
        ({"filename": "a.csv", "size": 1001}, "field 'size' must be the file's exact size in bytes, a whole number "
                                             "from 1 to 1000, got 1001"),
        ({"filename": "a.csv", "size": True}, "field 'size' must be the file's exact size in bytes, a whole number "
                                             "from 1 to 1000, got True"),
        ({"filename": "a.csv", "size": 1, "content_type": "text csv"},
         "field 'content_type' 'text csv' is not a media type such as text/csv"),
    ],
)
def test_bad_upload_requests_are_400_saying_why(core, body, message):
    error = refused(core, upload, core, body)
    assert (error.status_code, error.message) == (400, message)


def test_upload_key_is_dataset_api_date_upload_id_filename(core):
    assert core.upload_key("people", UPLOAD_ID, "a.csv", now=NOW) == f"people/api/2024/05/31/{UPLOAD_ID}/a.csv"


def test_upload_item_awaits_the_upload_and_expires_after_url_expiry_plus_ttl(core):
    request = core.UploadRequest("a.csv", 10, "text/csv")
    item = core.upload_item(upload_id=UPLOAD_ID, dataset="people", bucket="landing", key="people/api/k", request=request,
                            now=NOW, expiry_seconds=900, ttl_days=30, environment="test")
    assert item == {
        "file_id": UPLOAD_ID, "status": "awaiting_upload", "dataset": "people", "bucket": "landing",
        "key": "people/api/k", "size": 10, "updated_at": "2024-05-31T12:00:00.000000Z",
        "received_at": "2024-05-31T12:00:00.000000Z", "upload_expires_at": "2024-05-31T12:15:00.000000Z",
        "expires_at": int((NOW + timedelta(seconds=900, days=30)).timestamp()), "environment": "test",
    }


def test_presigned_put_headers_match_the_signed_parameters(core):
    put = core.presigned_put(core.UploadRequest("a.csv", 10, "text/csv"), bucket="landing", key="k", kms_key_id=KMS_KEY)
    assert put.headers == {
        "Content-Type": "text/csv", "Content-Length": "10", "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": KMS_KEY,
    }
    assert put.params == {"Bucket": "landing", "Key": "k", "ContentType": "text/csv", "ContentLength": 10,
                          "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY}


def test_presigned_put_url_signs_length_type_and_both_sse_headers(core, monkeypatch):
    from pipeline_shared import aws

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    aws.clear_clients()
    try:
        put = core.presigned_put(core.UploadRequest("a.csv", 10, "text/csv"), bucket="pk-test-landing",
                                 key="people/api/a.csv", kms_key_id=KMS_KEY)
        url = aws.client(aws.PRESIGN).generate_presigned_url("put_object", Params=put.params, ExpiresIn=900)
    finally:
        aws.clear_clients()
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == [
        "content-length;content-type;host;x-amz-server-side-encryption;x-amz-server-side-encryption-aws-kms-key-id"
    ]
    assert urlsplit(url).netloc == "pk-test-landing.s3.eu-west-1.amazonaws.com"


def test_presigned_put_without_a_kms_key_is_refused(core):
    with pytest.raises(ValueError, match="the environment's KMS key is not known"):
        core.presigned_put(core.UploadRequest("a.csv", 1, "text/csv"), bucket="b", key="k", kms_key_id="")


def test_upload_response_names_the_put_and_the_status_url(core):
    put = core.presigned_put(core.UploadRequest("a.csv", 10, "text/csv"), bucket="b", key="k", kms_key_id=KMS_KEY)
    answer = core.upload_response(upload_id=UPLOAD_ID, key="k", url="https://u", put=put, expires_at="t")
    assert answer == {"file_id": UPLOAD_ID, "key": "k", "upload": {"method": "PUT", "url": "https://u",
                      "headers": put.headers}, "expires_at": "t", "status_url": f"/files/{UPLOAD_ID}"}


# --------------------------------------------------------------------------------------------
# GET /files/{id}: following an upload, downloads
# --------------------------------------------------------------------------------------------

UPLOAD_ITEM = {"file_id": UPLOAD_ID, "status": "awaiting_upload", "dataset": "people", "key": "people/api/u/a.csv",
               "updated_at": "2024-05-31T12:00:00.000000Z", "expires_at": int(NOW.timestamp()) + 86400}


def record(fid: str, updated: str, *, key: str = "people/api/u/a.csv", status: str = "processed", **extra):
    return {"file_id": fid, "status": status, "dataset": "people", "key": key, "updated_at": updated,
            "expires_at": int(NOW.timestamp()) + 86400, **extra}


def test_an_upload_not_seen_by_the_pipeline_answers_its_own_item(core):
    view = core.follow_upload(UPLOAD_ITEM, [UPLOAD_ITEM], now=NOW)
    assert (view["file_id"], view["status"]) == (UPLOAD_ID, "awaiting_upload")


def test_an_upload_answers_the_newest_record_of_its_key_with_every_file_id(core):
    records = [UPLOAD_ITEM, record("b" * 32, "2024-05-31T12:05:00Z", status="quarantined"),
               record("a" * 32, "2024-05-31T12:01:00Z"), record("c" * 32, "2024-05-31T12:09:00Z", key="people/x.csv")]
    view = core.follow_upload(UPLOAD_ITEM, records, now=NOW)
    assert (view["file_id"], view["status"], view["upload_id"], view["files"]) == (
        "b" * 32, "quarantined", UPLOAD_ID, ["a" * 32, "b" * 32])


def test_an_expired_record_does_not_answer_for_an_upload(core):
    stale = {**record("a" * 32, "2024-05-31T12:01:00Z"), "expires_at": int(NOW.timestamp()) - 1}
    assert core.follow_upload(UPLOAD_ITEM, [stale], now=NOW)["status"] == "awaiting_upload"


def sign(bucket: str, key: str) -> str:
    return f"https://{bucket}/{key}?signed"


def test_a_processed_file_gets_its_clean_outputs_and_rejected_rows(core):
    view = {"status": "processed", "locations": {
        "clean": ["s3://clean/dataset=people/date=2024-05-01/f.csv", "s3://elsewhere/x.csv"],
        "quarantine_report": "s3://quarantine/people/f/report.json",
        "quarantine_rows": "s3://quarantine/people/f/rejected_rows.csv"}}
    assert core.downloads(view, clean_bucket="clean", quarantine_bucket="quarantine", presign=sign) == {
        "clean": [{"key": "dataset=people/date=2024-05-01/f.csv",
                   "url": "https://clean/dataset=people/date=2024-05-01/f.csv?signed"}],
        "quarantine_report": {"key": "people/f/report.json", "url": "https://quarantine/people/f/report.json?signed"},
        "rejected_rows": {"key": "people/f/rejected_rows.csv",
                          "url": "https://quarantine/people/f/rejected_rows.csv?signed"},
    }


def test_a_quarantined_file_gets_its_report_only(core):
    view = {"status": "quarantined", "locations": {"quarantine": "s3://quarantine/people/f/original/a.csv",
                                                   "quarantine_report": "s3://quarantine/people/f/report.json"}}
    assert core.downloads(view, clean_bucket="clean", quarantine_bucket="quarantine", presign=sign) == {
        "quarantine_report": {"key": "people/f/report.json", "url": "https://quarantine/people/f/report.json?signed"}}


def test_a_file_awaiting_upload_has_no_downloads(core):
    assert core.downloads(UPLOAD_ITEM, clean_bucket="clean", quarantine_bucket="quarantine", presign=sign) is None


# --------------------------------------------------------------------------------------------
# POST /datasets/{name}/cleanse: refusals
# --------------------------------------------------------------------------------------------


def body_of(contract, body, content_type="application/json", *, max_bytes=10_000, max_rows=100):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return load_plugin_module("api", "core").parse_cleanse_body(
        raw, content_type, contract=contract, max_bytes=max_bytes, max_rows=max_rows)


def test_a_body_over_the_byte_limit_is_413_pointing_to_the_upload_route(core, people):
    error = refused(core, body_of, people, b"x" * 1025, "text/csv", max_bytes=1024)
    assert (error.status_code, error.body()) == (413, {
        "message": "the body is 1025 bytes, more than the 1024 this route cleanses synchronously; "
                   "use POST /datasets/people/files (presigned upload) for larger data",
        "upload_route": "/datasets/people/files"})


@pytest.mark.parametrize(("body", "content_type"), [
    ([{"id": 1}] * 3, "application/json"),
    (b"id,email,phone,joined,amount\n1,,,2024-05-01,\n2,,,2024-05-01,\n3,,,2024-05-01,\n", "text/csv"),
])
def test_a_body_over_the_row_limit_is_413(core, people, body, content_type):
    error = refused(core, body_of, people, body, content_type, max_rows=2)
    assert error.status_code == 413
    assert error.message == ("the body holds 3 rows, more than the 2 this route cleanses synchronously; "
                             "use POST /datasets/people/files (presigned upload) for larger data")


def test_json_lines_over_the_row_limit_is_413(core, clicks):
    error = refused(core, body_of, clicks, DATA["clicks"].encode(), "application/x-ndjson", max_rows=3)
    assert (error.status_code, error.message.split(";")[0]) == (
        413, "the body holds 4 rows, more than the 3 this route cleanses synchronously")


@pytest.mark.parametrize(("content_type", "message"), [
    (None, "a request without Content-Type is not accepted for dataset people (csv): send application/json or text/csv"),
    ("application/x-ndjson", "Content-Type 'application/x-ndjson' is not accepted for dataset people (csv): "
                             "send application/json or text/csv"),
    ("text/csv; charset=latin-1", "charset 'latin-1' is not accepted: the body must be UTF-8 (charset=utf-8)"),
])
def test_a_wrong_content_type_is_415(core, people, content_type, message):
    error = refused(core, body_of, people, b"id\n1\n", content_type)
    assert (error.status_code, error.message) == (415, message)


def test_csv_is_not_accepted_for_a_json_lines_dataset(core, clicks):
    error = refused(core, body_of, clicks, b"a\n", "text/csv")
    assert (error.status_code, error.message) == (
        415, "Content-Type 'text/csv' is not accepted for dataset clicks (jsonl): send application/json or "
             "application/x-ndjson")


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"  ", "application/json", "the request body is empty: send application/json or text/csv data of dataset people"),
    (b"id\n\xff\n", "text/csv", "the request body is not UTF-8 text (invalid byte at offset 3)"),
    (b"[1,", "application/json", "the request body is not valid JSON (Expecting value: line 1 column 4 (char 3)); "
                                 "send a JSON array of records"),
    (b'{"id": 1}', "application/json", "the request body must be a JSON array of records, got a JSON object"),
    (b"[]", "application/json", "the request body is an empty JSON array: send at least one record"),
])
def test_unreadable_bodies_are_400_saying_why(core, people, body, content_type, message):
    error = refused(core, body_of, people, body, content_type)
    assert (error.status_code, error.message) == (400, message)


def test_a_csv_body_with_a_wrong_header_is_400_naming_the_columns(core, people):
    request = body_of(people, b"id,mail\n1,a\n", "text/csv")
    error = refused(core, core.cleanse_records, request, contract=people, tokenise=Tokeniser(TOKEN_KEY), today=TODAY)
    assert (error.status_code, error.message) == (
        400, "the body cannot be read as people data (csv): header mismatch: missing column(s) email, phone, "
             "joined, amount; unexpected column(s) 'mail' (the people contract expects: id, email, phone, joined, "
             "amount)")


# --------------------------------------------------------------------------------------------
# POST /datasets/{name}/cleanse: the stages' own cleansing
# --------------------------------------------------------------------------------------------


def stage_rows(cleanse_core, contract, data: bytes) -> list[dict]:
    """What the cleanse stage writes to clean for ``data``, read back as records."""
    sinks: dict[date, io.BytesIO] = {}

    def open_partition(partition: date) -> io.BytesIO:
        sinks[partition] = io.BytesIO()
        return sinks[partition]

    cleanse_core.cleanse_stream(io.BytesIO(data), key=f"{contract.name}/in/a.{contract.extension}", contract=contract,
                                max_bytes=1 << 20, tokenise=Tokeniser(TOKEN_KEY), default_partition=TODAY,
                                open_partition=open_partition)
    rows: list[dict] = []
    for sink in sinks.values():
        text = sink.getvalue().decode()
        if contract.format == "jsonl":
            rows.extend(json.loads(line) for line in text.splitlines())
        else:
            rows.extend({k: (v or None) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text)))
    return rows


def as_json_records(contract, data: str) -> list[dict]:
    if contract.format == "jsonl":
        return [json.loads(line) for line in data.splitlines()]
    return list(csv.DictReader(io.StringIO(data)))


@pytest.mark.parametrize("as_json", [False, True], ids=["file-format body", "JSON array body"])
def test_cleanse_answers_the_rows_and_tokens_the_cleanse_stage_writes(core, cleanse_core, contracts, as_json):
    for name in known_datasets(contracts):
        contract = load_contract(name, contracts)
        data = DATA[name]
        if as_json:
            request = body_of(contract, as_json_records(contract, data))
        else:
            media = "text/csv" if contract.format == "csv" else "application/x-ndjson"
            request = body_of(contract, data.encode(), media)
        answer = core.cleanse_records(request, contract=contract, tokenise=Tokeniser(TOKEN_KEY), today=TODAY)
        assert answer["records"] == stage_rows(cleanse_core, contract, data.encode()), name


def test_pii_values_come_back_as_tokens_and_an_empty_pii_value_stays_empty(core, people):
    request = body_of(people, DATA["people"].encode(), "text/csv")
    records = core.cleanse_records(request, contract=people, tokenise=Tokeniser(TOKEN_KEY), today=TODAY)["records"]
    token = Tokeniser(TOKEN_KEY)
    by_id = {r["id"]: (r["email"], r["phone"]) for r in records}
    assert by_id == {"1": (token("ann@example.com"), token("+44 1")), "2": (None, token("+44 2")),
                     "3": (token("cy@example.com"), None)}


def test_cleanse_counts_rows_rejections_and_duplicates(core, people):
    request = body_of(people, DATA["people"].encode(), "text/csv")
    answer = core.cleanse_records(request, contract=people, tokenise=Tokeniser(TOKEN_KEY), today=TODAY)
    assert {k: answer[k] for k in ("dataset", "rows_in", "valid", "rejected", "duplicates", "accepted")} == {
        "dataset": "people", "rows_in": 5, "valid": 4, "rejected": 1, "duplicates": 1, "accepted": True}
    assert answer["rejections"] == [{"row": 4, "column": "id", "rule": "type", "message": "id: expected an integer"}]


def test_json_records_that_break_the_contract_are_rejections_numbered_by_record(core, people):
    records = [{"id": 1, "email": "a@b.c", "joined": "2024-05-01"}, [1], {"id": 2, "joined": "2024-05-01", "zip": 1},
               {"id": 3, "email": {"x": 1}, "joined": "2024-05-01"}, {"id": 4}]
    answer = core.cleanse_records(body_of(people, records), contract=people, tokenise=Tokeniser(TOKEN_KEY), today=TODAY)
    assert answer["rejections"] == [
        {"row": 2, "column": None, "rule": "json_object", "message": "expected a JSON object, got array"},
        {"row": 3, "column": "zip", "rule": "column",
         "message": "unknown column(s) 'zip' (the people contract has: id, email, phone, joined, amount)"},
        {"row": 4, "column": "email", "rule": "type", "message": "email: a JSON object is not a string value"},
        {"row": 5, "column": "joined", "rule": "required", "message": "joined: a value is required"},
    ]
    assert (answer["rows_in"], answer["valid"], answer["rejected"], len(answer["records"])) == (5, 1, 4, 1)


def test_above_the_contracts_rejected_share_the_answer_says_it_would_be_quarantined(core, people):
    records = [{"id": "x", "joined": "2024-05-01"}, {"id": "y", "joined": "2024-05-01"}, {"id": 1, "joined": "2024-05-01"}]
    answer = core.cleanse_records(body_of(people, records), contract=people, tokenise=Tokeniser(TOKEN_KEY), today=TODAY)
    assert (answer["accepted"], answer["reason"]) == (False, (
        "2 of 3 rows (66.7%) break the people contract, more than its max_rejected_fraction of 50.0%: as a file, "
        "the pipeline would quarantine it whole"))


def test_a_dataset_without_pii_needs_no_tokeniser(core, tmp_path):
    (tmp_path / "plain.toml").write_text('[dataset]\nformat = "csv"\n\n[[columns]]\nname = "a"\n')
    plain = parse_contract(tmp_path / "plain.toml")
    answer = core.cleanse_records(body_of(plain, b"a\n x \n", "text/csv"), contract=plain, tokenise=None, today=TODAY)
    assert answer["records"] == [{"a": "x"}]
