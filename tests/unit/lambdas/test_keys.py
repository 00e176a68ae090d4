"""Key conventions and the stable file_id."""

from __future__ import annotations

from datetime import date

import pytest
from pipeline_shared import keys


@pytest.mark.parametrize(
    ("key", "dataset"),
    [
        ("orders/2024/05/a.csv", "orders"),
        ("orders/a.csv", "orders"),
        ("a.csv", None),
        ("/a.csv", None),
    ],
)
def test_dataset_is_the_first_segment(key, dataset):
    assert keys.dataset_for_key(key) == dataset


def test_file_id_is_stable_and_distinguishes_versions():
    a = keys.file_id("b", "orders/a.csv", version_id="v1")
    assert a == keys.file_id("b", "orders/a.csv", version_id="v1") and len(a) == 32
    assert a != keys.file_id("b", "orders/a.csv", version_id="v2")
    assert keys.file_id("b", "k", etag='"abc"') == keys.file_id("b", "k", etag="abc")


def test_file_id_needs_an_identity():
    with pytest.raises(ValueError, match="neither version id nor ETag known"):
        keys.file_id("b", "k")


def test_layouts():
    assert keys.clean_key("orders", date(2024, 5, 1), "f1", "csv") == "dataset=orders/date=2024-05-01/f1.csv"
    assert keys.archive_key("orders", date(2024, 5, 1), "f1", "orders/x/a.csv") == "orders/2024/05/01/f1/orders/x/a.csv"
    assert keys.quarantine_original_key("orders", "f1", "orders/x/a.csv") == "orders/f1/original/a.csv"
    assert keys.quarantine_report_key("orders", "f1") == "orders/f1/report.json"


def test_landed_date_uses_utc_event_time():
    assert keys.landed_date("2024-05-01T23:30:00-02:00") == date(2024, 5, 2)
    assert keys.landed_date(None, today=date(2020, 1, 1)) == date(2020, 1, 1)
    assert keys.landed_date("garbage", today=date(2020, 1, 1)) == date(2020, 1, 1)
