"""The local runner's bookkeeping: which files a message is about, the per-file table, and when a
run fails (a file without a status record, a message left in a dead-letter queue)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from kit import runner
from kit.runner import RunOutcome, message_files, render, report


def s3_event(*keys: str, event_name: str = "ObjectCreated:Put") -> str:
    return json.dumps({"Records": [{"eventName": event_name, "s3": {"bucket": {"name": "landing"},
                                                                    "object": {"key": k, "eTag": "e"}}}
                                   for k in keys]})


def stage_message(key: str, file_id: str) -> str:
    return json.dumps({"schema_version": 1, "key": key, "file_id": file_id, "status": "validated"})


def record(key: str, file_id: str, updated_at: str, status: str = "processed") -> dict:
    return {"key": key, "file_id": file_id, "dataset": key.split("/")[0], "status": status, "updated_at": updated_at,
            "counts": {"records_in": 3, "out": 3, "rejected": 0},
            "locations": {"clean": ["s3://c/1"], "archive": f"s3://a/{file_id}"}}


def test_an_s3_event_names_its_decoded_keys_without_file_ids():
    assert message_files(s3_event("sales%2Fin+coming%2Fa.csv", "sales/b.csv")) == [
        ("sales/in coming/a.csv", None), ("sales/b.csv", None)]


def test_a_stage_message_names_its_key_and_file_id():
    assert message_files(stage_message("sales/a.csv", "f" * 32)) == [("sales/a.csv", "f" * 32)]


def test_a_stage_message_inside_an_sns_envelope_is_read():
    envelope = json.dumps({"Type": "Notification", "Message": stage_message("sales/a.csv", "f" * 32)})
    assert message_files(envelope) == [("sales/a.csv", "f" * 32)]


@pytest.mark.parametrize("body", [
    "not json", "[1, 2]", json.dumps({"Event": "s3:TestEvent"}), s3_event("sales/folder/"),
    s3_event("sales/a.csv", event_name="ObjectRemoved:Delete"), json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}),
])
def test_messages_about_no_file_name_none(body):
    assert message_files(body) == []


def test_a_replayed_key_shows_the_record_of_the_file_the_run_handled():
    old, new = record("sales/a.csv", "1" * 32, "2024-05-02T00:00:00Z"), record("sales/a.csv", "2" * 32,
                                                                             "2024-05-01T00:00:00Z")
    _, rows = report(["sales/a.csv"], [old, new], {}, file_ids={"sales/a.csv": {"2" * 32}})
    assert rows[0]["file_id"] == "2" * 32


def test_without_a_handled_file_id_the_newest_record_is_shown():
    older, newer = record("sales/a.csv", "1" * 32, "2024-05-01T00:00:00Z"), record("sales/a.csv", "2" * 32,
                                                                                 "2024-05-02T00:00:00Z")
    _, rows = report(["sales/a.csv"], [newer, older], {})
    assert rows[0]["file_id"] == "2" * 32


def test_a_handled_file_without_its_own_record_has_no_status():
    _, rows = report(["sales/a.csv"], [record("sales/a.csv", "1" * 32, "2024-05-01T00:00:00Z")], {},
                     file_ids={"sales/a.csv": {"9" * 32}})
    assert rows[0]["status"] == "NO STATUS"


def test_the_table_has_the_run_columns_and_the_dead_letter_line():
    _, rows = report(["sales/a.csv"], [record("sales/a.csv", "1" * 32, "2024-05-01T00:00:00Z")], {})
    lines = render(rows, {"alpha": 0, "beta": 2}).splitlines()
    assert lines[0].split() == ["file", "dataset", "in", "out", "rejected", "status", "where", "it", "ended", "/", "reason"]
    assert lines[2].split()[:6] == ["sales/a.csv", "sales", "3", "3", "0", "processed"]
    assert lines[-1] == "dead-letter queues: beta=2"


def test_a_run_with_a_message_left_in_a_dead_letter_queue_fails_naming_it():
    outcome = RunOutcome(rows=[], dlq={"alpha": 0, "beta": 2}, dlq_names={"alpha": "pk-t-alpha-dlq", "beta": "pk-t-beta-dlq"})
    (problem,) = outcome.problems(redrive="make redrive ENV=t")
    assert problem.startswith("message(s) left in dead-letter queue(s): pk-t-beta-dlq=2 ")
    assert "make redrive ENV=t" in problem


def test_a_clean_run_has_no_problem():
    _, rows = report(["sales/a.csv"], [record("sales/a.csv", "1" * 32, "2024-05-01T00:00:00Z")], {})
    assert RunOutcome(rows=rows, dlq={"alpha": 0}, dlq_names={"alpha": "pk-t-alpha-dlq"}).problems() == []


def test_a_file_without_status_and_a_dead_letter_are_both_reported():
    _, rows = report(["sales/a.csv"], [], {"alpha": 1})
    problems = RunOutcome(rows=rows, dlq={"alpha": 1}, dlq_names={"alpha": "pk-t-alpha-dlq"}).problems()
    assert problems[0] == "1 file(s) have no status record: sales/a.csv"
    assert problems[1].startswith("message(s) left in dead-letter queue(s): pk-t-alpha-dlq=1")


# -- `kit run`: the flag and the exit status ---------------------------------------------------------


@pytest.fixture
def fake_run(monkeypatch):
    """``kit run`` against a fake emulator target; ``runner.run`` replaced by a recorder."""
    from kit import cli

    calls: list[dict] = []
    outcome = SimpleNamespace(value=RunOutcome(rows=[], dlq={}, dlq_names={}))
    cfg = SimpleNamespace(name="local", is_rehearsal=False)
    target = SimpleNamespace(name="local", cfg=cfg, emulator=SimpleNamespace(is_running=lambda: True, url="http://x"))
    monkeypatch.setattr(cli, "resolve", lambda env, target_name=None: target)

    def run(cfg, emulator, **kwargs):
        calls.append(kwargs)
        return outcome.value

    monkeypatch.setattr(runner, "run", run)
    return calls, outcome


def test_the_timeout_is_a_flag(fake_run):
    from kit import cli

    calls, _ = fake_run
    assert cli.main(["run", "--drain-only", "--timeout", "42"]) == 0
    assert calls[0]["timeout"] == 42.0 and calls[0]["samples"] is None


def test_the_run_exits_non_zero_when_a_dead_letter_queue_holds_a_message(fake_run, capsys):
    from kit import cli

    _, outcome = fake_run
    outcome.value = RunOutcome(rows=[], dlq={"beta": 1}, dlq_names={"beta": "pk-local-beta-dlq"})
    assert cli.main(["run", "--drain-only"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: message(s) left in dead-letter queue(s): pk-local-beta-dlq=1")
    assert "make redrive ENV=local" in err
