"""``[services.appsync]``, ``[services.lakeformation]``, ``[services.datazone]``: defaults are
off, bad values name the field, and the cross-checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from environments.config import ConfigError, _build
from environments.sections.governance import AppSyncConfig, DataZoneConfig, LakeFormationConfig, cross_checks

ROLE = "arn:aws:iam::111111111111:role/pk-deploy"


def build(cls: type, key: str, data: dict[str, Any]) -> Any:
    return _build(cls, data, Path("x.toml"), f"services.{key}")


def checks(section: Any, env_name: str = "dev") -> list[tuple[str, str]]:
    return cross_checks(section, env_name=env_name, network_enabled=False, az_count=0)


@pytest.mark.parametrize("cls", [AppSyncConfig, LakeFormationConfig, DataZoneConfig])
def test_every_service_is_off_by_default(cls: type) -> None:
    assert cls().enabled is False


def test_appsync_switched_on_alone_logs_errors_only_without_request_contents() -> None:
    section = build(AppSyncConfig, "appsync", {"enabled": True})
    assert (section.field_log_level, section.exclude_verbose_content, section.introspection) == ("ERROR", True, False)


def test_appsync_log_level_must_be_one_appsync_knows() -> None:
    with pytest.raises(ConfigError) as err:
        build(AppSyncConfig, "appsync", {"field_log_level": "TRACE"})
    assert str(err.value) == ("x.toml: services.appsync.field_log_level: must be one of 'NONE', 'ERROR', 'INFO', "
                              "'DEBUG', 'ALL', got 'TRACE'")


def test_appsync_page_size_is_bounded() -> None:
    with pytest.raises(ConfigError) as err:
        build(AppSyncConfig, "appsync", {"page_size": 0})
    assert str(err.value) == "x.toml: services.appsync.page_size: must be between 1 and 1000, got 0"


def test_appsync_xray_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError) as err:
        build(AppSyncConfig, "appsync", {"xray": "yes"})
    assert str(err.value) == "x.toml: services.appsync.xray: must be a boolean (true/false), got str 'yes'"


def test_lakeformation_admins_must_be_role_arns() -> None:
    with pytest.raises(ConfigError) as err:
        build(LakeFormationConfig, "lakeformation", {"admins": ["alice"]})
    assert str(err.value) == "x.toml: services.lakeformation.admins: 'alice' is not an IAM role ARN"


def test_lakeformation_keeps_the_iam_defaults_unless_told_otherwise() -> None:
    section = build(LakeFormationConfig, "lakeformation", {"enabled": True, "admins": [ROLE]})
    assert section.iam_allowed_principals_default is True and section.admins == (ROLE,)


def test_lakeformation_rejects_an_unknown_key() -> None:
    with pytest.raises(ConfigError) as err:
        build(LakeFormationConfig, "lakeformation", {"register_clean": True})
    assert str(err.value).startswith("x.toml: services.lakeformation.register_clean: unknown key (allowed: ")


def test_datazone_project_name_is_checked() -> None:
    with pytest.raises(ConfigError) as err:
        build(DataZoneConfig, "datazone", {"project_name": "my project"})
    assert str(err.value) == ("x.toml: services.datazone.project_name: must be 1-64 characters of letters, digits, "
                              "'_' and '-', got 'my project'")


def test_cross_checks_ignore_switched_off_sections() -> None:
    assert checks(LakeFormationConfig(), env_name="local") == [] and checks(DataZoneConfig(), env_name="local") == []


def test_cross_checks_need_no_network() -> None:
    assert checks(AppSyncConfig(enabled=True)) == []


def test_cross_checks_want_lake_formation_admins() -> None:
    (problem,) = checks(LakeFormationConfig(enabled=True))
    assert problem[0] == "admins" and problem[1].startswith("must list at least one IAM role ARN when enabled")


def test_cross_checks_accept_lake_formation_with_admins() -> None:
    assert checks(LakeFormationConfig(enabled=True, admins=(ROLE,))) == []


def test_cross_checks_keep_datazone_off_the_emulator() -> None:
    assert checks(DataZoneConfig(enabled=True), env_name="local") == [
        ("enabled", "DataZone is not emulated: switch it on in AWS environments only")]


def test_cross_checks_accept_datazone_in_aws() -> None:
    assert checks(DataZoneConfig(enabled=True), env_name="prod") == []


def test_cross_checks_want_the_default_page_within_the_largest() -> None:
    assert checks(AppSyncConfig(enabled=True, page_size=200, max_page_size=100)) == [
        ("page_size", "must not exceed max_page_size (100), got 200")]


def test_cross_checks_want_a_depth_limit_the_schema_meets() -> None:
    assert checks(AppSyncConfig(enabled=True, query_depth_limit=2)) == [
        ("query_depth_limit", "must be 0 (no limit) or at least 3 (filesByDataset items are 3 deep), got 2")]
