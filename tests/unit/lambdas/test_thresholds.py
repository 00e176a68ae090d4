"""Every limit is pinned at its boundary: exactly at the threshold, and one past it.

- a file is rejected when *more than* its contract's ``max_rejected_fraction`` of rows are bad;
- an object is refused when it is *larger than* ``PIPELINE_MAX_OBJECT_BYTES``, as the event says
  (precheck) and as read (raw and decompressed);
- (Batch routing, objects *above* ``route_above_bytes``: ``test_batch_routing.py``.)

Contracts and files are made here."""

from __future__ import annotations

import gzip
import io

import pytest
from pipeline_shared.contracts import parse_contract

CONTRACT = """[dataset]
format = "csv"
max_rejected_fraction = 0.1

[[columns]]
name = "n"
type = "integer"
required = true
"""


@pytest.fixture
def contracts_dir(tmp_path):
    (tmp_path / "things.toml").write_text(CONTRACT, encoding="utf-8")
    return tmp_path


@pytest.fixture
def contract(contracts_dir):
    return parse_contract(contracts_dir / "things.toml")


def rows_file(good: int, bad: int) -> bytes:
    return ("n\n" + "1\n" * good + "x\n" * bad).encode()


def validate(core, data: bytes, contract, *, max_bytes: int = 1 << 20, key: str = "things/a.csv"):
    return core.validate_stream(io.BytesIO(data), key=key, contract=contract, max_bytes=max_bytes)


# -- the whole-file rejection threshold


def test_a_file_with_exactly_the_allowed_share_of_bad_rows_is_accepted(validate_core, contract):
    result = validate(validate_core, rows_file(90, 10), contract)  # 10 of 100 = 10.0 %
    assert (result.accepted, result.rule, result.rejected) == (True, None, 10)


def test_one_bad_row_past_the_allowed_share_rejects_the_file(validate_core, contract):
    result = validate(validate_core, rows_file(89, 11), contract)  # 11 of 100
    assert (result.accepted, result.rule) == (False, "threshold")
    assert result.reason == "11 of 100 rows (11.0%) break the things contract, more than its max_rejected_fraction of 10.0%"


def test_with_a_zero_threshold_one_bad_row_rejects_the_file(validate_core, tmp_path):
    path = tmp_path / "strict.toml"
    path.write_text(CONTRACT.replace("max_rejected_fraction = 0.1", "max_rejected_fraction = 0.0"), encoding="utf-8")
    strict = parse_contract(path)
    assert validate(validate_core, rows_file(5, 0), strict).accepted
    assert validate(validate_core, rows_file(4, 1), strict).rule == "threshold"


# -- the object size limit: the size the event reports


def landed(core, size: int):
    return core.LandedObject.create(bucket="landing", key="things/a.csv", size=size, etag="abc", version_id=None)


def test_an_object_of_exactly_the_limit_passes_the_precheck(validate_core, contracts_dir):
    check = validate_core.precheck(landed(validate_core, 1000), max_bytes=1000, contracts_dir=contracts_dir)
    assert (check.rule, check.reason) == (None, None)


def test_an_object_one_byte_over_the_limit_is_refused_by_the_precheck(validate_core, contracts_dir):
    check = validate_core.precheck(landed(validate_core, 1001), max_bytes=1000, contracts_dir=contracts_dir)
    assert (check.rule, check.reason) == (
        "oversized",
        "oversized input: the object has 1001 bytes (1001 bytes), more than the limit of 1000 bytes "
        "(1000 bytes, PIPELINE_MAX_OBJECT_BYTES)",
    )


# -- the object size limit: the bytes read


def test_reading_exactly_the_limit_is_accepted(validate_core, contract):
    data = rows_file(100, 0)
    assert validate(validate_core, data, contract, max_bytes=len(data)).accepted


def test_reading_one_byte_past_the_limit_is_refused(validate_core, contract):
    data = rows_file(100, 0)
    result = validate(validate_core, data, contract, max_bytes=len(data) - 1)
    assert (result.accepted, result.rule) == (False, "oversized")
    assert result.reason == (
        f"oversized input: the object exceeds the limit of {len(data) - 1} bytes "
        f"({len(data) - 1} bytes, PIPELINE_MAX_OBJECT_BYTES)"
    )


def test_decompressing_to_exactly_the_limit_is_accepted(validate_core, contract):
    data = rows_file(500, 0)
    result = validate(validate_core, gzip.compress(data), contract, max_bytes=len(data), key="things/a.csv.gz")
    assert (result.accepted, result.bytes_decoded) == (True, len(data))


def test_decompressing_one_byte_past_the_limit_is_refused(validate_core, contract):
    data = rows_file(500, 0)
    result = validate(validate_core, gzip.compress(data), contract, max_bytes=len(data) - 1, key="things/a.csv.gz")
    assert (result.accepted, result.rule) == (False, "oversized")
    assert result.reason.startswith("oversized input: the decompressed data exceeds the limit of ")
