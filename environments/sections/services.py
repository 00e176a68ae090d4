"""``[services.<name>]``: the optional data services (issue 7), every one off by default. Each
section's fields and rules live in its own module (stores, ingest, governance); this module puts
them together under one ``services`` table and runs their cross-checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterator

from . import governance, ingest, stores
from .governance import AppSyncConfig, DataZoneConfig, LakeFormationConfig
from .ingest import DmsConfig, StreamingConfig, TimestreamConfig
from .stores import DocumentDbConfig, ElastiCacheConfig, MemoryDbConfig, NeptuneConfig, OpenSearchConfig


@dataclass(frozen=True)
class ServicesConfig:
    """The optional data services, each a ``[services.<name>]`` table and off until ``enabled =
    true``. Some need ``[network]``; what the emulator cannot create is skipped there."""

    elasticache: ElastiCacheConfig = field(default_factory=ElastiCacheConfig)
    memorydb: MemoryDbConfig = field(default_factory=MemoryDbConfig)
    documentdb: DocumentDbConfig = field(default_factory=DocumentDbConfig)
    neptune: NeptuneConfig = field(default_factory=NeptuneConfig)
    opensearch: OpenSearchConfig = field(default_factory=OpenSearchConfig)
    timestream: TimestreamConfig = field(default_factory=TimestreamConfig)
    dms: DmsConfig = field(default_factory=DmsConfig)
    streaming: StreamingConfig = field(default_factory=StreamingConfig)
    appsync: AppSyncConfig = field(default_factory=AppSyncConfig)
    lakeformation: LakeFormationConfig = field(default_factory=LakeFormationConfig)
    datazone: DataZoneConfig = field(default_factory=DataZoneConfig)

    def enabled(self) -> list[str]:
        """The names of the sections switched on."""
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name).enabled]

    @property
    def needs_network(self) -> bool:
        """Does a switched-on service live in the private subnets?"""
        return any(getattr(self, n).enabled for n in VPC_SERVICES)


#: What the emulator (moto server) can create for the real AWS provider, with the workarounds the
#: ``wire_*`` functions apply there. The others are skipped on the emulator (validate-only):
#: ElastiCache (user groups: HTTP 500), MemoryDB (ACLs: HTTP 500), DocumentDB (engine refused),
#: DMS (replication instance: timestamp as a string), Timestream (endpoint discovery reaches for
#: the real AWS host), DataZone (not emulated).
EMULATOR_APPLIES = ("neptune", "opensearch", "streaming", "appsync", "lakeformation")

#: Services that live in the private subnets.
VPC_SERVICES = ("elasticache", "memorydb", "documentdb", "neptune", "opensearch", "dms")

_CHECKS = {
    "elasticache": stores.cross_checks, "memorydb": stores.cross_checks, "documentdb": stores.cross_checks,
    "neptune": stores.cross_checks, "opensearch": stores.cross_checks,
    "timestream": ingest.cross_checks, "dms": ingest.cross_checks, "streaming": ingest.cross_checks,
    "appsync": governance.cross_checks, "lakeformation": governance.cross_checks, "datazone": governance.cross_checks,
}


def cross_checks(services: ServicesConfig, *, env_name: str, network_enabled: bool,
                 az_count: int) -> Iterator[tuple[str, str]]:
    """``(dotted field under services, problem)`` for every rule a switched-on section breaks."""
    for name, check in _CHECKS.items():
        for key, problem in check(getattr(services, name), env_name=env_name, network_enabled=network_enabled,
                                  az_count=az_count):
            yield f"{name}.{key}", problem
