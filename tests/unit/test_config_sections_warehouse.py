"""The ``[redshift]`` config section: defaults, field checks and the cross-section rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from environments.config import ConfigError, _build
from environments.sections.warehouse import RedshiftConfig, cross_checks

PATH = Path("environments/x.toml")


def parse(**values: Any) -> RedshiftConfig:
    return _build(RedshiftConfig, values, PATH, "redshift")


def problems(section: RedshiftConfig, *, env_name: str = "prod", network_enabled: bool = True,
             az_count: int = 3) -> list[tuple[str, str]]:
    return cross_checks(section, env_name=env_name, network_enabled=network_enabled, az_count=az_count)


def test_the_warehouse_is_off_by_default() -> None:
    assert RedshiftConfig().enabled is False


def test_enabled_alone_gives_a_small_valid_workgroup() -> None:
    section = parse(enabled=True)
    assert (section.base_capacity_rpus, section.max_capacity_rpus, section.enhanced_vpc_routing) == (8, 64, True)
    assert problems(section) == []


def test_every_default_passes_its_own_field_check() -> None:
    for f in dataclasses.fields(RedshiftConfig):
        check = f.metadata.get("check")
        if check is not None:
            assert check(f.default) is None, f.name


def test_base_capacity_must_be_a_multiple_of_eight() -> None:
    with pytest.raises(ConfigError, match=r"redshift\.base_capacity_rpus.*must be a multiple of 8 RPUs, got 12"):
        parse(base_capacity_rpus=12)


def test_base_capacity_above_512_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"redshift\.base_capacity_rpus.*must be between 8 and 512 RPUs, got 520"):
        parse(base_capacity_rpus=520)


def test_max_capacity_below_eight_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"redshift\.max_capacity_rpus.*must be between 8 and 5632 RPUs, got 0"):
        parse(max_capacity_rpus=0)


def test_database_name_must_be_lower_case_identifier() -> None:
    with pytest.raises(ConfigError, match=r"redshift\.database_name.*lower-case letters, digits or '_'"):
        parse(database_name="Analytics-DB")


def test_admin_username_cannot_be_a_reserved_name() -> None:
    with pytest.raises(ConfigError, match=r"redshift\.admin_username.*'rdsdb' is reserved by Redshift"):
        parse(admin_username="rdsdb")


def test_load_schedule_accepts_rate_expressions() -> None:
    assert parse(load_schedule="rate(6 hours)").load_schedule == "rate(6 hours)"


def test_load_schedule_may_be_empty_for_manual_loads() -> None:
    assert parse(load_schedule="").load_schedule == ""


def test_load_schedule_refuses_a_unix_cron_line() -> None:
    with pytest.raises(ConfigError, match=r"redshift\.load_schedule.*cron\(\.\.\.\) or rate\(\.\.\.\)"):
        parse(load_schedule="30 4 * * *")


def test_a_switched_off_section_has_no_cross_problems() -> None:
    assert problems(RedshiftConfig(base_capacity_rpus=64, max_capacity_rpus=8), network_enabled=False,
                    az_count=2, env_name="local") == []


def test_enabled_needs_the_private_network() -> None:
    assert problems(RedshiftConfig(enabled=True), network_enabled=False) == [
        ("enabled", "needs [network] enabled = true (the workgroup lives in the private subnets)")]


def test_enabled_needs_three_availability_zones() -> None:
    assert problems(RedshiftConfig(enabled=True), az_count=2) == [
        ("enabled", "Redshift Serverless needs subnets in at least 3 availability zones: "
                    "set [network] availability_zones >= 3, got 2")]


def test_enabled_is_refused_on_the_emulator() -> None:
    [(key, message)] = problems(RedshiftConfig(enabled=True), env_name="local")
    assert key == "enabled" and "emulator cannot create Redshift Serverless" in message


def test_max_capacity_below_base_is_a_cross_problem() -> None:
    assert problems(RedshiftConfig(enabled=True, base_capacity_rpus=128, max_capacity_rpus=64)) == [
        ("max_capacity_rpus", "must be at least base_capacity_rpus (128), got 64")]


def test_external_and_curated_schemas_must_differ() -> None:
    assert problems(RedshiftConfig(enabled=True, external_schema="lake", curated_schema="lake")) == [
        ("curated_schema", "must differ from external_schema ('lake')")]
