"""Glue Data Catalog and Schema Registry for the clean zone, generated from the dataset contracts.

- ``CatalogDatabases``: one database per zone (``<prefix>_raw``, ``<prefix>_clean``);
- ``DatasetTable``: one table per dataset over ``s3://<clean>/dataset=<name>/``, partitioned by
  ``date`` with **Athena partition projection**, so Athena queries new data at once, no crawl, no
  ``MSCK REPAIR``; ``CompactedTable``: the same over the Parquet the ETL job writes;
- ``DatasetCrawler`` (+ ``CrawlerRole``): a crawler per dataset writing ``crawled_*`` tables (drift
  detection, schema discovery), never touching the generated tables, never deleting anything;
- ``GlueEncryption``: the environment's Glue security configuration (S3 writes SSE-KMS and Glue's
  CloudWatch logs with the environment key, job bookmarks CSE-KMS with a key of their own),
  attached to every crawler and job;
- ``SchemaRegistry``: a registry per environment, one ``BACKWARD`` JSON schema per dataset.

**Glue roles, least privilege.** No role holds the AWS-managed ``AWSGlueServiceRole`` (``glue:*`` on
``*``, every ``aws-glue-*`` bucket): each role gets inline statements naming this environment's
catalog objects, prefixes and keys, plus :func:`glue_runtime_statements` (its own encrypted log
groups under ``/aws-glue/``, whose names hold the security configuration's name; metrics in the
``Glue`` namespace; the security configuration read, which accepts ``"*"`` only).

Every construct takes a dataset as a loaded contract or a ``glue.specs.DatasetSpec``;
``glue.specs.shipped_specs()`` loads the shipped contracts. The pure mapping functions
(``glue_columns``, ``contract_json_schema``, ``table_definition``, ``csv_quote_risk``) are
importable and testable without synthesizing anything.

**The clean CSV SerDe.** cleanse writes comma-separated CSV with a header and minimal quoting (a
value holding ``,``, ``"`` or a line break is quoted), a missing value as an empty field, ISO dates
and UTC timestamps ending in ``Z``. Athena's Open CSV SerDe unquotes but cannot read an empty
numeric field (``HIVE_BAD_DATA``), ISO timestamps or ISO dates into typed columns; the Lazy Simple
SerDe reads all of those (empty → NULL with ``serialization.null.format = ""``, timestamps with
``timestamp.formats``) but does not unquote. So: when no column of the contract can ever hold a
value that needs quoting (``csv_quote_risk``: every column is typed non-string, tokenised PII, an
``allowed`` list or a ``pattern`` that provably excludes ``,``, ``"`` and line breaks — true of
every shipped contract) the table uses the **Lazy Simple SerDe with the contract's types**;
otherwise the **Open CSV SerDe with every column ``string``** (always readable; cast in the query,
or read the typed Parquet table). Both skip the header (``skip.header.line.count = 1``).
JSON Lines use the OpenX JSON SerDe with the same ``timestamp.formats``.

Terraform interpolates ``${…}`` and ``%{…}`` inside any string, so literal text that may hold them
(``storage.location.template``, schema definitions, descriptions) is escaped (``tf_literal``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.glue_catalog_database import GlueCatalogDatabase
from cdktf_cdktf_provider_aws.glue_catalog_table import (
    GlueCatalogTable,
    GlueCatalogTablePartitionKeys,
    GlueCatalogTableStorageDescriptor,
    GlueCatalogTableStorageDescriptorColumns,
    GlueCatalogTableStorageDescriptorSerDeInfo,
)
from cdktf_cdktf_provider_aws.glue_crawler import GlueCrawler, GlueCrawlerS3Target, GlueCrawlerSchemaChangePolicy
from cdktf_cdktf_provider_aws.glue_registry import GlueRegistry
from cdktf_cdktf_provider_aws.glue_schema import GlueSchema
from cdktf_cdktf_provider_aws.glue_security_configuration import (
    GlueSecurityConfiguration,
    GlueSecurityConfigurationEncryptionConfiguration,
    GlueSecurityConfigurationEncryptionConfigurationCloudwatchEncryption,
    GlueSecurityConfigurationEncryptionConfigurationJobBookmarksEncryption,
    GlueSecurityConfigurationEncryptionConfigurationS3Encryption,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from glue.specs import (
    PARTITION_KEY,
    DatasetSpec,
    contract_json_schema,
    glue_columns,
    schema_text,
)

from .kms import key_use_via
from .policy import Statement, policy_json

__all__ = [
    "CatalogDatabases", "CompactedTable", "CrawlerRole", "DatasetCrawler", "DatasetTable", "GlueEncryption",
    "GlueServiceRole", "SchemaRegistry", "TableDefinition", "catalog_arns", "compacted_table_definition",
    "contract_json_schema", "crawler_configuration", "crawler_statements", "csv_quote_risk", "glue_columns",
    "glue_database_name", "glue_runtime_statements", "glue_trust_policy", "pattern_is_quote_free", "registry_name",
    "schema_definitions", "table_definition", "tf_literal", "validate_schedule",
]

#: The CloudWatch namespace Glue jobs publish their metrics in (``--enable-metrics``).
GLUE_METRICS_NAMESPACE = "Glue"
PROJECTION_START = "2020-01-01"
CRAWLED_TABLE_PREFIX = "crawled_"
#: what cleanse writes for a timestamp: seconds, or microseconds when there are any, always UTC "Z"
TIMESTAMP_FORMATS = "yyyy-MM-dd'T'HH:mm:ss'Z',yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"

TEXT_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

_GLUE_NAME_RE = re.compile(r"^[a-z0-9_]{1,255}$")
_SCHEDULE_RE = re.compile(r"^cron\([^()]+\)$")


# ---------------------------------------------------------------------------------------------
# pure helpers
# ---------------------------------------------------------------------------------------------


def tf_literal(text: str) -> str:
    """``text`` as a Terraform string literal: ``${`` → ``$${``, ``%{`` → ``%%{``.

    Only for literal text: never pass a string that holds a cdktf token through it."""
    return text.replace("${", "$${").replace("%{", "%%{")


def glue_database_name(name_prefix: str, zone: str) -> str:
    """``pk-dev`` + ``raw`` → ``pk_dev_raw`` (Glue/Athena: lower-case letters, digits, ``_``)."""
    name = f"{name_prefix}_{zone}".lower().replace("-", "_")
    if not _GLUE_NAME_RE.match(name):
        raise ValueError(f"{name!r} is not a valid Glue database name (lower-case letters, digits and '_')")
    return name


def registry_name(name_prefix: str) -> str:
    """The environment's schema registry: ``pk-dev`` → ``pk-dev-datasets``."""
    return f"{name_prefix}-datasets"


def validate_schedule(schedule: str | None, what: str) -> str | None:
    """None for no schedule (None or ""), else the expression; Glue takes ``cron(...)`` only."""
    if not schedule:
        return None
    if not _SCHEDULE_RE.match(schedule.strip()):
        raise ValueError(
            f"{what}: Glue schedules are cron(...) expressions (e.g. 'cron(0 2 * * ? *)'), got {schedule!r}"
        )
    return schedule.strip()


def glue_trust_policy() -> str:
    return policy_json([Statement(sid="GlueAssumeRole", effect="Allow", principals={"Service": "glue.amazonaws.com"},
                                  actions=["sts:AssumeRole"])])


# -- which columns may need CSV quoting ------------------------------------------------------

_UNSAFE_CODEPOINTS = (ord(","), ord('"'), ord("\n"), ord("\r"))
#: escapes that match only letters/digits/underscore, or one literal punctuation character
_SAFE_ESCAPES = set("dw") | set(".-_+()[]{}*?|^$/:#@=!&%<>~ ")


def _range_safe(low: int, high: int) -> bool:
    return not any(low <= cp <= high for cp in _UNSAFE_CODEPOINTS)


def _class_safe(body: str) -> bool:
    """A character class body (between ``[`` and ``]``, not negated) excludes ``,`` ``"`` and
    line breaks."""
    items: list[int | None] = []  # code points; None for \d \w
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body):
                return False
            nxt = body[i + 1]
            if nxt in "dw":
                items.append(None)
            elif nxt in _SAFE_ESCAPES or nxt == "\\":
                items.append(ord(nxt))
            else:
                return False
            i += 2
            continue
        items.append(ord(ch))
        i += 1
    # ranges: a '-' between two literal code points
    for j, item in enumerate(items):
        if item is None:
            continue
        if item == ord("-") and 0 < j < len(items) - 1 and items[j - 1] is not None and items[j + 1] is not None:
            if not _range_safe(items[j - 1], items[j + 1]):  # type: ignore[arg-type]
                return False
        elif not _range_safe(item, item):
            return False
    return True


def pattern_is_quote_free(pattern: str) -> bool:
    """Whether every string ``pattern`` (fully) matches is free of ``,``, ``"`` and line breaks.
    Conservative: anything not understood (``.``, negated classes, ``\\s``, ``\\S``, …) is False."""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                return False
            nxt = pattern[i + 1]
            if nxt not in _SAFE_ESCAPES and nxt not in "\\b":
                return False
            i += 2
            continue
        if ch == "[":
            end = i + 1
            if end < len(pattern) and pattern[end] == "^":
                return False
            if end < len(pattern) and pattern[end] == "]":
                end += 1
            while end < len(pattern) and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            if end >= len(pattern) or not _class_safe(pattern[i + 1:end]):
                return False
            i = end + 1
            continue
        if ch == "." or ord(ch) in _UNSAFE_CODEPOINTS:
            return False
        i += 1
    return True


def csv_quote_risk(contract: Any) -> list[str]:
    """Columns whose clean CSV text may need quoting (see the module doc); empty: none can."""
    spec = DatasetSpec.of(contract)
    risky = []
    for c in spec.columns:
        if c.pii or c.type != "string":
            continue
        if c.allowed is not None and all(_range_safe(ord(ch), ord(ch)) for v in c.allowed for ch in v):
            continue
        if c.pattern is not None and pattern_is_quote_free(c.pattern):
            continue
        risky.append(c.name)
    return risky


# -- table definitions ----------------------------------------------------------------------


@dataclass(frozen=True)
class TableDefinition:
    """Everything an ``aws_glue_catalog_table`` of one dataset says, as plain values."""

    name: str
    location: str
    columns: tuple[tuple[str, str, str], ...]  # (name, Glue type, comment)
    serde_library: str
    serde_parameters: Mapping[str, str]
    input_format: str
    output_format: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


def _comment(spec: DatasetSpec, name: str) -> str:
    c = spec.column(name)
    text = c.description
    if c.pii:
        text = (f"{text} " if text else "") + "(PII: HMAC-SHA256 token, hex)"
    return tf_literal(text[:255])


def _projection(location: str, projection_start: str) -> dict[str, str]:
    return {
        "projection.enabled": "true",
        f"projection.{PARTITION_KEY}.type": "date",
        f"projection.{PARTITION_KEY}.format": "yyyy-MM-dd",
        f"projection.{PARTITION_KEY}.range": f"{projection_start},NOW",
        f"projection.{PARTITION_KEY}.interval": "1",
        f"projection.{PARTITION_KEY}.interval.unit": "DAYS",
        # ${date} is Athena's placeholder, escaped from Terraform's interpolation
        "storage.location.template": f"{location}{PARTITION_KEY}=$${{{PARTITION_KEY}}}/",
    }


def table_definition(
    contract: Any,
    *,
    bucket_name: str,
    projection_start: str = PROJECTION_START,
    name: str | None = None,
) -> TableDefinition:
    """The clean-zone table of a dataset: location ``s3://<bucket>/dataset=<name>/``, its SerDe
    (see the module doc), columns, partition projection. ``bucket_name`` may be a token."""
    spec = DatasetSpec.of(contract)
    columns = glue_columns(spec)
    location = f"s3://{bucket_name}/dataset={spec.name}/"
    parameters = {"EXTERNAL": "TRUE", **_projection(location, projection_start)}
    if spec.format == "jsonl":
        parameters["classification"] = "json"
        serde, serde_params = OPENX_JSON_SERDE, {"case.insensitive": "TRUE", "ignore.malformed.json": "FALSE",
                                                 "timestamp.formats": TIMESTAMP_FORMATS}
    else:
        parameters["classification"] = "csv"
        parameters["skip.header.line.count"] = "1"
        if csv_quote_risk(spec):
            serde = OPEN_CSV_SERDE
            serde_params = {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"}
            columns = [(n, "string") for n, _ in columns]
        else:
            serde = LAZY_SIMPLE_SERDE
            serde_params = {"field.delim": ",", "serialization.format": ",", "serialization.null.format": "",
                            "timestamp.formats": TIMESTAMP_FORMATS}
    by_glue_name = {c.glue_name: c.name for c in spec.columns}
    return TableDefinition(
        name=name or spec.table_name,
        location=location,
        columns=tuple((n, t, _comment(spec, by_glue_name[n])) for n, t in columns),
        serde_library=serde,
        serde_parameters=serde_params,
        input_format=TEXT_INPUT_FORMAT,
        output_format=TEXT_OUTPUT_FORMAT,
        parameters=parameters,
        description=tf_literal(f"{spec.description} (clean zone, {spec.format}; generated from {spec.source})"
                               if spec.description else f"clean zone, {spec.format}; generated from {spec.source}"),
    )


def compacted_table_definition(
    contract: Any,
    *,
    bucket_name: str,
    parquet_prefix: str = "parquet",
    projection_start: str = PROJECTION_START,
    name: str | None = None,
) -> TableDefinition:
    """The Parquet table of a dataset at ``s3://<bucket>/<parquet_prefix>/dataset=<name>/``
    (what ``glue/compact_clean.py`` writes), contract types, partition projection."""
    spec = DatasetSpec.of(contract)
    location = f"s3://{bucket_name}/{parquet_prefix.strip('/')}/dataset={spec.name}/"
    by_glue_name = {c.glue_name: c.name for c in spec.columns}
    return TableDefinition(
        name=name or f"{spec.table_name}_parquet",
        location=location,
        columns=tuple((n, t, _comment(spec, by_glue_name[n])) for n, t in glue_columns(spec)),
        serde_library=PARQUET_SERDE,
        serde_parameters={"serialization.format": "1"},
        input_format=PARQUET_INPUT_FORMAT,
        output_format=PARQUET_OUTPUT_FORMAT,
        parameters={"EXTERNAL": "TRUE", "classification": "parquet", "parquet.compression": "SNAPPY",
                    **_projection(location, projection_start)},
        description=tf_literal(f"{spec.name}: compacted Parquet (Glue ETL); generated from {spec.source}"),
    )


def crawler_configuration() -> str:
    """One table per dataset (compatible schemas combined), partitions inherit the table's schema."""
    return ('{"Version":1.0,"Grouping":{"TableGroupingPolicy":"CombineCompatibleSchemas"},'
            '"CrawlerOutput":{"Partitions":{"AddOrUpdateBehavior":"InheritFromTable"}}}')


# ---------------------------------------------------------------------------------------------
# constructs
# ---------------------------------------------------------------------------------------------


class CatalogDatabases(Construct):
    """One Glue database per zone: ``.raw`` (``<prefix>_raw``) and ``.clean`` (``<prefix>_clean``)."""

    raw: GlueCatalogDatabase
    clean: GlueCatalogDatabase

    def __init__(self, scope: Construct, id: str, *, name_prefix: str) -> None:
        super().__init__(scope, id)
        self.raw = GlueCatalogDatabase(
            self, "raw", name=glue_database_name(name_prefix, "raw"),
            description="Raw zone (landing, archive) of the pipeline",
        )
        self.clean = GlueCatalogDatabase(
            self, "clean", name=glue_database_name(name_prefix, "clean"),
            description="Clean zone: tables generated from the dataset contracts (partition projection), "
                        "compacted Parquet tables, crawled_* tables",
        )


def _glue_table(scope: Construct, id: str, *, database_name: str, definition: TableDefinition) -> GlueCatalogTable:
    return GlueCatalogTable(
        scope, id,
        database_name=database_name,
        name=definition.name,
        description=definition.description,
        table_type="EXTERNAL_TABLE",
        parameters=dict(definition.parameters),
        partition_keys=[GlueCatalogTablePartitionKeys(name=PARTITION_KEY, type="string",
                                                      comment="partition: YYYY-MM-DD")],
        storage_descriptor=GlueCatalogTableStorageDescriptor(
            location=definition.location,
            input_format=definition.input_format,
            output_format=definition.output_format,
            ser_de_info=GlueCatalogTableStorageDescriptorSerDeInfo(
                name=f"{definition.name}-serde",
                serialization_library=definition.serde_library,
                parameters=dict(definition.serde_parameters),
            ),
            columns=[GlueCatalogTableStorageDescriptorColumns(name=n, type=t, comment=c or None)
                     for n, t, c in definition.columns],
        ),
    )


class DatasetTable(Construct):
    """The clean-zone table of one dataset (``.table``; ``.definition`` holds the plain values):
    ``EXTERNAL_TABLE`` at ``s3://<bucket_name>/dataset=<name>/``, partition key ``date``
    (string), the clean format's SerDe, partition projection from ``projection_start`` to NOW."""

    table: GlueCatalogTable
    definition: TableDefinition

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        database_name: str,
        dataset: Any,
        bucket_name: str,
        projection_start: str = PROJECTION_START,
        table_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.definition = table_definition(dataset, bucket_name=bucket_name, projection_start=projection_start,
                                           name=table_name)
        self.table = _glue_table(self, "table", database_name=database_name, definition=self.definition)


class CompactedTable(Construct):
    """The Parquet table of one dataset (``.table``, ``.definition``), where the compaction job
    writes: ``s3://<bucket_name>/<parquet_prefix>/dataset=<name>/date=<d>/``, projection as above."""

    table: GlueCatalogTable
    definition: TableDefinition

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        database_name: str,
        dataset: Any,
        bucket_name: str,
        parquet_prefix: str = "parquet",
        projection_start: str = PROJECTION_START,
        table_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.definition = compacted_table_definition(dataset, bucket_name=bucket_name, parquet_prefix=parquet_prefix,
                                                     projection_start=projection_start, name=table_name)
        self.table = _glue_table(self, "table", database_name=database_name, definition=self.definition)


def catalog_arns(*, region: str, account_id: str, database: str, tables: str = "*",
                 partition: str = "aws") -> list[str]:
    """The ARNs a Glue Data Catalog action on tables of ``database`` is authorised on: the
    catalog, the database and the tables (``tables``: a name or a pattern such as ``crawled_*``)."""
    glue = f"arn:{partition}:glue:{region}:{account_id}"
    return [f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/{tables}"]


def glue_runtime_statements(*, region: str, account_id: str, security_configuration: str | None,
                            metrics: bool, partition: str = "aws") -> list[Statement]:
    """What Glue does as the role while a crawler or job runs, and nothing more:

    * write its logs. With a security configuration that encrypts CloudWatch logs, Glue creates
      its log groups as the role, named after the configuration (``/aws-glue/crawlers-role/<role>-<conf>``,
      ``/aws-glue/jobs/<conf>-role/<role>/output``, ``/aws-glue/jobs/logs-v2-<conf>``) and attaches
      the key (``logs:AssociateKmsKey``): the statement names ``/aws-glue/*<conf>*`` only. Without
      one, Glue's default groups (``/aws-glue/crawlers``, ``/aws-glue/jobs/*``);
    * read the security configuration (``glue:GetSecurityConfiguration`` accepts ``"*"`` only);
    * ``metrics``: publish job metrics, in the ``Glue`` namespace only (``cloudwatch:PutMetricData``
      accepts ``"*"`` only; the ``cloudwatch:namespace`` condition bounds it)."""
    logs = f"arn:{partition}:logs:{region}:{account_id}:log-group:"
    if security_configuration:
        groups = [f"{logs}/aws-glue/*{security_configuration}*"]
        actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    else:
        groups = [f"{logs}/aws-glue/crawlers*", f"{logs}/aws-glue/jobs/*"]
        actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    out = [Statement(sid="WriteGlueLogs", effect="Allow", actions=actions, resources=groups)]
    if security_configuration:
        out.append(Statement(sid="ReadSecurityConfiguration", effect="Allow",
                             actions=["glue:GetSecurityConfiguration"], resources=["*"]))
    if metrics:
        out.append(Statement(sid="PublishGlueMetrics", effect="Allow", actions=["cloudwatch:PutMetricData"],
                             resources=["*"],
                             conditions={"StringEquals": {"cloudwatch:namespace": GLUE_METRICS_NAMESPACE}}))
    return out


class GlueServiceRole(Construct):
    """An IAM role Glue runs as (``.role``, ``.policy``): one inline least-privilege policy of
    exactly ``statements`` (no AWS-managed policy: see the module's notes)."""

    role: IamRole
    policy: IamRolePolicy

    def __init__(self, scope: Construct, id: str, *, name: str, statements: Sequence[Statement]) -> None:
        super().__init__(scope, id)
        if not statements:
            raise ValueError(f"glue role {name}: needs the statements of what it may do")
        self.role = IamRole(self, "role", name=name, assume_role_policy=glue_trust_policy())
        self.policy = IamRolePolicy(self, "policy", name=f"{name}-least-privilege", role=self.role.id,
                                    policy=policy_json(statements))


class CrawlerRole(GlueServiceRole):
    """The role the crawlers run as: reads exactly the clean datasets' objects (the environment
    key through S3 only), reads the clean database and writes only its ``crawled_*`` tables and
    their partitions, plus :func:`glue_runtime_statements` (logs, security configuration)."""

    def __init__(self, scope: Construct, id: str, *, name: str, clean_bucket_arn: str, kms_key_arn: str,
                 region: str, account_id: str, database: str, security_configuration: str | None,
                 table_prefix: str = CRAWLED_TABLE_PREFIX, partition: str = "aws") -> None:
        super().__init__(scope, id, name=name, statements=crawler_statements(
            clean_bucket_arn=clean_bucket_arn, kms_key_arn=kms_key_arn, region=region, account_id=account_id,
            database=database, security_configuration=security_configuration, table_prefix=table_prefix,
            partition=partition))


#: Catalog reads of a crawler (the database, its tables and partitions).
CRAWLER_CATALOG_READS = ("glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
                         "glue:GetPartitions", "glue:BatchGetPartition")
#: Catalog writes of a crawler whose schema change policy is LOG/LOG (no table deleted).
CRAWLER_CATALOG_WRITES = ("glue:CreateTable", "glue:UpdateTable", "glue:CreatePartition", "glue:UpdatePartition",
                          "glue:BatchCreatePartition", "glue:BatchUpdatePartition")


def crawler_statements(*, clean_bucket_arn: str, kms_key_arn: str, region: str, account_id: str, database: str,
                       security_configuration: str | None, table_prefix: str = CRAWLED_TABLE_PREFIX,
                       partition: str = "aws") -> list[Statement]:
    if not table_prefix:
        raise ValueError("crawler role: table_prefix must not be empty (it would let the crawler write every table)")
    return [
        Statement(sid="ListCleanBucket", effect="Allow", actions=["s3:ListBucket", "s3:GetBucketLocation"],
                  resources=[clean_bucket_arn]),
        Statement(sid="ReadCleanDatasets", effect="Allow", actions=["s3:GetObject"],
                  resources=[f"{clean_bucket_arn}/dataset=*"]),
        key_use_via(sid="DecryptThroughS3", key_arn=kms_key_arn, region=region, services=["s3"],
                    actions=["kms:Decrypt"]),
        Statement(sid="ReadCleanCatalog", effect="Allow", actions=list(CRAWLER_CATALOG_READS),
                  resources=catalog_arns(region=region, account_id=account_id, database=database,
                                         partition=partition)),
        Statement(sid="WriteCrawledTables", effect="Allow", actions=list(CRAWLER_CATALOG_WRITES),
                  resources=catalog_arns(region=region, account_id=account_id, database=database,
                                         tables=f"{table_prefix}*", partition=partition)),
        *glue_runtime_statements(region=region, account_id=account_id,
                                 security_configuration=security_configuration, metrics=False, partition=partition),
    ]


class GlueEncryption(Construct):
    """The environment's Glue security configuration (``.configuration``, named ``.name``): what
    Glue writes to S3 is SSE-KMS with ``kms_key_arn``, its CloudWatch logs are encrypted with
    ``kms_key_arn`` (its key policy lets CloudWatch Logs use it), job bookmarks are CSE-KMS with
    ``bookmarks_kms_key_arn``. Client-side encryption means the job itself, as its role, calls
    KMS (no ``kms:ViaService`` can bound it), so bookmarks have a key of their own, which only
    the job roles use and which protects nothing but bookmarks. Attach ``.name`` to every
    crawler and job (``security_configuration``)."""

    configuration: GlueSecurityConfiguration
    name: str

    def __init__(self, scope: Construct, id: str, *, name: str, kms_key_arn: str, bookmarks_kms_key_arn: str) -> None:
        super().__init__(scope, id)
        self.name = name
        self.configuration = GlueSecurityConfiguration(
            self, "configuration",
            name=name,
            encryption_configuration=GlueSecurityConfigurationEncryptionConfiguration(
                s3_encryption=GlueSecurityConfigurationEncryptionConfigurationS3Encryption(
                    s3_encryption_mode="SSE-KMS", kms_key_arn=kms_key_arn),
                cloudwatch_encryption=GlueSecurityConfigurationEncryptionConfigurationCloudwatchEncryption(
                    cloudwatch_encryption_mode="SSE-KMS", kms_key_arn=kms_key_arn),
                job_bookmarks_encryption=GlueSecurityConfigurationEncryptionConfigurationJobBookmarksEncryption(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=bookmarks_kms_key_arn),
            ),
        )


class DatasetCrawler(Construct):
    """A crawler over one dataset's clean prefix (``.crawler``) into ``database_name``, its tables
    prefixed ``table_prefix`` (default ``crawled_``) so the generated table is never replaced.
    Schema changes are logged, never applied to existing tables nor deleted (LOG/LOG).
    ``schedule`` None or "": on demand only. ``security_configuration``: the Glue security
    configuration's name (``GlueEncryption.name``): its logs are encrypted."""

    crawler: GlueCrawler

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        database_name: str,
        dataset: Any,
        bucket_name: str,
        role_arn: str,
        schedule: str | None = None,
        table_prefix: str = CRAWLED_TABLE_PREFIX,
        security_configuration: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        spec = DatasetSpec.of(dataset)
        if not table_prefix:
            raise ValueError(f"crawler {name}: table_prefix must not be empty (it would replace the generated table)")
        self.crawler = GlueCrawler(
            self, "crawler",
            name=name,
            database_name=database_name,
            role=role_arn,
            description=f"{spec.name}: clean zone, discovery and drift (tables {table_prefix}*)",
            table_prefix=table_prefix,
            s3_target=[GlueCrawlerS3Target(path=f"s3://{bucket_name}/dataset={spec.name}/")],
            schema_change_policy=GlueCrawlerSchemaChangePolicy(delete_behavior="LOG", update_behavior="LOG"),
            configuration=crawler_configuration(),
            schedule=validate_schedule(schedule, f"crawler {name}"),
            security_configuration=security_configuration,
        )


class SchemaRegistry(Construct):
    """A Glue Schema Registry (``.registry``) and one JSON schema per dataset (``.schemas``,
    by dataset name): compatibility ``BACKWARD``, definition ``contract_json_schema`` as compact,
    key-sorted JSON. ``kit.schema_check`` gates the definitions against the lock before deploy.

    ``ignore_tag_changes`` exists for the emulator only: it drops a registry's tags at creation
    (they read back empty once, a diff on the next plan); AWS keeps them."""

    registry: GlueRegistry
    schemas: dict[str, GlueSchema]

    def __init__(self, scope: Construct, id: str, *, name: str, datasets: Sequence[Any],
                 description: str = "Dataset contracts of the pipeline (generated)",
                 ignore_tag_changes: bool = False) -> None:
        super().__init__(scope, id)
        specs = [DatasetSpec.of(d) for d in datasets]
        seen = [s.name for s in specs]
        if len(set(seen)) != len(seen):
            raise ValueError(f"registry {name}: a dataset is listed twice ({', '.join(sorted(seen))})")
        self.registry = GlueRegistry(
            self, "registry", registry_name=name, description=tf_literal(description),
            lifecycle=TerraformResourceLifecycle(ignore_changes=["tags", "tags_all"]) if ignore_tag_changes else None,
        )
        self.schemas = {}
        for spec in sorted(specs, key=lambda s: s.name):
            self.schemas[spec.name] = GlueSchema(
                self, f"schema-{spec.name}",
                schema_name=spec.name,
                registry_arn=self.registry.arn,
                data_format="JSON",
                compatibility="BACKWARD",
                schema_definition=tf_literal(schema_text(contract_json_schema(spec))),
                description=tf_literal(f"{spec.name}: one clean record (generated from {spec.source})"),
            )


def schema_definitions(datasets: Sequence[Any]) -> Mapping[str, str]:
    """``{dataset: registered definition}`` (unescaped), for tests and tooling."""
    return {DatasetSpec.of(d).name: schema_text(contract_json_schema(d)) for d in datasets}


# -- operational tables: quarantine reports and the file status history ------------------------

#: (name, Glue type) of the one-line quarantine reports validate writes under ``_reports/``.
QUARANTINE_REPORT_COLUMNS = (
    ("file_id", "string"), ("status", "string"), ("rule", "string"), ("reason", "string"),
    ("counts", "struct<records_in:bigint,valid:bigint,rejected:bigint,bytes_in:bigint>"),
    ("violations", "array<struct<row:bigint,line:bigint,column:string,rule:string,message:string,value:string>>"),
    ("violations_total", "bigint"), ("violations_truncated", "boolean"), ("generated_at", "string"),
)
#: (name, Glue type) of the outcomes notify appends under ``_status/`` (one JSON line each).
FILE_STATUS_COLUMNS = (
    ("file_id", "string"), ("status", "string"), ("updated_at", "string"), ("key", "string"),
    ("reason", "string"), ("environment", "string"),
    ("counts", "struct<records_in:bigint,valid:bigint,rejected:bigint,duplicates:bigint,out:bigint,"
               "bytes_in:bigint,bytes_out:bigint>"),
)


class JsonLogTable(Construct):
    """A JSON Lines table partitioned by ``dataset`` and ``date`` with partition projection
    (``dataset`` an enum of the known datasets), so Athena needs no crawl. Used for
    ``quarantine_reports`` (``s3://<quarantine>/_reports/``) and ``file_status``
    (``s3://<clean>/_status/``). Exposes ``.table``."""

    table: GlueCatalogTable

    def __init__(self, scope: Construct, id: str, *, database_name: str, name: str, location: str,
                 columns: Sequence[tuple[str, str]], datasets: Sequence[str], description: str,
                 projection_start: str = PROJECTION_START) -> None:
        super().__init__(scope, id)
        if not datasets:
            raise ValueError(f"table {name}: needs at least one dataset for its partition projection")
        if not location.endswith("/"):
            location += "/"
        self.table = GlueCatalogTable(
            self, "table",
            database_name=database_name, name=name, description=description, table_type="EXTERNAL_TABLE",
            parameters={
                "classification": "json",
                "projection.enabled": "true",
                "projection.dataset.type": "enum",
                "projection.dataset.values": ",".join(sorted(datasets)),
                f"projection.{PARTITION_KEY}.type": "date",
                f"projection.{PARTITION_KEY}.format": "yyyy-MM-dd",
                f"projection.{PARTITION_KEY}.range": f"{projection_start},NOW",
                f"projection.{PARTITION_KEY}.interval": "1",
                f"projection.{PARTITION_KEY}.interval.unit": "DAYS",
                "storage.location.template": f"{location}dataset=$${{dataset}}/{PARTITION_KEY}=$${{{PARTITION_KEY}}}/",
            },
            partition_keys=[GlueCatalogTablePartitionKeys(name="dataset", type="string"),
                            GlueCatalogTablePartitionKeys(name=PARTITION_KEY, type="string",
                                                          comment="partition: YYYY-MM-DD")],
            storage_descriptor=GlueCatalogTableStorageDescriptor(
                location=location,
                input_format="org.apache.hadoop.mapred.TextInputFormat",
                output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                ser_de_info=GlueCatalogTableStorageDescriptorSerDeInfo(
                    name=f"{name}-serde", serialization_library=OPENX_JSON_SERDE,
                    parameters={"ignore.malformed.json": "TRUE", "case.insensitive": "TRUE"}),
                columns=[GlueCatalogTableStorageDescriptorColumns(name=n, type=t) for n, t in columns],
            ),
        )
