"""environments.config: the shipped environment files load; broken files fail with a ConfigError
that names the file and the dotted field. Broken files are mutated copies of the real ones,
written under the right file name (``<env>.toml``) into tmp_path."""

from __future__ import annotations

import copy
import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any, Callable

import pytest

from environments.config import (
    ALL_ENVIRONMENTS,
    ENVIRONMENTS_DIR,
    PROMOTION_ORDER,
    ConfigError,
    EnvironmentConfig,
    load_all,
    load_environment,
    load_environment_file,
)

# --------------------------------------------------------------------------------------
# helpers: the real TOML as data, a tiny TOML writer, "write a mutated copy", "expect this error"
# --------------------------------------------------------------------------------------


def real(name: str) -> dict[str, Any]:
    return tomllib.loads((ENVIRONMENTS_DIR / f"{name}.toml").read_text(encoding="utf-8"))


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string for our values
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):  # an entry of an array of tables, written inline
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} as TOML")


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Scalars first, then one ``[section]`` per table, nested tables as ``[a.b]``."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    text = "\n".join(lines) + "\n" if lines else ""
    for section, table in data.items():
        if isinstance(table, dict):
            name = f"{prefix}.{_key(section)}" if prefix else _key(section)
            text += f"\n[{name}]\n" + to_toml(table, name)
    return text


def write_env(tmp_path: Path, name: str, mutate: Callable[[dict[str, Any]], None] | None = None,
              *, file_name: str | None = None) -> Path:
    """A copy of ``environments/<name>.toml`` changed by ``mutate``, at ``tmp_path/<file_name or name>.toml``."""
    data = copy.deepcopy(real(name))
    if mutate is not None:
        mutate(data)
    path = tmp_path / f"{file_name or name}.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def expect_error(path: Path, field: str, fragment: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_environment_file(path)
    message = str(info.value)
    prefix = f"{path}: {field}: " if field else f"{path}: "
    assert message.startswith(prefix), message
    assert fragment in message, message
    assert info.value.field == field
    return info.value


def setter(dotted: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = dotted.split(".")

    def mutate(data: dict[str, Any]) -> None:
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value

    return mutate


def deleter(dotted: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = dotted.split(".")

    def mutate(data: dict[str, Any]) -> None:
        node = data
        for p in parents:
            node = node[p]
        del node[last]

    return mutate


# --------------------------------------------------------------------------------------
# the shipped files
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_ENVIRONMENTS)
def test_shipped_environment_loads(name: str) -> None:
    cfg = load_environment(name)
    assert isinstance(cfg, EnvironmentConfig)
    assert (cfg.name, cfg.tags["Environment"], cfg.source) == (name, name, str(ENVIRONMENTS_DIR / f"{name}.toml"))


def test_load_all_returns_the_five_environments_in_order() -> None:
    assert list(load_all()) == ["local", "dev", "test", "staging", "prod"]


def test_only_local_deploys_onto_the_emulator() -> None:
    assert {name: cfg.on_emulator for name, cfg in load_all().items()} == {
        "local": True, "dev": False, "test": False, "staging": False, "prod": False}


def test_the_toml_writer_round_trips_a_shipped_file(tmp_path: Path) -> None:
    # guards the helper every negative test relies on
    copied = load_environment_file(write_env(tmp_path, "prod"))
    assert dataclasses.replace(copied, source="") == dataclasses.replace(load_environment("prod"), source="")


def test_config_is_frozen() -> None:
    cfg = load_environment("dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.region = "us-east-1"  # type: ignore[misc]


def test_nested_sections_are_frozen() -> None:
    cfg = load_environment("dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.storage.glacier_transition_days = 1  # type: ignore[misc]


def test_tags_are_read_only() -> None:
    cfg = load_environment("dev")
    with pytest.raises(TypeError):
        cfg.tags["Project"] = "other"  # type: ignore[index]


def test_load_environment_reads_from_the_given_directory(tmp_path: Path) -> None:
    write_env(tmp_path, "dev", setter("log_retention_days", 30))
    assert load_environment("dev", directory=tmp_path).log_retention_days == 30


def test_config_error_carries_path_field_and_problem(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", setter("region", "mars-1"))
    err = expect_error(path, "region", "mars-1")
    assert (err.path, err.field) == (str(path), "region")
    assert err.problem == "must be an AWS region such as eu-west-1, got 'mars-1'"


# --------------------------------------------------------------------------------------
# unknown keys, wrong types, bad values, missing fields
# --------------------------------------------------------------------------------------


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("colour", "blue"))
    expect_error(path, "colour", "unknown key (allowed: account_id, alarms, api, audit, backup, batch, catalog, ci, compute,")


def test_unknown_nested_key(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("storage.glacier_days", 30))
    expect_error(path, "storage.glacier_days",
                 "unknown key (allowed: archive_expiration_days, deny_insecure_transport,")


def test_section_given_as_a_scalar(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("storage", "s3"))
    expect_error(path, "storage", "must be a table, got str")


def test_string_for_an_int(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("log_retention_days", "365"))
    expect_error(path, "log_retention_days", "must be an integer, got str '365'")


def test_bool_for_an_int(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("queues.max_receive_count", True))
    expect_error(path, "queues.max_receive_count", "must be an integer, got bool True")


def test_int_for_a_bool(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("protection.force_destroy", 0))
    expect_error(path, "protection.force_destroy", "must be a boolean (true/false), got int 0")


def test_float_for_an_int(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", setter("storage.glacier_transition_days", 30.5))
    expect_error(path, "storage.glacier_transition_days", "must be an integer, got float 30.5")


def test_non_string_tag_value(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", setter("tags.CostCenter", 42))
    expect_error(path, "tags.CostCenter", "must be a string of at most 256 characters, got 42")


def test_invalid_region(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("region", "mars-1"))
    expect_error(path, "region", "must be an AWS region such as eu-west-1, got 'mars-1'")


def test_invalid_state_region(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("state.region", "EU-WEST-1"))
    expect_error(path, "state.region", "must be an AWS region such as eu-west-1, got 'EU-WEST-1'")


def test_invalid_account_id(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("account_id", "123"))
    expect_error(path, "account_id", "must be a 12-digit AWS account id, got '123'")


def test_name_prefix_with_upper_case(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("name_prefix", "PK-prod"))
    expect_error(path, "name_prefix", "must be 3-20 characters of lower-case letters, digits and '-'")


def test_log_retention_not_offered_by_cloudwatch(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("log_retention_days", 13))
    expect_error(path, "log_retention_days", "must be a CloudWatch Logs retention (1, 3, 5, 7, 14,")


def test_emulator_port_below_1024(tmp_path: Path) -> None:
    path = write_env(tmp_path, "local", setter("emulator.port", 80))
    expect_error(path, "emulator.port", "must be between 1024 and 65535, got 80")


def test_value_out_of_range(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", setter("queues.max_receive_count", 0))
    expect_error(path, "queues.max_receive_count", "must be between 1 and 1000, got 0")


def test_value_not_one_of_the_allowed(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", setter("tables.billing_mode", "ON_DEMAND"))
    expect_error(path, "tables.billing_mode", "must be one of 'PAY_PER_REQUEST', 'PROVISIONED', got 'ON_DEMAND'")


def test_missing_required_top_level_field(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", deleter("region"))
    expect_error(path, "region", "is required but missing")


def test_missing_required_nested_field(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", deleter("queues.max_receive_count"))
    expect_error(path, "queues.max_receive_count", "is required but missing")


def test_missing_required_section(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", deleter("protection"))
    expect_error(path, "protection", "is required but missing")


# --------------------------------------------------------------------------------------
# cross-field rules: the kit's safety rails
# --------------------------------------------------------------------------------------


def test_name_must_match_the_file_name(tmp_path: Path) -> None:
    # a copy of dev.toml saved as prod.toml
    path = write_env(tmp_path, "dev", file_name="prod")
    expect_error(path, "name", "must match the file name 'prod', got 'dev'")


def test_force_destroy_is_refused_in_prod(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("protection.force_destroy", True))
    expect_error(path, "protection.force_destroy", "must be false in prod")


@pytest.mark.parametrize("env", ["staging", "prod"])
@pytest.mark.parametrize("flag", ["prevent_destroy", "deletion_protection", "point_in_time_recovery"])
def test_protection_is_required_in_protected_environments(tmp_path: Path, env: str, flag: str) -> None:
    path = write_env(tmp_path, env, setter(f"protection.{flag}", False))
    expect_error(path, f"protection.{flag}", f"must be true in {env} (data stores are protected there)")


@pytest.mark.parametrize("expiration", [90, 30], ids=["equal", "shorter"])
def test_archive_expiry_must_come_after_the_glacier_transition(tmp_path: Path, expiration: int) -> None:
    path = write_env(tmp_path, "prod", setter("storage.archive_expiration_days", expiration))
    expect_error(path, "storage.archive_expiration_days",
                 f"must be greater than storage.glacier_transition_days (90), got {expiration}")


def test_dlq_must_outlive_the_queue(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", setter("queues.dlq_retention_seconds", 60))
    expect_error(path, "queues.dlq_retention_seconds", "must be at least queues.message_retention_seconds")


def test_local_backend_in_an_aws_environment(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["state"] = {"backend": "local", "path": ".state/prod/terraform.tfstate"}

    path = write_env(tmp_path, "prod", mutate)
    expect_error(path, "state.backend", "must be 's3' for an AWS environment")


def test_s3_backend_on_the_emulator(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["state"] = {"backend": "s3", "bucket": "pk-local-tfstate", "key": "k", "region": "us-east-1",
                         "dynamodb_table": "pk-local-tflock"}

    path = write_env(tmp_path, "local", mutate)
    expect_error(path, "state.backend", "must be 'local' for an environment on the emulator")


def test_s3_backend_missing_bucket(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", deleter("state.bucket"))
    expect_error(path, "state.bucket", "is required with backend 's3'")


def test_s3_backend_missing_lock_table(tmp_path: Path) -> None:
    path = write_env(tmp_path, "staging", deleter("state.dynamodb_table"))
    expect_error(path, "state.dynamodb_table", "is required with backend 's3'")


def test_s3_backend_with_a_path(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", setter("state.path", "state.tfstate"))
    expect_error(path, "state.path", "only applies to backend 'local'")


def test_local_backend_with_an_s3_setting(tmp_path: Path) -> None:
    path = write_env(tmp_path, "local", setter("state.bucket", "pk-local-tfstate"))
    expect_error(path, "state.bucket", "only applies to backend 's3'")


def test_local_backend_missing_path(tmp_path: Path) -> None:
    path = write_env(tmp_path, "local", deleter("state.path"))
    expect_error(path, "state.path", "is required with backend 'local'")


def test_state_path_absolute(tmp_path: Path) -> None:
    path = write_env(tmp_path, "local", setter("state.path", "/var/tmp/terraform.tfstate"))
    expect_error(path, "state.path", "must be a path inside the repository, got '/var/tmp/terraform.tfstate'")


def test_state_path_leaving_the_repository(tmp_path: Path) -> None:
    path = write_env(tmp_path, "local", setter("state.path", ".state/../../terraform.tfstate"))
    expect_error(path, "state.path", "must be a path inside the repository, got '.state/../../terraform.tfstate'")


@pytest.mark.parametrize("env", PROMOTION_ORDER)
def test_deny_insecure_transport_is_required_in_aws(tmp_path: Path, env: str) -> None:
    path = write_env(tmp_path, env, setter("storage.deny_insecure_transport", False))
    expect_error(path, "storage.deny_insecure_transport", "must be true in an AWS environment")


def test_deny_insecure_transport_may_be_off_on_the_emulator() -> None:
    assert load_environment("local").storage.deny_insecure_transport is False


def test_missing_project_tag(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", deleter("tags.Project"))
    expect_error(path, "tags.Project", "is required (every resource carries it)")


def test_missing_environment_tag(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", deleter("tags.Environment"))
    expect_error(path, "tags.Environment", "is required (every resource carries it)")


def test_environment_tag_must_equal_the_name(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("tags.Environment", "production"))
    expect_error(path, "tags.Environment", "must equal name 'prod', got 'production'")


# --------------------------------------------------------------------------------------
# files that cannot be read at all
# --------------------------------------------------------------------------------------


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "dev.toml"
    path.write_text('name = "dev"\nregion = \n', encoding="utf-8")
    expect_error(path, "", "is not valid TOML: ")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "dev.toml"
    path.write_bytes('# caf\u00e9\nname = "dev"\n'.encode("latin-1"))
    expect_error(path, "", "is not UTF-8 text (invalid continuation byte at byte 5)")


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "dev.toml", "", "no such environment file")


def test_load_environment_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_environment("staging", directory=tmp_path)
    assert str(info.value) == f"{tmp_path / 'staging.toml'}: no such environment file"


def test_unknown_environment_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_environment("qa", directory=tmp_path)
    assert str(info.value) == (f"{tmp_path / 'qa.toml'}: unknown environment 'qa' "
                               "(known: local, dev, test, staging, prod)")


# --------------------------------------------------------------------------------------
# EMULATOR_PORT override (main._configs)
# --------------------------------------------------------------------------------------


def test_emulator_port_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import main

    monkeypatch.delenv("EMULATOR_PORT", raising=False)
    assert main._configs(["local"])[0].endpoint_url == "http://127.0.0.1:4566"


def test_emulator_port_override_changes_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    import main

    monkeypatch.setenv("EMULATOR_PORT", "45123")
    cfg = main._configs(["local"])[0]
    assert (cfg.emulator.port, cfg.endpoint_url) == (45123, "http://127.0.0.1:45123")


def test_emulator_port_does_not_touch_aws_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    import main

    monkeypatch.setenv("EMULATOR_PORT", "45123")
    assert [c.endpoint_url for c in main._configs(["dev", "prod"])] == [None, None]


@pytest.mark.parametrize("port", ["80", "65536", "abc", "45 12", "-4566"])
def test_invalid_emulator_port(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    import main

    monkeypatch.setenv("EMULATOR_PORT", port)
    with pytest.raises(ConfigError) as info:
        main._configs(["local"])
    assert str(info.value) == f"EMULATOR_PORT: must be a port number 1024-65535, got {port!r}"


def test_emulator_port_with_non_ascii_digits_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # str.isdigit() accepts superscript digits that int() rejects: this must still be a ConfigError
    import main

    monkeypatch.setenv("EMULATOR_PORT", "\u2074\u2075\u2076\u2076")  # "⁴⁵⁶⁶"
    with pytest.raises(ConfigError) as info:
        main._configs(["local"])
    assert str(info.value) == "EMULATOR_PORT: must be a port number 1024-65535, got '⁴⁵⁶⁶'"


def test_with_emulator_port_refuses_aws_environments() -> None:
    with pytest.raises(ValueError, match="environment 'prod' does not deploy onto the emulator"):
        load_environment("prod").with_emulator_port(5000)


# --------------------------------------------------------------------------------------
# network, Batch, Redshift
# --------------------------------------------------------------------------------------


def test_batch_needs_the_private_network(tmp_path: Path) -> None:
    # local: an AWS environment refuses a disabled network before it gets to Batch
    path = write_env(tmp_path, "local", setter("network.enabled", False))
    expect_error(path, "batch.enabled", "needs [network] enabled = true (Batch jobs run in the private subnets)")


def test_batch_job_memory_must_fit_the_fargate_vcpu_size(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", setter("batch.job_memory_mb", 1024))
    expect_error(path, "batch.job_memory_mb", "Fargate gives a 1-vCPU job between 2048 and 8192 MiB, got 1024")


def test_batch_job_vcpus_must_be_a_fargate_size(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", setter("batch.job_vcpus", 3))
    expect_error(path, "batch.job_vcpus", "must be one of 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, got 3.0")


def test_batch_job_may_not_exceed_the_compute_ceiling(tmp_path: Path) -> None:
    path = write_env(tmp_path, "dev", lambda d: (setter("batch.max_vcpus", 1)(d), setter("batch.job_vcpus", 2)(d),
                                                  setter("batch.job_memory_mb", 4096)(d)))
    expect_error(path, "batch.job_vcpus", "must not exceed batch.max_vcpus (1)")


@pytest.mark.parametrize(("cidr", "problem"), [
    ("10.0.0.0/8", "must have a prefix length between /16 and /24"),
    ("8.8.0.0/16", "must be a private (RFC 1918) range"),
    ("10.0.0.1/16", "has host bits set"),
    ("ten", "must be an IPv4 CIDR block such as 10.20.0.0/16"),
])
def test_network_cidr_must_be_a_private_vpc_range(tmp_path: Path, cidr: str, problem: str) -> None:
    path = write_env(tmp_path, "dev", setter("network.cidr", cidr))
    expect_error(path, "network.cidr", problem)


def test_redshift_needs_three_availability_zones(tmp_path: Path) -> None:
    path = write_env(tmp_path, "prod", setter("network.availability_zones", 2))
    expect_error(path, "redshift.enabled", "3")


def test_redshift_is_on_in_staging_and_prod_only() -> None:
    envs = load_all()
    assert {n for n, c in envs.items() if c.redshift.enabled} == {"staging", "prod"}
    assert all(c.network.enabled and c.batch.enabled for c in envs.values())


def test_a_rehearsal_leaves_out_what_the_emulator_cannot_create() -> None:
    prod = load_environment("prod")
    rehearsal = prod.rehearsal(port=4999)
    assert prod.redshift.enabled and not rehearsal.redshift.enabled
    assert not rehearsal.audit.cloudtrail
    assert rehearsal.network == prod.network and rehearsal.batch == prod.batch
    assert rehearsal.endpoint_url == "http://127.0.0.1:4999"
