"""StageMessage: the versioned message between stages."""

from __future__ import annotations

import json

import pytest
from pipeline_shared.wiring.messages import SCHEMA_VERSION, MessageError, StageMessage, sqs_attributes

BASE = dict(
    file_id="f" * 32, dataset="orders", status="validated", produced_by="validate", bucket="landing", key="orders/a.csv"
)


def test_round_trip_through_json():
    message = StageMessage(
        **BASE,
        etag="abc",
        size=10,
        counts={"records_in": 3},
        locations={"clean": ["s3://c/x"]},
        received_at="2024-05-01T10:00:00.000Z",
    )
    assert StageMessage.from_json(message.to_json()) == message
    assert json.loads(message.to_json())["schema_version"] == SCHEMA_VERSION


def test_unknown_fields_are_ignored_for_additive_changes():
    data = {**StageMessage(**BASE).to_dict(), "added_later": 1}
    assert StageMessage.from_dict(data) == StageMessage(**BASE)


def test_other_schema_version_is_refused():
    data = {**StageMessage(**BASE).to_dict(), "schema_version": 2}
    with pytest.raises(MessageError, match=r"unsupported StageMessage schema_version 2 \(this code reads version 1\)"):
        StageMessage.from_dict(data)


def test_missing_fields_are_named():
    data = StageMessage(**BASE).to_dict()
    del data["file_id"], data["key"]
    with pytest.raises(MessageError, match=r"stage message is missing field\(s\): file_id, key"):
        StageMessage.from_dict(data)


def test_body_that_is_not_json_is_refused():
    with pytest.raises(MessageError, match=r"stage message body is not valid JSON"):
        StageMessage.from_json("hello")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "done"}, "StageMessage.status 'done' is not one of validated, quarantined, cleansed, processed"),
        ({"dataset": ""}, "StageMessage.dataset must be a non-empty string"),
        ({"size": -1}, "StageMessage.size must be a non-negative integer or null"),
        ({"counts": {"out": "3"}}, "StageMessage.counts must map names to integers"),
        ({"locations": {"clean": 3}}, "StageMessage.locations must map names to URIs or lists of URIs"),
        ({"sha256": "ABC"}, "StageMessage.sha256 must be 64 lower-case hex characters or null, got 'ABC'"),
    ],
)
def test_invalid_fields_are_refused(change, message):
    with pytest.raises(MessageError, match=message):
        StageMessage(**{**BASE, **change})


def test_evolve_merges_counts_and_locations():
    first = StageMessage(**BASE, counts={"records_in": 3}, locations={"landing": "s3://l/k"})
    second = first.evolve(
        status="cleansed", produced_by="cleanse", counts={"out": 2}, locations={"clean": ["s3://c/x"]}
    )
    assert second.counts == {"records_in": 3, "out": 2}
    assert second.locations == {"landing": "s3://l/k", "clean": ["s3://c/x"]}
    assert (second.status, first.status) == ("cleansed", "validated")


def test_long_reason_is_truncated():
    assert len(StageMessage(**BASE, reason="x" * 5000).reason) == 2000


def test_sqs_attributes_mirror_routing_fields():
    assert sqs_attributes(StageMessage(**BASE))["status"] == {"DataType": "String", "StringValue": "validated"}


def test_sha256_travels_and_a_message_without_it_reads_as_none():
    message = StageMessage(**BASE, sha256="0f" * 32)
    assert StageMessage.from_json(message.to_json()).sha256 == "0f" * 32
    assert StageMessage.from_dict({k: v for k, v in message.to_dict().items() if k != "sha256"}).sha256 is None
    assert message.evolve(status="cleansed").sha256 == "0f" * 32


def test_gone_is_a_final_status():
    from pipeline_shared.wiring.messages import FINAL_STATUSES, GONE

    assert GONE in FINAL_STATUSES and StageMessage(**{**BASE, "status": GONE}).status == "gone"
