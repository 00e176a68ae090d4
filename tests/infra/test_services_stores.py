"""Optional data stores (issue 7): ElastiCache, MemoryDB, DocumentDB, Neptune, OpenSearch.
Each construct synthesized alone in a small test stack (and through its ``wire_*`` function with
a hand-made context); the security properties asserted on the JSON; one real
``terraform validate`` of a stack holding all of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from cdktf import App, TerraformStack
from constructs import Construct
from synth_helpers import only, ref, resources, synth_construct  # noqa: E402

import modules  # noqa: F401  -- installs the lazy loader before any AWS binding is imported
from environments.sections.stores import (
    DocumentDbConfig,
    ElastiCacheConfig,
    MemoryDbConfig,
    NeptuneConfig,
    OpenSearchConfig,
)
from modules.services import NetworkRefs, ServiceContext
from modules.services.cache import (
    DISABLED_DEFAULT_ACCESS_STRING,
    ElastiCacheRedis,
    MemoryDbRedis,
    wire_elasticache,
    wire_memorydb,
)
from modules.services.common import ServiceSecurityGroup
from modules.services.documents import DocumentDb, NeptuneGraph, wire_documentdb, wire_neptune
from modules.services.search import HTTP_ACTIONS, TLS_SECURITY_POLICY, OpenSearchDomain, wire_opensearch

ACCOUNT = "111111111111"
REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
VPC = "vpc-0123"
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
CLIENTS = ["sg-batch", "sg-data-clients"]
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/operators"
CLIENT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/indexer"
NET = dict(vpc_id=VPC, subnet_ids=SUBNETS, client_security_group_ids=CLIENTS)


# ======================================================================================
# helpers
# ======================================================================================






def keys_anywhere(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(dotted path, value)`` of a JSON document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}.{k}", v
            yield from keys_anywhere(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from keys_anywhere(v, f"{path}[{i}]")


def _cache(stack: Construct, **overrides: Any) -> ElastiCacheRedis:
    props: dict[str, Any] = dict(name="pk-x-cache", kms_key_arn=KEY_ARN, user_names=["pk-x-cache-app"],
                                 log_retention_days=30, **NET)
    props.update(overrides)
    return ElastiCacheRedis(stack, "cache", **props)


def _memorydb(stack: Construct, **overrides: Any) -> MemoryDbRedis:
    props: dict[str, Any] = dict(name="pk-x-memorydb", kms_key_arn=KEY_ARN, user_names=["pk-x-memorydb-app"], **NET)
    props.update(overrides)
    return MemoryDbRedis(stack, "memorydb", **props)


def _docdb(stack: Construct, **overrides: Any) -> DocumentDb:
    props: dict[str, Any] = dict(name="pk-x-docdb", kms_key_arn=KEY_ARN, log_retention_days=30, **NET)
    props.update(overrides)
    return DocumentDb(stack, "docdb", **props)


def _neptune(stack: Construct, **overrides: Any) -> NeptuneGraph:
    props: dict[str, Any] = dict(name="pk-x-neptune", kms_key_arn=KEY_ARN, log_retention_days=30, **NET)
    props.update(overrides)
    return NeptuneGraph(stack, "neptune", **props)


def _search(stack: Construct, **overrides: Any) -> OpenSearchDomain:
    props: dict[str, Any] = dict(name="pk-x-search", kms_key_arn=KEY_ARN, region=REGION, account_id=ACCOUNT,
                                 log_retention_days=30, **NET)
    if "master_role_arn" not in overrides:
        props["admin_principal_arns"] = [ADMIN_ROLE]
    props.update(overrides)
    return OpenSearchDomain(stack, "search", **props)


def _all_constructs(stack: Construct) -> None:
    _cache(stack)
    _memorydb(stack)
    _docdb(stack)
    _neptune(stack)
    _search(stack, instance_count=2, client_role_arns=[CLIENT_ROLE])


def context(*, network: bool = True, on_emulator: bool = False, deletion_protection: bool = True) -> ServiceContext:
    return ServiceContext(
        name_prefix="pk-x", region=REGION, account_id=ACCOUNT, kms_key_arn=KEY_ARN, log_retention_days=14,
        deletion_protection=deletion_protection, prevent_destroy=True, on_emulator=on_emulator,
        buckets={}, tables={}, glue_clean_database="pk_x_clean", glue_raw_database="pk_x_raw",
        schema_registry_name="pk-x", catalog_reader_role_arns=(), datasets=("orders",), artifacts_bucket="pk-x-art",
        artifact_keys={}, alarm_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:pk-x-alarms",
        network=NetworkRefs(vpc_id=VPC, vpc_cidr="10.20.0.0/16", private_subnet_ids=SUBNETS[:2],
                            client_security_group_ids=CLIENTS) if network else None,
        backup_tags={"Backup": "pk-x"},
    )


@pytest.fixture(scope="module")
def all_doc() -> dict[str, Any]:
    return synth_construct(_all_constructs)


@pytest.fixture(scope="module")
def cache_doc() -> dict[str, Any]:
    return synth_construct(_cache)


@pytest.fixture(scope="module")
def docdb_doc() -> dict[str, Any]:
    return synth_construct(_docdb)


@pytest.fixture(scope="module")
def neptune_doc() -> dict[str, Any]:
    return synth_construct(_neptune)


@pytest.fixture(scope="module")
def search_doc() -> dict[str, Any]:
    return synth_construct(lambda s: _search(s, admin_principal_arns=[ADMIN_ROLE], client_role_arns=[CLIENT_ROLE]))


# ======================================================================================
# common properties of every store
# ======================================================================================


def test_no_policy_has_a_wildcard_action(all_doc: dict[str, Any]) -> None:
    documents = [r[attr] for rtype, attr in (("aws_opensearch_domain", "access_policies"),
                                             ("aws_cloudwatch_log_resource_policy", "policy_document"),
                                             ("aws_iam_role", "assume_role_policy"))
                 for r in resources(all_doc, rtype).values()]
    actions = [a for doc in documents for st in json.loads(doc)["Statement"]
               for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])]
    assert len(documents) == 3 and actions and not [a for a in actions if "*" in a]


def test_no_password_or_token_is_written_anywhere(all_doc: dict[str, Any]) -> None:
    secretish = [(path, value) for path, value in keys_anywhere(all_doc)
                 if any(word in path.rsplit(".", 1)[-1] for word in ("password", "auth_token", "secret"))
                 and not path.endswith(".manage_master_user_password")]
    assert secretish == []


def test_every_security_group_admits_only_the_client_groups(all_doc: dict[str, Any]) -> None:
    rules = resources(all_doc, "aws_vpc_security_group_ingress_rule").values()
    assert len(rules) == 5 * len(CLIENTS)
    assert {r["referenced_security_group_id"] for r in rules} == set(CLIENTS)
    assert not any("cidr_ipv4" in r or "cidr_ipv6" in r or "prefix_list_id" in r for r in rules)
    assert {(r["from_port"], r["to_port"]) for r in rules} == {(6379, 6379), (27017, 27017), (8182, 8182),
                                                               (443, 443)}


def test_security_groups_have_no_inline_rules(all_doc: dict[str, Any]) -> None:
    groups = resources(all_doc, "aws_security_group").values()
    assert len(groups) == 5
    assert all("ingress" not in g and "egress" not in g and g["vpc_id"] == VPC for g in groups)


def test_every_log_group_is_encrypted_with_the_key(all_doc: dict[str, Any]) -> None:
    groups = resources(all_doc, "aws_cloudwatch_log_group").values()
    assert len(groups) == 2 + 2 + 2 + 4
    assert all(g["kms_key_id"] == KEY_ARN and g["retention_in_days"] == 30 for g in groups)


def test_every_store_ingress_rule_is_described(all_doc: dict[str, Any]) -> None:
    rules = resources(all_doc, "aws_vpc_security_group_ingress_rule").values()
    assert rules and all(r.get("description", "").endswith("from a client security group") for r in rules)


def test_on_the_emulator_the_services_it_applies_leave_rule_descriptions_out(wired_doc: dict[str, Any]) -> None:
    described = {r["security_group_id"].split(".")[1].split("_")[0]: "description" in r
                 for r in resources(wired_doc, "aws_vpc_security_group_ingress_rule").values()}
    # neptune and opensearch apply on the emulator (it drops descriptions); the others never do
    assert described == {"elasticache": True, "memorydb": True, "documentdb": True, "neptune": False,
                         "opensearch": False}


def test_a_security_group_without_client_groups_is_refused() -> None:
    with pytest.raises(ValueError, match="client_security_group_ids must name at least one security group"):
        synth_construct(lambda s: ServiceSecurityGroup(s, "sg", name="x", description="x", vpc_id=VPC, port=1,
                                                       client_security_group_ids=[]))


# ======================================================================================
# ElastiCache
# ======================================================================================


def test_elasticache_encrypts_with_the_key_and_requires_tls(cache_doc: dict[str, Any]) -> None:
    _, group = only(cache_doc, "aws_elasticache_replication_group")
    assert (group["at_rest_encryption_enabled"], group["kms_key_id"]) == ("true", KEY_ARN)
    assert (group["transit_encryption_enabled"], group["transit_encryption_mode"]) == (True, "required")


def test_elasticache_is_multi_az_with_automatic_failover(cache_doc: dict[str, Any]) -> None:
    _, group = only(cache_doc, "aws_elasticache_replication_group")
    assert (group["num_cache_clusters"], group["multi_az_enabled"], group["automatic_failover_enabled"]) == (
        2, True, True)


def test_elasticache_without_replicas_is_a_single_node() -> None:
    doc = synth_construct(lambda s: _cache(s, replica_count=0))
    _, group = only(doc, "aws_elasticache_replication_group")
    assert (group["num_cache_clusters"], group["multi_az_enabled"], group["automatic_failover_enabled"]) == (
        1, False, False)


def test_elasticache_lives_in_the_private_subnets(cache_doc: dict[str, Any]) -> None:
    sid, subnets = only(cache_doc, "aws_elasticache_subnet_group")
    _, group = only(cache_doc, "aws_elasticache_replication_group")
    assert subnets["subnet_ids"] == SUBNETS
    assert group["subnet_group_name"] == ref("aws_elasticache_subnet_group", sid, "name")


def test_elasticache_users_authenticate_with_iam(cache_doc: dict[str, Any]) -> None:
    users = {u["user_name"]: u for u in resources(cache_doc, "aws_elasticache_user").values()}
    app = users["pk-x-cache-app"]
    assert (app["user_id"], app["authentication_mode"]["type"]) == ("pk-x-cache-app", "iam")


def test_elasticache_default_user_is_switched_off(cache_doc: dict[str, Any]) -> None:
    users = {u["user_name"]: u for u in resources(cache_doc, "aws_elasticache_user").values()}
    default = users["default"]
    assert default["access_string"] == DISABLED_DEFAULT_ACCESS_STRING
    assert default["user_id"] != "default"


def test_elasticache_uses_the_user_group(cache_doc: dict[str, Any]) -> None:
    gid, user_group = only(cache_doc, "aws_elasticache_user_group")
    _, group = only(cache_doc, "aws_elasticache_replication_group")
    assert group["user_group_ids"] == [ref("aws_elasticache_user_group", gid, "user_group_id")]
    assert len(user_group["user_ids"]) == 2


def test_elasticache_delivers_slow_and_engine_logs(cache_doc: dict[str, Any]) -> None:
    _, group = only(cache_doc, "aws_elasticache_replication_group")
    deliveries = {d["log_type"]: d for d in group["log_delivery_configuration"]}
    assert set(deliveries) == {"slow-log", "engine-log"}
    assert all(d["destination_type"] == "cloudwatch-logs" and d["destination"].startswith("${aws_cloudwatch_log_group.")
               for d in deliveries.values())


def test_elasticache_snapshots_are_kept(cache_doc: dict[str, Any]) -> None:
    _, group = only(cache_doc, "aws_elasticache_replication_group")
    assert (group["snapshot_retention_limit"], group["final_snapshot_identifier"]) == (7, "pk-x-cache-final")


def test_elasticache_without_deletion_protection_keeps_no_final_snapshot() -> None:
    doc = synth_construct(lambda s: _cache(s, deletion_protection=False))
    _, group = only(doc, "aws_elasticache_replication_group")
    assert "final_snapshot_identifier" not in group


def test_elasticache_prevent_destroy_follows_the_prop() -> None:
    doc = synth_construct(lambda s: _cache(s, prevent_destroy=True))
    _, group = only(doc, "aws_elasticache_replication_group")
    assert group["lifecycle"] == {"prevent_destroy": True}


def test_elasticache_refuses_an_engine_without_iam_auth() -> None:
    with pytest.raises(ValueError, match=r"IAM authentication needs Redis OSS 7.0 or later, got engine_version '6.2'"):
        synth_construct(lambda s: _cache(s, engine_version="6.2"))


def test_elasticache_refuses_a_user_named_default() -> None:
    with pytest.raises(ValueError, match="user name 'default' must be"):
        synth_construct(lambda s: _cache(s, user_names=["default"]))


def test_elasticache_connect_statement_names_the_group_and_users() -> None:
    holder: dict[str, Any] = {}
    synth_construct(lambda s: holder.setdefault("cache", _cache(s)))
    statement = holder["cache"].connect_statement()
    assert statement.actions == ["elasticache:Connect"] and len(statement.resources) == 2


# ======================================================================================
# MemoryDB
# ======================================================================================


def test_memorydb_is_encrypted_with_tls_and_iam_users() -> None:
    doc = synth_construct(_memorydb)
    _, cluster = only(doc, "aws_memorydb_cluster")
    aid, acl = only(doc, "aws_memorydb_acl")
    _, user = only(doc, "aws_memorydb_user")
    assert (cluster["tls_enabled"], cluster["kms_key_arn"]) == (True, KEY_ARN)
    assert cluster["acl_name"] == ref("aws_memorydb_acl", aid, "name")
    assert user["authentication_mode"] == {"type": "iam"} and len(acl["user_names"]) == 1


def test_memorydb_sizes_and_snapshots_follow_the_props() -> None:
    doc = synth_construct(lambda s: _memorydb(s, shard_count=2, replicas_per_shard=2, snapshot_retention_days=3))
    _, cluster = only(doc, "aws_memorydb_cluster")
    assert (cluster["num_shards"], cluster["num_replicas_per_shard"], cluster["snapshot_retention_limit"]) == (2, 2, 3)
    assert cluster["final_snapshot_name"] == "pk-x-memorydb-final"


# ======================================================================================
# DocumentDB
# ======================================================================================


def test_docdb_storage_is_encrypted_with_the_key(docdb_doc: dict[str, Any]) -> None:
    _, cluster = only(docdb_doc, "aws_docdb_cluster")
    assert (cluster["storage_encrypted"], cluster["kms_key_id"]) == (True, KEY_ARN)


def test_docdb_master_password_is_managed_by_secrets_manager(docdb_doc: dict[str, Any]) -> None:
    _, cluster = only(docdb_doc, "aws_docdb_cluster")
    assert cluster["manage_master_user_password"] is True
    assert not {"master_password", "master_password_wo"} & set(cluster)


def test_docdb_parameter_group_requires_tls_and_logs(docdb_doc: dict[str, Any]) -> None:
    pid, group = only(docdb_doc, "aws_docdb_cluster_parameter_group")
    _, cluster = only(docdb_doc, "aws_docdb_cluster")
    params = {p["name"]: p["value"] for p in group["parameter"]}
    assert params == {"tls": "enabled", "audit_logs": "enabled", "profiler": "enabled", "profiler_threshold_ms": "100"}
    assert (group["family"], cluster["db_cluster_parameter_group_name"]) == (
        "docdb5.0", ref("aws_docdb_cluster_parameter_group", pid, "name"))


def test_docdb_exports_audit_and_profiler_logs_to_its_log_groups(docdb_doc: dict[str, Any]) -> None:
    _, cluster = only(docdb_doc, "aws_docdb_cluster")
    names = sorted(g["name"] for g in resources(docdb_doc, "aws_cloudwatch_log_group").values())
    assert cluster["enabled_cloudwatch_logs_exports"] == ["audit", "profiler"]
    assert names == ["/aws/docdb/pk-x-docdb/audit", "/aws/docdb/pk-x-docdb/profiler"]
    assert len(cluster["depends_on"]) == 2


def test_docdb_with_deletion_protection_keeps_a_final_snapshot(docdb_doc: dict[str, Any]) -> None:
    _, cluster = only(docdb_doc, "aws_docdb_cluster")
    assert (cluster["deletion_protection"], cluster["skip_final_snapshot"], cluster["final_snapshot_identifier"]) == (
        True, False, "pk-x-docdb-final")


def test_docdb_without_deletion_protection_skips_the_final_snapshot() -> None:
    doc = synth_construct(lambda s: _docdb(s, deletion_protection=False))
    _, cluster = only(doc, "aws_docdb_cluster")
    assert (cluster["deletion_protection"], cluster["skip_final_snapshot"]) == (False, True)
    assert "final_snapshot_identifier" not in cluster


def test_docdb_instances_follow_count_and_class() -> None:
    doc = synth_construct(lambda s: _docdb(s, instance_count=3, instance_class="db.r6g.large"))
    instances = resources(doc, "aws_docdb_cluster_instance").values()
    assert sorted(i["identifier"] for i in instances) == ["pk-x-docdb-1", "pk-x-docdb-2", "pk-x-docdb-3"]
    assert {i["instance_class"] for i in instances} == {"db.r6g.large"}


def test_docdb_refuses_tls_disabled() -> None:
    with pytest.raises(ValueError, match="tls must not be 'disabled'"):
        synth_construct(lambda s: _docdb(s, tls="disabled"))


# ======================================================================================
# Neptune
# ======================================================================================


def test_neptune_uses_iam_auth_and_the_key(neptune_doc: dict[str, Any]) -> None:
    _, cluster = only(neptune_doc, "aws_neptune_cluster")
    assert (cluster["iam_database_authentication_enabled"], cluster["storage_encrypted"], cluster["kms_key_arn"]) == (
        True, True, KEY_ARN)


def test_neptune_instances_are_not_public(neptune_doc: dict[str, Any]) -> None:
    _, instance = only(neptune_doc, "aws_neptune_cluster_instance")
    assert instance["publicly_accessible"] is False


def test_neptune_parameter_group_switches_on_audit_and_slow_query_logs(neptune_doc: dict[str, Any]) -> None:
    _, group = only(neptune_doc, "aws_neptune_cluster_parameter_group")
    _, cluster = only(neptune_doc, "aws_neptune_cluster")
    params = {p["name"]: p["value"] for p in group["parameter"]}
    assert (params["neptune_enable_audit_log"], params["neptune_enable_slow_query_log"]) == ("1", "info")
    assert (group["family"], cluster["enable_cloudwatch_logs_exports"]) == ("neptune1.3", ["audit", "slowquery"])


def test_neptune_backups_and_deletion_protection_follow_the_props() -> None:
    doc = synth_construct(lambda s: _neptune(s, backup_retention_days=14, deletion_protection=False))
    _, cluster = only(doc, "aws_neptune_cluster")
    assert (cluster["backup_retention_period"], cluster["deletion_protection"], cluster["skip_final_snapshot"]) == (
        14, False, True)


def test_neptune_connect_statement_is_scoped_to_the_cluster() -> None:
    holder: dict[str, Any] = {}
    synth_construct(lambda s: holder.setdefault("neptune", _neptune(s)))
    statement = holder["neptune"].connect_statement(region=REGION, account_id=ACCOUNT)
    assert statement.resources[0].startswith(f"arn:aws:neptune-db:{REGION}:{ACCOUNT}:")
    assert "*" not in statement.actions


# ======================================================================================
# OpenSearch
# ======================================================================================


def test_opensearch_encrypts_at_rest_and_between_nodes(search_doc: dict[str, Any]) -> None:
    _, domain = only(search_doc, "aws_opensearch_domain")
    assert domain["encrypt_at_rest"] == {"enabled": True, "kms_key_id": KEY_ARN}
    assert domain["node_to_node_encryption"] == {"enabled": True}


def test_opensearch_is_https_only_with_tls_1_2(search_doc: dict[str, Any]) -> None:
    _, domain = only(search_doc, "aws_opensearch_domain")
    assert domain["domain_endpoint_options"] == {"enforce_https": True, "tls_security_policy": TLS_SECURITY_POLICY}
    assert "TLS-1-2" in TLS_SECURITY_POLICY


def test_opensearch_lives_in_the_vpc_behind_its_group(search_doc: dict[str, Any]) -> None:
    gid, _ = only(search_doc, "aws_security_group")
    _, domain = only(search_doc, "aws_opensearch_domain")
    assert domain["vpc_options"] == {"subnet_ids": SUBNETS[:1],
                                     "security_group_ids": [ref("aws_security_group", gid, "id")]}


def test_opensearch_fine_grained_access_has_an_iam_master(search_doc: dict[str, Any]) -> None:
    rid, _ = only(search_doc, "aws_iam_role")
    _, domain = only(search_doc, "aws_opensearch_domain")
    security = domain["advanced_security_options"]
    assert (security["enabled"], security["internal_user_database_enabled"], security["anonymous_auth_enabled"]) == (
        True, False, False)
    assert security["master_user_options"] == {"master_user_arn": ref("aws_iam_role", rid, "arn")}


def test_opensearch_master_role_is_assumed_by_the_admin_principals(search_doc: dict[str, Any]) -> None:
    _, role = only(search_doc, "aws_iam_role")
    trust = json.loads(role["assume_role_policy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"AWS": [ADMIN_ROLE]}]


def test_opensearch_master_role_trusts_only_the_named_admin_roles() -> None:
    doc = synth_construct(_search)
    _, role = only(doc, "aws_iam_role")
    [trust] = json.loads(role["assume_role_policy"])["Statement"]
    assert trust["Principal"] == {"AWS": [ADMIN_ROLE]}
    assert trust["Action"] == "sts:AssumeRole"


def test_opensearch_refuses_a_master_role_nobody_is_named_to_assume() -> None:
    with pytest.raises(ValueError) as info:
        synth_construct(lambda s: _search(s, admin_principal_arns=[]))
    assert str(info.value) == ("opensearch pk-x-search: admin_principal_arns must name the role(s) that may assume "
                               "the master role (or give master_role_arn): it never trusts the whole account")


def test_opensearch_refuses_an_account_root_as_admin() -> None:
    root = f"arn:aws:iam::{ACCOUNT}:root"
    with pytest.raises(ValueError) as info:
        synth_construct(lambda s: _search(s, admin_principal_arns=[root]))
    assert str(info.value) == (f"opensearch pk-x-search: admin_principal_arns must name roles, not an account root "
                               f"({root})")


def test_opensearch_existing_master_role_creates_none() -> None:
    doc = synth_construct(lambda s: _search(s, master_role_arn=ADMIN_ROLE))
    _, domain = only(doc, "aws_opensearch_domain")
    assert resources(doc, "aws_iam_role") == {}
    assert domain["advanced_security_options"]["master_user_options"] == {"master_user_arn": ADMIN_ROLE}


def test_opensearch_access_policy_admits_only_named_roles(search_doc: dict[str, Any]) -> None:
    rid, _ = only(search_doc, "aws_iam_role")
    _, domain = only(search_doc, "aws_opensearch_domain")
    (statement,) = json.loads(domain["access_policies"])["Statement"]
    assert statement["Principal"] == {"AWS": [ref("aws_iam_role", rid, "arn"), CLIENT_ROLE]}
    assert (statement["Effect"], statement["Action"], statement["Resource"]) == (
        "Allow", list(HTTP_ACTIONS), f"arn:aws:es:{REGION}:{ACCOUNT}:domain/pk-x-search/*")


def test_opensearch_logs_go_to_encrypted_groups_it_may_write(search_doc: dict[str, Any]) -> None:
    _, domain = only(search_doc, "aws_opensearch_domain")
    _, policy = only(search_doc, "aws_cloudwatch_log_resource_policy")
    (statement,) = json.loads(policy["policy_document"])["Statement"]
    assert {o["log_type"] for o in domain["log_publishing_options"]} == {
        "INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS", "ES_APPLICATION_LOGS", "AUDIT_LOGS"}
    assert statement["Principal"] == {"Service": "es.amazonaws.com"} and len(statement["Resource"]) == 4
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:es:{REGION}:{ACCOUNT}:domain/pk-x-search"}


def test_opensearch_ebs_is_gp3_of_the_given_size() -> None:
    doc = synth_construct(lambda s: _search(s, volume_size_gb=50))
    _, domain = only(doc, "aws_opensearch_domain")
    assert domain["ebs_options"] == {"ebs_enabled": True, "volume_type": "gp3", "volume_size": 50}


@pytest.mark.parametrize("count, zones", [(2, 2), (4, 2), (3, 3), (6, 3)])
def test_opensearch_several_nodes_are_zone_aware(count: int, zones: int) -> None:
    doc = synth_construct(lambda s: _search(s, instance_count=count))
    _, domain = only(doc, "aws_opensearch_domain")
    assert domain["cluster_config"]["zone_awareness_config"] == {"availability_zone_count": zones}
    assert domain["vpc_options"]["subnet_ids"] == SUBNETS[:zones]


def test_opensearch_single_node_is_not_zone_aware() -> None:
    doc = synth_construct(_search)
    _, domain = only(doc, "aws_opensearch_domain")
    assert domain["cluster_config"]["zone_awareness_enabled"] is False


def test_opensearch_refuses_a_count_the_zones_cannot_share() -> None:
    with pytest.raises(ValueError, match="instance_count must be 1 or a multiple of the 2 availability zones"):
        synth_construct(lambda s: _search(s, instance_count=5))


def test_opensearch_short_timeouts_follow_the_prop(search_doc: dict[str, Any]) -> None:
    doc = synth_construct(lambda s: _search(s, short_timeouts=True))
    _, short = only(doc, "aws_opensearch_domain")
    _, default = only(search_doc, "aws_opensearch_domain")
    assert short["timeouts"] == {"create": "20s", "update": "20s", "delete": "20s"}
    assert "timeouts" not in default


# ======================================================================================
# wiring
# ======================================================================================


def _wire_all(stack: TerraformStack, ctx: ServiceContext) -> None:
    wire_elasticache(stack, ElastiCacheConfig(enabled=True), ctx)
    wire_memorydb(stack, MemoryDbConfig(enabled=True), ctx)
    wire_documentdb(stack, DocumentDbConfig(enabled=True), ctx)
    wire_neptune(stack, NeptuneConfig(enabled=True), ctx)
    wire_opensearch(stack, OpenSearchConfig(enabled=True, instance_count=2, admin_role_arns=(ADMIN_ROLE,)), ctx)


@pytest.fixture(scope="module")
def wired_doc() -> dict[str, Any]:
    return synth_construct(lambda s: _wire_all(s, context(on_emulator=True)))


def test_wiring_names_resources_with_the_prefix(wired_doc: dict[str, Any]) -> None:
    _, cache = only(wired_doc, "aws_elasticache_replication_group")
    _, docdb = only(wired_doc, "aws_docdb_cluster")
    _, domain = only(wired_doc, "aws_opensearch_domain")
    assert (cache["replication_group_id"], docdb["cluster_identifier"], domain["domain_name"]) == (
        "pk-x-cache", "pk-x-docdb", "pk-x-search")


def test_wiring_outputs_the_endpoints(wired_doc: dict[str, Any]) -> None:
    assert set(wired_doc["output"]) == {
        "elasticache_primary_endpoint", "elasticache_reader_endpoint", "elasticache_port", "elasticache_user",
        "memorydb_endpoint", "memorydb_user", "documentdb_endpoint", "documentdb_reader_endpoint",
        "documentdb_master_secret_arn", "neptune_endpoint", "neptune_reader_endpoint",
        "neptune_cluster_resource_id", "opensearch_endpoint", "opensearch_dashboards_endpoint",
        "opensearch_master_role_arn"}


def test_wiring_takes_protection_and_retention_from_the_context(wired_doc: dict[str, Any]) -> None:
    _, docdb = only(wired_doc, "aws_docdb_cluster")
    retention = {g["retention_in_days"] for g in resources(wired_doc, "aws_cloudwatch_log_group").values()}
    assert (docdb["deletion_protection"], docdb["lifecycle"], retention) == (True, {"prevent_destroy": True}, {14})


def test_wiring_puts_the_databases_under_the_backup_plan(wired_doc: dict[str, Any]) -> None:
    _, docdb = only(wired_doc, "aws_docdb_cluster")
    _, neptune = only(wired_doc, "aws_neptune_cluster")
    assert docdb["tags"] == neptune["tags"] == {"Backup": "pk-x"}


def test_wiring_on_the_emulator_shortens_the_domain_timeouts(wired_doc: dict[str, Any]) -> None:
    _, domain = only(wired_doc, "aws_opensearch_domain")
    assert domain["timeouts"]["create"] == "20s"


def test_wiring_on_the_emulator_leaves_out_neptune_iam_auth(wired_doc: dict[str, Any]) -> None:
    _, cluster = only(wired_doc, "aws_neptune_cluster")
    assert cluster["iam_database_authentication_enabled"] is False


def test_wiring_on_aws_keeps_neptune_iam_auth() -> None:
    doc = synth_construct(lambda s: wire_neptune(s, NeptuneConfig(enabled=True), context(on_emulator=False)))
    _, cluster = only(doc, "aws_neptune_cluster")
    assert cluster["iam_database_authentication_enabled"] is True


@pytest.mark.parametrize("wire, section, service", [
    (wire_elasticache, ElastiCacheConfig(enabled=True), "ElastiCache"),
    (wire_memorydb, MemoryDbConfig(enabled=True), "MemoryDB"),
    (wire_documentdb, DocumentDbConfig(enabled=True), "DocumentDB"),
    (wire_neptune, NeptuneConfig(enabled=True), "Neptune"),
    (wire_opensearch, OpenSearchConfig(enabled=True), "OpenSearch"),
])
def test_wiring_without_a_network_is_refused(wire: Any, section: Any, service: str) -> None:
    with pytest.raises(ValueError, match=f"^{service} lives in the private subnets: it needs \\[network\\] enabled"):
        synth_construct(lambda s: wire(s, section, context(network=False)))


# ======================================================================================
# terraform validate
# ======================================================================================


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_terraform_validate_accepts_all_the_stores(tmp_path: Path) -> None:
    from kit.terraform import Terraform
    from modules.providers import aws_provider, pin_aws_provider

    app = App(outdir=str(tmp_path / "cdktf.out"))
    stack = TerraformStack(app, "stores")
    pin_aws_provider(stack)
    aws_provider(stack, region=REGION, account_id=ACCOUNT, default_tags={"Project": "pipeline-kit"})
    _all_constructs(Construct(stack, "direct"))
    _wire_all(stack, context(network=True))
    app.synth()
    tf = Terraform.for_stack(tmp_path / "cdktf.out" / "stacks" / "stores", state_dir=tmp_path / "state")
    tf.init(backend=False, quiet=True)
    result = tf.validate()
    assert result.returncode == 0, f"terraform validate failed:\n{result.stdout}\n{result.stderr}"
    assert "Success" in result.stdout, result.stdout
