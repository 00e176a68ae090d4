"""Config section of the data warehouse (issue 6): ``[redshift]``, an Amazon Redshift Serverless
namespace and workgroup in the environment's private subnets. Off by default; with just
``enabled = true`` it is the smallest workgroup (8 RPUs base, 64 RPUs ceiling) loading the curated
tables once a night. It needs ``[network] enabled = true`` with ``availability_zones >= 3`` (see
:func:`cross_checks`), and cannot run on the emulator (validate-only)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from environments._fields import _check, _matches

#: Redshift Serverless RPU steps: base 8..512, the ceiling up to 5632, both in steps of 8.
RPU_STEP = 8
BASE_RPU_RANGE = (8, 512)
MAX_RPU_RANGE = (8, 5632)
#: Redshift Serverless places a workgroup in subnets of at least three availability zones.
MIN_AVAILABILITY_ZONES = 3

_DB_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ADMIN_RE = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
_SCHEMA_RE = re.compile(r"^[a-z][a-z0-9_]{0,126}$")
_SCHEDULE_RE = re.compile(r"^(?:cron\([^()]+\)|rate\(\d+ (?:minute|minutes|hour|hours|day|days)\))$")
#: Names Redshift keeps for itself (a reserved word, its internal user and database).
_RESERVED = frozenset({"public", "rdsdb", "padb_harvest"})


def _rpus(lo: int, hi: int) -> dict:
    def check(v: int) -> str | None:
        if not lo <= v <= hi:
            return f"must be between {lo} and {hi} RPUs, got {v}"
        if v % RPU_STEP:
            return f"must be a multiple of {RPU_STEP} RPUs, got {v}"
        return None
    return _check(check, f"{lo} to {hi}, a multiple of {RPU_STEP}")


def _name(pattern: re.Pattern[str], what: str) -> dict:
    def check(v: str) -> str | None:
        if not pattern.match(v):
            return f"must be {what}, got {v!r}"
        if v in _RESERVED:
            return f"{v!r} is reserved by Redshift"
        return None
    return _check(check, f"{what}; not {', '.join(sorted(_RESERVED))}")


@dataclass(frozen=True)
class RedshiftConfig:
    """Redshift Serverless: a namespace (KMS, admin password kept by Secrets Manager, the Spectrum
    role) and a workgroup (private subnets, never public, enhanced VPC routing, SSL required); the
    external schema over the clean Glue database and the curated tables, loaded on a schedule."""

    #: Create the namespace and workgroup (needs [network] with availability_zones >= 3; not in
    #: local).
    enabled: bool = False
    #: RPUs the workgroup starts every query with (8..512, steps of 8).
    base_capacity_rpus: int = field(default=8, metadata=_rpus(*BASE_RPU_RANGE))
    #: The ceiling it may scale to (steps of 8, at least the base): the cost guard.
    max_capacity_rpus: int = field(default=64, metadata=_rpus(*MAX_RPU_RANGE))
    #: The database the namespace creates.
    database_name: str = field(default="analytics", metadata=_name(
        _DB_NAME_RE, "1-64 lower-case letters, digits or '_', starting with a letter"))
    #: The admin user (its password is generated and kept by Secrets Manager).
    admin_username: str = field(default="warehouse_admin", metadata=_name(
        _ADMIN_RE, "1-128 lower-case letters, digits or '_', starting with a letter"))
    #: COPY/UNLOAD and Spectrum traffic through the VPC (its endpoints) instead of the internet.
    enhanced_vpc_routing: bool = True
    #: The schema over the clean Glue database (Spectrum).
    external_schema: str = field(default="lake", metadata=_matches(
        _SCHEMA_RE, "lower-case letters, digits or '_', starting with a letter"))
    #: The schema of the loaded (curated) tables; differs from external_schema.
    curated_schema: str = field(default="curated", metadata=_matches(
        _SCHEMA_RE, "lower-case letters, digits or '_', starting with a letter"))
    #: When the curated tables are reloaded from the compacted Parquet (EventBridge Scheduler,
    #: UTC): cron(...) or rate(...); "" = no schedule (load by hand, see docs/redshift.md).
    #: Default: 04:30, after the compaction job's usual night run.
    load_schedule: str = field(default="cron(30 4 * * ? *)", metadata=_check(
        lambda v: None if v == "" or _SCHEDULE_RE.match(v) else
        f"must be an EventBridge Scheduler cron(...) or rate(...) expression, or empty, got {v!r}",
        "empty or an EventBridge Scheduler cron(...) or rate(...) expression"))
    #: Export the user-activity log (every query's text) besides the connection and user logs.
    user_activity_log: bool = True


def cross_checks(section: RedshiftConfig, *, env_name: str, network_enabled: bool,
                 az_count: int) -> list[tuple[str, str]]:
    """``(field, problem)`` pairs for rules that span ``section`` and the rest of the environment
    (empty when the section is off or fine)."""
    if not section.enabled:
        return []
    problems: list[tuple[str, str]] = []
    if env_name == "local":
        problems.append(("enabled", "the emulator cannot create Redshift Serverless workgroups "
                                    "(Redshift is validate-only there): keep it off in local"))
    if not network_enabled:
        problems.append(("enabled", "needs [network] enabled = true (the workgroup lives in the private subnets)"))
    elif az_count < MIN_AVAILABILITY_ZONES:
        problems.append(("enabled", f"Redshift Serverless needs subnets in at least {MIN_AVAILABILITY_ZONES} "
                                    f"availability zones: set [network] availability_zones >= "
                                    f"{MIN_AVAILABILITY_ZONES}, got {az_count}"))
    if section.max_capacity_rpus < section.base_capacity_rpus:
        problems.append(("max_capacity_rpus", f"must be at least base_capacity_rpus "
                                              f"({section.base_capacity_rpus}), got {section.max_capacity_rpus}"))
    if section.external_schema == section.curated_schema:
        problems.append(("curated_schema", f"must differ from external_schema ({section.external_schema!r})"))
    return problems
