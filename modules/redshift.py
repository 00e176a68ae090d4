"""The data warehouse: Amazon Redshift Serverless over the clean zone.

``Warehouse`` builds
* a **namespace** (the storage half): encrypted with the environment key; the admin password is
  created and rotated by Redshift in **Secrets Manager** (``manage_admin_password``; the secret is
  encrypted with the same key), so no password exists in code, config or Terraform state; the
  Spectrum role attached and made the default; connection/user(/user-activity) logs exported to
  CloudWatch log groups the construct creates first (retention, KMS);
* a **workgroup** (the compute half): in the given private subnets only (at least three, in three
  availability zones, as Redshift Serverless requires), ``publicly_accessible = false``,
  enhanced VPC routing, its own security group admitting 5439 from the client groups only,
  capacity between ``base_capacity_rpus`` and ``max_capacity_rpus``, ``require_ssl`` on;
* the **Spectrum role** (trusted by ``redshift.amazonaws.com`` and
  ``redshift-serverless.amazonaws.com``, as Redshift Serverless asks): reads the Glue catalog's
  clean database and its tables, the clean bucket's objects, decrypts with the environment key;
* **SQL through the Redshift Data API** (``aws_redshiftdata_statement``, authenticated with the
  namespace's managed admin secret, at deploy time only): the external schema over the clean Glue
  database, the curated schema and one table per dataset, and the **loader**: a database role
  (``loader_role``, created through an idempotent stored procedure, :func:`ensure_role_sql`)
  granted only what the load needs (:func:`loader_grant_statements`: ``USAGE``/``CREATE`` on the
  curated schema, ``SELECT``/``INSERT``/``DELETE``/``DROP`` on its tables, ``ASSUMEROLE`` of the
  Spectrum role for ``COPY``). Every statement is idempotent: the provider re-runs a statement
  whenever it replaces it — also when the Data API has forgotten the statement id (after about a
  day), which happens on a later apply — so nothing here may drop or rewrite data;
* the **curated load** (``load_schedule``): an EventBridge Scheduler schedule per dataset calls
  the Data API's ``BatchExecuteStatement`` (one transaction) with :func:`load_statements`:
  rebuild ``<curated>.<dataset>`` from the compacted Parquet with ``COPY`` into a fresh table and
  swap it in. It runs **as the scheduler role's own database user**, never the admin: with no
  secret in the call, the Data API signs in to Redshift Serverless with temporary credentials
  for the caller's IAM identity (``redshift-serverless:GetCredentials``), the database user
  ``IAMR:<scheduler role name>``, created at its first sign-in and given the database roles its
  IAM role's ``RedshiftDbRoles`` tag names (the loader role). The scheduler role cannot read
  the admin secret. Re-running is harmless (the result is the same), readers never see a half
  load, and a contract change reshapes the table at the next load. See ``docs/redshift.md`` for
  why COPY and not a Spectrum view today.

Redshift cannot run on the emulator: the construct is proven by ``terraform validate`` and synth
assertions only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from cdktf import TerraformOutput, Token
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.redshiftdata_statement import RedshiftdataStatement
from cdktf_cdktf_provider_aws.redshiftserverless_namespace import RedshiftserverlessNamespace
from cdktf_cdktf_provider_aws.redshiftserverless_workgroup import (
    RedshiftserverlessWorkgroup,
    RedshiftserverlessWorkgroupConfigParameter,
)
from cdktf_cdktf_provider_aws.scheduler_schedule import (
    SchedulerSchedule,
    SchedulerScheduleFlexibleTimeWindow,
    SchedulerScheduleTarget,
    SchedulerScheduleTargetDeadLetterConfig,
    SchedulerScheduleTargetRetryPolicy,
)
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from constructs import Construct

from glue.specs import DatasetSpec

from .kms import key_use_via
from .lifecycle import destroy_guard
from .logs import LogGroup
from .policy import Statement, policy_json
from .services.common import ServiceSecurityGroup

__all__ = [
    "DEFAULT_CONFIG_PARAMETERS", "LOADER_ROLE", "LOG_TYPES", "MIN_SUBNETS", "PORT", "Warehouse",
    "create_schema_sql", "create_table_sql", "curated_columns", "ensure_role_sql", "external_schema_sql",
    "iam_role_db_user", "load_statements", "loader_grant_statements", "quote_ident", "redshift_type",
    "scheduler_statements", "scheduler_trust_policy", "spectrum_statements", "spectrum_trust_policy",
]

PORT = 5439
HTTPS = 443
#: Redshift Serverless needs subnets in at least three availability zones.
MIN_SUBNETS = 3
RPU_STEP = 8
BASE_RPUS = (8, 512)
MAX_RPUS = (8, 5632)
#: What a namespace can export to CloudWatch Logs (``/aws/redshift/<namespace>/<type>``).
LOG_TYPES = ("connectionlog", "userlog", "useractivitylog")
#: Every workgroup configuration parameter at the value AWS reads back for a new workgroup:
#: the API returns all of them, so naming only some would show a diff on every plan.
#: ``require_ssl`` and ``enable_user_activity_logging`` are set by the construct.
DEFAULT_CONFIG_PARAMETERS: Mapping[str, str] = {
    "auto_mv": "true",
    "datestyle": "ISO, MDY",
    "enable_case_sensitive_identifier": "false",
    "max_query_execution_time": "14400",
    "query_group": "default",
    "search_path": "$user, public",
    "use_fips_ssl": "false",
}
#: EventBridge Scheduler's universal target for the Data API (one transaction of statements).
BATCH_EXECUTE_TARGET = "arn:aws:scheduler:::aws-sdk:redshiftdata:batchExecuteStatement"
#: The database role the curated load runs with (granted through the IAM role's tag).
LOADER_ROLE = "pipeline_loader"
#: The IAM principal tag Redshift Serverless reads at sign-in (GetCredentials): ``:``-separated
#: database roles granted to the IAM identity's database user.
DB_ROLES_TAG = "RedshiftDbRoles"
#: The stored procedure that creates a database role once (CREATE ROLE has no IF NOT EXISTS).
ENSURE_ROLE_PROCEDURE = "pipeline_kit_ensure_role"
#: Redshift VARCHAR lengths are bytes: four per character covers any UTF-8 text.
VARCHAR_MAX = 65535
PII_TOKEN_LENGTH = 64

_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{2,50}$")
_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]{0,126}$")
_SCHEDULE_RE = re.compile(r"^(?:cron\([^()]+\)|rate\(\d+ (?:minute|minutes|hour|hours|day|days)\))$")
_SIMPLE_TYPES = {"bigint": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMP", "boolean": "BOOLEAN"}
_DECIMAL_RE = re.compile(r"^decimal\((\d+),(\d+)\)$")


# ---------------------------------------------------------------------------------------------
# pure helpers: SQL and policies
# ---------------------------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """``name`` as a quoted Redshift identifier; only lower-case letters, digits and ``_``."""
    if not _IDENT_RE.match(name):
        raise ValueError(f"{name!r} is not a safe Redshift identifier (lower-case letters, digits and '_')")
    return f'"{name}"'


def _sql_literal(text: str) -> str:
    if "'" in text or "\\" in text:
        raise ValueError(f"{text!r} cannot be used inside a SQL string literal")
    return f"'{text}'"


def redshift_type(glue_type: str, *, pii: bool = False, max_length: int | None = None) -> str:
    """The Redshift column type of a Glue type (``glue.specs.glue_columns``): strings are
    VARCHAR of 4 bytes per character (``max_length``) or the maximum, PII tokens VARCHAR(64)."""
    if pii:
        return f"VARCHAR({PII_TOKEN_LENGTH})"
    if glue_type == "string":
        return f"VARCHAR({min(4 * max_length, VARCHAR_MAX) if max_length else VARCHAR_MAX})"
    if glue_type in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[glue_type]
    m = _DECIMAL_RE.match(glue_type)
    if m:
        return f"DECIMAL({m.group(1)},{m.group(2)})"
    raise ValueError(f"no Redshift type for Glue type {glue_type!r}")


def curated_columns(dataset: Any) -> list[tuple[str, str]]:
    """``[(column, Redshift type)]`` of a curated table: the contract's columns in contract order,
    exactly the columns of the compacted Parquet files (the ``date`` partition is only in their
    path, so it is not a column here)."""
    spec = DatasetSpec.of(dataset)
    return [(c.glue_name, redshift_type(c.glue_type, pii=c.pii, max_length=c.max_length)) for c in spec.columns]


def external_schema_sql(*, schema: str, glue_database: str, role_arn: str) -> str:
    """``CREATE EXTERNAL SCHEMA IF NOT EXISTS`` over a Glue database (``role_arn`` may be a token)."""
    if not _IDENT_RE.match(glue_database):
        raise ValueError(f"{glue_database!r} is not a Glue database name (lower-case letters, digits and '_')")
    return (f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {quote_ident(schema)} FROM DATA CATALOG "
            f"DATABASE '{glue_database}' IAM_ROLE '{role_arn}'")


def create_schema_sql(schema: str) -> str:
    return f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}"


def _column_list(columns: Sequence[tuple[str, str]]) -> str:
    if not columns:
        raise ValueError("a curated table needs at least one column")
    return ", ".join(f"{quote_ident(n)} {t}" for n, t in columns)


def create_table_sql(*, schema: str, table: str, columns: Sequence[tuple[str, str]]) -> str:
    """``CREATE TABLE IF NOT EXISTS``: never replaces a table that exists (the load reshapes it)."""
    return f"CREATE TABLE IF NOT EXISTS {quote_ident(schema)}.{quote_ident(table)} ({_column_list(columns)})"


def iam_role_db_user(role_name: str) -> str:
    """The database user Redshift Serverless maps an IAM role to (Data API / GetCredentials with
    no secret): ``IAMR:<role name>``."""
    return f"IAMR:{role_name}"


def ensure_role_sql(schema: str = "public") -> str:
    """``CREATE OR REPLACE PROCEDURE <schema>.pipeline_kit_ensure_role(name)``: creates the database
    role ``name`` unless it exists. ``CREATE ROLE`` has no ``IF NOT EXISTS``, and every statement
    Terraform runs must be safe to run again: ``CALL`` this instead."""
    return (f"CREATE OR REPLACE PROCEDURE {quote_ident(schema)}.{quote_ident(ENSURE_ROLE_PROCEDURE)}"
            "(p_role VARCHAR(127)) AS $kit$ BEGIN "
            "IF NOT EXISTS (SELECT 1 FROM svv_roles WHERE role_name = p_role) THEN "
            "EXECUTE 'CREATE ROLE ' || quote_ident(p_role); END IF; "
            "END; $kit$ LANGUAGE plpgsql")


def loader_grant_statements(*, role: str, schema: str, tables: Sequence[str], spectrum_role_arn: str) -> dict[str, str]:
    """``{statement id: SQL}`` of what the loader role may do, and nothing more: use and create
    tables in the curated ``schema``; read, write, empty and drop its ``tables`` (the load swaps
    in a fresh table, which the loader then owns); assume the Spectrum/COPY role for ``COPY``
    only. Idempotent (a GRANT given twice is the same grant)."""
    qr, qs = quote_ident(role), quote_ident(schema)
    out = {
        "loader-role": f"CALL public.{quote_ident(ENSURE_ROLE_PROCEDURE)}({_sql_literal(role)})",
        "loader-schema": f"GRANT USAGE, CREATE ON SCHEMA {qs} TO ROLE {qr}",
        "loader-copy-role": f"GRANT ASSUMEROLE ON {_sql_literal(spectrum_role_arn)} TO ROLE {qr} FOR COPY",
    }
    for table in tables:
        out[f"loader-table-{table}"] = (f"GRANT SELECT, INSERT, DELETE, DROP ON TABLE {qs}.{quote_ident(table)} "
                                        f"TO ROLE {qr}")
    return out


def load_statements(*, schema: str, table: str, columns: Sequence[tuple[str, str]], source_uri: str,
                    role_arn: str) -> list[str]:
    """The curated load of one table, run as one transaction (``BatchExecuteStatement``):
    COPY every compacted Parquet file under ``source_uri`` into a fresh ``<table>__load``, then
    swap it in. Idempotent (the same files give the same table), atomic for readers, and a
    changed column list reshapes the table. Views over it must be late-binding
    (``WITH NO SCHEMA BINDING``): the swap drops the old table."""
    if not source_uri.startswith("s3://") or not source_uri.endswith("/"):
        raise ValueError(f"source_uri must be an s3:// prefix ending in '/', got {source_uri!r}")
    staging = f"{table}__load"
    qs, qt, qstage = quote_ident(schema), quote_ident(table), quote_ident(staging)
    return [
        f"DROP TABLE IF EXISTS {qs}.{qstage}",
        f"CREATE TABLE {qs}.{qstage} ({_column_list(columns)})",
        f"COPY {qs}.{qstage} FROM {_sql_literal(source_uri)} IAM_ROLE '{role_arn}' FORMAT AS PARQUET",
        f"DROP TABLE IF EXISTS {qs}.{qt}",
        f"ALTER TABLE {qs}.{qstage} RENAME TO {qt}",
    ]


def spectrum_trust_policy() -> str:
    """Redshift Serverless assumes the role as either service principal."""
    return policy_json([Statement(
        sid="RedshiftAssumeRole", effect="Allow", actions=["sts:AssumeRole"],
        principals={"Service": ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]})])


def spectrum_statements(*, region: str, account_id: str, glue_database: str, clean_bucket_arn: str,
                        kms_key_arn: str, partition: str = "aws") -> list[Statement]:
    """Read the clean Glue database (catalog, database, its tables) and the clean bucket; decrypt
    its objects through S3 only."""
    glue = f"arn:{partition}:glue:{region}:{account_id}"
    return [
        Statement(sid="ReadCleanCatalog", effect="Allow",
                  actions=["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                           "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"],
                  resources=[f"{glue}:catalog", f"{glue}:database/{glue_database}",
                             f"{glue}:table/{glue_database}/*"]),
        Statement(sid="ListCleanBucket", effect="Allow", actions=["s3:ListBucket", "s3:GetBucketLocation"],
                  resources=[clean_bucket_arn]),
        Statement(sid="ReadCleanObjects", effect="Allow", actions=["s3:GetObject"],
                  resources=[f"{clean_bucket_arn}/*"]),
        key_use_via(sid="DecryptThroughS3", key_arn=kms_key_arn, region=region, services=["s3"],
                    actions=["kms:Decrypt"]),
    ]


def scheduler_trust_policy(account_id: str) -> str:
    return policy_json([Statement(
        sid="SchedulerAssumeRole", effect="Allow", actions=["sts:AssumeRole"],
        principals={"Service": "scheduler.amazonaws.com"},
        conditions={"StringEquals": {"aws:SourceAccount": account_id}})])


def scheduler_statements(*, workgroup_arn: str, kms_key_arn: str, region: str,
                         dead_letter_queue_arn: str | None = None) -> list[Statement]:
    """Run statements on exactly this workgroup as the role's own database user: the Data API
    gets temporary credentials for it (``GetCredentials``). No secret. The key only through
    EventBridge Scheduler, which decrypts the schedule's input (encrypted with it) as this role."""
    statements = [
        Statement(sid="RunLoadStatements", effect="Allow", actions=["redshift-data:BatchExecuteStatement"],
                  resources=[workgroup_arn]),
        Statement(sid="SignInAsItsOwnDatabaseUser", effect="Allow", actions=["redshift-serverless:GetCredentials"],
                  resources=[workgroup_arn]),
        key_use_via(sid="DecryptScheduleInput", key_arn=kms_key_arn, region=region, services=["scheduler"],
                    actions=["kms:Decrypt"]),
    ]
    if dead_letter_queue_arn:
        statements.append(Statement(sid="DeadLetters", effect="Allow", actions=["sqs:SendMessage"],
                                    resources=[dead_letter_queue_arn]))
    return statements


def _check_rpus(name: str, what: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi or value % RPU_STEP:
        raise ValueError(f"warehouse {name}: {what} must be {lo}-{hi} RPUs in steps of {RPU_STEP}, got {value}")



# ---------------------------------------------------------------------------------------------
# the construct
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CuratedTable:
    """What the warehouse knows about one curated table."""

    dataset: str
    table: str
    columns: tuple[tuple[str, str], ...]
    source_uri: str


class Warehouse(Construct):
    """Redshift Serverless over the clean zone (see the module doc).

    Exposes ``.namespace``, ``.workgroup``, ``.security_group``, ``.ingress_rules``,
    ``.egress_rules``, ``.spectrum_role`` (+ ``.spectrum_policy``), ``.log_groups`` (by log
    type), ``.statements`` (``external-schema``, ``curated-schema``, ``table-<dataset>``, and
    with a schedule the loader's: ``loader-procedure``, ``loader-role``, ``loader-schema``,
    ``loader-copy-role``, ``loader-table-<table>``), ``.tables`` (``CuratedTable`` by dataset),
    ``.scheduler_role`` (None without ``load_schedule``), ``.loader_db_user`` (the database user
    the load runs as) and ``.schedules`` (by dataset; empty without ``load_schedule``),
    ``.outputs``, and ``.admin_secret_arn``. ``loader_role``: the database role of the load.

    ``subnet_ids``: private subnets in at least three availability zones. ``vpc_cidr`` and
    ``s3_prefix_list_id``: where the workgroup may open HTTPS (interface endpoints in the VPC, the
    S3 gateway endpoint) — with enhanced VPC routing, COPY and Spectrum go through them.
    ``extra_security_group_ids``: more groups for the workgroup (e.g. one the interface endpoints
    admit). ``prevent_destroy`` guards the namespace (the data). ``datasets``: loaded contracts or
    ``glue.specs.DatasetSpec``; each gets ``<curated_schema>.<table_name>``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        kms_key_arn: str,
        vpc_id: str,
        vpc_cidr: str,
        subnet_ids: Sequence[str],
        client_security_group_ids: Sequence[str],
        base_capacity_rpus: int,
        max_capacity_rpus: int,
        database_name: str,
        admin_username: str,
        enhanced_vpc_routing: bool,
        clean_bucket_arn: str,
        clean_bucket_name: str,
        glue_database_name: str,
        region: str,
        account_id: str,
        datasets: Sequence[Any],
        prevent_destroy: bool,
        log_retention_days: int,
        log_exports: Sequence[str] = LOG_TYPES,
        external_schema: str = "lake",
        curated_schema: str = "curated",
        parquet_prefix: str = "parquet",
        load_schedule: str | None = None,
        s3_prefix_list_id: str | None = None,
        extra_security_group_ids: Sequence[str] = (),
        dead_letter_queue_arn: str | None = None,
        loader_role: str = LOADER_ROLE,
        partition: str = "aws",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not _NAME_RE.match(name):
            raise ValueError(f"warehouse {name!r}: name must be 3-51 lower-case letters, digits or '-', "
                             "starting with a letter (namespace and workgroup names)")
        _check_rpus(name, "base_capacity_rpus", base_capacity_rpus, *BASE_RPUS)
        _check_rpus(name, "max_capacity_rpus", max_capacity_rpus, *MAX_RPUS)
        if base_capacity_rpus > max_capacity_rpus:
            raise ValueError(f"warehouse {name}: base_capacity_rpus ({base_capacity_rpus}) exceeds "
                             f"max_capacity_rpus ({max_capacity_rpus})")
        subnets = list(subnet_ids)
        if len(subnets) < MIN_SUBNETS:
            raise ValueError(f"warehouse {name}: Redshift Serverless needs at least {MIN_SUBNETS} private subnets "
                             f"in {MIN_SUBNETS} availability zones, got {len(subnets)}")
        literal = [s for s in subnets if not Token.is_unresolved(s)]
        if len(set(literal)) != len(literal):
            raise ValueError(f"warehouse {name}: a subnet is listed twice ({', '.join(sorted(literal))})")
        clients = list(client_security_group_ids)
        if not clients:
            raise ValueError(f"warehouse {name}: needs at least one client security group (nothing could connect)")
        unknown = sorted(set(log_exports) - set(LOG_TYPES))
        if unknown:
            raise ValueError(f"warehouse {name}: unknown log export(s) {', '.join(unknown)} "
                             f"(allowed: {', '.join(LOG_TYPES)})")
        if load_schedule is not None and load_schedule != "" and not _SCHEDULE_RE.match(load_schedule):
            raise ValueError(f"warehouse {name}: load_schedule must be cron(...) or rate(...), got {load_schedule!r}")
        for ident in (database_name, admin_username, external_schema, curated_schema, loader_role):
            quote_ident(ident)
        if external_schema == curated_schema:
            raise ValueError(f"warehouse {name}: external_schema and curated_schema must differ")
        specs = sorted((DatasetSpec.of(d) for d in datasets), key=lambda s: s.name)
        tables = [s.table_name for s in specs]
        if len(set(tables)) != len(tables):
            raise ValueError(f"warehouse {name}: two datasets share a table name ({', '.join(tables)})")
        tags = dict(tags or {})

        # -- the Spectrum / COPY role --------------------------------------------------------
        self.spectrum_role = IamRole(self, "spectrum-role", name=f"{name}-spectrum",
                                     description="Redshift Spectrum and COPY: reads the clean zone",
                                     assume_role_policy=spectrum_trust_policy(), tags=tags or None)
        self.spectrum_policy = IamRolePolicy(
            self, "spectrum-policy", name=f"{name}-spectrum-read-clean", role=self.spectrum_role.id,
            policy=policy_json(spectrum_statements(region=region, account_id=account_id,
                                                   glue_database=glue_database_name,
                                                   clean_bucket_arn=clean_bucket_arn, kms_key_arn=kms_key_arn,
                                                   partition=partition)))

        # -- logs: created first, so Redshift writes into encrypted groups with a retention ----
        self.log_groups = {
            t: LogGroup(self, f"log-{t}", name=f"/aws/redshift/{name}/{t}", retention_days=log_retention_days,
                        kms_key_arn=kms_key_arn)
            for t in log_exports
        }

        # -- namespace --------------------------------------------------------------------------
        self.namespace = RedshiftserverlessNamespace(
            self, "namespace",
            namespace_name=name,
            db_name=database_name,
            admin_username=admin_username,
            manage_admin_password=True,
            admin_password_secret_kms_key_id=kms_key_arn,
            kms_key_id=kms_key_arn,
            iam_roles=[self.spectrum_role.arn],
            default_iam_role_arn=self.spectrum_role.arn,
            log_exports=list(log_exports) or None,
            tags=tags or None,
            depends_on=[lg.log_group for lg in self.log_groups.values()] + [self.spectrum_policy],
            lifecycle=destroy_guard(prevent_destroy),
        )
        self.admin_secret_arn = self.namespace.admin_password_secret_arn

        # -- network: the workgroup's own security group ---------------------------------------
        sg = ServiceSecurityGroup(self, "security-group", name=f"{name}-workgroup",
                                  description=f"Redshift Serverless {name}: {PORT} from the client groups only",
                                  vpc_id=vpc_id, port=PORT, client_security_group_ids=clients, tags=tags)
        self.security_group, self.ingress_rules = sg.group, sg.ingress
        self.egress_rules = [
            VpcSecurityGroupEgressRule(self, "egress-vpc-https", security_group_id=self.security_group.id,
                                       cidr_ipv4=vpc_cidr, ip_protocol="tcp", from_port=HTTPS, to_port=HTTPS,
                                       description="HTTPS to the interface endpoints (Glue, KMS, ...)"),
        ]
        if s3_prefix_list_id:
            self.egress_rules.append(VpcSecurityGroupEgressRule(
                self, "egress-s3-https", security_group_id=self.security_group.id, prefix_list_id=s3_prefix_list_id,
                ip_protocol="tcp", from_port=HTTPS, to_port=HTTPS,
                description="HTTPS to S3 through the gateway endpoint (COPY, Spectrum)"))

        # -- workgroup --------------------------------------------------------------------------
        parameters = {**DEFAULT_CONFIG_PARAMETERS, "require_ssl": "true",
                      "enable_user_activity_logging": "true" if "useractivitylog" in log_exports else "false"}
        self.workgroup = RedshiftserverlessWorkgroup(
            self, "workgroup",
            namespace_name=self.namespace.namespace_name,
            workgroup_name=name,
            base_capacity=base_capacity_rpus,
            max_capacity=max_capacity_rpus,
            enhanced_vpc_routing=enhanced_vpc_routing,
            publicly_accessible=False,
            port=PORT,
            subnet_ids=subnets,
            security_group_ids=[self.security_group.id, *extra_security_group_ids],
            config_parameter=[RedshiftserverlessWorkgroupConfigParameter(parameter_key=k, parameter_value=v)
                              for k, v in sorted(parameters.items())],
            tags=tags or None,
        )

        # -- SQL through the Data API (idempotent: see the module doc) -------------------------
        def statement(sid: str, sql: str, after: list[Any]) -> RedshiftdataStatement:
            return RedshiftdataStatement(
                self, sid, workgroup_name=self.workgroup.workgroup_name, database=database_name,
                secret_arn=self.namespace.admin_password_secret_arn, sql=sql,
                statement_name=f"{name}-{sid}", depends_on=[self.workgroup, *after])

        self.statements: dict[str, RedshiftdataStatement] = {}
        self.statements["external-schema"] = statement(
            "external-schema",
            external_schema_sql(schema=external_schema, glue_database=glue_database_name,
                                role_arn=self.spectrum_role.arn), [])
        self.statements["curated-schema"] = statement("curated-schema", create_schema_sql(curated_schema), [])
        self.tables: dict[str, CuratedTable] = {}
        prefix = parquet_prefix.strip("/")
        for spec in specs:
            table = CuratedTable(dataset=spec.name, table=spec.table_name, columns=tuple(curated_columns(spec)),
                                 source_uri=f"s3://{clean_bucket_name}/{prefix}/dataset={spec.name}/")
            self.tables[spec.name] = table
            self.statements[f"table-{spec.name}"] = statement(
                f"table-{spec.name}",
                create_table_sql(schema=curated_schema, table=table.table, columns=table.columns),
                [self.statements["curated-schema"]])

        # -- the scheduled curated load, as the loader (never the admin) ----------------------
        self.scheduler_role = None
        self.loader_db_user = None
        self.schedules: dict[str, SchedulerSchedule] = {}
        if load_schedule and self.tables:
            role_name = f"{name}-load-scheduler"
            self.loader_db_user = iam_role_db_user(role_name)
            self.scheduler_role = IamRole(self, "scheduler-role", name=role_name,
                                          description="EventBridge Scheduler: runs the curated loads as the loader",
                                          assume_role_policy=scheduler_trust_policy(account_id),
                                          # Redshift Serverless grants these database roles to the
                                          # role's database user at sign-in
                                          tags={**tags, DB_ROLES_TAG: loader_role})
            scheduler_policy = IamRolePolicy(
                self, "scheduler-policy", name=f"{name}-run-loads", role=self.scheduler_role.id,
                policy=policy_json(scheduler_statements(workgroup_arn=self.workgroup.arn, kms_key_arn=kms_key_arn,
                                                        region=region, dead_letter_queue_arn=dead_letter_queue_arn)))
            self.statements["loader-procedure"] = statement("loader-procedure", ensure_role_sql(), [])
            grants = loader_grant_statements(role=loader_role, schema=curated_schema,
                                             tables=[t.table for t in self.tables.values()],
                                             spectrum_role_arn=self.spectrum_role.arn)
            self.statements["loader-role"] = statement("loader-role", grants.pop("loader-role"),
                                                       [self.statements["loader-procedure"]])
            for sid, sql in grants.items():
                after = [self.statements["loader-role"], self.statements["curated-schema"]]
                table = sid.removeprefix("loader-table-")
                after += [self.statements[f"table-{t.dataset}"] for t in self.tables.values() if t.table == table]
                self.statements[sid] = statement(sid, sql, after)
            loader_ready = [self.statements[k] for k in self.statements if k.startswith("loader-")]
            for ds, table in self.tables.items():
                sqls = load_statements(schema=curated_schema, table=table.table, columns=table.columns,
                                       source_uri=table.source_uri, role_arn=self.spectrum_role.arn)
                self.schedules[ds] = SchedulerSchedule(
                    self, f"load-{ds}",
                    name=f"{name}-load-{ds.replace('_', '-')}"[:64],
                    description=f"Reload {curated_schema}.{table.table} from the compacted Parquet",
                    schedule_expression=load_schedule,
                    schedule_expression_timezone="UTC",
                    flexible_time_window=SchedulerScheduleFlexibleTimeWindow(mode="OFF"),
                    # the input (SQL, names) is encrypted with the environment key
                    kms_key_arn=kms_key_arn,
                    target=SchedulerScheduleTarget(
                        arn=BATCH_EXECUTE_TARGET,
                        role_arn=self.scheduler_role.arn,
                        # no SecretArn and no DbUser: temporary credentials for the caller's
                        # IAM identity, i.e. the loader's database user
                        input=json.dumps({
                            "WorkgroupName": self.workgroup.workgroup_name,
                            "Database": database_name,
                            "Sqls": sqls,
                            "StatementName": f"{name}-load-{ds}",
                            "WithEvent": True,
                        }, separators=(",", ":")),
                        retry_policy=SchedulerScheduleTargetRetryPolicy(maximum_retry_attempts=3,
                                                                        maximum_event_age_in_seconds=3600),
                        dead_letter_config=(SchedulerScheduleTargetDeadLetterConfig(arn=dead_letter_queue_arn)
                                            if dead_letter_queue_arn else None),
                    ),
                    depends_on=[scheduler_policy, self.statements[f"table-{ds}"], *loader_ready],
                )

        # -- outputs (none is a secret: the admin secret's ARN only names it) ------------------
        self.outputs = {
            "endpoint": TerraformOutput(self, "endpoint", value=self.workgroup.endpoint.get(0).address,
                                        description="Redshift Serverless endpoint (port 5439, SSL required)"),
            "namespace": TerraformOutput(self, "namespace-name", value=self.namespace.namespace_name,
                                         description="Redshift Serverless namespace"),
            "workgroup": TerraformOutput(self, "workgroup-name", value=self.workgroup.workgroup_name,
                                         description="Redshift Serverless workgroup"),
            "admin_secret_arn": TerraformOutput(self, "admin-secret-arn", value=self.namespace.admin_password_secret_arn,
                                                description="Secrets Manager secret holding the admin credentials"),
        }
