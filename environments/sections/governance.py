"""Config sections of the GraphQL and governance services (issue 7): ``[services.appsync]``,
``[services.lakeformation]`` and ``[services.datazone]``. Every one is off by default and
complete with just ``enabled = true``, except Lake Formation, which needs its ``admins`` (it
replaces the account's data lake settings, see :class:`LakeFormationConfig`). None lives in a
VPC, so none needs ``[network]``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from environments._fields import _between, _matches, _one_of

_PROJECT_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
#: Where moto server runs (DataZone is not emulated).
EMULATOR_ENVIRONMENTS = ("local",)


@dataclass(frozen=True)
class AppSyncConfig:
    """An IAM-authenticated GraphQL API over the status table: one file's status, a dataset's
    files, a subscription on status updates (``modules.services.graphql``)."""

    #: Create the GraphQL API.
    enabled: bool = False
    #: AppSync field-level logs into an encrypted log group.
    field_log_level: str = field(default="ERROR", metadata=_one_of("NONE", "ERROR", "INFO", "DEBUG", "ALL"))
    #: Keep request/response contents (file keys, reasons, headers) out of the logs.
    exclude_verbose_content: bool = True
    #: X-Ray tracing of the API.
    xray: bool = False
    #: Answer introspection queries (the schema is in the repository either way).
    introspection: bool = False
    #: Deepest query accepted (0 = no limit; the schema needs 3).
    query_depth_limit: int = field(default=5, metadata=_between(0, 75))
    #: Default ``limit`` of ``filesByDataset`` ...
    page_size: int = field(default=50, metadata=_between(1, 1000))
    #: ... and the largest a caller may ask for (at least page_size).
    max_page_size: int = field(default=100, metadata=_between(1, 1000))


@dataclass(frozen=True)
class LakeFormationConfig:
    """Lake Formation over the clean zone: data lake settings, the clean bucket (and optionally
    landing) registered with a least-privilege role, grants for the catalog's readers and writers.

    ``aws_lakeformation_data_lake_settings`` is an account-and-region singleton: applying it
    **replaces** the account's Lake Formation administrators and default permissions, and
    destroying it empties them (no admins; new databases and tables then use Lake Formation
    permissions only). One environment per account and region may switch this on. ``admins`` must
    hold the role Terraform deploys with (it grants the permissions) and any existing admin.
    """

    #: Apply the data lake settings, register the buckets and grant the permissions (one environment
    #: per account and region).
    enabled: bool = False
    #: Data lake administrators (IAM role ARNs). Required when enabled.
    admins: tuple[str, ...] = ()
    #: True keeps AWS's backward-compatible default ("Use only IAM access control"): new Glue
    #: databases and tables grant ALL to ``IAM_ALLOWED_PRINCIPALS``, so every IAM policy keeps
    #: working and the grants here are additive. False makes Lake Formation permissions the only
    #: access path for databases/tables created from then on (the grants here are what counts).
    iam_allowed_principals_default: bool = True
    #: Also register the landing bucket (only useful once the raw database holds tables).
    register_landing: bool = False


@dataclass(frozen=True)
class DataZoneConfig:
    """An Amazon DataZone domain (encrypted with the environment key, IAM users only: single
    sign-on off) and a project for the pipeline's datasets."""

    #: Create the domain and the project (not on the emulator).
    enabled: bool = False
    #: The project (within the domain) that will own the pipeline's datasets.
    project_name: str = field(
        default="pipeline-datasets",
        metadata=_matches(_PROJECT_RE, "1-64 characters of letters, digits, '_' and '-'"))
    #: Enable the managed DefaultDataLake environment blueprint (Glue/Athena environments) in the
    #: environment's region, with its provisioning and manage-access roles.
    data_lake_blueprint: bool = False


GovernanceSection = Union[AppSyncConfig, LakeFormationConfig, DataZoneConfig]


def cross_checks(section: GovernanceSection, *, env_name: str, network_enabled: bool,
                 az_count: int) -> list[tuple[str, str]]:
    """``(field, problem)`` pairs for rules that span ``section`` and the rest of the
    environment (empty when the section is off or fine). None of these services lives in a VPC:
    ``network_enabled`` and ``az_count`` are not used."""
    del network_enabled, az_count
    if not section.enabled:
        return []
    problems: list[tuple[str, str]] = []
    if isinstance(section, AppSyncConfig) and section.page_size > section.max_page_size:
        problems.append(("page_size", f"must not exceed max_page_size ({section.max_page_size}), "
                                      f"got {section.page_size}"))
    if isinstance(section, AppSyncConfig) and 0 < section.query_depth_limit < 3:
        problems.append(("query_depth_limit", f"must be 0 (no limit) or at least 3 (filesByDataset items are "
                                              f"3 deep), got {section.query_depth_limit}"))
    if isinstance(section, LakeFormationConfig) and not section.admins:
        problems.append(("admins", "must list at least one IAM role ARN when enabled: the data lake settings "
                                   "replace the account's administrators (include the role Terraform deploys with)"))
    if isinstance(section, DataZoneConfig) and env_name in EMULATOR_ENVIRONMENTS:
        problems.append(("enabled", "DataZone is not emulated: switch it on in AWS environments only"))
    return problems
