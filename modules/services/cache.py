"""In-memory stores (issue 7): ElastiCache for Redis OSS (a replication group) and MemoryDB.

Both live in the environment's private subnets behind a security group of their own that
admits the Redis port from the client security groups only, encrypt at rest with the
environment's key and in transit (TLS required), and authenticate clients with **IAM**: the
clients ask for a short-lived (15 min) IAM authentication token (SigV4, action
``elasticache:Connect`` / ``memorydb:Connect``) and present it as the password of an RBAC/ACL
user whose authentication mode is ``iam``. Nothing secret is created, so nothing secret can land
in Terraform state or code.

Why not the replication group's ``auth_token``: it is a plain (sensitive) attribute, stored in
clear text in the state (provider 5.100 has no write-only ``auth_token_wo``), it is a single
shared, long-lived password for every client, and rotating it means a change in Terraform. The
same holds for ``passwords`` of ``aws_elasticache_user``/``aws_memorydb_user``: users here have
``authentication_mode { type = "iam" }`` and no password.

Their security group is :class:`~modules.services.common.ServiceSecurityGroup` (one port, ingress
from the client groups only, no egress rule), shared by every VPC data store of this package.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.elasticache_replication_group import (
    ElasticacheReplicationGroup,
    ElasticacheReplicationGroupLogDeliveryConfiguration,
)
from cdktf_cdktf_provider_aws.elasticache_subnet_group import ElasticacheSubnetGroup
from cdktf_cdktf_provider_aws.elasticache_user import ElasticacheUser, ElasticacheUserAuthenticationMode
from cdktf_cdktf_provider_aws.elasticache_user_group import ElasticacheUserGroup
from cdktf_cdktf_provider_aws.memorydb_acl import MemorydbAcl
from cdktf_cdktf_provider_aws.memorydb_cluster import MemorydbCluster
from cdktf_cdktf_provider_aws.memorydb_subnet_group import MemorydbSubnetGroup
from cdktf_cdktf_provider_aws.memorydb_user import MemorydbUser, MemorydbUserAuthenticationMode
from constructs import Construct

from environments.sections.stores import ElastiCacheConfig, MemoryDbConfig

from ..lifecycle import destroy_guard
from ..logs import LogGroup
from ..policy import Statement
from . import ServiceContext
from .common import ServiceSecurityGroup, require_network, tags_with

REDIS_PORT = 6379
#: Access string of the applications' users: every key and command except the dangerous ones
#: (FLUSHALL, CONFIG, DEBUG, KEYS, ...).
APP_ACCESS_STRING = "on ~* &* +@all -@dangerous"
#: ElastiCache requires a user named ``default`` in every user group; this one is switched off
#: and may run no command, so a connection that does not authenticate can do nothing.
DISABLED_DEFAULT_ACCESS_STRING = "off -@all"

_CACHE_ID_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
#: IAM-authenticated users: user id == user name, lower case (ElastiCache's rule).
_USER_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def _check_redis(what: str, name: str, subnet_ids: Sequence[str], user_names: Sequence[str], engine_version: str,
                 replica_count: int, snapshot_retention_days: int, access_string: str) -> None:
    if not _CACHE_ID_RE.match(name) or name.endswith("-") or "--" in name:
        raise ValueError(f"{what} {name!r}: use 1-40 lower-case letters, digits or single '-', "
                         "starting with a letter")
    if len(subnet_ids) < 2:
        raise ValueError(f"{what} {name}: needs private subnets in at least two availability zones, "
                         f"got {len(subnet_ids)}")
    if not user_names:
        raise ValueError(f"{what} {name}: user_names must name at least one IAM-authenticated user")
    for user in user_names:
        if not _USER_RE.match(user) or user == "default":
            raise ValueError(f"{what} {name}: user name {user!r} must be 1-40 lower-case letters, digits "
                             "or '-', starting with a letter, and not 'default' (IAM users' id = name)")
    if not re.match(r"^[7-9]\.\d+$", engine_version):
        raise ValueError(f"{what} {name}: IAM authentication needs Redis OSS 7.0 or later, "
                         f"got engine_version {engine_version!r}")
    if not 0 <= replica_count <= 5:
        raise ValueError(f"{what} {name}: replicas must be between 0 and 5, got {replica_count}")
    if not 0 <= snapshot_retention_days <= 35:
        raise ValueError(f"{what} {name}: snapshot_retention_days must be between 0 and 35, "
                         f"got {snapshot_retention_days}")
    if not access_string.startswith("on "):
        raise ValueError(f"{what} {name}: the users' access_string must switch them on ('on ...'), "
                         f"got {access_string!r}")


# ======================================================================================
# ElastiCache
# ======================================================================================


class ElastiCacheRedis(Construct):
    """An ElastiCache for Redis OSS replication group (cluster mode disabled): one primary and
    ``replica_count`` read replicas spread over ``subnet_ids`` (Multi-AZ with automatic failover
    when there is at least one replica), TLS required in transit, encrypted at rest with
    ``kms_key_arn``, daily snapshots kept ``snapshot_retention_days`` (0 = none), slow log and
    engine log delivered as JSON to two log groups encrypted with the key.

    Authentication (see the module's notes): RBAC user group ``.user_group`` holding a disabled
    ``default`` user (``.default_user``: user name ``default``, access string ``off -@all``, no
    password: a switched-off user cannot authenticate) and one IAM-authenticated user per name in
    ``user_names`` (``.users``; access string ``access_string``). A client role needs
    :meth:`connect_statement`; the engine must be Redis OSS 7.0+ (IAM auth's minimum).

    No parameter group: the engine family's defaults suit a cache with TLS and RBAC (both are
    replication-group settings, not parameters); pass ``parameter_group_name`` to use one.

    ``deletion_protection`` (ElastiCache has none) keeps a final snapshot ``<id>-final`` on
    destroy; ``prevent_destroy`` sets Terraform's lifecycle guard on the replication group.
    Exposes ``.replication_group``, ``.subnet_group``, ``.security_group``, ``.slow_log``,
    ``.engine_log``.
    """

    replication_group: ElasticacheReplicationGroup
    subnet_group: ElasticacheSubnetGroup
    security_group: ServiceSecurityGroup
    users: list[ElasticacheUser]
    default_user: ElasticacheUser
    user_group: ElasticacheUserGroup
    slow_log: LogGroup
    engine_log: LogGroup

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        vpc_id: str,
        subnet_ids: Sequence[str],
        client_security_group_ids: Sequence[str],
        user_names: Sequence[str],
        node_type: str = "cache.t4g.micro",
        engine_version: str = "7.1",
        replica_count: int = 1,
        snapshot_retention_days: int = 7,
        log_retention_days: int = 30,
        access_string: str = APP_ACCESS_STRING,
        parameter_group_name: str | None = None,
        port: int = REDIS_PORT,
        deletion_protection: bool = True,
        prevent_destroy: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        _check_redis("elasticache", name, subnet_ids, user_names, engine_version, replica_count,
                     snapshot_retention_days, access_string)
        self.name = name
        self.security_group = ServiceSecurityGroup(
            self, "security-group", name=f"{name}-redis", description=f"{name}: ElastiCache for Redis OSS",
            vpc_id=vpc_id, port=port, client_security_group_ids=client_security_group_ids, tags=tags)
        self.subnet_group = ElasticacheSubnetGroup(
            self, "subnet-group", name=name, description=f"{name}: private subnets",
            subnet_ids=list(subnet_ids), tags=tags_with(tags))
        self.default_user = ElasticacheUser(
            self, "default-user",
            user_id=f"{name}-default", user_name="default", engine="redis",
            access_string=DISABLED_DEFAULT_ACCESS_STRING,
            authentication_mode=ElasticacheUserAuthenticationMode(type="no-password-required"),
            tags=tags_with(tags))
        self.users = [
            ElasticacheUser(
                self, f"user-{user}",
                user_id=user, user_name=user, engine="redis", access_string=access_string,
                authentication_mode=ElasticacheUserAuthenticationMode(type="iam"),
                tags=tags_with(tags))
            for user in user_names
        ]
        self.user_group = ElasticacheUserGroup(
            self, "user-group", user_group_id=name, engine="redis",
            user_ids=[self.default_user.user_id, *(u.user_id for u in self.users)], tags=tags_with(tags))
        self.slow_log = LogGroup(self, "slow-log", name=f"/aws/elasticache/{name}/slow-log",
                                 retention_days=log_retention_days, kms_key_arn=kms_key_arn)
        self.engine_log = LogGroup(self, "engine-log", name=f"/aws/elasticache/{name}/engine-log",
                                   retention_days=log_retention_days, kms_key_arn=kms_key_arn)
        multi_az = replica_count >= 1
        self.replication_group = ElasticacheReplicationGroup(
            self, "replication-group",
            replication_group_id=name,
            description=f"{name}: Redis OSS cache",
            engine="redis",
            engine_version=engine_version,
            node_type=node_type,
            port=port,
            num_cache_clusters=1 + replica_count,
            automatic_failover_enabled=multi_az,
            multi_az_enabled=multi_az,
            subnet_group_name=self.subnet_group.name,
            security_group_ids=[self.security_group.group.id],
            parameter_group_name=parameter_group_name,
            at_rest_encryption_enabled="true",  # a string in the provider schema
            kms_key_id=kms_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            user_group_ids=[self.user_group.user_group_id],
            snapshot_retention_limit=snapshot_retention_days,
            final_snapshot_identifier=f"{name}-final" if deletion_protection else None,
            auto_minor_version_upgrade="true",  # a string in the provider schema
            log_delivery_configuration=[
                ElasticacheReplicationGroupLogDeliveryConfiguration(
                    destination=self.slow_log.log_group.name, destination_type="cloudwatch-logs",
                    log_format="json", log_type="slow-log"),
                ElasticacheReplicationGroupLogDeliveryConfiguration(
                    destination=self.engine_log.log_group.name, destination_type="cloudwatch-logs",
                    log_format="json", log_type="engine-log"),
            ],
            tags=tags_with(tags),
            lifecycle=destroy_guard(prevent_destroy),
        )

    def connect_statement(self, sid: str = "ElastiCacheIamConnect") -> Statement:
        """What a client role needs to mint IAM auth tokens for this cache's users."""
        return Statement(sid=sid, effect="Allow", actions=["elasticache:Connect"],
                         resources=[self.replication_group.arn, *(u.arn for u in self.users)])


# ======================================================================================
# MemoryDB
# ======================================================================================


class MemoryDbRedis(Construct):
    """A MemoryDB cluster (Redis OSS engine): ``shard_count`` shards of one primary and
    ``replicas_per_shard`` replicas in ``subnet_ids``, TLS on, encrypted with ``kms_key_arn``,
    snapshots kept ``snapshot_retention_days`` (0 = none).

    Authentication: the ACL ``.acl`` holds one IAM-authenticated user per name in ``user_names``
    (``.users``, access string ``access_string``, no password); MemoryDB's built-in ``default``
    user only belongs to the ``open-access`` ACL, which is not used. A client role needs
    :meth:`connect_statement` and presents an IAM auth token (see the module's notes).

    ``deletion_protection`` (MemoryDB has none) keeps a final snapshot ``<name>-final`` on
    destroy; ``prevent_destroy`` sets Terraform's lifecycle guard on the cluster. Exposes
    ``.cluster``, ``.subnet_group``, ``.security_group``.
    """

    cluster: MemorydbCluster
    subnet_group: MemorydbSubnetGroup
    security_group: ServiceSecurityGroup
    users: list[MemorydbUser]
    acl: MemorydbAcl

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        vpc_id: str,
        subnet_ids: Sequence[str],
        client_security_group_ids: Sequence[str],
        user_names: Sequence[str],
        node_type: str = "db.t4g.small",
        engine_version: str = "7.1",
        shard_count: int = 1,
        replicas_per_shard: int = 1,
        snapshot_retention_days: int = 7,
        access_string: str = APP_ACCESS_STRING,
        port: int = REDIS_PORT,
        deletion_protection: bool = True,
        prevent_destroy: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        _check_redis("memorydb", name, subnet_ids, user_names, engine_version, replicas_per_shard,
                     snapshot_retention_days, access_string)
        if not 1 <= shard_count <= 500:
            raise ValueError(f"memorydb {name}: shard_count must be between 1 and 500, got {shard_count}")
        self.security_group = ServiceSecurityGroup(
            self, "security-group", name=f"{name}-memorydb", description=f"{name}: MemoryDB",
            vpc_id=vpc_id, port=port, client_security_group_ids=client_security_group_ids, tags=tags)
        self.subnet_group = MemorydbSubnetGroup(
            self, "subnet-group", name=name, description=f"{name}: private subnets",
            subnet_ids=list(subnet_ids), tags=tags_with(tags))
        self.users = [
            MemorydbUser(self, f"user-{user}", user_name=user, access_string=access_string,
                         authentication_mode=MemorydbUserAuthenticationMode(type="iam"), tags=tags_with(tags))
            for user in user_names
        ]
        self.acl = MemorydbAcl(self, "acl", name=name, user_names=[u.user_name for u in self.users],
                               tags=tags_with(tags))
        self.cluster = MemorydbCluster(
            self, "cluster",
            name=name,
            description=f"{name}: MemoryDB for Redis OSS",
            engine="redis",
            engine_version=engine_version,
            node_type=node_type,
            num_shards=shard_count,
            num_replicas_per_shard=replicas_per_shard,
            port=port,
            acl_name=self.acl.name,
            subnet_group_name=self.subnet_group.name,
            security_group_ids=[self.security_group.group.id],
            tls_enabled=True,
            kms_key_arn=kms_key_arn,
            snapshot_retention_limit=snapshot_retention_days,
            final_snapshot_name=f"{name}-final" if deletion_protection else None,
            auto_minor_version_upgrade=True,
            tags=tags_with(tags),
            lifecycle=destroy_guard(prevent_destroy),
        )

    def connect_statement(self, sid: str = "MemoryDbIamConnect") -> Statement:
        """What a client role needs to mint IAM auth tokens for this cluster's users."""
        return Statement(sid=sid, effect="Allow", actions=["memorydb:Connect"],
                         resources=[self.cluster.arn, *(u.arn for u in self.users)])


# ======================================================================================
# wiring
# ======================================================================================


def wire_elasticache(scope: Construct, section: ElastiCacheConfig, ctx: ServiceContext) -> ElastiCacheRedis:
    """The environment's Redis cache from ``[services.elasticache]``: user ``<prefix>-cache-app``
    (IAM auth), outputs for the primary and reader endpoints, the port and the user name."""
    network = require_network(ctx, "ElastiCache")
    name = ctx.resource_name("cache")
    cache = ElastiCacheRedis(
        scope, "elasticache",
        name=name,
        kms_key_arn=ctx.kms_key_arn,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        client_security_group_ids=network.client_security_group_ids,
        user_names=[f"{name}-app"],
        node_type=section.node_type,
        engine_version=section.engine_version,
        replica_count=section.replica_count,
        snapshot_retention_days=section.snapshot_retention_days,
        log_retention_days=ctx.log_retention_days,
        deletion_protection=ctx.deletion_protection,
        prevent_destroy=ctx.prevent_destroy,
    )
    TerraformOutput(scope, "elasticache_primary_endpoint", value=cache.replication_group.primary_endpoint_address,
                    description="ElastiCache (Redis OSS) primary endpoint, TLS required")
    TerraformOutput(scope, "elasticache_reader_endpoint", value=cache.replication_group.reader_endpoint_address,
                    description="ElastiCache reader endpoint (spread over the replicas)")
    TerraformOutput(scope, "elasticache_port", value=cache.replication_group.port,
                    description="Port of the ElastiCache endpoints")
    TerraformOutput(scope, "elasticache_user", value=cache.users[0].user_name,
                    description="ElastiCache user name for IAM authentication")
    return cache


def wire_memorydb(scope: Construct, section: MemoryDbConfig, ctx: ServiceContext) -> MemoryDbRedis:
    """The environment's MemoryDB cluster from ``[services.memorydb]``: user
    ``<prefix>-memorydb-app`` (IAM auth), outputs for the cluster endpoint and the user name."""
    network = require_network(ctx, "MemoryDB")
    name = ctx.resource_name("memorydb")
    memorydb = MemoryDbRedis(
        scope, "memorydb",
        name=name,
        kms_key_arn=ctx.kms_key_arn,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        client_security_group_ids=network.client_security_group_ids,
        user_names=[f"{name}-app"],
        node_type=section.node_type,
        engine_version=section.engine_version,
        shard_count=section.shard_count,
        replicas_per_shard=section.replicas_per_shard,
        snapshot_retention_days=section.snapshot_retention_days,
        deletion_protection=ctx.deletion_protection,
        prevent_destroy=ctx.prevent_destroy,
    )
    TerraformOutput(scope, "memorydb_endpoint", value=memorydb.cluster.cluster_endpoint.get(0).address,
                    description="MemoryDB cluster endpoint, TLS required")
    TerraformOutput(scope, "memorydb_user", value=memorydb.users[0].user_name,
                    description="MemoryDB user name for IAM authentication")
    return memorydb
