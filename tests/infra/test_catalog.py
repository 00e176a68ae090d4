"""Synth assertions for the Glue catalog, schema registry, crawlers and compaction job
(``modules/catalog.py``, ``modules/etl.py``), each built in a small test stack, and one
``terraform validate`` of everything they emit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cdktf import App, TerraformStack  # noqa: E402
from synth_helpers import resources, synth_construct  # noqa: E402

import main
import modules  # noqa: F401  -- first: installs the lazy loader for the AWS bindings
from glue.artifacts import library_artifact, script_artifact  # noqa: E402
from glue.specs import ColumnSpec, DatasetSpec, contract_json_schema, glue_columns, schema_text, shipped_specs  # noqa: E402
from modules.catalog import (  # noqa: E402
    CatalogDatabases,
    CompactedTable,
    CrawlerRole,
    DatasetCrawler,
    DatasetTable,
    GlueEncryption,
    SchemaRegistry,
    csv_quote_risk,
    pattern_is_quote_free,
    registry_name,
)
from modules.etl import CompactionJob, GlueJobRole  # noqa: E402
from modules.providers import aws_provider, pin_aws_provider  # noqa: E402

KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
BOOKMARKS_KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-1111-1111-111111111111"
REGION, ACCOUNT = "eu-west-1", "111111111111"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"
SECCONF = "pk-dev-glue"
CLEAN = "pk-dev-clean"
CLEAN_ARN = f"arn:aws:s3:::{CLEAN}"
ARTIFACTS = "pk-dev-artifacts"
SPECS = shipped_specs()
DATASETS = main.dataset_names()  # one per contract: the shipped ones and any a user adds
SCRIPT_KEY, _ = script_artifact()
LIBRARY_KEY = library_artifact().key


def build_all(stack: TerraformStack, *, crawler_schedule: str | None = "cron(0 2 * * ? *)",
              etl_schedule: str | None = "cron(0 3 * * ? *)", emulator: bool = False) -> None:
    """Everything, wired the way the stack is expected to wire it."""
    dbs = CatalogDatabases(stack, "catalog", name_prefix="pk-dev")
    encryption = GlueEncryption(stack, "glue-encryption", name=SECCONF, kms_key_arn=KEY_ARN,
                                bookmarks_kms_key_arn=BOOKMARKS_KEY_ARN)
    crawler_role = CrawlerRole(stack, "crawler-role", name="pk-dev-crawler", clean_bucket_arn=CLEAN_ARN,
                               kms_key_arn=KEY_ARN, region=REGION, account_id=ACCOUNT, database="pk_dev_clean",
                               security_configuration=SECCONF)
    for spec in SPECS:
        DatasetTable(stack, f"table-{spec.name}", database_name=dbs.clean.name, dataset=spec, bucket_name=CLEAN)
        CompactedTable(stack, f"parquet-{spec.name}", database_name=dbs.clean.name, dataset=spec, bucket_name=CLEAN)
        DatasetCrawler(stack, f"crawler-{spec.name}", name=f"pk-dev-{spec.name}", database_name=dbs.clean.name,
                       dataset=spec, bucket_name=CLEAN, role_arn=crawler_role.role.arn, schedule=crawler_schedule,
                       security_configuration=encryption.configuration.name)
    SchemaRegistry(stack, "registry", name=registry_name("pk-dev"), datasets=SPECS, ignore_tag_changes=emulator)
    job_role = GlueJobRole(stack, "job-role", name="pk-dev-compaction", clean_bucket_arn=CLEAN_ARN,
                           artifacts_bucket_arn=f"arn:aws:s3:::{ARTIFACTS}", artifact_keys=[SCRIPT_KEY, LIBRARY_KEY],
                           kms_key_arns=[KEY_ARN], region=REGION, account_id=ACCOUNT, security_configuration=SECCONF,
                           bookmarks_kms_key_arn=BOOKMARKS_KEY_ARN)
    CompactionJob(stack, "compaction", name="pk-dev-compaction", role_arn=job_role.role.arn,
                  script_bucket=ARTIFACTS, script_key=SCRIPT_KEY, library_key=LIBRARY_KEY, datasets=SPECS,
                  clean_bucket=CLEAN, worker_type="G.2X", number_of_workers=10, timeout_minutes=90,
                  schedule=etl_schedule, replace_on_change=emulator,
                  security_configuration=encryption.configuration.name)




def by(doc: dict[str, Any], rtype: str, attr: str) -> dict[str, dict[str, Any]]:
    return {r[attr]: r for r in resources(doc, rtype).values()}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return synth_construct(build_all)


@pytest.fixture(scope="module")
def unscheduled() -> dict[str, Any]:
    return synth_construct(lambda s: build_all(s, crawler_schedule=None, etl_schedule=""))


# ======================================================================================
# catalog
# ======================================================================================


def test_one_database_per_zone(doc):
    assert sorted(by(doc, "aws_glue_catalog_database", "name")) == ["pk_dev_clean", "pk_dev_raw"]


def test_one_clean_table_per_shipped_dataset_with_the_contract_columns(doc):
    tables = by(doc, "aws_glue_catalog_table", "name")
    assert sorted(n for n in tables if not n.endswith("_parquet")) == DATASETS
    for spec in SPECS:
        table = tables[spec.name]
        assert table["table_type"] == "EXTERNAL_TABLE"
        assert table["database_name"].startswith("${aws_glue_catalog_database.catalog_clean_")
        columns = [(c["name"], c["type"]) for c in table["storage_descriptor"]["columns"]]
        assert columns == glue_columns(spec)
        assert table["partition_keys"] == [{"comment": "partition: YYYY-MM-DD", "name": "date", "type": "string"}]
        assert table["storage_descriptor"]["location"] == f"s3://{CLEAN}/dataset={spec.name}/"


def test_orders_columns_and_pii_comment(doc):
    columns = {c["name"]: c for c in by(doc, "aws_glue_catalog_table", "name")["orders"]["storage_descriptor"]["columns"]}
    assert {n: c["type"] for n, c in columns.items()} == {
        "order_id": "string", "customer_id": "string", "email": "string", "order_date": "date",
        "amount": "decimal(38,9)", "currency": "string", "status": "string", "express": "boolean"}
    assert columns["email"]["comment"] == "(PII: HMAC-SHA256 token, hex)"


def test_tables_use_partition_projection_so_athena_needs_no_crawl(doc):
    for spec in SPECS:
        params = by(doc, "aws_glue_catalog_table", "name")[spec.name]["parameters"]
        assert params["projection.enabled"] == "true"
        assert params["projection.date.type"] == "date"
        assert params["projection.date.format"] == "yyyy-MM-dd"
        assert params["projection.date.range"] == "2020-01-01,NOW"
        assert params["projection.date.interval.unit"] == "DAYS"
        # "$${date}" in Terraform JSON is the literal ${date} Athena substitutes
        assert params["storage.location.template"] == f"s3://{CLEAN}/dataset={spec.name}/date=$${{date}}/"
        assert params["EXTERNAL"] == "TRUE"


def test_clean_csv_tables_skip_the_header_cleanse_writes(doc):
    tables = by(doc, "aws_glue_catalog_table", "name")
    for name in ("orders", "customers"):
        table = tables[name]
        assert table["parameters"]["skip.header.line.count"] == "1"
        assert table["parameters"]["classification"] == "csv"
        serde = table["storage_descriptor"]["ser_de_info"]
        assert serde["serialization_library"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
        assert serde["parameters"]["field.delim"] == ","  # clean CSV is comma-separated whatever landed
        assert serde["parameters"]["serialization.null.format"] == ""
        assert "yyyy-MM-dd'T'HH:mm:ss'Z'" in serde["parameters"]["timestamp.formats"]


def test_jsonl_tables_use_the_openx_serde(doc):
    table = by(doc, "aws_glue_catalog_table", "name")["events"]
    assert table["storage_descriptor"]["ser_de_info"]["serialization_library"] == "org.openx.data.jsonserde.JsonSerDe"
    assert "skip.header.line.count" not in table["parameters"]
    assert table["parameters"]["classification"] == "json"


def test_a_free_text_csv_column_falls_back_to_open_csv_with_string_columns():
    spec = DatasetSpec("notes", "csv", (ColumnSpec("id", "integer", required=True), ColumnSpec("text", "string"),
                                        ColumnSpec("at", "timestamp")))
    assert csv_quote_risk(spec) == ["text"]
    doc = synth_construct(lambda s: DatasetTable(s, "t", database_name="db", dataset=spec, bucket_name=CLEAN))
    (table,) = resources(doc, "aws_glue_catalog_table").values()
    sd = table["storage_descriptor"]
    assert sd["ser_de_info"]["serialization_library"] == "org.apache.hadoop.hive.serde2.OpenCSVSerde"
    assert sd["ser_de_info"]["parameters"]["quoteChar"] == '"'
    assert [(c["name"], c["type"]) for c in sd["columns"]] == [("id", "string"), ("text", "string"), ("at", "string")]


@pytest.mark.parametrize("pattern, safe", [
    ("ORD-[0-9]{6}", True), ("C[0-9]{5}", True), ("[A-Z]{2}", True), (r"\d+\.\d{2}", True), (r"[a-z_\-]+", True),
    ("[^@]+", False), (".*", False), (r"\S+", False), ("[ -~]+", False), ("a,b", False), (r"\s", False),
    (r'[^@\s]+@[^@\s]+\.[^@\s]+', False),
])
def test_pattern_quote_analysis_is_conservative(pattern, safe):
    assert pattern_is_quote_free(pattern) is safe


def test_compacted_tables_point_at_the_parquet_the_job_writes(doc):
    tables = by(doc, "aws_glue_catalog_table", "name")
    for spec in SPECS:
        table = tables[f"{spec.name}_parquet"]
        sd = table["storage_descriptor"]
        assert sd["location"] == f"s3://{CLEAN}/parquet/dataset={spec.name}/"
        assert sd["ser_de_info"]["serialization_library"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        assert [(c["name"], c["type"]) for c in sd["columns"]] == glue_columns(spec)
        assert table["parameters"]["storage.location.template"] == (
            f"s3://{CLEAN}/parquet/dataset={spec.name}/date=$${{date}}/")


# ======================================================================================
# schema registry
# ======================================================================================


def test_one_registry_and_a_backward_json_schema_per_dataset(doc):
    ((registry_id, registry),) = resources(doc, "aws_glue_registry").items()
    assert registry["registry_name"] == "pk-dev-datasets"
    schemas = by(doc, "aws_glue_schema", "schema_name")
    assert sorted(schemas) == DATASETS
    for spec in SPECS:
        schema = schemas[spec.name]
        assert schema["compatibility"] == "BACKWARD"
        assert schema["data_format"] == "JSON"
        assert schema["registry_arn"] == f"${{aws_glue_registry.{registry_id}.arn}}"
        assert schema["schema_definition"] == schema_text(contract_json_schema(spec))
        assert json.loads(schema["schema_definition"])["additionalProperties"] is False


def test_registry_tags_are_ignored_only_for_the_emulator(doc, unscheduled):
    (registry,) = resources(doc, "aws_glue_registry").values()
    assert "lifecycle" not in registry
    emulated = synth_construct(lambda s: SchemaRegistry(s, "r", name="x", datasets=SPECS, ignore_tag_changes=True))
    (registry,) = resources(emulated, "aws_glue_registry").values()
    assert registry["lifecycle"] == {"ignore_changes": ["tags", "tags_all"]}


def test_a_dataset_listed_twice_is_refused():
    with pytest.raises(ValueError, match="a dataset is listed twice"):
        synth_construct(lambda s: SchemaRegistry(s, "r", name="x", datasets=[SPECS[0], SPECS[0]]))


def test_terraform_template_sequences_in_contract_text_are_escaped():
    spec = DatasetSpec("odd", "jsonl", (ColumnSpec("a", "string", description="costs ${price} %{x}"),))
    doc = synth_construct(lambda s: SchemaRegistry(s, "r", name="x", datasets=[spec]))
    (schema,) = resources(doc, "aws_glue_schema").values()
    assert "$${price} %%{x}" in schema["schema_definition"]


# ======================================================================================
# crawlers
# ======================================================================================


def test_one_crawler_per_dataset_with_a_prefix_and_log_only_changes(doc):
    crawlers = by(doc, "aws_glue_crawler", "name")
    role_id = next(k for k, r in resources(doc, "aws_iam_role").items() if r["name"] == "pk-dev-crawler")
    assert sorted(crawlers) == [f"pk-dev-{name}" for name in DATASETS]
    for spec in SPECS:
        crawler = crawlers[f"pk-dev-{spec.name}"]
        assert crawler["s3_target"] == [{"path": f"s3://{CLEAN}/dataset={spec.name}/"}]
        assert crawler["table_prefix"] == "crawled_"
        assert crawler["schema_change_policy"] == {"delete_behavior": "LOG", "update_behavior": "LOG"}
        assert crawler["schedule"] == "cron(0 2 * * ? *)"
        assert "aws_glue_catalog_database.catalog_clean_" in crawler["database_name"]
        assert crawler["role"] == f"${{aws_iam_role.{role_id}.arn}}"
        assert json.loads(crawler["configuration"])["Grouping"]["TableGroupingPolicy"] == "CombineCompatibleSchemas"


def test_crawlers_without_a_schedule_run_on_demand(unscheduled):
    for crawler in resources(unscheduled, "aws_glue_crawler").values():
        assert "schedule" not in crawler


def test_a_rate_schedule_is_refused_with_the_glue_rule():
    with pytest.raises(ValueError, match=r"Glue schedules are cron\(\.\.\.\) expressions .* got 'rate\(1 day\)'"):
        synth_construct(lambda s: DatasetCrawler(s, "c", name="c", database_name="db", dataset=SPECS[0], bucket_name=CLEAN,
                                       role_arn="arn:aws:iam::111111111111:role/r", schedule="rate(1 day)"))


def test_an_empty_table_prefix_is_refused():
    with pytest.raises(ValueError, match="would replace the generated table"):
        synth_construct(lambda s: DatasetCrawler(s, "c", name="c", database_name="db", dataset=SPECS[0], bucket_name=CLEAN,
                                       role_arn="arn:aws:iam::111111111111:role/r", table_prefix=""))


# ======================================================================================
# compaction job
# ======================================================================================


def test_the_job_runs_the_content_addressed_script_with_bookmarks(doc):
    (job,) = resources(doc, "aws_glue_job").values()
    assert job["name"] == "pk-dev-compaction"
    assert job["glue_version"] == "4.0"
    assert job["execution_class"] == "STANDARD"
    assert (job["worker_type"], job["number_of_workers"], job["timeout"]) == ("G.2X", 10, 90)
    assert job["execution_property"] == {"max_concurrent_runs": 1}
    assert job["command"] == {"name": "glueetl", "python_version": "3",
                              "script_location": f"s3://{ARTIFACTS}/{SCRIPT_KEY}"}
    assert SCRIPT_KEY.startswith("artifacts/glue/") and SCRIPT_KEY.endswith(".py")
    args = job["default_arguments"]
    assert args["--job-bookmark-option"] == "job-bookmark-enable"
    assert args["--enable-metrics"] == "true"
    assert args["--datasets"] == ",".join(DATASETS)
    assert args["--clean-bucket"] == CLEAN
    assert args["--parquet-prefix"] == "parquet"
    assert args["--extra-py-files"] == f"s3://{ARTIFACTS}/{LIBRARY_KEY}"
    assert [d["name"] for d in json.loads(args["--dataset-specs"])] == DATASETS
    assert job["security_configuration"].startswith("${aws_glue_security_configuration.")


def test_a_schedule_adds_a_scheduled_trigger(doc, unscheduled):
    (trigger,) = resources(doc, "aws_glue_trigger").values()
    assert trigger["type"] == "SCHEDULED" and trigger["schedule"] == "cron(0 3 * * ? *)"
    assert trigger["start_on_creation"] is True
    (job_id,) = resources(doc, "aws_glue_job")
    assert trigger["actions"] == [{"job_name": f"${{aws_glue_job.{job_id}.name}}"}]
    assert resources(unscheduled, "aws_glue_trigger") == {}


def test_replace_on_change_is_off_by_default(doc):
    (job,) = resources(doc, "aws_glue_job").values()
    assert "lifecycle" not in job and resources(doc, "terraform_data") == {}


def test_replace_on_change_replaces_the_job_when_its_definition_changes():
    doc = synth_construct(lambda s: build_all(s, emulator=True))
    ((data_id, data),) = resources(doc, "terraform_data").items()
    (job,) = resources(doc, "aws_glue_job").values()
    assert job["lifecycle"] == {"replace_triggered_by": [f"terraform_data.{data_id}"]}  # plain: no "${"
    assert data["input"]["script_location"] == job["command"]["script_location"]
    assert data["input"]["default_arguments"] == job["default_arguments"]


def test_security_configuration_is_passed_through():
    doc = synth_construct(lambda s: CompactionJob(
        s, "j", name="j", role_arn="arn:aws:iam::111111111111:role/r", script_bucket=ARTIFACTS, script_key=SCRIPT_KEY,
        library_key=LIBRARY_KEY, datasets=SPECS, clean_bucket=CLEAN, worker_type="G.1X", number_of_workers=2,
        timeout_minutes=60, security_configuration="pk-dev-glue"))
    (job,) = resources(doc, "aws_glue_job").values()
    assert job["security_configuration"] == "pk-dev-glue"


@pytest.mark.parametrize("kwargs, message", [
    ({"worker_type": "G.025X"}, "G.025X is for streaming jobs only"),
    ({"number_of_workers": 1}, "at least 2 workers"),
    ({"timeout_minutes": 0}, "timeout_minutes must be 1-2880"),
    ({"schedule": "rate(1 hour)"}, "Glue schedules are cron"),
    ({"datasets": []}, "at least one dataset"),
])
def test_job_settings_are_checked(kwargs, message):
    settings = dict(name="j", role_arn="arn:aws:iam::111111111111:role/r", script_bucket=ARTIFACTS,
                    script_key=SCRIPT_KEY, library_key=LIBRARY_KEY, datasets=SPECS, clean_bucket=CLEAN,
                    worker_type="G.1X", number_of_workers=2, timeout_minutes=60)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=message):
        synth_construct(lambda s: CompactionJob(s, "j", **settings))


# ======================================================================================
# roles
# ======================================================================================


def inline_policies(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: json.loads(p["policy"]) for p in resources(doc, "aws_iam_role_policy").values()}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_of(doc: dict[str, Any], policy: str) -> dict[str, dict[str, Any]]:
    return {st["Sid"]: st for st in inline_policies(doc)[policy]["Statement"]}


def test_roles_trust_glue_and_hold_no_aws_managed_policy(doc):
    roles = by(doc, "aws_iam_role", "name")
    assert sorted(roles) == ["pk-dev-compaction", "pk-dev-crawler"]
    for role in roles.values():
        trust = json.loads(role["assume_role_policy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "glue.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert resources(doc, "aws_iam_role_policy_attachment") == {}


#: Glue actions authorised on "*" only (Service Authorization Reference).
STAR_ONLY = {"glue:GetSecurityConfiguration", "cloudwatch:PutMetricData"}


def test_inline_policies_have_no_wildcard_action_and_star_only_for_star_only_actions(doc):
    policies = inline_policies(doc)
    assert sorted(policies) == ["pk-dev-compaction-least-privilege", "pk-dev-crawler-least-privilege"]
    for name, policy in policies.items():
        for statement in policy["Statement"]:
            for action in as_list(statement["Action"]):
                assert "*" not in action, (name, action)
            if "*" in as_list(statement["Resource"]):
                assert set(as_list(statement["Action"])) <= STAR_ONLY, (name, statement)
            for resource in as_list(statement["Resource"]):
                assert not resource.startswith("arn:aws:s3:::*"), (name, resource)


def test_crawler_role_reads_only_the_clean_datasets_through_s3(doc):
    statements = statements_of(doc, "pk-dev-crawler-least-privilege")
    assert statements["ReadCleanDatasets"]["Resource"] == f"{CLEAN_ARN}/dataset=*"
    assert statements["ReadCleanDatasets"]["Action"] == "s3:GetObject"
    assert statements["DecryptThroughS3"] == {
        "Sid": "DecryptThroughS3", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY_ARN,
        "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}}


def test_crawler_role_reads_the_clean_database_and_writes_only_crawled_tables(doc):
    statements = statements_of(doc, "pk-dev-crawler-least-privilege")
    reads, writes = statements["ReadCleanCatalog"], statements["WriteCrawledTables"]
    assert reads["Resource"] == [f"{GLUE}:catalog", f"{GLUE}:database/pk_dev_clean", f"{GLUE}:table/pk_dev_clean/*"]
    assert writes["Resource"] == [f"{GLUE}:catalog", f"{GLUE}:database/pk_dev_clean",
                                  f"{GLUE}:table/pk_dev_clean/crawled_*"]
    assert "glue:CreateTable" in writes["Action"] and "glue:BatchCreatePartition" in writes["Action"]
    # LOG/LOG: the crawler never deletes, and it cannot touch databases or other tables
    assert not [a for st in statements.values() for a in as_list(st["Action"])
                if a.startswith("glue:Delete") or a.startswith("glue:BatchDelete") or a.endswith("Database")
                and a != "glue:GetDatabase"]


def test_glue_roles_write_only_their_encrypted_log_groups(doc):
    for policy in ("pk-dev-crawler-least-privilege", "pk-dev-compaction-least-privilege"):
        logs = statements_of(doc, policy)["WriteGlueLogs"]
        assert logs["Resource"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws-glue/*{SECCONF}*"
        assert "logs:AssociateKmsKey" in logs["Action"]


def test_only_the_job_publishes_metrics_and_only_in_the_glue_namespace(doc):
    metrics = statements_of(doc, "pk-dev-compaction-least-privilege")["PublishGlueMetrics"]
    assert (metrics["Action"], metrics["Resource"]) == ("cloudwatch:PutMetricData", "*")
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}
    assert "PublishGlueMetrics" not in statements_of(doc, "pk-dev-crawler-least-privilege")


def test_job_role_writes_only_under_the_parquet_prefix_and_reads_its_artifacts(doc):
    statements = statements_of(doc, "pk-dev-compaction-least-privilege")
    assert statements["WriteCompactedParquet"]["Resource"] == f"{CLEAN_ARN}/parquet/*"
    assert set(statements["WriteCompactedParquet"]["Action"]) == {"s3:PutObject", "s3:DeleteObject",
                                                                  "s3:AbortMultipartUpload"}
    assert statements["ReadJobArtifacts"]["Resource"] == [f"arn:aws:s3:::{ARTIFACTS}/{SCRIPT_KEY}",
                                                          f"arn:aws:s3:::{ARTIFACTS}/{LIBRARY_KEY}"]
    assert statements["ReadCleanDatasets"]["Resource"] == [f"{CLEAN_ARN}/dataset=*", f"{CLEAN_ARN}/parquet/*"]
    assert not [st for st in statements.values() if any(a.startswith("glue:") and a != "glue:GetSecurityConfiguration"
                                                        for a in as_list(st["Action"]))]


def test_job_role_uses_the_environment_key_through_s3_and_the_bookmark_key_alone_directly(doc):
    statements = statements_of(doc, "pk-dev-compaction-least-privilege")
    assert statements["UseBucketKeyThroughS3"]["Resource"] == KEY_ARN
    assert statements["UseBucketKeyThroughS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
    direct = [st for st in statements.values() if any(a.startswith("kms:") for a in as_list(st["Action"]))
              and "Condition" not in st]
    assert [st["Resource"] for st in direct] == [BOOKMARKS_KEY_ARN]


def test_the_security_configuration_encrypts_s3_logs_and_bookmarks(doc):
    (conf,) = resources(doc, "aws_glue_security_configuration").values()
    enc = conf["encryption_configuration"]
    assert conf["name"] == SECCONF
    assert enc["s3_encryption"] == {"s3_encryption_mode": "SSE-KMS", "kms_key_arn": KEY_ARN}
    assert enc["cloudwatch_encryption"] == {"cloudwatch_encryption_mode": "SSE-KMS", "kms_key_arn": KEY_ARN}
    assert enc["job_bookmarks_encryption"] == {"job_bookmarks_encryption_mode": "CSE-KMS",
                                               "kms_key_arn": BOOKMARKS_KEY_ARN}


def test_every_crawler_and_the_job_run_with_the_security_configuration(doc):
    conf_id = next(iter(resources(doc, "aws_glue_security_configuration")))
    name = "${aws_glue_security_configuration.%s.name}" % conf_id
    runners = [*resources(doc, "aws_glue_crawler").values(), *resources(doc, "aws_glue_job").values()]
    assert len(runners) == len(SPECS) + 1
    assert {r.get("security_configuration") for r in runners} == {name}


# ======================================================================================
# terraform validate
# ======================================================================================


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
@pytest.mark.parametrize("emulator", [False, True], ids=["aws", "emulator"])
def test_terraform_validate_accepts_what_the_constructs_emit(tmp_path: Path, emulator: bool):
    from kit.terraform import Terraform

    app = App(outdir=str(tmp_path / "out"))
    stack = TerraformStack(app, "glue")
    aws_provider(stack, region="eu-west-1", account_id="111111111111", default_tags={"project": "pipeline-kit"})
    pin_aws_provider(stack)
    build_all(stack, emulator=emulator)
    app.synth()
    tf = Terraform.for_stack(tmp_path / "out" / "stacks" / "glue", state_dir=tmp_path / "state")
    tf.init(backend=False, quiet=True)
    result = tf.validate()
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Success" in result.stdout
