"""archive core (where and when) and notify core (what is published and stored)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from pipeline_shared.messages import StageMessage

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


def test_existing_archive_copy_is_checked_against_the_message(archive_core):
    assert archive_core.matches_message({"ContentLength": 42, "ETag": '"abc"'}, message()) == []
    assert archive_core.matches_message({"ContentLength": 41, "ETag": '"abd"'}, message()) == [
        "size 41 bytes, expected 42",
        "ETag abd, expected abc",
    ]


def test_notify_accepts_only_final_statuses(notify_core):
    notify_core.require_final(message(status="processed"))
    with pytest.raises(
        notify_core.NotifyError,
        match=r"notify announces final outcomes \(quarantined, processed\), "
        r"got 'cleansed' from cleanse",
    ):
        notify_core.require_final(message())


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
