"""Config sections of the optional data stores (issue 7): ``[services.elasticache]``,
``[services.memorydb]``, ``[services.documentdb]``, ``[services.neptune]`` and
``[services.opensearch]``. Every one is off by default and small when switched on with just
``enabled = true``; each lives in the environment's private subnets, so each needs
``[network] enabled = true`` (see :func:`cross_checks`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from environments._fields import _between, _check, _matches, _one_of

_CACHE_NODE_RE = re.compile(r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
_DB_CLASS_RE = re.compile(r"^db\.[a-z0-9-]+\.[a-z0-9]+$")
_REDIS_VERSION_RE = re.compile(r"^7\.[0-9]+$")
_DOCDB_VERSION_RE = re.compile(r"^[45]\.0\.0$")
_NEPTUNE_VERSION_RE = re.compile(r"^1\.(?:2\.[1-9]|[34]\.[0-9]+)\.[0-9]+$")
_OPENSEARCH_VERSION_RE = re.compile(r"^OpenSearch_[12]\.[0-9]+$")
_SEARCH_INSTANCE_RE = re.compile(r"^[a-z0-9]+\.[a-z0-9]+\.search$")
_USERNAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9]{0,62}$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")

_REDIS_VERSION = _matches(_REDIS_VERSION_RE, "a Redis OSS 7.x version such as '7.1' (IAM authentication needs 7.0+)")


def _optional_role_arn(value: str) -> str | None:
    if value == "" or _ROLE_ARN_RE.match(value):
        return None
    return f"must be an IAM role ARN or empty, got {value!r}"


@dataclass(frozen=True)
class ElastiCacheConfig:
    """ElastiCache for Redis OSS: a replication group (one primary, ``replica_count`` replicas;
    Multi-AZ with automatic failover from one replica on), TLS, KMS, IAM authentication."""

    #: Create the replication group (needs [network]).
    enabled: bool = False
    #: Node type of the primary and the replicas.
    node_type: str = field(default="cache.t4g.micro",
                           metadata=_matches(_CACHE_NODE_RE, "an ElastiCache node type such as 'cache.t4g.micro'"))
    #: Redis OSS engine version (7.x: IAM authentication).
    engine_version: str = field(default="7.1", metadata=_REDIS_VERSION)
    #: Read replicas besides the primary; one or more turns on Multi-AZ with automatic failover.
    replica_count: int = field(default=1, metadata=_between(0, 5))
    #: Days of automatic daily snapshots (0 = none).
    snapshot_retention_days: int = field(default=7, metadata=_between(0, 35))


@dataclass(frozen=True)
class MemoryDbConfig:
    """MemoryDB for Redis OSS: ``shard_count`` shards of a primary and ``replicas_per_shard``
    replicas, TLS, KMS, IAM-authenticated ACL users."""

    #: Create the cluster (needs [network]).
    enabled: bool = False
    #: Node type of every node.
    node_type: str = field(default="db.t4g.small",
                           metadata=_matches(_DB_CLASS_RE, "a MemoryDB node type such as 'db.t4g.small'"))
    #: Redis OSS engine version (7.x: IAM authentication).
    engine_version: str = field(default="7.1", metadata=_REDIS_VERSION)
    #: Shards the data is split over.
    shard_count: int = field(default=1, metadata=_between(1, 20))
    #: Replicas of each shard's primary.
    replicas_per_shard: int = field(default=1, metadata=_between(0, 5))
    #: Days of automatic daily snapshots (0 = none).
    snapshot_retention_days: int = field(default=7, metadata=_between(0, 35))


@dataclass(frozen=True)
class DocumentDbConfig:
    """Amazon DocumentDB: a cluster of ``instance_count`` instances, TLS required, KMS, master
    password kept by Secrets Manager, audit and profiler logs exported."""

    #: Create the cluster (needs [network]).
    enabled: bool = False
    #: Instance class of every instance.
    instance_class: str = field(default="db.t4g.medium",
                                metadata=_matches(_DB_CLASS_RE, "a DocumentDB instance class such as 'db.t4g.medium'"))
    #: Instances in the cluster (the first is the writer, the others readers).
    instance_count: int = field(default=1, metadata=_between(1, 16))
    #: DocumentDB engine version.
    engine_version: str = field(default="5.0.0", metadata=_matches(_DOCDB_VERSION_RE, "'4.0.0' or '5.0.0'"))
    #: Days automatic backups are kept.
    backup_retention_days: int = field(default=7, metadata=_between(1, 35))
    #: The master user (its password is generated and kept by Secrets Manager).
    master_username: str = field(
        default="docdbadmin",
        metadata=_matches(_USERNAME_RE, "1-63 letters or digits, starting with a letter"))
    #: Operations slower than this are logged by the profiler.
    profiler_threshold_ms: int = field(default=100, metadata=_between(50, 60000))


@dataclass(frozen=True)
class NeptuneConfig:
    """Amazon Neptune: a cluster of ``instance_count`` instances, HTTPS/TLS only, IAM database
    authentication, KMS, audit and slow-query logs exported."""

    #: Create the cluster (needs [network]).
    enabled: bool = False
    #: Instance class of every instance.
    instance_class: str = field(default="db.t4g.medium",
                                metadata=_matches(_DB_CLASS_RE, "a Neptune instance class such as 'db.t4g.medium'"))
    #: Instances in the cluster (the first is the writer, the others readers).
    instance_count: int = field(default=1, metadata=_between(1, 16))
    #: Neptune engine version.
    engine_version: str = field(default="1.3.2.1",
                                metadata=_matches(_NEPTUNE_VERSION_RE, "a Neptune version from 1.2.1.0 (slow-query logs) such as '1.3.2.1'"))
    #: Days automatic backups are kept.
    backup_retention_days: int = field(default=7, metadata=_between(1, 35))


@dataclass(frozen=True)
class OpenSearchConfig:
    """Amazon OpenSearch Service: a VPC domain, encrypted, HTTPS (TLS 1.2+) only, fine-grained
    access control with an IAM master role, logs to CloudWatch."""

    #: Create the domain (needs [network]).
    enabled: bool = False
    #: OpenSearch engine version.
    engine_version: str = field(default="OpenSearch_2.17",
                                metadata=_matches(_OPENSEARCH_VERSION_RE, "an engine such as 'OpenSearch_2.17'"))
    #: Instance type of the data nodes.
    instance_type: str = field(default="t3.small.search",
                               metadata=_matches(_SEARCH_INSTANCE_RE, "an instance type such as 't3.small.search'"))
    #: 1, or (zone awareness) a multiple of the availability zones used: 2, or 3 with three AZs.
    instance_count: int = field(default=1, metadata=_between(1, 20))
    #: gp3 EBS volume per data node (GiB).
    volume_size_gb: int = field(default=10, metadata=_between(10, 3072))
    #: Dedicated master nodes (0, 3 or 5): AWS recommends three for production domains (cluster
    #: state survives a data node's loss); the policy scan (checkov CKV_AWS_318) asks for them.
    dedicated_master_count: int = field(default=0, metadata=_one_of(0, 3, 5))
    #: Instance type of the dedicated master nodes (when dedicated_master_count > 0).
    dedicated_master_type: str = field(default="m6g.large.search",
                                       metadata=_matches(_SEARCH_INSTANCE_RE, "an instance type such as 'm6g.large.search'"))
    #: The fine-grained access control master: an existing role; empty = the kit creates
    #: ``<prefix>-search-admin``, assumable by ``admin_role_arns``.
    master_role_arn: str = field(default="", metadata=_check(_optional_role_arn, "an IAM role ARN or empty"))
    #: Roles that may assume the created master role: required when ``master_role_arn`` is empty
    #: (the master role trusts these roles only, never the whole account).
    admin_role_arns: tuple[str, ...] = ()
    #: Roles the domain's access policy admits besides the master (their rights inside the
    #: domain come from fine-grained access control role mappings).
    client_role_arns: tuple[str, ...] = ()


StoreSection = Union[ElastiCacheConfig, MemoryDbConfig, DocumentDbConfig, NeptuneConfig, OpenSearchConfig]

_SERVICE_NAMES = {
    ElastiCacheConfig: "ElastiCache",
    MemoryDbConfig: "MemoryDB",
    DocumentDbConfig: "DocumentDB",
    NeptuneConfig: "Neptune",
    OpenSearchConfig: "OpenSearch",
}


def opensearch_zone_count(instance_count: int, az_count: int) -> int:
    """Availability zones an OpenSearch domain of ``instance_count`` nodes spreads over: 1 for a
    single node, 3 when the count is a multiple of 3 and three zones exist, else 2."""
    if instance_count < 2:
        return 1
    return 3 if instance_count % 3 == 0 and az_count >= 3 else 2


def cross_checks(section: StoreSection, *, env_name: str, network_enabled: bool,
                 az_count: int) -> list[tuple[str, str]]:
    """``(field, problem)`` pairs for rules that span ``section`` and the rest of the
    environment (empty when the section is off or fine). ``env_name`` is not used yet: no
    store has an environment-specific rule."""
    del env_name
    if not section.enabled:
        return []
    service = _SERVICE_NAMES[type(section)]
    problems: list[tuple[str, str]] = []
    if not network_enabled:
        problems.append(("enabled", f"needs [network] enabled = true ({service} lives in the private subnets)"))
    if isinstance(section, ElastiCacheConfig) and section.replica_count >= 1 and az_count < 2:
        problems.append(("replica_count", "Multi-AZ replicas need [network] availability_zones >= 2"))
    if isinstance(section, OpenSearchConfig):
        zones = opensearch_zone_count(section.instance_count, az_count)
        if section.instance_count % zones:
            problems.append(("instance_count", f"must be 1 or a multiple of the availability zones the domain "
                             f"spreads over ({zones}), got {section.instance_count}"))
        if section.master_role_arn and section.admin_role_arns:
            problems.append(("admin_role_arns", "only applies to the master role the kit creates: leave it empty "
                             "when master_role_arn names an existing role"))
        if not section.master_role_arn and not section.admin_role_arns:
            problems.append(("admin_role_arns", "must name the IAM role(s) that may assume the OpenSearch master "
                             "role (or set master_role_arn to an existing role): the kit never lets the whole "
                             "account assume it"))
    return problems
