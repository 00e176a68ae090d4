"""One file through all four handlers on moto, each fed the messages the previous one really sent."""

from __future__ import annotations

import csv
import io
import json


def test_good_orders_file_flows_from_landing_to_notification(
    aws, land, received, validate, cleanse, archive, notify, context, samples
):
    from lambda_events import sqs_event

    body = (samples / "orders" / "good.csv").read_bytes()
    key = "orders/2024/05/good.csv"

    assert validate.lambda_handler(sqs_event([land(key, body)]), context) == {"batchItemFailures": []}
    assert cleanse.lambda_handler(received("cleanse"), context) == {"batchItemFailures": []}
    assert archive.lambda_handler(received("archive"), context) == {"batchItemFailures": []}
    assert notify.lambda_handler(received("notify"), context) == {"batchItemFailures": []}

    published = [json.loads(json.loads(m["Body"])["Message"]) for m in aws.drain("subscriber")]
    assert [(p["dataset"], p["status"]) for p in published] == [("orders", "processed")]
    assert published[0]["counts"] == {
        "records_in": 5,
        "valid": 5,
        "rejected": 0,
        "duplicates": 1,
        "out": 4,
        "bytes_in": len(body),
        "bytes_out": published[0]["counts"]["bytes_out"],
    }
    assert aws.keys("landing") == []
    clean_keys = aws.keys("clean", "dataset=")
    status_log = aws.keys("clean", "_status/")
    assert len(status_log) == 1 and status_log[0].startswith("_status/dataset=orders/date=")
    assert json.loads(aws.get("clean", status_log[0]))["status"] == "processed"
    assert [k.rsplit("/", 1)[0] for k in clean_keys] == [
        "dataset=orders/date=2024-05-01",
        "dataset=orders/date=2024-05-02",
    ]
    rows = [r for k in clean_keys for r in csv.DictReader(io.StringIO(aws.get("clean", k).decode()))]
    assert sorted(r["order_id"] for r in rows) == ["ORD-000001", "ORD-000002", "ORD-000003", "ORD-000004"]
    assert all("@" not in r["email"] for r in rows)
