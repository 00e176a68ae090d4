"""``[notifications]``: subscribers of the alarms and pipeline-events topics — lists of tables named
by index in errors, endpoint shapes per protocol (plain HTTP on the emulator only), filters on
events only, the on-call rule of staging and prod; plus the composition root's part (the
environment folder variable, dataset names checked against the contracts)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from environments.config import ENVIRONMENTS_DIR, ConfigError, load_environment_file
from environments.sections.notifications import EVENT_STATUSES, NotificationsConfig

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "arn:aws:sqs:eu-west-1:{account}:client-events"


# --------------------------------------------------------------------------------------
# helpers: an environment file of our own = a shipped one with our [notifications] instead
# --------------------------------------------------------------------------------------

def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """Scalars, then ``[tables]``, then ``[[arrays of tables]]`` (whose entries hold scalars)."""
    out = "".join(f"{k} = {_value(v)}\n" for k, v in data.items()
                  if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict)))
    for k, v in data.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out += f"\n[{name}]\n" + _toml(v, name)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for entry in v:
                out += f"\n[[{name}]]\n" + _toml(entry, name)
    return out


def write_env(tmp_path: Path, env: str, notifications: dict[str, Any] | None) -> Path:
    data = tomllib.loads((ENVIRONMENTS_DIR / f"{env}.toml").read_text(encoding="utf-8"))
    data.pop("notifications", None)
    if notifications is not None:
        data["notifications"] = notifications
    path = tmp_path / f"{env}.toml"
    path.write_text(_toml(data), encoding="utf-8")
    return path


def load(tmp_path: Path, env: str, notifications: dict[str, Any] | None):
    return load_environment_file(write_env(tmp_path, env, notifications))


def refused(tmp_path: Path, env: str, notifications: dict[str, Any] | None) -> str:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, env, notifications)
    return str(err.value)


def account(env: str) -> str:
    return tomllib.loads((ENVIRONMENTS_DIR / f"{env}.toml").read_text(encoding="utf-8"))["account_id"]


ONCALL = {"protocol": "email", "endpoint": "oncall@corp.test"}


# --------------------------------------------------------------------------------------
# the shipped files and the defaults
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_ship_an_alarm_email_placeholder(env):
    cfg = load_environment_file(ENVIRONMENTS_DIR / f"{env}.toml")
    assert [(s.protocol, s.endpoint.endswith("@example.com")) for s in cfg.notifications.alarms] == [("email", True)]


def test_local_ships_no_subscriber():
    # the emulator delivers to HTTPS/SQS subscribers inside Publish: none by default
    cfg = load_environment_file(ENVIRONMENTS_DIR / "local.toml")
    assert cfg.notifications.alarms == () and cfg.notifications.events == ()


def test_the_section_is_optional_and_empty_by_default(tmp_path):
    assert load(tmp_path, "dev", None).notifications == NotificationsConfig()


def test_event_statuses_are_the_statuses_notify_publishes():
    from pipeline_shared.wiring.messages import FINAL_STATUSES

    assert EVENT_STATUSES == FINAL_STATUSES == ("quarantined", "processed", "gone")


# --------------------------------------------------------------------------------------
# lists of tables
# --------------------------------------------------------------------------------------

def test_subscribers_load_as_frozen_entries_in_file_order(tmp_path):
    cfg = load(tmp_path, "dev", {"alarms": [ONCALL, {"protocol": "https", "endpoint": "https://pager.corp.test/sns"}]})
    assert [(s.protocol, s.endpoint) for s in cfg.notifications.alarms] == [
        ("email", "oncall@corp.test"), ("https", "https://pager.corp.test/sns")]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.notifications.alarms[0].endpoint = "x"  # type: ignore[misc]


def test_an_events_filter_becomes_a_filter_policy_on_dataset_and_status(tmp_path):
    cfg = load(tmp_path, "dev", {"events": [{"protocol": "sqs", "endpoint": QUEUE.format(account=account("dev")),
                                             "datasets": ["alpha", "beta"], "statuses": ["processed"]}]})
    assert cfg.notifications.events[0].filter_policy == {"dataset": ["alpha", "beta"], "status": ["processed"]}


def test_an_events_subscriber_without_filter_has_no_filter_policy(tmp_path):
    cfg = load(tmp_path, "dev", {"events": [{"protocol": "https", "endpoint": "https://partner.test/in"}]})
    assert cfg.notifications.events[0].filter_policy == {}


def test_a_single_table_instead_of_a_list_is_refused(tmp_path):
    path = write_env(tmp_path, "dev", None)
    path.write_text(path.read_text() + '\n[notifications.alarms]\nprotocol = "email"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_environment_file(path)
    assert str(err.value) == (f"{path}: notifications.alarms: must be a list of tables "
                              "([[notifications.alarms]] entries), got dict")


def test_an_unknown_protocol_names_the_entry_by_index(tmp_path):
    msg = refused(tmp_path, "dev", {"alarms": [ONCALL, {"protocol": "sms", "endpoint": "+15550100"}]})
    assert msg == f"{tmp_path / 'dev.toml'}: notifications.alarms[1].protocol: must be one of 'email', 'https', 'sqs', got 'sms'"


def test_an_unknown_key_in_an_entry_is_refused(tmp_path):
    msg = refused(tmp_path, "dev", {"events": [{"protocol": "https", "endpoint": "https://p.test/", "dataset": ["a"]}]})
    assert msg.startswith(f"{tmp_path / 'dev.toml'}: notifications.events[0].dataset: unknown key (allowed: ")


def test_an_entry_without_endpoint_is_refused(tmp_path):
    msg = refused(tmp_path, "dev", {"alarms": [{"protocol": "email"}]})
    assert msg == f"{tmp_path / 'dev.toml'}: notifications.alarms[0].endpoint: is required but missing"


# --------------------------------------------------------------------------------------
# endpoints
# --------------------------------------------------------------------------------------

def test_an_email_endpoint_must_be_an_address(tmp_path):
    msg = refused(tmp_path, "prod", {"alarms": [{"protocol": "email", "endpoint": "x"}]})
    assert msg == f"{tmp_path / 'prod.toml'}: notifications.alarms[0].endpoint: must be an e-mail address, got 'x'"


def test_an_https_endpoint_must_be_an_https_url_in_aws(tmp_path):
    msg = refused(tmp_path, "dev", {"alarms": [{"protocol": "https", "endpoint": "http://127.0.0.1:8000/sns"}]})
    assert msg == (f"{tmp_path / 'dev.toml'}: notifications.alarms[0].endpoint: must be an https:// URL, "
                   "got 'http://127.0.0.1:8000/sns'")


def test_an_https_endpoint_without_a_host_is_refused(tmp_path):
    msg = refused(tmp_path, "dev", {"alarms": [{"protocol": "https", "endpoint": "https:///sns"}]})
    assert msg.endswith("notifications.alarms[0].endpoint: must be an https:// URL, got 'https:///sns'")


def test_the_emulator_accepts_a_plain_http_test_server_on_this_machine(tmp_path):
    cfg = load(tmp_path, "local", {"events": [{"protocol": "https", "endpoint": "http://127.0.0.1:8000/sns"},
                                              {"protocol": "https", "endpoint": "http://localhost/sns"}]})
    assert [s.sns_protocol for s in cfg.notifications.events] == ["http", "http"]


def test_the_emulator_refuses_plain_http_to_another_host(tmp_path):
    msg = refused(tmp_path, "local", {"events": [{"protocol": "https", "endpoint": "http://partner.test/sns"}]})
    assert msg == (f"{tmp_path / 'local.toml'}: notifications.events[0].endpoint: must be an https:// URL (on the "
                   "emulator also http://127.0.0.1:<port>/... or http://localhost...), got 'http://partner.test/sns'")


def test_an_https_url_keeps_protocol_https():
    from environments.sections.notifications import SubscriberConfig

    assert SubscriberConfig(protocol="https", endpoint="https://partner.test/").sns_protocol == "https"


def test_an_sqs_endpoint_must_be_a_queue_arn(tmp_path):
    msg = refused(tmp_path, "dev", {"events": [{"protocol": "sqs", "endpoint": "https://sqs.eu-west-1.amazonaws.com/1/q"}]})
    assert msg == (f"{tmp_path / 'dev.toml'}: notifications.events[0].endpoint: must be an SQS queue ARN "
                   "(arn:aws:sqs:<region>:<account>:<queue>), got 'https://sqs.eu-west-1.amazonaws.com/1/q'")


def test_an_sqs_endpoint_must_not_be_a_fifo_queue(tmp_path):
    arn = QUEUE.format(account=account("dev")) + ".fifo"
    msg = refused(tmp_path, "dev", {"events": [{"protocol": "sqs", "endpoint": arn}]})
    assert msg.endswith(f"notifications.events[0].endpoint: a FIFO queue cannot subscribe to a standard SNS topic, got '{arn}'")


def test_an_sqs_endpoint_must_be_in_the_environment_account(tmp_path):
    arn = "arn:aws:sqs:eu-west-1:999999999999:client-events"
    msg = refused(tmp_path, "dev", {"events": [{"protocol": "sqs", "endpoint": arn}]})
    assert msg.endswith(f"notifications.events[0].endpoint: must be a queue of this environment's account "
                        f"({account('dev')}), got '{arn}' (a queue of another account subscribes from that account)")


def test_the_same_protocol_and_endpoint_twice_in_one_list_is_refused(tmp_path):
    msg = refused(tmp_path, "dev", {"alarms": [ONCALL, ONCALL]})
    assert msg == (f"{tmp_path / 'dev.toml'}: notifications.alarms[1].endpoint: duplicates alarms[0] "
                   "(email oncall@corp.test)")


def test_the_same_endpoint_on_both_topics_is_fine(tmp_path):
    cfg = load(tmp_path, "dev", {"alarms": [ONCALL], "events": [ONCALL]})
    assert cfg.notifications.alarms == cfg.notifications.events


# --------------------------------------------------------------------------------------
# filters and delivery
# --------------------------------------------------------------------------------------

def test_a_status_notify_never_publishes_is_refused(tmp_path):
    msg = refused(tmp_path, "dev", {"events": [{"protocol": "https", "endpoint": "https://p.test/",
                                                "statuses": ["validated"]}]})
    assert msg == (f"{tmp_path / 'dev.toml'}: notifications.events[0].statuses: must be statuses notify publishes "
                   "('quarantined', 'processed', 'gone'), got 'validated'")


def test_a_dataset_name_of_the_wrong_shape_is_refused(tmp_path):
    msg = refused(tmp_path, "dev", {"events": [{"protocol": "https", "endpoint": "https://p.test/",
                                                "datasets": ["Orders!"]}]})
    assert msg.endswith("notifications.events[0].datasets: must be dataset names (lower-case letters, digits, "
                        "'_' and '-'), got 'Orders!'")


def test_a_value_listed_twice_in_a_filter_is_refused(tmp_path):
    msg = refused(tmp_path, "dev", {"events": [{"protocol": "https", "endpoint": "https://p.test/",
                                                "statuses": ["processed", "processed"]}]})
    assert msg.endswith("notifications.events[0].statuses: lists 'processed' more than once")


@pytest.mark.parametrize("key,value", [("datasets", ["alpha"]), ("statuses", ["processed"])])
def test_a_filter_on_an_alarm_subscriber_is_refused(tmp_path, key, value):
    msg = refused(tmp_path, "dev", {"alarms": [{**ONCALL, key: value}]})
    assert msg == (f"{tmp_path / 'dev.toml'}: notifications.alarms[0].{key}: alarm messages carry no dataset or "
                   "status: a filter would drop every alarm (filters are for events)")


def test_raw_message_delivery_does_not_apply_to_email(tmp_path):
    msg = refused(tmp_path, "dev", {"events": [{**ONCALL, "raw_message_delivery": True}]})
    assert msg.endswith("notifications.events[0].raw_message_delivery: only applies to sqs and https subscribers")


def test_https_retries_are_bounded(tmp_path):
    msg = refused(tmp_path, "dev", {"https_retries": 101})
    assert msg == f"{tmp_path / 'dev.toml'}: notifications.https_retries: must be between 0 and 100, got 101"


def test_https_retries_must_fit_in_the_hour_sns_allows(tmp_path):
    msg = refused(tmp_path, "dev", {"https_retries": 61, "https_max_delay_seconds": 60})
    assert msg == (f"{tmp_path / 'dev.toml'}: notifications.https_retries: 61 retries up to 60 s apart may take "
                   "3660 s: SNS caps an HTTPS retry policy at 3600 s (lower https_retries or https_max_delay_seconds)")


# --------------------------------------------------------------------------------------
# the on-call rule, and rehearsals
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["staging", "prod"])
@pytest.mark.parametrize("notifications", [None, {"alarms": []}])
def test_staging_and_prod_refuse_to_deploy_without_an_alarm_subscriber(tmp_path, env, notifications):
    msg = refused(tmp_path, env, notifications)
    assert msg == (f"{tmp_path / f'{env}.toml'}: notifications.alarms: staging and prod need at least one alarm "
                   "subscriber (an on-call e-mail or HTTPS endpoint)")


def test_an_sqs_queue_alone_is_no_on_call_subscriber(tmp_path):
    msg = refused(tmp_path, "prod", {"alarms": [{"protocol": "sqs", "endpoint": QUEUE.format(account=account("prod"))}]})
    assert msg.endswith("notifications.alarms: staging and prod need at least one alarm subscriber "
                        "(an on-call e-mail or HTTPS endpoint)")


@pytest.mark.parametrize("env", ["local", "dev", "test"])
def test_other_environments_may_have_no_alarm_subscriber(tmp_path, env):
    assert load(tmp_path, env, None).notifications.alarms == ()


def test_prod_with_an_https_pager_only_is_fine(tmp_path):
    cfg = load(tmp_path, "prod", {"alarms": [{"protocol": "https", "endpoint": "https://pager.corp.test/sns"}]})
    assert cfg.notifications.alarms[0].protocol == "https"


def test_a_rehearsal_on_the_emulator_keeps_only_the_email_subscribers(tmp_path):
    queue = QUEUE.format(account=account("prod"))
    cfg = load(tmp_path, "prod", {
        "alarms": [ONCALL, {"protocol": "https", "endpoint": "https://pager.corp.test/sns"}],
        "events": [{"protocol": "sqs", "endpoint": queue}, {"protocol": "email", "endpoint": "data@corp.test"}]})
    rehearsal = cfg.rehearsal(port=4999)
    assert [s.endpoint for s in rehearsal.notifications.alarms] == ["oncall@corp.test"]
    assert [s.endpoint for s in rehearsal.notifications.events] == ["data@corp.test"]


# --------------------------------------------------------------------------------------
# main.py: the environment folder and the dataset names
# --------------------------------------------------------------------------------------

def test_pipeline_kit_environments_points_the_kit_at_another_folder(tmp_path, monkeypatch):
    import main

    write_env(tmp_path, "local", {"alarms": [ONCALL]})
    monkeypatch.setenv("PIPELINE_KIT_ENVIRONMENTS", str(tmp_path))
    monkeypatch.delenv("EMULATOR_PORT", raising=False)
    cfg = main._configs(["local"])[0]
    assert (cfg.source, cfg.notifications.alarms[0].endpoint) == (str(tmp_path / "local.toml"), "oncall@corp.test")


def test_without_the_variable_the_repository_environments_are_read(monkeypatch):
    import main

    monkeypatch.delenv("PIPELINE_KIT_ENVIRONMENTS", raising=False)
    assert Path(main._configs(["dev"])[0].source) == ENVIRONMENTS_DIR / "dev.toml"


def test_an_events_filter_on_an_unknown_dataset_is_refused_naming_file_and_field(tmp_path):
    import main

    cfg = load(tmp_path, "dev", {"events": [{"protocol": "https", "endpoint": "https://p.test/"},
                                            {"protocol": "https", "endpoint": "https://q.test/",
                                             "datasets": ["alpha", "gamma"]}]})
    with pytest.raises(ConfigError) as err:
        main.check_notification_datasets([cfg], ["alpha", "beta"])
    assert str(err.value) == (f"{tmp_path / 'dev.toml'}: notifications.events[1].datasets: unknown dataset 'gamma' "
                              "(known: alpha, beta)")


def test_an_events_filter_on_known_datasets_passes(tmp_path):
    import main

    cfg = load(tmp_path, "dev", {"events": [{"protocol": "https", "endpoint": "https://q.test/", "datasets": ["beta"]}]})
    main.check_notification_datasets([cfg], ["alpha", "beta"])
