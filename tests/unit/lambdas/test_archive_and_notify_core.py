"""archive core (where and when) and notify core (what is published and stored)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from pipeline_shared.wiring.messages import StageMessage

NOW = datetime(2024, 5, 1, 10, 0, 3, tzinfo=UTC)


def message(**changes) -> StageMessage:
    base = dict(
        file_id="f" * 32,
        dataset="orders",
        status="cleansed",
        produced_by="cleanse",
        bucket="landing",
        key="orders/in/a.csv",
        etag="abc",
        version_id="v1",
        size=42,
        received_at="2024-05-01T23:59:00.000Z",
        counts={"records_in": 5, "out": 4},
        locations={"landing": "s3://landing/orders/in/a.csv"},
    )
    return StageMessage(**{**base, **changes})


def test_archive_key_uses_the_landing_date(archive_core):
    assert archive_core.archive_key(message()) == f"orders/2024/05/01/{'f' * 32}/orders/in/a.csv"
    assert archive_core.archive_key(message(received_at=None), today=date(2023, 2, 3)).startswith("orders/2023/02/03/")


def test_archive_tags_are_s3_safe(archive_core):
    assert archive_core.archive_tags(message(dataset="ord#ers")) == {"file_id": "f" * 32, "dataset": "ord_ers"}


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ({"VersionId": "v1", "ETag": '"abc"'}, "delete"),
        ({"VersionId": "v2", "ETag": '"abc"'}, "superseded"),
    ],
)
def test_landing_disposition_by_version(archive_core, current, expected):
    assert archive_core.landing_disposition(message(), current) == expected


def test_landing_disposition_by_etag_when_unversioned(archive_core):
    assert archive_core.landing_disposition(message(version_id=None), {"ETag": '"abc"'}) == "delete"
    assert archive_core.landing_disposition(message(version_id=None), {"ETag": '"new"'}) == "superseded"


DIGEST = "a" * 64


def test_existing_archive_copy_matches_by_size_and_sha256_not_etag(archive_core):
    # an SSE-KMS copy: its ETag is not the source's, which does not matter
    head = {"ContentLength": 42, "ETag": '"0f3c9a7e1d2b4c5a6b7c8d9e0f1a2b3c"', "ServerSideEncryption": "aws:kms"}
    assert archive_core.matches_message(head, message(sha256=DIGEST), copy_sha256=DIGEST) == []


def test_existing_archive_copy_with_other_bytes_is_reported(archive_core):
    assert archive_core.matches_message({"ContentLength": 41, "ETag": '"abc"'}, message(sha256=DIGEST),
                                        copy_sha256="b" * 64) == [
        "size 41 bytes, expected 42",
        f"SHA-256 {'b' * 64}, expected {DIGEST}",
    ]


def test_existing_archive_copy_without_a_digest_in_the_message_is_checked_by_size(archive_core):
    assert archive_core.matches_message({"ContentLength": 42, "ETag": '"other"'}, message(), copy_sha256=None) == []


def test_gone_reason_says_the_clean_data_was_written_and_the_raw_file_is_lost(archive_core):
    clean = message(locations={"clean": ["s3://c/a.csv", "s3://c/b.csv"]})
    assert archive_core.gone_reason(clean, "deleted before archiving: s3://landing/orders/in/a.csv no longer exists") == (
        "deleted before archiving: s3://landing/orders/in/a.csv no longer exists; its clean data was written "
        "(2 object(s), locations.clean), but the raw file is in neither landing nor archive"
    )


def test_notify_accepts_only_final_statuses(notify_core):
    for status in ("processed", "quarantined", "gone"):
        notify_core.require_final(message(status=status))
    with pytest.raises(
        notify_core.NotifyError,
        match=r"notify announces final outcomes \(quarantined, processed, gone\), "
        r"got 'cleansed' from cleanse",
    ):
        notify_core.require_final(message())


def test_every_final_status_has_a_file_metric(notify_core):
    from pipeline_shared.wiring.messages import FINAL_STATUSES

    assert sorted(notify_core.FILE_METRIC) == sorted(FINAL_STATUSES)


def test_status_item_has_keys_ttl_and_no_nulls(notify_core):
    item = notify_core.status_item(
        message(status="quarantined", reason="bad", version_id=None), environment="dev", now=NOW, ttl_days=30
    )
    assert (item["file_id"], item["dataset"], item["status"], item["updated_at"]) == (
        "f" * 32,
        "orders",
        "quarantined",
        "2024-05-01T10:00:03.000000Z",
    )
    assert item["expires_at"] == int(NOW.timestamp()) + 30 * 86400
    assert "version_id" not in item and item["reason"] == "bad"


def test_status_item_in_dynamodb_wire_format(notify_core):
    item = notify_core.to_item(
        notify_core.status_item(
            message(status="processed", locations={"clean": ["s3://c/1"]}), environment="dev", now=NOW, ttl_days=1
        )
    )
    assert item["file_id"] == {"S": "f" * 32}
    assert item["counts"] == {"M": {"records_in": {"N": "5"}, "out": {"N": "4"}}}
    assert item["locations"] == {"M": {"clean": {"L": [{"S": "s3://c/1"}]}}}
    assert item["expires_at"] == {"N": str(int(NOW.timestamp()) + 86400)}


def test_attribute_values_cover_json_types(notify_core):
    assert notify_core.to_attribute_value(None) == {"NULL": True}
    assert notify_core.to_attribute_value(True) == {"BOOL": True}
    with pytest.raises(TypeError, match="cannot store a set"):
        notify_core.to_attribute_value({1})


def test_outcome_document(notify_core):
    doc = notify_core.outcome(message(status="processed"), environment="prod", now=NOW)
    assert {k: doc[k] for k in ("environment", "dataset", "status", "file_id", "reason")} == {
        "environment": "prod",
        "dataset": "orders",
        "status": "processed",
        "file_id": "f" * 32,
        "reason": None,
    }
    json.dumps(doc)


def test_subject_is_short_printable_ascii(notify_core):
    text = notify_core.subject(message(status="processed", dataset="ördérs" * 30), environment="prod")
    assert len(text) <= 100 and text.isascii() and text.startswith("[pipeline-kit prod] ?rd?rs")


def test_message_attributes_for_filter_policies(notify_core):
    assert notify_core.message_attributes(message(status="quarantined"), environment="dev") == {
        "dataset": {"DataType": "String", "StringValue": "orders"},
        "status": {"DataType": "String", "StringValue": "quarantined"},
        "environment": {"DataType": "String", "StringValue": "dev"},
    }
