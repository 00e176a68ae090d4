"""notify announces each status to the optional AppSync status API (``publishStatus``, signed with
SigV4) so that subscriptions fire; a local HTTP server on 127.0.0.1 plays AppSync's endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from lambda_events import sqs_event
from pipeline_shared import graphql
from pipeline_shared.wiring.messages import StageMessage

OK = {"batchItemFailures": []}


class _Endpoint(BaseHTTPRequestHandler):
    answer: dict = {"data": {"publishStatus": {"file_id": "x"}}}
    received: list = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"headers": dict(self.headers.items()), "body": json.loads(body)})
        data = json.dumps(type(self).answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def endpoint(monkeypatch):
    _Endpoint.received = []
    _Endpoint.answer = {"data": {"publishStatus": {"file_id": "x"}}}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/graphql"
    monkeypatch.setenv(graphql.URL_VARIABLE, url)
    yield _Endpoint
    server.shutdown()
    server.server_close()


def outcome(**changes) -> StageMessage:
    base = dict(file_id="a" * 32, dataset="orders", status="processed", produced_by="archive",
                bucket="pk-test-landing", key="orders/in/a.csv", etag="abc", size=42,
                received_at="2024-05-01T10:00:00.000Z", counts={"records_in": 5, "out": 4},
                locations={"archive": "s3://pk-test-archive/x"})
    return StageMessage(**{**base, **changes})


def test_the_request_carries_the_item_with_json_fields_as_text() -> None:
    request = graphql.publish_status_request({"file_id": "f", "status": "processed", "counts": {"out": 4},
                                               "reason": None})
    assert "publishStatus(input: $input)" in request["query"]
    assert request["variables"] == {"input": {"file_id": "f", "status": "processed", "counts": '{"out":4}'}}


def test_notify_announces_each_status_signed_for_appsync(aws, notify, context, endpoint):
    assert notify.lambda_handler(sqs_event([outcome()]), context) == OK
    (call,) = endpoint.received
    assert call["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/appsync/aws4_request" in call["headers"]["Authorization"]
    sent = call["body"]["variables"]["input"]
    assert (sent["file_id"], sent["dataset"], sent["status"]) == ("a" * 32, "orders", "processed")
    assert json.loads(sent["counts"]) == {"records_in": 5, "out": 4}


def test_a_failed_announcement_does_not_fail_the_record(aws, notify, context, endpoint, caplog):
    endpoint.answer = {"errors": [{"message": "Unauthorized"}]}
    assert notify.lambda_handler(sqs_event([outcome(file_id="b" * 32)]), context) == OK
    item = aws.client("dynamodb").get_item(TableName=aws.tables["status"], Key={"file_id": {"S": "b" * 32}})
    assert item["Item"]["status"] == {"S": "processed"}
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [r.getMessage() for r in warnings] == ["status not announced to the status API's subscribers"]
    assert "Unauthorized" in warnings[0].__dict__["error"]


def test_nothing_is_announced_without_the_status_api(aws, notify, context, monkeypatch):
    monkeypatch.delenv(graphql.URL_VARIABLE, raising=False)
    assert graphql.status_url() is None
    assert notify.lambda_handler(sqs_event([outcome(file_id="c" * 32)]), context) == OK
