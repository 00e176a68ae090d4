"""The optional data services on the emulator: what moto server can create for the real AWS
provider is applied with real Terraform, checked over boto3, re-planned (no changes) and
destroyed. The rest is proven by `terraform validate` (tests/infra/test_services_stack.py).

The services attach to a small stand-in of the pipeline (key, private network, buckets, status
table, Glue catalog) built here, so the test does not pay for a second full deployment. It runs
last (file order): it resets the session emulator first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import modules  # noqa: F401  -- the lazy bindings loader, before any AWS binding
from environments import load_environment
from environments.sections.services import EMULATOR_APPLIES, ServicesConfig
from modules.catalog import registry_name

PREFIX = "pk-svc"
REGION = "us-east-1"
ACCOUNT = "123456789012"


def _services_config() -> ServicesConfig:
    """Every service the emulator can create (``EMULATOR_APPLIES``), switched on."""
    base = load_environment("local").services
    return ServicesConfig(
        appsync=dataclasses.replace(base.appsync, enabled=True),
        lakeformation=dataclasses.replace(base.lakeformation, enabled=True,
                                          admins=(f"arn:aws:iam::{ACCOUNT}:role/pipeline-kit-admin",)),
        streaming=dataclasses.replace(base.streaming, enabled=True),
        neptune=dataclasses.replace(base.neptune, enabled=True),
        opensearch=dataclasses.replace(base.opensearch, enabled=True,
                                       admin_role_arns=(f"arn:aws:iam::{ACCOUNT}:role/pipeline-kit-admin",)),
    )


def _stack(workdir: Path, url: str, state: Path) -> None:
    from cdktf import App, TerraformStack

    import main
    from modules.catalog import CatalogDatabases, SchemaRegistry
    from modules.kms import EnvironmentKey
    from modules.network import FlowLogSettings, PrivateNetwork
    from modules.providers import EmulatorEndpoint, aws_provider, local_state, pin_aws_provider
    from modules.services import (
        BucketRef,
        NetworkRefs,
        ServiceContext,
        TableRef,
        documents,
        governance,
        graphql,
        search,
        streaming,
    )
    from modules.storage import DataBucket
    from modules.tables import Capacity, StatusTable, TableProtection

    app = App(outdir=str(workdir))
    st = TerraformStack(app, "services")
    pin_aws_provider(st)
    aws_provider(st, region=REGION, account_id=ACCOUNT, default_tags={"Project": "pipeline-kit", "Environment": "svc"},
                 emulator=EmulatorEndpoint(url=url))
    local_state(st, path=str(state))
    key = EnvironmentKey(st, "key", alias_name=f"{PREFIX}-data", account_id=ACCOUNT, region=REGION,
                         deletion_window_days=7, prevent_destroy=False)
    net = PrivateNetwork(st, "network", name=PREFIX, cidr="10.60.0.0/16", availability_zones=2, region=REGION,
                         account_id=ACCOUNT, kms_key_arn=key.key.arn,
                         flow_logs=FlowLogSettings(retention_days=1), rule_descriptions=False)
    buckets = {p: DataBucket(st, f"bucket-{p}", name=f"{PREFIX}-{p}-{ACCOUNT}", kms_key_arn=key.key.arn,
                             force_destroy=True, prevent_destroy=False, deny_insecure_transport=False,
                             noncurrent_version_expiration_days=1)
               for p in ("landing", "clean", "quarantine")}
    status = StatusTable(st, "status", name=f"{PREFIX}-status", kms_key_arn=key.key.arn,
                         protection=TableProtection(point_in_time_recovery=False, deletion_protection=False,
                                                    prevent_destroy=False),
                         capacity=Capacity(billing_mode="PAY_PER_REQUEST"))
    specs = main.dataset_specs()
    dbs = CatalogDatabases(st, "catalog", name_prefix=PREFIX)
    SchemaRegistry(st, "registry", name=registry_name(PREFIX), datasets=specs, ignore_tag_changes=True)
    ctx = ServiceContext(
        name_prefix=PREFIX, region=REGION, account_id=ACCOUNT, kms_key_arn=key.key.arn, log_retention_days=1,
        deletion_protection=False, prevent_destroy=False, on_emulator=True,
        buckets={p: BucketRef(name=b.bucket.bucket, arn=b.bucket.arn) for p, b in buckets.items()},
        tables={"status": TableRef(name=status.table.name, arn=status.table.arn)},
        glue_clean_database=dbs.clean.name, glue_raw_database=dbs.raw.name,
        schema_registry_name=registry_name(PREFIX), catalog_reader_role_arns=(), datasets=[s.name for s in specs],
        artifacts_bucket=f"{PREFIX}-artifacts-{ACCOUNT}",
        artifact_keys={"glue-stream-script": "artifacts/glue-stream-script/x.py",
                       "glue-library": "artifacts/glue-library/x.zip"},
        alarm_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-alarms",
        network=NetworkRefs(vpc_id=net.vpc.id, vpc_cidr=net.cidr, private_subnet_ids=net.private_subnet_ids,
                            client_security_group_ids=net.client_security_group_ids),
    )
    cfg = _services_config()
    graphql.wire_appsync(st, cfg.appsync, ctx)
    governance.wire_lakeformation(st, cfg.lakeformation, ctx)
    streaming.wire_streaming(st, cfg.streaming, ctx, specs=specs)
    documents.wire_neptune(st, cfg.neptune, ctx)
    search.wire_opensearch(st, cfg.opensearch, ctx)
    app.synth()


@pytest.fixture(scope="module")
def applied(emulator, tmp_path_factory):
    from kit.terraform import Terraform
    from kit.ui import KitError

    emulator.reset()
    root = tmp_path_factory.mktemp("services")
    _stack(root / "out", emulator.url, root / "state" / "terraform.tfstate")
    tf = Terraform.for_stack(root / "out" / "stacks" / "services", state_dir=root / "tfstate")
    tf.init(backend=True, quiet=True)
    assert tf.plan("tfplan")
    tf.apply("tfplan")
    yield tf, emulator
    assert tf.plan("destroy.tfplan", destroy=True)
    try:
        tf.apply("destroy.tfplan")
    except KitError:
        # The emulator merges two ingress rules on one port into one permission (see
        # kit/cli.py cmd_destroy): a second pass finishes what the first could not.
        if tf.plan("destroy.tfplan", destroy=True):
            tf.apply("destroy.tfplan")
    assert tf.plan("empty.tfplan", destroy=True) is False, "something survived the destroy"


def test_every_service_the_emulator_can_create_is_applied_here():
    assert sorted(_services_config().enabled()) == sorted(EMULATOR_APPLIES)


def test_the_applied_services_converge(applied):
    tf, _ = applied
    assert tf.plan("again.tfplan") is False, "a second plan right after apply must show no changes"


def test_appsync_api_uses_iam_authorisation_only(applied):
    _, emu = applied
    apis = emu.client("appsync", REGION).list_graphql_apis()["graphqlApis"]
    ours = [a for a in apis if a["name"].startswith(PREFIX)]
    assert len(ours) == 1 and ours[0]["authenticationType"] == "AWS_IAM"
    assert not ours[0].get("additionalAuthenticationProviders")


def test_lake_formation_registers_the_clean_bucket(applied):
    _, emu = applied
    lf = emu.client("lakeformation", REGION)
    registered = [r["ResourceArn"] for r in lf.list_resources()["ResourceInfoList"]]
    assert f"arn:aws:s3:::{PREFIX}-clean-{ACCOUNT}" in registered
    admins = lf.get_data_lake_settings()["DataLakeSettings"]["DataLakeAdmins"]
    assert {"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:role/pipeline-kit-admin"} in admins


def test_stream_is_encrypted_and_firehose_delivers_jsonl_into_landing(applied):
    _, emu = applied
    kinesis = emu.client("kinesis", REGION)
    names = [n for n in kinesis.list_streams()["StreamNames"] if n.startswith(PREFIX)]
    assert len(names) == 1
    desc = kinesis.describe_stream_summary(StreamName=names[0])["StreamDescriptionSummary"]
    assert desc["EncryptionType"] == "KMS"
    firehose = emu.client("firehose", REGION)
    streams = [n for n in firehose.list_delivery_streams()["DeliveryStreamNames"] if n.startswith(PREFIX)]
    assert len(streams) == 1
    dest = firehose.describe_delivery_stream(DeliveryStreamName=streams[0])["DeliveryStreamDescription"]["Destinations"][0]
    s3 = dest.get("ExtendedS3DestinationDescription") or dest["S3DestinationDescription"]
    assert s3["BucketARN"] == f"arn:aws:s3:::{PREFIX}-landing-{ACCOUNT}"
    assert s3["Prefix"].startswith("events/")


def test_streaming_glue_job_reads_the_registry_schema(applied):
    _, emu = applied
    glue = emu.client("glue", REGION)
    jobs = [j for j in glue.get_jobs()["Jobs"] if j["Name"].startswith(PREFIX)]
    assert [j["Command"]["Name"] for j in jobs] == ["gluestreaming"]
    table = glue.get_table(DatabaseName=f"{PREFIX.replace('-', '_')}_raw", Name="events_stream")["Table"]
    assert table["StorageDescriptor"]["SchemaReference"]["SchemaId"]["RegistryName"] == registry_name(PREFIX)


def test_neptune_cluster_is_encrypted_private_and_backed_up(applied):
    _, emu = applied
    clusters = [c for c in emu.client("neptune", REGION).describe_db_clusters()["DBClusters"]
                if c["DBClusterIdentifier"].startswith(PREFIX)]
    assert len(clusters) == 1
    c = clusters[0]
    assert c["StorageEncrypted"] is True and ":key/" in c["KmsKeyId"]
    assert c["BackupRetentionPeriod"] == 7
    assert len(c["VpcSecurityGroups"]) == 1


def test_opensearch_domain_is_in_the_vpc_encrypted_and_https_only(applied):
    _, emu = applied
    client = emu.client("opensearch", REGION)
    names = [d["DomainName"] for d in client.list_domain_names()["DomainNames"] if d["DomainName"].startswith(PREFIX)]
    assert len(names) == 1
    d = client.describe_domain(DomainName=names[0])["DomainStatus"]
    assert d["EncryptionAtRestOptions"]["Enabled"] is True
    assert d["NodeToNodeEncryptionOptions"]["Enabled"] is True
    assert d["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert d["VPCOptions"]["SubnetIds"]
    assert d["AdvancedSecurityOptions"]["Enabled"] is True
    assert d["AdvancedSecurityOptions"].get("InternalUserDatabaseEnabled") is not True
