"""Copy verification (pure) and the object selector."""

from __future__ import annotations

from pipeline_shared.s3 import ObjectRef, verify_copy

SOURCE = {"ContentLength": 10, "ETag": '"abc"', "ChecksumCRC32": "AAAA=="}


def test_identical_copy_verifies():
    assert verify_copy(SOURCE, dict(SOURCE)) == []


def test_size_difference_is_reported():
    assert verify_copy(SOURCE, {**SOURCE, "ContentLength": 9}) == ["size differs: source 10 bytes, copy 9 bytes"]


def test_checksum_difference_is_reported():
    assert verify_copy(SOURCE, {**SOURCE, "ChecksumCRC32": "BBBB=="}) == [
        "ChecksumCRC32 differs: source AAAA==, copy BBBB=="
    ]


def test_checksum_wins_over_a_different_etag():
    # SSE-KMS copies get a new ETag; the shared full-object checksum decides.
    assert verify_copy(SOURCE, {**SOURCE, "ETag": '"other"'}) == []


def test_without_common_checksum_the_etag_must_match():
    source = {"ContentLength": 10, "ETag": '"abc"'}
    assert verify_copy(source, {"ContentLength": 10, "ETag": "abc"}) == []
    assert verify_copy(source, {"ContentLength": 10, "ETag": '"xyz"'}) == [
        "ETag differs (no common full-object checksum to compare): source abc, copy xyz"
    ]


def test_composite_checksums_are_not_compared():
    source = {"ContentLength": 10, "ETag": '"abc"', "ChecksumCRC32": "AAAA==-2"}
    assert verify_copy(source, {**source, "ChecksumCRC32": "BBBB==-3"}) == []


def test_selector_prefers_the_version():
    assert ObjectRef("b", "k", version_id="v", etag="e").selector() == {"Bucket": "b", "Key": "k", "VersionId": "v"}
    assert ObjectRef("b", "k", etag="e").selector() == {"Bucket": "b", "Key": "k", "IfMatch": '"e"'}
