"""Ingest services (issue 7): Timestream, DMS, streaming ingress (Kinesis → Firehose → landing,
MSK, Glue streaming job). Each construct synthesized alone, the ``wire_*`` functions with a
hand-made ``ServiceContext``, the security properties asserted, and one ``terraform validate``."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cdktf import App, TerraformStack
from synth_helpers import only, resources, statements, synth_construct  # noqa: E402

import modules  # noqa: F401  -- installs the lazy loader before any AWS binding is imported
from environments.sections.ingest import DmsConfig, StreamingConfig, TimestreamConfig
from modules.services import BucketRef, NetworkRefs, ServiceContext
from modules.services.migration import dms_table_mappings, wire_dms
from modules.services.streaming import MSK_IAM_PORT, StreamingCluster, StreamIngress, wire_streaming
from modules.services.timeseries import MetricsTimeseries, wire_timestream

ACCOUNT = "111111111111"
REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:pk-x/shop-db-AbCdEf"
CLIENT_SGS = ("sg-0workloads", "sg-0dataclients")
NETWORK = NetworkRefs(vpc_id="vpc-0abc", vpc_cidr="10.20.0.0/16", private_subnet_ids=("subnet-a", "subnet-b"),
                      client_security_group_ids=CLIENT_SGS)
ARTIFACT_KEYS = {"glue-stream-script": "artifacts/glue-stream-script/1234.py",
                 "glue-library": "artifacts/glue-library/5678.zip"}


def context(**overrides: Any) -> ServiceContext:
    base = ServiceContext(
        name_prefix="pk-x", region=REGION, account_id=ACCOUNT, kms_key_arn=KEY_ARN, log_retention_days=30,
        deletion_protection=False, prevent_destroy=False, on_emulator=False,
        buckets={n: BucketRef(name=f"pk-x-{n}-{ACCOUNT}", arn=f"arn:aws:s3:::pk-x-{n}-{ACCOUNT}")
                 for n in ("landing", "clean", "quarantine", "archive", "athena-results", "audit")},
        tables={}, glue_clean_database="pk_x_clean", glue_raw_database="pk_x_raw",
        schema_registry_name="pk-x-datasets", catalog_reader_role_arns=(), datasets=("customers", "events", "orders"),
        artifacts_bucket=f"pk-x-artifacts-{ACCOUNT}", artifact_keys=dict(ARTIFACT_KEYS),
        alarm_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:pk-x-alarms", network=NETWORK,
        glue_security_configuration="pk-x-glue")
    return replace(base, **overrides)


DMS = DmsConfig(enabled=True, source_secret_arn=SECRET_ARN, database_name="shop", schema_name="public",
                table_name="orders", dataset="orders")
STREAMING = StreamingConfig(enabled=True)


# ======================================================================================
# helpers
# ======================================================================================






def policy_of(doc: dict[str, Any], name_part: str) -> dict[str, dict[str, Any]]:
    found = [p for rid, p in resources(doc, "aws_iam_role_policy").items() if name_part in rid]
    assert len(found) == 1, f"expected one policy matching {name_part}"
    return statements(found[0]["policy"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def timestream_doc() -> dict[str, Any]:
    return synth_construct(lambda s: wire_timestream(s, TimestreamConfig(enabled=True, memory_retention_hours=12,
                                                                         magnetic_retention_days=90), context()))


@pytest.fixture(scope="module")
def dms_doc() -> dict[str, Any]:
    return synth_construct(lambda s: wire_dms(s, DMS, context()))


@pytest.fixture(scope="module")
def streaming_doc() -> dict[str, Any]:
    return synth_construct(lambda s: wire_streaming(s, replace(STREAMING, msk_enabled=True), context()))


# ======================================================================================
# Timestream
# ======================================================================================


def test_timestream_database_is_encrypted_with_the_environment_key(timestream_doc):
    _, db = only(timestream_doc, "aws_timestreamwrite_database")
    assert db["kms_key_id"] == KEY_ARN


def test_timestream_table_retention_comes_from_the_config(timestream_doc):
    _, table = only(timestream_doc, "aws_timestreamwrite_table")
    assert table["retention_properties"] == {"memory_store_retention_period_in_hours": 12,
                                             "magnetic_store_retention_period_in_days": 90}


def test_timestream_rejected_records_go_encrypted_to_the_quarantine_bucket(timestream_doc):
    _, table = only(timestream_doc, "aws_timestreamwrite_table")
    props = table["magnetic_store_write_properties"]
    s3 = props["magnetic_store_rejected_data_location"]["s3_configuration"]
    assert props["enable_magnetic_store_writes"] is True
    assert s3 == {"bucket_name": f"pk-x-quarantine-{ACCOUNT}", "object_key_prefix": "_timestream-rejected/pipeline_metrics/",
                  "encryption_option": "SSE_KMS", "kms_key_id": KEY_ARN}


def test_timestream_prevent_destroy_follows_the_prop():
    doc = synth_construct(lambda s: MetricsTimeseries(
        s, "ts", database_name="db", kms_key_arn=KEY_ARN, memory_retention_hours=1, magnetic_retention_days=1,
        rejected_bucket="b", prevent_destroy=True))
    assert all(r["lifecycle"]["prevent_destroy"] is True
               for t in ("aws_timestreamwrite_database", "aws_timestreamwrite_table") for r in resources(doc, t).values())


def test_timestream_refuses_a_retention_out_of_range():
    with pytest.raises(ValueError, match="memory_retention_hours must be 1-8766, got 9000"):
        synth_construct(lambda s: MetricsTimeseries(s, "ts", database_name="db", kms_key_arn=KEY_ARN,
                                                    memory_retention_hours=9000, magnetic_retention_days=1,
                                                    rejected_bucket="b"))


# ======================================================================================
# DMS
# ======================================================================================


def test_dms_instance_is_private_encrypted_and_sized_from_the_config(dms_doc):
    _, inst = only(dms_doc, "aws_dms_replication_instance")
    assert (inst["publicly_accessible"], inst["kms_key_arn"], inst["replication_instance_class"],
            inst["allocated_storage"], inst["multi_az"]) == (False, KEY_ARN, "dms.t3.micro", 20, False)


def test_dms_subnet_group_uses_the_private_subnets(dms_doc):
    _, group = only(dms_doc, "aws_dms_replication_subnet_group")
    assert group["subnet_ids"] == list(NETWORK.private_subnet_ids)


def test_dms_security_group_has_no_ingress_and_egress_only_to_the_source_port_and_s3(dms_doc):
    assert not resources(dms_doc, "aws_vpc_security_group_ingress_rule")
    _, sg = only(dms_doc, "aws_security_group")
    assert "ingress" not in sg
    egress = {(r["from_port"], r.get("cidr_ipv4"), "prefix_list_id" in r)
              for r in resources(dms_doc, "aws_vpc_security_group_egress_rule").values()}
    assert egress == {(5432, NETWORK.vpc_cidr, False), (443, None, True)}


def test_dms_source_credentials_come_only_from_the_secret(dms_doc):
    _, source = only(dms_doc, "aws_dms_endpoint")
    assert source["secrets_manager_arn"] == SECRET_ARN
    assert not {"password", "username", "server_name", "port"} & set(source)
    assert source["ssl_mode"] == "require"


def test_dms_secret_role_reads_exactly_the_secret(dms_doc):
    sts = policy_of(dms_doc, "secret-policy")
    assert sts["ReadSourceSecret"]["Resource"] == SECRET_ARN
    assert sts["DecryptSecretViaSecretsManager"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}}


def test_dms_target_writes_csv_with_a_header_under_the_dataset_prefix_encrypted(dms_doc):
    _, target = only(dms_doc, "aws_dms_s3_endpoint")
    assert (target["bucket_name"], target["bucket_folder"], target["data_format"], target["add_column_name"],
            target["encryption_mode"], target["server_side_encryption_kms_key_id"], target["cdc_inserts_only"]) == (
        f"pk-x-landing-{ACCOUNT}", "orders", "csv", True, "SSE_KMS", KEY_ARN, True)


def test_dms_s3_role_writes_only_the_dataset_prefix(dms_doc):
    sts = policy_of(dms_doc, "s3-policy")
    assert sts["WriteDatasetPrefix"]["Resource"] == f"arn:aws:s3:::pk-x-landing-{ACCOUNT}/orders/*"


def test_dms_task_is_full_load_and_cdc_of_the_configured_table(dms_doc):
    _, task = only(dms_doc, "aws_dms_replication_task")
    rule = json.loads(task["table_mappings"])["rules"][0]
    assert (task["migration_type"], rule["object-locator"], rule["rule-action"]) == (
        "full-load-and-cdc", {"schema-name": "public", "table-name": "orders"}, "include")


def test_dms_task_log_group_is_encrypted_with_retention(dms_doc):
    _, group = only(dms_doc, "aws_cloudwatch_log_group")
    assert (group["name"], group["kms_key_id"], group["retention_in_days"]) == ("dms-tasks-pk-x-dms", KEY_ARN, 30)


def test_dms_deletion_protection_guards_instance_and_task():
    doc = synth_construct(lambda s: wire_dms(s, DMS, context(deletion_protection=True)))
    assert only(doc, "aws_dms_replication_instance")[1]["lifecycle"]["prevent_destroy"] is True
    assert only(doc, "aws_dms_replication_task")[1]["lifecycle"]["prevent_destroy"] is True


def test_dms_without_a_network_is_refused():
    with pytest.raises(ValueError, match=r"^DMS lives in the private subnets: it needs \[network\] enabled = true"):
        synth_construct(lambda s: wire_dms(s, DMS, context(network=None)))


def test_dms_for_a_dataset_without_contract_is_refused():
    with pytest.raises(ValueError, match="dms: dataset 'invoices' has no contract"):
        synth_construct(lambda s: wire_dms(s, replace(DMS, dataset="invoices"), context()))


def test_dms_table_mappings_need_a_table():
    with pytest.raises(ValueError, match="a table mapping needs a schema and a table name"):
        dms_table_mappings("public", "")


# ======================================================================================
# Streaming: Kinesis → Firehose → landing
# ======================================================================================


def test_stream_is_kms_encrypted_and_on_demand_by_default(streaming_doc):
    _, stream = only(streaming_doc, "aws_kinesis_stream")
    assert (stream["encryption_type"], stream["kms_key_id"], stream["stream_mode_details"]["stream_mode"],
            "shard_count" in stream) == ("KMS", KEY_ARN, "ON_DEMAND", False)


def test_provisioned_stream_takes_its_shards_from_the_config():
    doc = synth_construct(lambda s: StreamIngress(s, "i", name="st", kms_key_arn=KEY_ARN, landing_bucket_arn="arn:aws:s3:::l",
                                                  dataset="events", log_retention_days=7, stream_mode="PROVISIONED",
                                                  shard_count=3, region=REGION))
    assert only(doc, "aws_kinesis_stream")[1]["shard_count"] == 3


def test_firehose_delivers_jsonl_into_the_dataset_prefix_of_landing_encrypted(streaming_doc):
    _, fh = only(streaming_doc, "aws_kinesis_firehose_delivery_stream")
    s3 = fh["extended_s3_configuration"]
    assert (s3["bucket_arn"], s3["prefix"].split("/")[0], s3["file_extension"], s3["kms_key_arn"]) == (
        f"arn:aws:s3:::pk-x-landing-{ACCOUNT}", "events", ".jsonl", KEY_ARN)


def test_firehose_errors_go_outside_the_dataset_prefix(streaming_doc):
    _, fh = only(streaming_doc, "aws_kinesis_firehose_delivery_stream")
    assert fh["extended_s3_configuration"]["error_output_prefix"].startswith("_errors/firehose/pk-x-stream-events/")


def test_firehose_reads_the_stream_and_buffers_from_the_config():
    doc = synth_construct(lambda s: wire_streaming(s, replace(STREAMING, buffering_size_mib=5,
                                                              buffering_interval_seconds=60), context()))
    _, fh = only(doc, "aws_kinesis_firehose_delivery_stream")
    s3 = fh["extended_s3_configuration"]
    assert (s3["buffering_size"], s3["buffering_interval"]) == (5, 60)
    assert fh["kinesis_source_configuration"]["kinesis_stream_arn"].startswith("${aws_kinesis_stream.")


def test_firehose_logs_to_an_encrypted_log_group(streaming_doc):
    _, fh = only(streaming_doc, "aws_kinesis_firehose_delivery_stream")
    logging = fh["extended_s3_configuration"]["cloudwatch_logging_options"]
    group = next(g for g in resources(streaming_doc, "aws_cloudwatch_log_group").values()
                 if g["name"].startswith("/aws/kinesisfirehose/"))
    assert logging["enabled"] is True and group["kms_key_id"] == KEY_ARN


def test_firehose_role_writes_only_the_data_and_error_prefixes(streaming_doc):
    sts = policy_of(streaming_doc, "ingress_policy")
    bucket = f"arn:aws:s3:::pk-x-landing-{ACCOUNT}"
    assert sts["DeliverToLanding"]["Resource"] == [f"{bucket}/events/firehose/*",
                                                   f"{bucket}/_errors/firehose/pk-x-stream-events/*"]


#: What the streaming job may do on "*" (the only resource these actions accept).
STAR_ONLY = {"glue:GetSecurityConfiguration", "cloudwatch:PutMetricData"}


def test_no_policy_of_the_streaming_services_grants_a_wildcard(streaming_doc):
    for policy in resources(streaming_doc, "aws_iam_role_policy").values():
        for st in statements(policy["policy"]).values():
            assert not [a for a in as_list(st["Action"]) if "*" in a], st["Sid"]
            if "*" in as_list(st.get("Resource", [])):
                assert set(as_list(st["Action"])) <= STAR_ONLY, st["Sid"]


def test_streaming_roles_use_the_key_only_through_the_services_that_encrypt_for_them(streaming_doc):
    firehose = policy_of(streaming_doc, "ingress_policy")["UseEnvironmentKeyThroughKinesisAndS3"]
    job = policy_of(streaming_doc, "job-role_policy")["UseEnvironmentKeyThroughServices"]
    assert firehose["Condition"] == {"StringEquals": {"kms:ViaService": [
        f"kinesis.{REGION}.amazonaws.com", f"s3.{REGION}.amazonaws.com"]}}
    assert job["Condition"] == {"StringEquals": {"kms:ViaService": [
        f"kinesis.{REGION}.amazonaws.com", f"s3.{REGION}.amazonaws.com", f"ssm.{REGION}.amazonaws.com"]}}


def test_stream_job_runs_with_the_security_configuration_and_reads_only_its_stream_table(streaming_doc):
    _, job = only(streaming_doc, "aws_glue_job")
    assert job["security_configuration"] == "pk-x-glue"
    sts = policy_of(streaming_doc, "job-role_policy")
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    assert sts["ReadStreamTable"]["Resource"] == [f"{glue}:catalog", f"{glue}:database/pk_x_raw",
                                                  f"{glue}:table/pk_x_raw/events_stream"]
    assert sts["WriteGlueLogs"]["Resource"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws-glue/*pk-x-glue*"
    assert resources(streaming_doc, "aws_iam_role_policy_attachment") == {}


def test_streaming_refuses_a_csv_dataset():
    with pytest.raises(ValueError, match="dataset 'orders' is csv; a stream carries JSON Lines datasets only"):
        synth_construct(lambda s: wire_streaming(s, replace(STREAMING, dataset="orders"), context()))


# ======================================================================================
# MSK
# ======================================================================================


def test_msk_uses_iam_auth_only_and_tls_only(streaming_doc):
    _, cluster = only(streaming_doc, "aws_msk_cluster")
    assert cluster["client_authentication"] == {"sasl": {"iam": True, "scram": False}, "unauthenticated": False}
    assert cluster["encryption_info"]["encryption_in_transit"] == {"client_broker": "TLS", "in_cluster": True}


def test_msk_is_encrypted_at_rest_with_the_key_and_not_public(streaming_doc):
    _, cluster = only(streaming_doc, "aws_msk_cluster")
    info = cluster["broker_node_group_info"]
    assert cluster["encryption_info"]["encryption_at_rest_kms_key_arn"] == KEY_ARN
    assert info["connectivity_info"]["public_access"]["type"] == "DISABLED"
    assert info["client_subnets"] == list(NETWORK.private_subnet_ids)


def test_msk_admits_only_the_iam_port_from_the_client_groups(streaming_doc):
    rules = list(resources(streaming_doc, "aws_vpc_security_group_ingress_rule").values())
    assert {(r["from_port"], r["to_port"], r["referenced_security_group_id"]) for r in rules} == {
        (MSK_IAM_PORT, MSK_IAM_PORT, sg) for sg in CLIENT_SGS}
    assert not any("cidr_ipv4" in r for r in rules)


def test_msk_broker_logs_go_to_an_encrypted_log_group(streaming_doc):
    _, cluster = only(streaming_doc, "aws_msk_cluster")
    cw = cluster["logging_info"]["broker_logs"]["cloudwatch_logs"]
    group = next(g for g in resources(streaming_doc, "aws_cloudwatch_log_group").values()
                 if g["name"].startswith("/aws/msk/"))
    assert cw["enabled"] is True and group["kms_key_id"] == KEY_ARN


def test_msk_broker_count_must_fill_the_subnets_evenly():
    with pytest.raises(ValueError, match=r"broker_count \(3\) must be a multiple of the 2 subnets"):
        synth_construct(lambda s: StreamingCluster(s, "m", name="m", kms_key_arn=KEY_ARN, vpc_id="v",
                                                   subnet_ids=["a", "b"], client_security_group_ids=["sg"],
                                                   log_retention_days=7, broker_count=3))


def test_msk_without_a_network_is_refused():
    with pytest.raises(ValueError, match=r"^MSK \(streaming: msk_enabled\) lives in the private subnets: it needs \[network\] enabled"):
        synth_construct(lambda s: wire_streaming(s, replace(STREAMING, msk_enabled=True), context(network=None)))


def test_msk_is_absent_by_default():
    doc = synth_construct(lambda s: wire_streaming(s, STREAMING, context()))
    assert not resources(doc, "aws_msk_cluster")


# ======================================================================================
# Glue streaming job
# ======================================================================================


def test_stream_table_takes_its_schema_from_the_registry(streaming_doc):
    _, table = only(streaming_doc, "aws_glue_catalog_table")
    ref = table["storage_descriptor"]["schema_reference"]
    assert ref == {"schema_id": {"registry_name": "pk-x-datasets", "schema_name": "events"}, "schema_version_number": 1}
    assert table["storage_descriptor"]["parameters"]["typeOfData"] == "kinesis"


def test_stream_job_is_a_glue_streaming_job_running_the_release_script(streaming_doc):
    _, job = only(streaming_doc, "aws_glue_job")
    assert job["command"]["name"] == "gluestreaming"
    assert job["command"]["script_location"] == f"s3://pk-x-artifacts-{ACCOUNT}/{ARTIFACT_KEYS['glue-stream-script']}"


def test_stream_job_writes_parquet_to_clean_with_checkpoints_in_s3(streaming_doc):
    _, job = only(streaming_doc, "aws_glue_job")
    args = job["default_arguments"]
    assert (args["--clean-bucket"], args["--output-prefix"], args["--checkpoint-location"]) == (
        f"pk-x-clean-{ACCOUNT}", "streaming", f"s3://pk-x-clean-{ACCOUNT}/_checkpoints/pk-x-stream-events-etl/")


def test_stream_job_role_reads_the_tokenisation_key_and_writes_only_its_prefixes(streaming_doc):
    sts = policy_of(streaming_doc, "job-role_policy")
    clean = f"arn:aws:s3:::pk-x-clean-{ACCOUNT}"
    assert sts["WriteParquetAndCheckpoints"]["Resource"] == [f"{clean}/streaming/*",
                                                             f"{clean}/_checkpoints/pk-x-stream-events-etl/*"]
    assert sts["ReadTokenisationKey"]["Resource"] == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/pk-x/tokenisation-key"


def test_stream_job_without_its_artifact_is_refused():
    with pytest.raises(ValueError, match="the release has no 'glue-stream-script'"):
        synth_construct(lambda s: wire_streaming(s, STREAMING, context(artifact_keys={})))


def test_stream_job_can_be_switched_off():
    doc = synth_construct(lambda s: wire_streaming(s, replace(STREAMING, glue_job_enabled=False),
                                                   context(artifact_keys={})))
    assert not resources(doc, "aws_glue_job") and not resources(doc, "aws_glue_catalog_table")


# ======================================================================================
# all of them
# ======================================================================================


def test_no_secret_value_lands_in_the_synthesized_json(dms_doc, streaming_doc, timestream_doc):
    text = json.dumps([dms_doc, streaming_doc, timestream_doc]).lower()
    assert '"password"' not in text and "auth_token" not in text and '"username"' not in text


def test_emulator_ignores_the_stream_tag_drift():
    doc = synth_construct(lambda s: wire_streaming(s, STREAMING, context(on_emulator=True)))
    assert only(doc, "aws_kinesis_stream")[1]["lifecycle"]["ignore_changes"] == ["tags", "tags_all"]


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_terraform_validate_accepts_all_the_ingest_services(tmp_path: Path) -> None:
    from kit.terraform import Terraform
    from modules.providers import aws_provider, pin_aws_provider

    app = App(outdir=str(tmp_path / "cdktf.out"))
    stack = TerraformStack(app, "ingest")
    pin_aws_provider(stack)
    aws_provider(stack, region=REGION, account_id=ACCOUNT, default_tags={"Project": "pipeline-kit"})
    ctx = context(deletion_protection=True, prevent_destroy=True)
    wire_timestream(stack, TimestreamConfig(enabled=True), ctx)
    wire_dms(stack, DMS, ctx)
    wire_streaming(stack, replace(STREAMING, msk_enabled=True), ctx)
    app.synth()
    tf = Terraform.for_stack(tmp_path / "cdktf.out" / "stacks" / "ingest", state_dir=tmp_path / "state")
    tf.init(backend=False, quiet=True)
    result = tf.validate()
    assert result.returncode == 0, f"terraform validate failed:\n{result.stdout}\n{result.stderr}"
    assert "Success" in result.stdout, result.stdout


# ======================================================================================
# glue/stream_events.py: the pure part of the streaming job
# ======================================================================================

EVENT = {"event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "event_type": "purchase",
         "occurred_at": "2024-05-01T10:00:00Z", "user_id": " u-42 ", "ip_address": None, "value": "9.99",
         "item_count": 2}
STREAM_KEY = b"k" * 32


def _events_spec():
    from glue.specs import shipped_specs

    return next(s for s in shipped_specs() if s.name == "events")


def test_stream_job_tokenises_pii_like_cleanse():
    import hashlib
    import hmac

    from glue.stream_events import Tokeniser, stream_rows

    rows = stream_rows([json.dumps(EVENT)], _events_spec(), Tokeniser(STREAM_KEY), "stream/events/batch-1")
    assert rows[0]["user_id"] == hmac.new(STREAM_KEY, b"u-42", hashlib.sha256).hexdigest()
    assert rows[0]["ip_address"] is None and rows[0]["date"] == "2024-05-01"


def test_stream_job_rejects_bad_json_and_deduplicates_by_key():
    from glue.stream_events import Tokeniser, stream_rows
    from glue.transform import CompactStats

    stats = CompactStats()
    rows = stream_rows([json.dumps(EVENT), json.dumps(EVENT).encode(), "{not json", "[1]"], _events_spec(),
                       Tokeniser(STREAM_KEY), "stream/events/batch-1", stats)
    assert (len(rows), stats.duplicates, stats.rejected) == (1, 1, {"bad_json": 1, "not_an_object": 1})


def test_stream_job_partitions_by_run_day_without_a_partition_column():
    from datetime import date

    from glue.specs import ColumnSpec, DatasetSpec
    from glue.stream_events import source_tag

    spec = DatasetSpec(name="pings", format="jsonl", columns=(ColumnSpec(name="id"),))
    assert source_tag(spec, "pings", 7, date(2024, 5, 2)) == "stream/pings/date=2024-05-02/batch-7"


def test_stream_job_arguments_round_trip_through_the_script_parser():
    from glue.stream_events import parse_job_arguments
    from modules.services.streaming import stream_job_arguments

    args = stream_job_arguments(dataset=_events_spec(), database="db", table="events_stream", clean_bucket="c",
                                script_bucket="a", library_key="lib.zip", tokenisation_parameter="/pk-x/tokenisation-key",
                                checkpoint_location="s3://c/_checkpoints/j/", window_seconds=60,
                                starting_position="TRIM_HORIZON")
    options = parse_job_arguments([part for k, v in args.items() for part in (k, v.replace("$${", "${"))])
    assert (options.dataset, options.target, options.window_seconds) == ("events", "s3://c/streaming/dataset=events/", 60)


def test_stream_job_arguments_name_what_is_missing():
    from glue.stream_events import parse_job_arguments

    with pytest.raises(ValueError, match="missing job argument.*--checkpoint-location"):
        parse_job_arguments(["--dataset", "events"])


def test_stream_tokeniser_refuses_a_short_key_and_hides_it():
    from glue.stream_events import Tokeniser

    with pytest.raises(ValueError, match="tokenisation key is too short: 3 bytes"):
        Tokeniser(b"abc")
    assert "k" * 32 not in repr(Tokeniser(STREAM_KEY))
