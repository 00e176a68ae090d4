"""The safety rails of ``environments.config`` (``_cross_checks``), environment by environment.

For every rail that depends on the environment, each environment where it applies refuses the
shipped file with one field changed (the exact message, naming the file and the field), and each
environment where it does not apply accepts the same change. Each config is the shipped file's
text with that one field overridden, written to ``tmp_path/<env>.toml``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from environments.config import (
    ALL_ENVIRONMENTS,
    ENVIRONMENTS_DIR,
    PROMOTION_ORDER,
    ConfigError,
    EnvironmentConfig,
    load_environment_file,
)

AWS = PROMOTION_ORDER  # every environment that deploys to an AWS account
EMULATOR = tuple(e for e in ALL_ENVIRONMENTS if e not in AWS)
PROTECTED = ("staging", "prod")


def override(text: str, dotted: str, value: str) -> str:
    """``text`` with ``key = value`` in ``[section]`` (``dotted`` = ``section.key``): the key's line
    replaced, or added under the section header, or the section appended."""
    section, key = dotted.rsplit(".", 1)
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if line.split("#", 1)[0].strip() == f"[{section}]"]
    if not headers:
        return text + f"\n[{section}]\n{key} = {value}\n"
    start = headers[0]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    for i in range(start + 1, end):
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            lines[i] = f"{key} = {value}"
            break
    else:
        lines.insert(start + 1, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def shipped_with(tmp_path: Path, env: str, dotted: str, value: str) -> Path:
    text = (ENVIRONMENTS_DIR / f"{env}.toml").read_text(encoding="utf-8")
    path = tmp_path / f"{env}.toml"
    path.write_text(override(text, dotted, value), encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_environment_file(path)
    return str(caught.value)


def accepted(path: Path) -> EnvironmentConfig:
    return load_environment_file(path)


def test_the_override_helper_changes_exactly_one_field(tmp_path):
    cfg = accepted(shipped_with(tmp_path, "dev", "storage.landing_expiration_days", "4"))
    assert cfg.storage.landing_expiration_days == 4


# -- protection.force_destroy: never in prod


def test_force_destroy_is_refused_in_prod(tmp_path):
    path = shipped_with(tmp_path, "prod", "protection.force_destroy", "true")
    assert refused(path) == (
        f"{path}: protection.force_destroy: must be false in prod (buckets are never force-destroyed there)"
    )


@pytest.mark.parametrize("env", [e for e in ALL_ENVIRONMENTS if e != "prod"])
def test_force_destroy_is_allowed_outside_prod(tmp_path, env):
    assert accepted(shipped_with(tmp_path, env, "protection.force_destroy", "true")).protection.force_destroy


# -- protection.prevent_destroy / deletion_protection / point_in_time_recovery: staging and prod

FLAGS = ("prevent_destroy", "deletion_protection", "point_in_time_recovery")


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("env", PROTECTED)
def test_data_store_protection_is_required_in_staging_and_prod(tmp_path, env, flag):
    path = shipped_with(tmp_path, env, f"protection.{flag}", "false")
    assert refused(path) == f"{path}: protection.{flag}: must be true in {env} (data stores are protected there)"


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("env", [e for e in ALL_ENVIRONMENTS if e not in PROTECTED])
def test_data_store_protection_is_optional_elsewhere(tmp_path, env, flag):
    cfg = accepted(shipped_with(tmp_path, env, f"protection.{flag}", "false"))
    assert getattr(cfg.protection, flag) is False


# -- backup: prod keeps its recovery points locked


@pytest.mark.parametrize(("field", "value"), [("backup.vault_lock", "false"), ("backup.enabled", "false")])
def test_prod_needs_backup_with_a_vault_lock(tmp_path, field, value):
    path = shipped_with(tmp_path, "prod", field, value)
    assert refused(path) == f"{path}: backup.vault_lock: must be true in prod (with backup.enabled)"


@pytest.mark.parametrize("env", [e for e in ALL_ENVIRONMENTS if e != "prod"])
def test_backup_and_its_lock_are_optional_outside_prod(tmp_path, env):
    cfg = accepted(shipped_with(tmp_path, env, "backup.enabled", "false"))
    assert (cfg.backup.enabled, cfg.backup.vault_lock) == (False, False)


# -- audit.cloudtrail: every AWS environment


@pytest.mark.parametrize("env", AWS)
def test_cloudtrail_is_required_in_every_aws_environment(tmp_path, env):
    path = shipped_with(tmp_path, env, "audit.cloudtrail", "false")
    assert refused(path) == f"{path}: audit.cloudtrail: must be true in {env} (every AWS environment is audited)"


@pytest.mark.parametrize("env", EMULATOR)
def test_cloudtrail_is_optional_on_the_emulator(tmp_path, env):
    assert accepted(shipped_with(tmp_path, env, "audit.cloudtrail", "false")).audit.cloudtrail is False


# -- storage.deny_insecure_transport: every AWS environment


@pytest.mark.parametrize("env", AWS)
def test_tls_only_buckets_are_required_in_every_aws_environment(tmp_path, env):
    path = shipped_with(tmp_path, env, "storage.deny_insecure_transport", "false")
    assert refused(path) == f"{path}: storage.deny_insecure_transport: must be true in an AWS environment"


@pytest.mark.parametrize("env", EMULATOR)
def test_tls_only_buckets_are_optional_on_the_emulator(tmp_path, env):
    cfg = accepted(shipped_with(tmp_path, env, "storage.deny_insecure_transport", "false"))
    assert cfg.storage.deny_insecure_transport is False


# -- state.backend: shared and locked on AWS, a local file on the emulator


@pytest.mark.parametrize("env", AWS)
def test_an_aws_environment_keeps_its_state_in_s3(tmp_path, env):
    path = shipped_with(tmp_path, env, "state.backend", '"local"')
    assert refused(path) == f"{path}: state.backend: must be 's3' for an AWS environment (shared, locked state)"


@pytest.mark.parametrize("env", EMULATOR)
def test_the_emulator_keeps_its_state_in_a_local_file(tmp_path, env):
    path = shipped_with(tmp_path, env, "state.backend", '"s3"')
    assert refused(path) == f"{path}: state.backend: must be 'local' for an environment on the emulator"


# -- [emulator]: only local


@pytest.mark.parametrize("env", AWS)
def test_an_aws_environment_has_no_emulator_section(tmp_path, env):
    path = shipped_with(tmp_path, env, "emulator.port", "4566")
    assert refused(path) == f"{path}: emulator: {env} is an AWS environment: only local has an [emulator] section"


@pytest.mark.parametrize("env", EMULATOR)
def test_local_has_an_emulator_section(tmp_path, env):
    assert accepted(shipped_with(tmp_path, env, "emulator.port", "4599")).emulator.port == 4599


# -- redshift: not on the emulator


@pytest.mark.parametrize("env", EMULATOR)
def test_redshift_is_refused_on_the_emulator(tmp_path, env):
    path = shipped_with(tmp_path, env, "redshift.enabled", "true")
    assert refused(path) == (
        f"{path}: redshift.enabled: the emulator cannot create Redshift Serverless workgroups "
        f"(Redshift is validate-only there): keep it off in {env}"
    )


@pytest.mark.parametrize("env", AWS)
def test_redshift_is_allowed_in_aws_environments(tmp_path, env):
    path = shipped_with(tmp_path, env, "redshift.enabled", "true")
    path.write_text(override(path.read_text(encoding="utf-8"), "network.availability_zones", "3"), encoding="utf-8")
    assert accepted(path).redshift.enabled


# -- notifications: staging and prod have someone on call


@pytest.mark.parametrize("env", PROTECTED)
def test_staging_and_prod_need_an_alarm_subscriber(tmp_path, env):
    text = (ENVIRONMENTS_DIR / f"{env}.toml").read_text(encoding="utf-8")
    assert text.count("[[notifications.alarms]]") == 1
    path = tmp_path / f"{env}.toml"  # the one subscriber moved from alarms to events
    path.write_text(text.replace("[[notifications.alarms]]", "[[notifications.events]]"), encoding="utf-8")
    assert refused(path) == (
        f"{path}: notifications.alarms: staging and prod need at least one alarm subscriber "
        "(an on-call e-mail or HTTPS endpoint)"
    )


@pytest.mark.parametrize("env", [e for e in ALL_ENVIRONMENTS if e not in PROTECTED])
def test_other_environments_may_have_no_alarm_subscriber(tmp_path, env):
    path = shipped_with(tmp_path, env, "notifications.https_retries", "3")
    assert accepted(path).notifications.alarms == ()


# -- audit.data_events / audit.cloudwatch_logs: every AWS environment; security_alarms needs the logs


@pytest.mark.parametrize("env", AWS)
@pytest.mark.parametrize(("flag", "why"), [("data_events", "every object access to the data is recorded"),
                                           ("cloudwatch_logs", "the trail is searchable and alarmed on")])
def test_trail_data_events_and_log_delivery_are_required_in_every_aws_environment(tmp_path, env, flag, why):
    path = shipped_with(tmp_path, env, f"audit.{flag}", "false")
    assert refused(path) == f"{path}: audit.{flag}: must be true in {env} ({why} in every AWS environment)"


@pytest.mark.parametrize("env", EMULATOR)
def test_trail_data_events_and_log_delivery_are_optional_on_the_emulator(tmp_path, env):
    path = shipped_with(tmp_path, env, "audit.data_events", "false")
    path.write_text(override(override(path.read_text(), "audit.cloudwatch_logs", "false"),
                             "audit.security_alarms", "false"))
    cfg = accepted(path)
    assert (cfg.audit.data_events, cfg.audit.cloudwatch_logs, cfg.audit.security_alarms) == (False, False, False)


@pytest.mark.parametrize("env", EMULATOR)
def test_security_alarms_need_the_trail_in_cloudwatch_logs(tmp_path, env):
    path = shipped_with(tmp_path, env, "audit.cloudwatch_logs", "false")
    assert refused(path) == (f"{path}: audit.security_alarms: needs audit.cloudwatch_logs = true (the alarms read "
                             "the trail's CloudWatch Logs group)")


@pytest.mark.parametrize("env", AWS)
def test_security_alarms_may_be_left_off_in_an_aws_environment(tmp_path, env):
    """dev and test may share an account, whose events both trails see: one set of alarms is enough."""
    assert accepted(shipped_with(tmp_path, env, "audit.security_alarms", "false")).audit.security_alarms is False


# -- network.enabled: every AWS environment (the plug-in functions run in the private subnets)


@pytest.mark.parametrize("env", AWS)
def test_the_network_is_required_in_every_aws_environment(tmp_path, env):
    path = shipped_with(tmp_path, env, "network.enabled", "false")
    assert refused(path) == (f"{path}: network.enabled: must be true in an AWS environment (the plug-in functions "
                             "run in the private subnets)")


@pytest.mark.parametrize("env", EMULATOR)
def test_the_network_is_optional_on_the_emulator(tmp_path, env):
    path = shipped_with(tmp_path, env, "network.enabled", "false")
    path.write_text(override(path.read_text(), "batch.enabled", "false"))  # Batch needs the network
    assert accepted(path).network.enabled is False


# -- network.zones: pinned zone names, one per subnet, of the region


def test_network_zones_pin_the_subnets_zones(tmp_path):
    cfg = accepted(shipped_with(tmp_path, "dev", "network.zones", '["eu-west-1b", "eu-west-1c"]'))
    assert cfg.network.zones == ("eu-west-1b", "eu-west-1c")


@pytest.mark.parametrize(("value", "problem"), [
    ('["eu-west-1a"]', "must name network.availability_zones (2) zones, got 1"),
    ('["eu-west-1a", "us-east-1b"]', "must be zones of eu-west-1 (eu-west-1a, eu-west-1b, ...), got 'us-east-1b'"),
    ('["eu-west-1a", "eu-west-1a"]', "must be distinct, got ['eu-west-1a', 'eu-west-1a']"),
])
def test_network_zones_must_be_distinct_zones_of_the_region_one_per_subnet(tmp_path, value, problem):
    path = shipped_with(tmp_path, "dev", "network.zones", value)
    assert refused(path) == f"{path}: network.zones: {problem}"
