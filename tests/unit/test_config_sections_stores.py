"""environments.sections.stores: the data stores' config sections are off and small by default,
bad values fail naming the field, and the cross-checks catch what spans sections."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from environments.config import ConfigError, _build
from environments.sections.stores import (
    DocumentDbConfig,
    ElastiCacheConfig,
    MemoryDbConfig,
    NeptuneConfig,
    OpenSearchConfig,
    cross_checks,
    opensearch_zone_count,
)

SECTIONS = {
    "elasticache": ElastiCacheConfig,
    "memorydb": MemoryDbConfig,
    "documentdb": DocumentDbConfig,
    "neptune": NeptuneConfig,
    "opensearch": OpenSearchConfig,
}
ROLE = "arn:aws:iam::111111111111:role/ops"


def build(key: str, data: dict[str, Any]) -> Any:
    return _build(SECTIONS[key], data, Path("x.toml"), f"services.{key}")


def expect_error(key: str, data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        build(key, data)
    return str(info.value)


def checks(section: Any, *, network_enabled: bool = True, az_count: int = 2) -> list[tuple[str, str]]:
    return cross_checks(section, env_name="dev", network_enabled=network_enabled, az_count=az_count)


# ======================================================================================
# defaults
# ======================================================================================


@pytest.mark.parametrize("key", sorted(SECTIONS))
def test_a_store_is_off_by_default(key: str) -> None:
    assert build(key, {}).enabled is False


@pytest.mark.parametrize("key", sorted(SECTIONS))
def test_enabled_alone_is_a_complete_section(key: str) -> None:
    assert build(key, {"enabled": True}) == dataclasses.replace(SECTIONS[key](), enabled=True)


@pytest.mark.parametrize("key", sorted(SECTIONS))
def test_enabled_is_the_first_field(key: str) -> None:
    assert dataclasses.fields(SECTIONS[key])[0].name == "enabled"


def test_defaults_are_small() -> None:
    assert (ElastiCacheConfig().node_type, MemoryDbConfig().node_type, DocumentDbConfig().instance_class,
            NeptuneConfig().instance_class, OpenSearchConfig().instance_type) == (
        "cache.t4g.micro", "db.t4g.small", "db.t4g.medium", "db.t4g.medium", "t3.small.search")


# ======================================================================================
# bad values name the field
# ======================================================================================


@pytest.mark.parametrize("key, data, message", [
    ("elasticache", {"replica_count": 6}, "x.toml: services.elasticache.replica_count: must be between 0 and 5, got 6"),
    ("elasticache", {"engine_version": "6.2"},
     "x.toml: services.elasticache.engine_version: must be a Redis OSS 7.x version such as '7.1'"),
    ("elasticache", {"node_type": "t4g.micro"},
     "x.toml: services.elasticache.node_type: must be an ElastiCache node type such as 'cache.t4g.micro'"),
    ("elasticache", {"snapshot_retention_days": 36},
     "x.toml: services.elasticache.snapshot_retention_days: must be between 0 and 35, got 36"),
    ("memorydb", {"shard_count": 0}, "x.toml: services.memorydb.shard_count: must be between 1 and 20, got 0"),
    ("documentdb", {"backup_retention_days": 0},
     "x.toml: services.documentdb.backup_retention_days: must be between 1 and 35, got 0"),
    ("documentdb", {"master_username": "1admin"},
     "x.toml: services.documentdb.master_username: must be 1-63 letters or digits, starting with a letter"),
    ("documentdb", {"engine_version": "3.6.0"}, "x.toml: services.documentdb.engine_version: must be '4.0.0' or '5.0.0'"),
    ("neptune", {"engine_version": "1.2.0.2"},
     "x.toml: services.neptune.engine_version: must be a Neptune version from 1.2.1.0"),
    ("neptune", {"instance_count": 17}, "x.toml: services.neptune.instance_count: must be between 1 and 16, got 17"),
    ("opensearch", {"instance_count": 0}, "x.toml: services.opensearch.instance_count: must be between 1 and 20, got 0"),
    ("opensearch", {"volume_size_gb": 5}, "x.toml: services.opensearch.volume_size_gb: must be between 10 and 3072"),
    ("opensearch", {"engine_version": "Elasticsearch_7.10"},
     "x.toml: services.opensearch.engine_version: must be an engine such as 'OpenSearch_2.17'"),
    ("opensearch", {"master_role_arn": "arn:aws:iam::111111111111:user/bob"},
     "x.toml: services.opensearch.master_role_arn: must be an IAM role ARN or empty"),
    ("opensearch", {"client_role_arns": ["bob"]},
     "x.toml: services.opensearch.client_role_arns: 'bob' is not an IAM role ARN"),
])
def test_bad_values_name_the_field(key: str, data: dict[str, Any], message: str) -> None:
    assert expect_error(key, data).startswith(message)


def test_unknown_key_is_refused() -> None:
    assert expect_error("elasticache", {"auth_token": "x"}).startswith(
        "x.toml: services.elasticache.auth_token: unknown key")


def test_role_lists_are_read() -> None:
    section = build("opensearch", {"admin_role_arns": [ROLE], "client_role_arns": [ROLE]})
    assert (section.admin_role_arns, section.client_role_arns) == ((ROLE,), (ROLE,))


# ======================================================================================
# cross-checks
# ======================================================================================


@pytest.mark.parametrize("key", sorted(SECTIONS))
def test_a_disabled_store_has_no_problems(key: str) -> None:
    assert checks(SECTIONS[key](), network_enabled=False) == []


@pytest.mark.parametrize("key, service", [("elasticache", "ElastiCache"), ("memorydb", "MemoryDB"),
                                          ("documentdb", "DocumentDB"), ("neptune", "Neptune"),
                                          ("opensearch", "OpenSearch")])
def test_an_enabled_store_needs_the_network(key: str, service: str) -> None:
    section = SECTIONS[key](enabled=True)
    if key == "opensearch":
        section = dataclasses.replace(section, admin_role_arns=(ROLE,))
    assert checks(section, network_enabled=False) == [
        ("enabled", f"needs [network] enabled = true ({service} lives in the private subnets)")]


@pytest.mark.parametrize("key", sorted(SECTIONS))
def test_an_enabled_store_with_the_network_passes(key: str) -> None:
    section = SECTIONS[key](enabled=True)
    if key == "opensearch":  # its master role needs someone named to assume it
        section = dataclasses.replace(section, admin_role_arns=(ROLE,))
    assert checks(section) == []


OPENSEARCH_ADMINS = ("admin_role_arns", "must name the IAM role(s) that may assume the OpenSearch master role (or "
                     "set master_role_arn to an existing role): the kit never lets the whole account assume it")


def test_opensearch_without_admin_roles_nor_an_existing_master_is_refused() -> None:
    assert checks(OpenSearchConfig(enabled=True)) == [OPENSEARCH_ADMINS]


def test_opensearch_with_an_existing_master_needs_no_admin_roles() -> None:
    assert checks(OpenSearchConfig(enabled=True, master_role_arn=ROLE)) == []


def test_an_environment_file_switching_opensearch_on_without_admins_names_the_field(tmp_path: Path) -> None:
    from environments.config import ENVIRONMENTS_DIR, load_environment_file

    path = tmp_path / "dev.toml"
    path.write_text((ENVIRONMENTS_DIR / "dev.toml").read_text(encoding="utf-8")
                    + "\n[services.opensearch]\nenabled = true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_environment_file(path)
    assert str(info.value).endswith(f"services.opensearch.admin_role_arns: {OPENSEARCH_ADMINS[1]}")


def test_elasticache_replicas_need_two_zones() -> None:
    assert checks(ElastiCacheConfig(enabled=True, replica_count=1), az_count=1) == [
        ("replica_count", "Multi-AZ replicas need [network] availability_zones >= 2")]


def test_opensearch_count_must_fit_the_zones() -> None:
    assert checks(OpenSearchConfig(enabled=True, instance_count=3, admin_role_arns=(ROLE,)), az_count=2) == [
        ("instance_count", "must be 1 or a multiple of the availability zones the domain spreads over (2), got 3")]


def test_opensearch_three_nodes_fit_three_zones() -> None:
    assert checks(OpenSearchConfig(enabled=True, instance_count=3, admin_role_arns=(ROLE,)), az_count=3) == []


def test_opensearch_admin_roles_conflict_with_an_existing_master() -> None:
    section = OpenSearchConfig(enabled=True, master_role_arn=ROLE, admin_role_arns=(ROLE,))
    assert [field for field, _ in checks(section)] == ["admin_role_arns"]


@pytest.mark.parametrize("count, azs, zones", [(1, 3, 1), (2, 3, 2), (3, 2, 2), (3, 3, 3), (6, 6, 3), (4, 3, 2)])
def test_opensearch_zone_count(count: int, azs: int, zones: int) -> None:
    assert opensearch_zone_count(count, azs) == zones


def test_only_neptune_and_opensearch_apply_on_the_emulator() -> None:
    from environments.sections.services import EMULATOR_APPLIES

    assert sorted(set(EMULATOR_APPLIES) & set(SECTIONS)) == ["neptune", "opensearch"]
