"""validate core: notification parsing, pre-checks, the streaming check and the report."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest
from lambda_events import s3_notification_body, s3_test_event_body
from pipeline_shared.contracts import load_contract

import main

ORDERS = load_contract("orders")
MAX = 10 * 1024 * 1024


def landed(core, key="orders/a.csv", size=100, etag="abc", version_id=None):
    return core.LandedObject.create(bucket="landing", key=key, size=size, etag=etag, version_id=version_id)


def run(core, data: bytes, *, contract=ORDERS, key="orders/a.csv", sink=None):
    return core.validate_stream(io.BytesIO(data), key=key, contract=contract, max_bytes=MAX, rejected_sink=sink)


def test_notification_key_is_url_decoded(validate_core):
    body = s3_notification_body("landing", "orders/in coming/a+b.csv", size=3, etag="abc", version_id="v1")
    (obj,) = validate_core.parse_notification(body)
    assert (obj.ref.key, obj.dataset, obj.ref.version_id, obj.ref.size) == (
        "orders/in coming/a+b.csv",
        "orders",
        "v1",
        3,
    )


def test_file_id_is_the_same_for_a_redelivered_event(validate_core):
    body = s3_notification_body("landing", "orders/a.csv", size=3, etag="abc")
    assert validate_core.parse_notification(body)[0].file_id == validate_core.parse_notification(body)[0].file_id


def test_test_event_yields_none(validate_core):
    assert validate_core.parse_notification(s3_test_event_body("landing")) is None


def test_non_create_events_are_skipped(validate_core):
    body = s3_notification_body("landing", "orders/a.csv", size=3, etag="abc", event_name="ObjectRemoved:Delete")
    assert validate_core.parse_notification(body) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "message body is not JSON"),
        ("[1]", "message body is not an S3 event notification: a JSON list"),
        ("{}", "message body is not an S3 event notification: no 'Records' list"),
        (
            '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]}',
            "S3 event record 0 is malformed: missing 'object'",
        ),
        (
            '{"Records": [{"eventName": "ObjectCreated:Put", '
            '"s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}',
            "S3 event record 0 for s3://b/k has neither eTag nor versionId",
        ),
    ],
)
def test_malformed_notifications_are_refused(validate_core, body, message):
    with pytest.raises(validate_core.NotificationError, match=message):
        validate_core.parse_notification(body)


def test_landed_object_round_trips_through_its_dict(validate_core):
    obj = landed(validate_core, version_id="v9")
    assert validate_core.LandedObject.from_dict(obj.to_dict()) == obj


@pytest.mark.parametrize(
    ("key", "size", "rule", "reason"),
    [
        (
            "a.csv",
            10,
            "unknown_dataset",
            "object key 'a.csv' names no dataset: landing keys must look like <dataset>/<anything>/<file>",
        ),
        (
            "payroll/a.csv",
            10,
            "unknown_dataset",
            "unknown dataset 'payroll' (first segment of key 'payroll/a.csv'): no contract "
            f"for dataset 'payroll' (known: {', '.join(main.dataset_names())})",
        ),
        ("orders/a.csv", 0, "empty", "empty file: the object has 0 bytes"),
        (
            "orders/a.csv",
            3 * 1024**3,
            "oversized",
            "oversized input: the object has 3.0 GiB (3221225472 bytes), more than the "
            "limit of 2.0 GiB (2147483648 bytes, PIPELINE_MAX_OBJECT_BYTES)",
        ),
    ],
)
def test_precheck_rejects_before_reading(validate_core, key, size, rule, reason):
    check = validate_core.precheck(landed(validate_core, key=key, size=size), max_bytes=2 * 1024**3)
    assert (check.rule, check.reason) == (rule, reason)


def test_precheck_passes_a_known_dataset(validate_core):
    check = validate_core.precheck(landed(validate_core), max_bytes=MAX)
    assert not check.rejected and check.contract is ORDERS


def test_good_sample_is_accepted(validate_core, samples):
    result = run(validate_core, (samples / "orders/good.csv").read_bytes())
    assert (result.accepted, result.records_in, result.valid, result.rejected, result.reason) == (True, 5, 5, 0, None)


def test_bad_rows_below_the_threshold_go_to_the_sink(validate_core, samples):
    sink = io.BytesIO()
    result = run(validate_core, (samples / "orders/bad_rows.csv").read_bytes(), sink=sink)
    assert (result.accepted, result.valid, result.rejected) == (True, 10, 1)
    assert [(v.row, v.line, v.column, v.rule) for v in result.violations] == [(9, 10, "email", "pattern")]
    rows = list(csv.reader(io.StringIO(sink.getvalue().decode())))
    assert rows[0][:3] == ["order_id", "customer_id", "email"] and rows[1][:3] == [
        "ORD-000019",
        "C00019",
        "not-an-email",
    ]
    assert len(rows) == 2


def test_too_many_bad_rows_reject_the_file(validate_core, samples):
    result = run(validate_core, (samples / "orders/bad_file.csv").read_bytes())
    assert not result.accepted and result.rule == "threshold"
    assert result.reason == (
        "5 of 6 rows (83.3%) break the orders contract, more than its max_rejected_fraction of 10.0%"
    )
    assert [(v.row, v.column, v.rule) for v in result.violations] == [
        (1, "order_date", "type"),
        (2, "amount", "type"),
        (3, "currency", "allowed"),
        (4, "status", "allowed"),
        (5, None, "column_count"),
    ]


def test_file_level_problem_is_the_reason(validate_core, samples):
    result = run(validate_core, (samples / "orders/header_mismatch.csv").read_bytes())
    assert (result.accepted, result.rule) == (False, "header")
    assert result.reason.startswith("header mismatch: missing column(s) email; unexpected column(s) 'e_mail'")


def test_gzip_counts_compressed_bytes_in(validate_core, samples):
    data = gzip.compress((samples / "orders/good.csv").read_bytes())
    result = run(validate_core, data, key="orders/a.csv.gz")
    assert result.accepted and result.compressed and result.bytes_in == len(data)


def test_jsonl_sample_with_schema_violations(validate_core, samples):
    sink = io.BytesIO()
    result = run(
        validate_core,
        (samples / "events/bad.jsonl").read_bytes(),
        contract=load_contract("events"),
        key="events/a.jsonl",
        sink=sink,
    )
    assert (result.records_in, result.valid, result.rejected, result.rule) == (6, 1, 5, "threshold")
    assert [v.rule for v in result.violations] == ["schema", "allowed", "schema", "json", "json_object"]
    assert len(sink.getvalue().decode().splitlines()) == 5


def test_report_violations_are_capped(validate_core, monkeypatch):
    monkeypatch.setattr(validate_core, "MAX_REPORT_VIOLATIONS", 2)
    header = b"order_id,customer_id,email,order_date,amount,currency,status,express\n"
    result = run(validate_core, header + b"x,y,z,w,v,u,t,s\n" * 3)
    assert (len(result.violations), result.rejected) == (2, 3)
    report = validate_core.build_report(
        landed(validate_core),
        status="quarantined",
        rule=result.rule,
        reason=result.reason,
        result=result,
        contract=ORDERS,
        locations={},
    )
    assert report["violations_truncated"] is True and report["violations_total"] == result.violations_total
    json.dumps(report)  # serialisable


def test_report_without_a_result(validate_core):
    report = validate_core.build_report(
        landed(validate_core, key="x.csv"),
        status="quarantined",
        rule="unknown_dataset",
        reason="r",
        result=None,
        contract=None,
        locations={"landing": "s3://l/x.csv"},
    )
    assert (report["violations"], report["counts"], report["contract"], report["reason"]) == ([], {}, None, "r")
    assert report["source"]["key"] == "x.csv"


# -- the version of an event without versionId (the emulator's) ---------------------------------

def _version(key, version_id, etag, *, size=100, modified="2024-05-01T10:00:00.000Z", latest=False):
    """One entry of ListObjectVersions' ``Versions``, as S3 returns it (ETag quoted)."""
    from datetime import datetime

    return {"Key": key, "VersionId": version_id, "ETag": f'"{etag}"', "Size": size, "IsLatest": latest,
            "LastModified": datetime.fromisoformat(modified.replace("Z", "+00:00")), "StorageClass": "STANDARD"}


def _page(*versions, delete_markers=()):
    return {"Name": "landing", "Prefix": "orders/a.csv", "Versions": list(versions),
            "DeleteMarkers": list(delete_markers), "IsTruncated": False}


def event_object(core, *, etag="e1", size=100, event_time="2024-05-01T10:00:00.500Z"):
    return core.LandedObject.create(bucket="landing", key="orders/a.csv", size=size, etag=etag, version_id=None,
                                    event_time=event_time)


def test_the_version_with_the_events_etag_is_chosen(validate_core):
    pages = [_page(_version("orders/a.csv", "v2", "e2", latest=True, modified="2024-05-01T10:00:01Z"),
                   _version("orders/a.csv", "v1", "e1"))]
    assert validate_core.choose_version(pages, event_object(validate_core, etag="e1")) == "v1"


def test_of_two_versions_with_the_same_bytes_the_newest_not_after_the_event_is_chosen(validate_core):
    pages = [_page(_version("orders/a.csv", "v2", "e1", modified="2024-05-01T11:00:00Z"),
                   _version("orders/a.csv", "v1", "e1", modified="2024-05-01T10:00:00Z"))]
    replayed = event_object(validate_core, event_time="2024-05-01T11:00:00.200Z")
    original_redelivered = event_object(validate_core, event_time="2024-05-01T10:00:00.300Z")
    assert validate_core.choose_version(pages, replayed) == "v2"
    assert validate_core.choose_version(pages, original_redelivered) == "v1"


def test_versions_in_the_same_second_go_to_the_latest_one(validate_core):
    pages = [_page(_version("orders/a.csv", "v2", "e1", latest=True), _version("orders/a.csv", "v1", "e1"))]
    assert validate_core.choose_version(pages, event_object(validate_core)) == "v2"


def test_other_keys_under_the_prefix_and_other_sizes_are_not_candidates(validate_core):
    pages = [_page(_version("orders/a.csv.bak", "vb", "e1"), _version("orders/a.csv", "vs", "e1", size=7)),
             _page(_version("orders/a.csv", "v1", "e1"))]
    assert validate_core.choose_version(pages, event_object(validate_core)) == "v1"


def test_no_matching_version_keeps_the_etag_identity(validate_core):
    obj = event_object(validate_core, etag="gone")
    assert validate_core.choose_version([_page(_version("orders/a.csv", "v1", "e1"))], obj) is None
    assert validate_core.choose_version([{"Name": "landing", "IsTruncated": False}], obj) is None


def test_an_unversioned_bucket_keeps_the_etag_identity(validate_core):
    pages = [_page(_version("orders/a.csv", "null", "e1", latest=True))]
    assert validate_core.choose_version(pages, event_object(validate_core)) is None


def test_a_derived_version_gives_the_file_id_of_that_version(validate_core):
    obj = event_object(validate_core)
    derived = validate_core.with_version(obj, "v9")
    assert derived.ref.version_id == "v9" and derived.file_id != obj.file_id
    assert derived.file_id == validate_core.LandedObject.create(
        bucket="landing", key="orders/a.csv", size=100, etag="e1", version_id="v9").file_id


# -- the SHA-256 of the bytes read (verifies every later copy) -----------------------------------

TINY_CONTRACT = """
[dataset]
description = "a test dataset"
format = "csv"
delimiter = ","
max_rejected_fraction = 0.5
key_columns = ["id"]

[[columns]]
name = "id"
type = "string"
required = true

[[columns]]
name = "n"
type = "integer"
required = true
"""


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_CONTRACT, encoding="utf-8")
    return load_contract("tiny", tmp_path)


def test_the_sha256_of_the_stored_bytes_comes_with_the_result(validate_core, tiny):
    import hashlib

    data = b"id,n\na,1\nb,2\n"
    result = run(validate_core, data, contract=tiny, key="tiny/a.csv")
    assert result.accepted and result.sha256 == hashlib.sha256(data).hexdigest()


def test_the_sha256_of_a_gzip_file_is_that_of_the_compressed_bytes(validate_core, tiny):
    import hashlib

    data = gzip.compress(b"id,n\na,1\n")
    assert run(validate_core, data, contract=tiny, key="tiny/a.csv.gz").sha256 == hashlib.sha256(data).hexdigest()


def test_a_file_rejected_as_a_whole_after_reading_it_all_has_its_sha256(validate_core, tiny):
    import hashlib

    data = b"id,n\na,x\nb,y\nc,3\n"
    result = run(validate_core, data, contract=tiny, key="tiny/a.csv")
    assert (result.accepted, result.rule, result.sha256) == (False, "threshold", hashlib.sha256(data).hexdigest())


def test_a_file_rejected_before_its_end_has_no_sha256(validate_core, tiny):
    data = b"id,wrong\n" + b"a,1\n" * 200_000  # rejected at the header, the rest never read
    result = run(validate_core, data, contract=tiny, key="tiny/a.csv")
    assert (result.accepted, result.rule, result.sha256) == (False, "header", None)


# -- what became of an event's version (deleted before validation?) ------------------------------

def _marker(key, version_id, *, latest=True, modified="2024-05-01T10:00:05.000Z"):
    """One entry of ListObjectVersions' ``DeleteMarkers``."""
    from datetime import datetime

    return {"Key": key, "VersionId": version_id, "IsLatest": latest,
            "LastModified": datetime.fromisoformat(modified.replace("Z", "+00:00"))}


def test_the_latest_version_is_current(validate_core):
    pages = [_page(_version("orders/a.csv", "v1", "e1", latest=True))]
    assert validate_core.version_fate(pages, "orders/a.csv", "v1") == validate_core.CURRENT


def test_a_version_behind_a_delete_marker_was_deleted(validate_core):
    pages = [_page(_version("orders/a.csv", "v1", "e1"), delete_markers=[_marker("orders/a.csv", "d1")])]
    assert validate_core.version_fate(pages, "orders/a.csv", "v1") == validate_core.DELETED


def test_an_overwritten_version_is_superseded_not_deleted(validate_core):
    pages = [_page(_version("orders/a.csv", "v2", "e2", latest=True), _version("orders/a.csv", "v1", "e1"))]
    assert validate_core.version_fate(pages, "orders/a.csv", "v1") == validate_core.SUPERSEDED


def test_an_overwritten_version_stays_superseded_when_the_newer_one_is_deleted_later(validate_core):
    # v1, then v2 (an overwrite), then a delete marker (archive removing v2, or the producer)
    pages = [_page(_version("orders/a.csv", "v2", "e2"), _version("orders/a.csv", "v1", "e1"),
                   delete_markers=[_marker("orders/a.csv", "d1")])]
    assert validate_core.version_fate(pages, "orders/a.csv", "v1") == validate_core.SUPERSEDED
    assert validate_core.version_fate(pages, "orders/a.csv", "v2") == validate_core.DELETED


def test_a_newer_version_in_a_later_second_counts_even_out_of_order(validate_core):
    pages = [_page(_version("orders/a.csv", "v1", "e1", modified="2024-05-01T10:00:00Z"),
                   _version("orders/a.csv", "v2", "e2", modified="2024-05-01T10:00:03Z"),
                   delete_markers=[_marker("orders/a.csv", "d1")])]
    assert validate_core.version_fate(pages, "orders/a.csv", "v1") == validate_core.SUPERSEDED


def test_an_old_delete_marker_that_is_not_the_latest_changes_nothing(validate_core):
    pages = [_page(_version("orders/a.csv", "v2", "e2", latest=True), _version("orders/a.csv", "v1", "e1"),
                   delete_markers=[_marker("orders/a.csv", "d0", latest=False)])]
    assert validate_core.version_fate(pages, "orders/a.csv", "v2") == validate_core.CURRENT


def test_a_version_not_listed_is_missing(validate_core):
    pages = [_page(_version("orders/a.csv", "v2", "e2", latest=True))]
    assert validate_core.version_fate(pages, "orders/a.csv", "v1") == validate_core.MISSING


def test_other_keys_under_the_prefix_do_not_count(validate_core):
    pages = [_page(_version("orders/a.csv.bak", "vb", "e9", latest=True), _version("orders/a.csv", "v1", "e1"),
                   delete_markers=[_marker("orders/a.csv", "d1")]),
             _page(delete_markers=[_marker("orders/a.csv.old", "d9")])]
    assert validate_core.version_fate(pages, "orders/a.csv", "v1") == validate_core.DELETED
    assert validate_core.version_fate(pages, "orders/a.csv.bak", "vb") == validate_core.CURRENT
