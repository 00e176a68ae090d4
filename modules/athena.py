"""Athena: the environment's workgroup and the saved (named) queries per dataset.

``AthenaWorkgroup`` enforces its configuration on every query run in it (clients cannot change the
result location or encryption, nor lift the scan limit): results go to
``s3://<results bucket>/results/`` encrypted with SSE-KMS under the environment's key, each query is
cancelled once it has scanned ``bytes_scanned_cutoff_per_query`` bytes, and CloudWatch gets the
workgroup's query metrics.

``NamedQueries`` saves three queries per dataset in that workgroup. They read tables of the Glue
catalog that this module does not create (the catalog construct does), with these layouts:

``clean table`` (one per dataset, ``table_name_for(dataset)``, default ``clean_<dataset>``)
    location ``s3://<clean bucket>/dataset=<dataset>/``, the dataset's contract columns, partition
    key ``date`` (string, ``YYYY-MM-DD``: the clean partition, see ``lambdas/README.md``).
``reports table`` (``reports_table``, default ``quarantine_reports``): one row per quarantine report
    (validate's ``report.json``, written as **one JSON object per line**: Athena's JSON SerDes do
    not read pretty-printed JSON), partition keys ``dataset`` (string) and ``date`` (string, the
    day the report was written), columns::

        file_id string, status string ('quarantined' | 'validated'), rule string, reason string,
        counts struct<records_in:bigint, valid:bigint, rejected:bigint, bytes_in:bigint>,
        violations array<struct<row:bigint, line:bigint, column:string, rule:string,
                                message:string, value:string>>,
        violations_total bigint, violations_truncated boolean, generated_at string

``status table`` (``status_table``, default ``file_status``): the history of file outcomes, one row
    per outcome published to ``pipeline-events`` (notify's JSON, e.g. delivered to S3 by an SNS →
    Firehose subscription), partition keys ``dataset`` and ``date`` (string, UTC day of
    ``updated_at``), columns::

        file_id string, status string, updated_at string (ISO-8601 UTC, sorts as text),
        key string, reason string, environment string,
        counts struct<records_in:bigint, valid:bigint, rejected:bigint, duplicates:bigint,
                      out:bigint, bytes_in:bigint, bytes_out:bigint>

(The status table proper is DynamoDB, which Athena cannot read without a federated connector; the
REST API answers "status of one file" from DynamoDB and "latest status per file" from this table.)

On the emulator: the workgroup applies if it is tagged (the provider's ``default_tags`` do that)
but cannot be updated in place; named queries apply but cannot be destroyed (no DeleteNamedQuery):
reset the emulator instead.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from cdktf import Token
from cdktf_cdktf_provider_aws.athena_named_query import AthenaNamedQuery
from cdktf_cdktf_provider_aws.athena_workgroup import (
    AthenaWorkgroup as AthenaWorkgroupResource,
)
from cdktf_cdktf_provider_aws.athena_workgroup import (
    AthenaWorkgroupConfiguration,
    AthenaWorkgroupConfigurationEngineVersion,
    AthenaWorkgroupConfigurationResultConfiguration,
    AthenaWorkgroupConfigurationResultConfigurationEncryptionConfiguration,
)
from constructs import Construct
from pipeline_shared.wiring import queries

#: Athena's own floor for the per-query scan limit (10 MB).
MIN_BYTES_SCANNED_CUTOFF = 10_485_760
RESULTS_PREFIX = "results/"
DEFAULT_REPORTS_TABLE = queries.DEFAULT_REPORTS_TABLE
DEFAULT_STATUS_TABLE = queries.DEFAULT_STATUS_TABLE
#: The named queries saved per dataset: the runtime contract's (the REST API runs the same ones by
#: name, over a window and limit of the caller's; saved, they read the last ``days`` days).
QUERY_NAMES = queries.QUERY_NAMES
#: A LIMIT on a saved query (the others return one row per day or per reason).
SAVED_QUERY_LIMITS = {"latest_status_per_file": 1000}


class AthenaWorkgroup(Construct):
    """The environment's workgroup (``.workgroup``) with its configuration enforced."""

    workgroup: AthenaWorkgroupResource
    output_location: str

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        results_bucket_name: str,
        kms_key_arn: str,
        bytes_scanned_cutoff_per_query: int,
        force_destroy: bool,
        engine_version: str = "AUTO",
        description: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        if bytes_scanned_cutoff_per_query < MIN_BYTES_SCANNED_CUTOFF:
            raise ValueError(
                f"workgroup {name}: bytes_scanned_cutoff_per_query must be at least {MIN_BYTES_SCANNED_CUTOFF} "
                f"(Athena's minimum, 10 MB), got {bytes_scanned_cutoff_per_query}"
            )
        self.output_location = f"s3://{results_bucket_name}/{RESULTS_PREFIX}"
        self.workgroup = AthenaWorkgroupResource(
            self, "workgroup",
            name=name,
            description=description or f"{name}: pipeline queries (configuration enforced)",
            state="ENABLED",
            force_destroy=force_destroy,
            configuration=AthenaWorkgroupConfiguration(
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff_per_query,
                engine_version=AthenaWorkgroupConfigurationEngineVersion(selected_engine_version=engine_version),
                result_configuration=AthenaWorkgroupConfigurationResultConfiguration(
                    output_location=self.output_location,
                    encryption_configuration=AthenaWorkgroupConfigurationResultConfigurationEncryptionConfiguration(
                        encryption_option="SSE_KMS", kms_key_arn=kms_key_arn,
                    ),
                ),
            ),
        )


# ------------------------------------------------------------------------------------------------
# named queries
# ------------------------------------------------------------------------------------------------


def _table(database: str, table: str) -> str:
    """A Glue table as a qualified Athena name (``pipeline_shared.wiring.queries``' quoting). A
    Terraform reference (an unresolved token, e.g. a Glue table's ``.name``) is quoted as it is."""
    return ".".join(f'"{name}"' if Token.is_unresolved(name) else queries.quote_identifier(name)
                    for name in (database, table))


def default_clean_table(dataset: str) -> str:
    """``clean_<dataset>`` ('-' → '_'): the REST API's default too (``PIPELINE_ATHENA_CLEAN_TABLE``)."""
    return queries.clean_table_name(dataset)


class NamedQueries(Construct):
    """Saved queries per dataset in a workgroup: ``.queries[dataset][query name]`` (names in
    ``QUERY_NAMES``), each an ``aws_athena_named_query`` named ``<dataset>-<query name with '-'>``.

    ``table_name_for`` gives each dataset's clean table (a mapping or a function; default
    ``clean_<dataset>``); ``reports_table`` and ``status_table`` are shared by all datasets. Table
    layouts: see this module's docstring. Database and table names are validated and quoted; the
    dataset name is a SQL literal."""

    queries: dict[str, dict[str, AthenaNamedQuery]]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workgroup_name: str,
        database_name: str,
        datasets: Sequence[str],
        table_name_for: Callable[[str], str] | Mapping[str, str] = default_clean_table,
        reports_table: str = DEFAULT_REPORTS_TABLE,
        status_table: str = DEFAULT_STATUS_TABLE,
        days: int = 30,
    ) -> None:
        super().__init__(scope, id)
        if not 1 <= days <= 3660:
            raise ValueError(f"named queries: days must be between 1 and 3660, got {days}")
        if len(set(datasets)) != len(datasets):
            raise ValueError(f"named queries: a dataset is listed twice in {list(datasets)}")
        if isinstance(table_name_for, Mapping):
            missing = [d for d in datasets if d not in table_name_for]
            if missing:
                raise ValueError(f"named queries: no clean table given for dataset(s) {', '.join(missing)}")
            mapping = table_name_for
            table_of: Callable[[str], str] = lambda d: mapping[d]  # noqa: E731
        else:
            table_of = table_name_for
        self.queries = {}
        for dataset in datasets:
            if not dataset or not all(c.isascii() and (c.islower() or c.isdigit() or c in "_-") for c in dataset):
                raise ValueError(f"named queries: invalid dataset name {dataset!r}")
            tables = {"clean": table_of(dataset), "reports": reports_table, "status": status_table}
            sql = {
                name: query.build(_table(database_name, tables[query.source]), dataset=dataset,
                                  window=queries.recent_days(days), limit=SAVED_QUERY_LIMITS.get(name))
                for name, query in queries.QUERIES.items()
            }
            descriptions = {
                "row_counts_per_day": f"{dataset}: rows and files per day of the clean data, last {days} days",
                "rejected_rows_by_reason": f"{dataset}: rejected rows by rule and column, last {days} days",
                "latest_status_per_file": f"{dataset}: latest status of each file, last {days} days",
            }
            self.queries[dataset] = {
                name: AthenaNamedQuery(
                    self, f"{dataset}-{name}",
                    name=f"{dataset}-{name.replace('_', '-')}",
                    workgroup=workgroup_name,
                    database=database_name,
                    description=descriptions[name],
                    query=sql[name],
                )
                for name in QUERY_NAMES
            }
