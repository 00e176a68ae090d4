"""`kit api`: the request event the local runner builds, and the argument errors that need no emulator."""

from __future__ import annotations

import base64

import pytest

from kit import cli
from kit.runner import api_event


def test_a_body_of_a_binary_media_type_arrives_base64_encoded():
    event = api_event("POST", "/datasets/d/cleanse", body=b"a,b\n1,\xff\n", content_type="text/csv",
                      binary_media_types=("text/csv", "application/x-ndjson"))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"a,b\n1,\xff\n"
    assert event["headers"]["Content-Type"] == "text/csv"


def test_the_media_type_is_matched_without_its_parameters_and_case():
    event = api_event("POST", "/x", body="a\n", content_type="Text/CSV; charset=utf-8", binary_media_types=("text/csv",))
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"a\n"


def test_a_json_body_stays_text():
    event = api_event("POST", "/x", body='{"a": 1}', binary_media_types=("text/csv",))
    assert event["isBase64Encoded"] is False and event["body"] == '{"a": 1}'


@pytest.mark.parametrize(("argv", "message"), [
    (["--body", "{}", "--upload", "f.csv"], "--body and --upload cannot be combined: give one request body"),
    (["--body-file", "a.csv", "--upload", "f.csv"], "--body-file and --upload cannot be combined"),
    (["--download", "out"], "--download goes with --upload"),
    (["--timeout", "0"], "--timeout must be a positive number of seconds, got 0"),
    (["--query", "days"], "--query 'days': write key=value"),
])
def test_bad_arguments_are_refused_in_one_line_before_the_emulator_is_needed(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(cli, "resolve", lambda *a, **k: pytest.fail("the emulator was looked for"))
    assert cli.main(["api", "--env", "local", *argv, "POST", "/datasets/d/files"]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
