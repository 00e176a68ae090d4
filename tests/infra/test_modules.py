"""Synth assertions: the constructs' own guards, each construct synthesized alone with cdktf's
``Testing`` helpers, and the five synthesized environment stacks (one shared session synth, see
conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from cdktf import TerraformStack  # noqa: E402
from cdktf import Testing as CdkTesting  # noqa: E402  -- aliased: pytest would try to collect "Testing"
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup  # noqa: E402
from cdktf_cdktf_provider_aws.dynamodb_table import DynamodbTable  # noqa: E402
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias  # noqa: E402
from cdktf_cdktf_provider_aws.kms_key import KmsKey  # noqa: E402
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket  # noqa: E402
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfiguration  # noqa: E402
from cdktf_cdktf_provider_aws.s3_bucket_notification import S3BucketNotification  # noqa: E402
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy  # noqa: E402
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock  # noqa: E402
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (  # noqa: E402
    S3BucketServerSideEncryptionConfigurationA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA  # noqa: E402
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic  # noqa: E402
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue  # noqa: E402
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy  # noqa: E402
from synth_helpers import only, resources  # noqa: E402

import modules  # noqa: F401  -- first: installs the lazy loader for the AWS bindings below
from environments import ALL_ENVIRONMENTS, PROMOTION_ORDER, EnvironmentConfig, load_all, load_environment  # noqa: E402
from modules.kms import EnvironmentKey  # noqa: E402
from modules.logs import LogGroup  # noqa: E402
from modules.plugins import BUCKETS, PluginManifest, discover_plugins, load_manifest  # noqa: E402
from modules.providers import EMULATED_SERVICES, EmulatorEndpoint, aws_provider, pin_aws_provider  # noqa: E402
from modules.queues import MAX_VISIBILITY_TIMEOUT, BucketEventsToQueue, StageQueue, visibility_timeout_for  # noqa: E402
from modules.stack import PipelineStack  # noqa: E402
from modules.storage import DataBucket, GlacierLifecycle  # noqa: E402
from modules.tables import (  # noqa: E402
    Capacity,
    DataTable,
    IdempotencyTable,
    SecondaryIndex,
    StatusTable,
    TableProtection,
)
from modules.topics import Topic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AWS_ENVS = PROMOTION_ORDER
KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
#: prevent_destroy on the data stores, per environment (what the shipped files promise)
PROTECTED = {"local": False, "dev": False, "test": False, "staging": True, "prod": True}


# ======================================================================================
# helpers
# ======================================================================================


def synth_construct(build: Callable[[TerraformStack], Any]) -> tuple[str, dict[str, Any]]:
    """Synthesize whatever ``build`` adds to a fresh test stack: (JSON text, parsed)."""
    app = CdkTesting.app()
    stack = TerraformStack(app, "under-test")
    build(stack)
    text = CdkTesting.synth(stack)
    return text, json.loads(text)




def at(doc: dict[str, Any], rtype: str, path: str) -> tuple[str, dict[str, Any]]:
    """The resource of ``rtype`` whose construct path is ``path`` (e.g. ``prod/bucket-landing/bucket``)."""
    found = [(rid, r) for rid, r in resources(doc, rtype).items() if r["//"]["metadata"]["path"] == path]
    assert len(found) == 1, f"expected one {rtype} at {path}, found {[rid for rid, _ in found]}"
    return found[0]


def ref(rtype: str, rid: str, attr: str) -> str:
    return "${%s.%s.%s}" % (rtype, rid, attr)


def statements(policy: str) -> list[dict[str, Any]]:
    doc = json.loads(policy)
    assert doc["Version"] == "2012-10-17"
    return doc["Statement"]


def environment_key(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The environment's key (``<stack>/key/key``): the stack's other key is the Glue bookmark key."""
    found = [(rid, r) for rid, r in resources(doc, KmsKey.TF_RESOURCE_TYPE).items()
             if r["//"]["metadata"]["path"].endswith("/key/key")]
    assert len(found) == 1, f"expected one environment key, found {[rid for rid, _ in found]}"
    return found[0]


def key_arn(doc: dict[str, Any]) -> str:
    rid, _ = environment_key(doc)
    return ref(KmsKey.TF_RESOURCE_TYPE, rid, "arn")


def bucket_of(doc: dict[str, Any], env: str, purpose: str) -> tuple[str, dict[str, Any]]:
    return at(doc, S3Bucket.TF_RESOURCE_TYPE, f"{env}/bucket-{purpose}/bucket")


def lifecycle_rules(doc: dict[str, Any], env: str, purpose: str) -> dict[str, dict[str, Any]]:
    _, lc = at(doc, S3BucketLifecycleConfiguration.TF_RESOURCE_TYPE, f"{env}/bucket-{purpose}/lifecycle")
    return {rule["id"]: rule for rule in lc["rule"]}


@pytest.fixture(scope="module")
def configs() -> dict[str, EnvironmentConfig]:
    return load_all()


@pytest.fixture(scope="module")
def plugins() -> list[PluginManifest]:
    return [m for m in discover_plugins() if m.has_queue]  # API-invoked plug-ins have no queue


# ======================================================================================
# the lazy loader
# ======================================================================================


def test_importing_modules_does_not_import_the_whole_bindings_package() -> None:
    code = ("import modules; from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket; import sys; "
            "print(sum(1 for m in sys.modules if m.startswith('cdktf_cdktf_provider_aws.')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip().splitlines()[-1]) < 10


# ======================================================================================
# construct guards (no synth needed)
# ======================================================================================


def test_visibility_timeout_is_six_times_the_consumer_timeout() -> None:
    assert visibility_timeout_for(120) == 720


def test_visibility_timeout_at_the_sqs_maximum() -> None:
    assert visibility_timeout_for(7200) == MAX_VISIBILITY_TIMEOUT == 43_200


def test_visibility_timeout_above_the_sqs_maximum() -> None:
    with pytest.raises(ValueError) as info:
        visibility_timeout_for(7201)
    assert str(info.value) == ("consumer timeout 7201s needs a visibility timeout of 43206s, "
                               "above the SQS maximum of 43200s")


def test_visibility_timeout_for_a_zero_timeout() -> None:
    with pytest.raises(ValueError, match=r"^consumer timeout must be at least 1 second, got 0$"):
        visibility_timeout_for(0)


@pytest.mark.parametrize(("transition", "expiration"), [(30, 30), (90, 30)], ids=["equal", "shorter"])
def test_glacier_lifecycle_expiry_must_follow_the_transition(transition: int, expiration: int) -> None:
    with pytest.raises(ValueError) as info:
        GlacierLifecycle(transition_days=transition, expiration_days=expiration)
    assert str(info.value) == f"expiration_days ({expiration}) must be greater than transition_days ({transition})"


def test_data_bucket_refuses_force_destroy_with_prevent_destroy() -> None:
    app = CdkTesting.app()
    stack = TerraformStack(app, "under-test")
    with pytest.raises(ValueError) as info:
        DataBucket(stack, "b", name="pk-x-landing-111111111111", kms_key_arn=KEY_ARN, force_destroy=True,
                   prevent_destroy=True, deny_insecure_transport=True, noncurrent_version_expiration_days=7)
    assert str(info.value) == (
        "bucket pk-x-landing-111111111111: force_destroy and prevent_destroy contradict each other")


def test_stage_queue_refuses_a_dlq_shorter_than_the_queue() -> None:
    app = CdkTesting.app()
    stack = TerraformStack(app, "under-test")
    with pytest.raises(ValueError) as info:
        StageQueue(stack, "q", name="pk-x-validate", kms_key_arn=KEY_ARN, consumer_timeout_seconds=60,
                   message_retention_seconds=86400, dlq_retention_seconds=3600, max_receive_count=3,
                   prevent_destroy=False)
    assert str(info.value) == "queue pk-x-validate: the DLQ must keep messages at least as long as the queue"


def test_stage_queue_refuses_a_consumer_timeout_sqs_cannot_hold() -> None:
    app = CdkTesting.app()
    stack = TerraformStack(app, "under-test")
    with pytest.raises(ValueError, match="above the SQS maximum of 43200s"):
        StageQueue(stack, "q", name="pk-x-validate", kms_key_arn=KEY_ARN, consumer_timeout_seconds=10_000,
                   message_retention_seconds=3600, dlq_retention_seconds=3600, max_receive_count=3,
                   prevent_destroy=False)


def test_log_group_refuses_a_non_positive_retention() -> None:
    app = CdkTesting.app()
    stack = TerraformStack(app, "under-test")
    with pytest.raises(ValueError) as info:
        LogGroup(stack, "l", name="/aws/lambda/pk-x-validate", retention_days=0)
    assert str(info.value) == "log group /aws/lambda/pk-x-validate: retention_days must be positive, got 0"


# ======================================================================================
# each construct synthesized alone (cdktf Testing)
# ======================================================================================


def _bucket(stack: TerraformStack, **overrides: Any) -> DataBucket:
    props: dict[str, Any] = dict(name="pk-x-archive-111111111111", kms_key_arn=KEY_ARN, force_destroy=False,
                                 prevent_destroy=True, deny_insecure_transport=True,
                                 noncurrent_version_expiration_days=7)
    props.update(overrides)
    return DataBucket(stack, "b", **props)


def test_data_bucket_synthesizes_an_encrypted_versioned_private_bucket() -> None:
    text, _ = synth_construct(_bucket)
    assert CdkTesting.to_have_resource_with_properties(text, S3Bucket.TF_RESOURCE_TYPE, {
        "bucket": "pk-x-archive-111111111111", "force_destroy": False, "lifecycle": {"prevent_destroy": True}})
    assert CdkTesting.to_have_resource_with_properties(
        text, S3BucketVersioningA.TF_RESOURCE_TYPE, {"versioning_configuration": {"status": "Enabled"}})
    assert CdkTesting.to_have_resource_with_properties(text, S3BucketPublicAccessBlock.TF_RESOURCE_TYPE, {
        "block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
        "restrict_public_buckets": True})


def test_data_bucket_sse_uses_the_given_key() -> None:
    _, doc = synth_construct(_bucket)
    _, sse = only(doc, S3BucketServerSideEncryptionConfigurationA.TF_RESOURCE_TYPE)
    assert sse["rule"] == [{"apply_server_side_encryption_by_default": {
        "kms_master_key_id": KEY_ARN, "sse_algorithm": "aws:kms"}, "bucket_key_enabled": True}]


def test_data_bucket_without_tls_deny_has_no_policy() -> None:
    built: list[DataBucket] = []
    _, doc = synth_construct(lambda s: built.append(_bucket(s, deny_insecure_transport=False)))
    assert built[0].policy is None
    assert resources(doc, S3BucketPolicy.TF_RESOURCE_TYPE) == {}


def test_data_bucket_tls_policy_waits_for_the_public_access_block() -> None:
    _, doc = synth_construct(_bucket)
    pab_id, _ = only(doc, S3BucketPublicAccessBlock.TF_RESOURCE_TYPE)
    _, policy = only(doc, S3BucketPolicy.TF_RESOURCE_TYPE)
    assert policy["depends_on"] == [f"{S3BucketPublicAccessBlock.TF_RESOURCE_TYPE}.{pab_id}"]


def test_data_bucket_without_glacier_only_expires_noncurrent_versions() -> None:
    _, doc = synth_construct(_bucket)
    _, lc = only(doc, S3BucketLifecycleConfiguration.TF_RESOURCE_TYPE)
    assert lc["rule"] == [{
        "id": "expire-noncurrent-versions", "status": "Enabled", "filter": [{"prefix": ""}],
        "noncurrent_version_expiration": [{"noncurrent_days": 7}],
        "abort_incomplete_multipart_upload": [{"days_after_initiation": 1}],
    }]


def test_data_bucket_with_glacier_adds_transition_and_expiry() -> None:
    _, doc = synth_construct(lambda s: _bucket(s, glacier=GlacierLifecycle(transition_days=30, expiration_days=400)))
    _, lc = only(doc, S3BucketLifecycleConfiguration.TF_RESOURCE_TYPE)
    glacier = next(r for r in lc["rule"] if r["id"] == "archive-to-glacier")
    assert (glacier["transition"], glacier["expiration"]) == (
        [{"days": 30, "storage_class": "GLACIER"}], [{"days": 400}])


def _queue(stack: TerraformStack, **overrides: Any) -> StageQueue:
    props: dict[str, Any] = dict(name="pk-x-validate", kms_key_arn=KEY_ARN, consumer_timeout_seconds=90,
                                 message_retention_seconds=86400, dlq_retention_seconds=1209600,
                                 max_receive_count=4, prevent_destroy=True)
    props.update(overrides)
    return StageQueue(stack, "q", **props)


def test_stage_queue_synthesizes_queue_and_dlq() -> None:
    text, _ = synth_construct(_queue)
    assert CdkTesting.to_have_resource_with_properties(text, SqsQueue.TF_RESOURCE_TYPE, {
        "name": "pk-x-validate", "kms_master_key_id": KEY_ARN, "visibility_timeout_seconds": 540,
        "message_retention_seconds": 86400, "lifecycle": {"prevent_destroy": True}})
    assert CdkTesting.to_have_resource_with_properties(text, SqsQueue.TF_RESOURCE_TYPE, {
        "name": "pk-x-validate-dlq", "kms_master_key_id": KEY_ARN, "message_retention_seconds": 1209600})


def test_stage_queue_redrives_to_its_dlq() -> None:
    _, doc = synth_construct(_queue)
    queues = resources(doc, SqsQueue.TF_RESOURCE_TYPE)
    dlq_id = next(rid for rid, q in queues.items() if q["name"] == "pk-x-validate-dlq")
    queue = next(q for q in queues.values() if q["name"] == "pk-x-validate")
    assert json.loads(queue["redrive_policy"]) == {
        "deadLetterTargetArn": ref(SqsQueue.TF_RESOURCE_TYPE, dlq_id, "arn"), "maxReceiveCount": 4}


@pytest.mark.parametrize("ignore", [True, False])
def test_stage_queue_ignores_redrive_changes_only_when_asked(ignore: bool) -> None:
    _, doc = synth_construct(lambda s: _queue(s, ignore_redrive_policy_changes=ignore))
    queue = next(q for q in resources(doc, SqsQueue.TF_RESOURCE_TYPE).values() if q["name"] == "pk-x-validate")
    assert queue["lifecycle"].get("ignore_changes") == (["redrive_policy"] if ignore else None)


def test_bucket_events_to_queue_with_filters_and_events() -> None:
    def build(stack: TerraformStack) -> None:
        bucket = _bucket(stack, name="pk-x-landing-111111111111")
        queue = _queue(stack)
        BucketEventsToQueue(stack, "events", bucket_arn=bucket.bucket.arn, bucket_id=bucket.bucket.id,
                            queue_arn=queue.queue.arn, queue_url=queue.queue.url, account_id="111111111111",
                            events=("s3:ObjectCreated:Put",), filter_prefix="incoming/", filter_suffix=".csv")

    _, doc = synth_construct(build)
    _, notification = only(doc, S3BucketNotification.TF_RESOURCE_TYPE)
    [target] = notification["queue"]
    assert {k: target[k] for k in ("events", "filter_prefix", "filter_suffix", "id")} == {
        "events": ["s3:ObjectCreated:Put"], "filter_prefix": "incoming/", "filter_suffix": ".csv",
        "id": "object-created"}


def test_environment_key_rotation_window_and_alias() -> None:
    def build(stack: TerraformStack) -> None:
        EnvironmentKey(stack, "key", alias_name="pk-x-data", account_id="111111111111", region="eu-west-1",
                       deletion_window_days=7, prevent_destroy=False)

    text, doc = synth_construct(build)
    assert CdkTesting.to_have_resource_with_properties(text, KmsKey.TF_RESOURCE_TYPE, {
        "enable_key_rotation": True, "deletion_window_in_days": 7, "lifecycle": {"prevent_destroy": False}})
    key_id, _ = only(doc, KmsKey.TF_RESOURCE_TYPE)
    _, alias = only(doc, KmsAlias.TF_RESOURCE_TYPE)
    assert alias == {"name": "alias/pk-x-data", "target_key_id": ref(KmsKey.TF_RESOURCE_TYPE, key_id, "key_id")}


def test_environment_key_policy_lets_cloudwatch_logs_of_the_region_use_it() -> None:
    def build(stack: TerraformStack) -> None:
        EnvironmentKey(stack, "key", alias_name="pk-x-data", account_id="111111111111", region="eu-west-1",
                       deletion_window_days=7, prevent_destroy=False)

    _, doc = synth_construct(build)
    _, key = only(doc, KmsKey.TF_RESOURCE_TYPE)
    by_sid = {s["Sid"]: s for s in statements(key["policy"])}
    assert sorted(by_sid) == ["AccountAdministration", "AwsServicesUseKey", "CloudWatchLogsUseKey"]
    assert by_sid["AccountAdministration"]["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert by_sid["CloudWatchLogsUseKey"]["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert by_sid["CloudWatchLogsUseKey"]["Condition"] == {"ArnLike": {
        "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111111111111:log-group:*"}}


_PROTECTION = TableProtection(point_in_time_recovery=True, deletion_protection=True, prevent_destroy=True)


def test_data_table_provisioned_capacity_reaches_table_and_index() -> None:
    def build(stack: TerraformStack) -> None:
        DataTable(stack, "t", name="pk-x-things", hash_key="pk", ttl_attribute="ttl", kms_key_arn=KEY_ARN,
                  protection=_PROTECTION,
                  capacity=Capacity(billing_mode="PROVISIONED", read_capacity=7, write_capacity=3),
                  indexes=[SecondaryIndex(name="by-kind", hash_key="kind")])

    _, doc = synth_construct(build)
    _, table = only(doc, DynamodbTable.TF_RESOURCE_TYPE)
    [gsi] = table["global_secondary_index"]
    capacities = (table["read_capacity"], table["write_capacity"], gsi["read_capacity"], gsi["write_capacity"])
    assert capacities == (7, 3, 7, 3)


def test_data_table_on_demand_has_no_capacity() -> None:
    def build(stack: TerraformStack) -> None:
        DataTable(stack, "t", name="pk-x-things", hash_key="pk", ttl_attribute="ttl", kms_key_arn=KEY_ARN,
                  protection=_PROTECTION)

    _, doc = synth_construct(build)
    _, table = only(doc, DynamodbTable.TF_RESOURCE_TYPE)
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert not {"read_capacity", "write_capacity", "global_secondary_index"} & set(table)


def test_status_table_layout() -> None:
    _, doc = synth_construct(lambda s: StatusTable(s, "t", name="pk-x-status", kms_key_arn=KEY_ARN,
                                                   protection=_PROTECTION))
    _, table = only(doc, DynamodbTable.TF_RESOURCE_TYPE)
    assert (table["hash_key"], table["ttl"]) == ("file_id", {"attribute_name": "expires_at", "enabled": True})
    assert table["global_secondary_index"] == [
        {"name": "by-dataset", "hash_key": "dataset", "range_key": "updated_at", "projection_type": "ALL"}]
    assert table["attribute"] == [{"name": n, "type": "S"} for n in ("file_id", "dataset", "updated_at")]


def test_idempotency_table_layout() -> None:
    _, doc = synth_construct(lambda s: IdempotencyTable(s, "t", name="pk-x-idem", kms_key_arn=KEY_ARN,
                                                         protection=_PROTECTION))
    _, table = only(doc, DynamodbTable.TF_RESOURCE_TYPE)
    assert (table["hash_key"], table["attribute"], table["ttl"]) == (
        "id", [{"name": "id", "type": "S"}], {"attribute_name": "expiration", "enabled": True})


def test_topic_is_encrypted() -> None:
    text, _ = synth_construct(lambda s: Topic(s, "t", name="pk-x-alarms", kms_key_arn=KEY_ARN, account_id="111111111111"))
    assert CdkTesting.to_have_resource_with_properties(text, SnsTopic.TF_RESOURCE_TYPE,
                                                    {"name": "pk-x-alarms", "kms_master_key_id": KEY_ARN})


def test_log_group_retention_and_key() -> None:
    text, _ = synth_construct(lambda s: LogGroup(s, "l", name="/aws/lambda/pk-x-validate", retention_days=14,
                                                 kms_key_arn=KEY_ARN))
    assert CdkTesting.to_have_resource_with_properties(text, CloudwatchLogGroup.TF_RESOURCE_TYPE, {
        "name": "/aws/lambda/pk-x-validate", "retention_in_days": 14, "kms_key_id": KEY_ARN})


def test_aws_provider_for_the_emulator_points_every_service_at_it() -> None:
    def build(stack: TerraformStack) -> None:
        aws_provider(stack, region="us-east-1", account_id="123456789012", default_tags={"Project": "p"},
                     emulator=EmulatorEndpoint(url="http://127.0.0.1:4999"))

    text, doc = synth_construct(build)
    assert CdkTesting.to_have_provider_with_properties(text, "aws", {"access_key": "testing", "secret_key": "testing",
                                                                  "s3_use_path_style": True})
    [provider] = doc["provider"]["aws"]
    [endpoints] = provider["endpoints"]
    assert endpoints == {s.rstrip("_"): "http://127.0.0.1:4999" for s in EMULATED_SERVICES}


def test_pin_aws_provider_overrides_the_bindings_version() -> None:
    def build(stack: TerraformStack) -> None:
        aws_provider(stack, region="eu-west-1", account_id="111111111111", default_tags={"Project": "p"})
        pin_aws_provider(stack)

    _, doc = synth_construct(build)
    assert doc["terraform"]["required_providers"]["aws"] == {"source": "hashicorp/aws", "version": "5.100.0"}


# ======================================================================================
# the five environment stacks (main.synth, shared session fixture)
# ======================================================================================

# -- KMS -------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_two_kms_keys_with_rotation_and_configured_deletion_window(stacks, configs, env: str) -> None:
    """The environment key, and the Glue job bookmarks' own key (client-side encryption)."""
    keys = resources(stacks[env], KmsKey.TF_RESOURCE_TYPE).values()
    assert len(keys) == 2
    assert {(k["enable_key_rotation"], k["deletion_window_in_days"]) for k in keys} == {
        (True, configs[env].protection.kms_deletion_window_days)}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_kms_alias_names_the_environment_key(stacks, configs, env: str) -> None:
    key_id, _ = environment_key(stacks[env])
    aliases = {a["name"]: a["target_key_id"] for a in resources(stacks[env], KmsAlias.TF_RESOURCE_TYPE).values()}
    assert aliases[f"alias/{configs[env].name_prefix}-data"] == ref(KmsKey.TF_RESOURCE_TYPE, key_id, "key_id")
    assert sorted(aliases) == [f"alias/{configs[env].name_prefix}-data", f"alias/{configs[env].name_prefix}-glue-bookmarks"]


# -- buckets ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_the_six_buckets_are_named_by_prefix_purpose_and_account(stacks, configs, env: str) -> None:
    names = sorted(b["bucket"] for b in resources(stacks[env], S3Bucket.TF_RESOURCE_TYPE).values())
    assert names == sorted(configs[env].bucket_name(p) for p in BUCKETS)


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_every_bucket_has_sse_kms_with_the_environment_key(stacks, env: str) -> None:
    doc = stacks[env]
    for purpose in BUCKETS:
        bid, _ = bucket_of(doc, env, purpose)
        _, sse = at(doc, S3BucketServerSideEncryptionConfigurationA.TF_RESOURCE_TYPE,
                    f"{env}/bucket-{purpose}/encryption")
        assert sse["bucket"] == ref(S3Bucket.TF_RESOURCE_TYPE, bid, "id")
        assert sse["rule"][0]["apply_server_side_encryption_by_default"] == {
            "sse_algorithm": "aws:kms", "kms_master_key_id": key_arn(doc)}, purpose


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_every_bucket_is_versioned(stacks, env: str) -> None:
    doc = stacks[env]
    for purpose in BUCKETS:
        bid, _ = bucket_of(doc, env, purpose)
        _, versioning = at(doc, S3BucketVersioningA.TF_RESOURCE_TYPE, f"{env}/bucket-{purpose}/versioning")
        assert (versioning["bucket"], versioning["versioning_configuration"]) == (
            ref(S3Bucket.TF_RESOURCE_TYPE, bid, "id"), {"status": "Enabled"}), purpose


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_every_bucket_blocks_public_access(stacks, env: str) -> None:
    doc = stacks[env]
    for purpose in BUCKETS:
        bid, _ = bucket_of(doc, env, purpose)
        _, pab = at(doc, S3BucketPublicAccessBlock.TF_RESOURCE_TYPE, f"{env}/bucket-{purpose}/public-access-block")
        assert pab["bucket"] == ref(S3Bucket.TF_RESOURCE_TYPE, bid, "id")
        assert all(pab[flag] is True for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                                  "restrict_public_buckets")), purpose


@pytest.mark.parametrize("env", AWS_ENVS)
def test_every_bucket_denies_insecure_transport_in_aws(stacks, env: str) -> None:
    doc = stacks[env]
    assert len(resources(doc, S3BucketPolicy.TF_RESOURCE_TYPE)) == len(BUCKETS)
    for purpose in BUCKETS:
        bid, _ = bucket_of(doc, env, purpose)
        _, policy = at(doc, S3BucketPolicy.TF_RESOURCE_TYPE, f"{env}/bucket-{purpose}/policy")
        arn = ref(S3Bucket.TF_RESOURCE_TYPE, bid, "arn")
        assert policy["bucket"] == ref(S3Bucket.TF_RESOURCE_TYPE, bid, "id")
        assert statements(policy["policy"])[0] == {
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }, purpose
        # Only the audit bucket adds statements: CloudTrail's, for this environment's trail.
        extra = {st["Sid"] for st in statements(policy["policy"])[1:]}
        assert extra == ({"AWSCloudTrailAclCheck", "AWSCloudTrailWrite"} if purpose == "audit" else set()), purpose


def test_no_tls_deny_policy_on_the_emulator(stacks) -> None:
    for _, policy in resources(stacks["local"], S3BucketPolicy.TF_RESOURCE_TYPE).items():
        assert "DenyInsecureTransport" not in {st["Sid"] for st in statements(policy["policy"])}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
@pytest.mark.parametrize("purpose", ["archive", "audit"])
def test_archive_and_audit_move_to_glacier_and_expire(stacks, configs, env: str, purpose: str) -> None:
    rule = lifecycle_rules(stacks[env], env, purpose)["archive-to-glacier"]
    storage = configs[env].storage
    assert (rule["status"], rule["transition"], rule["expiration"]) == (
        "Enabled", [{"days": storage.glacier_transition_days, "storage_class": "GLACIER"}],
        [{"days": storage.archive_expiration_days}])


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_only_archive_and_audit_have_a_glacier_rule(stacks, env: str) -> None:
    with_glacier = sorted(p for p in BUCKETS if "archive-to-glacier" in lifecycle_rules(stacks[env], env, p))
    assert with_glacier == ["archive", "audit"]


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_every_bucket_expires_noncurrent_versions(stacks, configs, env: str) -> None:
    days = configs[env].storage.noncurrent_version_expiration_days
    for purpose in BUCKETS:
        rule = lifecycle_rules(stacks[env], env, purpose)["expire-noncurrent-versions"]
        assert (rule["status"], rule["noncurrent_version_expiration"]) == (
            "Enabled", [{"noncurrent_days": days}]), purpose


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_force_destroy_follows_the_config(stacks, configs, env: str) -> None:
    values = {b["force_destroy"] for b in resources(stacks[env], S3Bucket.TF_RESOURCE_TYPE).values()}
    assert values == {configs[env].protection.force_destroy}


def test_prod_buckets_are_never_force_destroyed(stacks) -> None:
    assert not any(b["force_destroy"] for b in resources(stacks["prod"], S3Bucket.TF_RESOURCE_TYPE).values())


# -- protection of the data stores -----------------------------------------------------

_DATA_STORES = (KmsKey.TF_RESOURCE_TYPE, S3Bucket.TF_RESOURCE_TYPE, DynamodbTable.TF_RESOURCE_TYPE,
                SqsQueue.TF_RESOURCE_TYPE)


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_prevent_destroy_on_every_data_store(stacks, configs, plugins, env: str) -> None:
    seen = {(rtype, rid): r["lifecycle"]["prevent_destroy"]
            for rtype in _DATA_STORES for rid, r in resources(stacks[env], rtype).items()}
    n = configs[env].notifications  # + a delivery DLQ per topic with subscribers
    # two keys: the environment's and the Glue bookmarks'
    assert len(seen) == 2 + len(BUCKETS) + 2 + 2 * len(plugins) + bool(n.alarms) + bool(n.events)
    assert set(seen.values()) == {PROTECTED[env]}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_dynamodb_deletion_protection(stacks, env: str) -> None:
    values = [t["deletion_protection_enabled"] for t in resources(stacks[env], DynamodbTable.TF_RESOURCE_TYPE).values()]
    assert values == [PROTECTED[env]] * 2


# -- queues ----------------------------------------------------------------------------


def _stage(doc: dict[str, Any], env: str, plugin: str) -> tuple[tuple[str, dict], tuple[str, dict]]:
    return (at(doc, SqsQueue.TF_RESOURCE_TYPE, f"{env}/queue-{plugin}/queue"),
            at(doc, SqsQueue.TF_RESOURCE_TYPE, f"{env}/queue-{plugin}/dlq"))


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_one_queue_and_dlq_per_plugin(stacks, configs, plugins, env: str) -> None:
    names = sorted(q["name"] for q in resources(stacks[env], SqsQueue.TF_RESOURCE_TYPE).values())
    prefix = configs[env].name_prefix
    n = configs[env].notifications
    delivery = [f"{prefix}-{t}-delivery-dlq" for t, subs in (("alarms", n.alarms), ("pipeline-events", n.events)) if subs]
    assert names == sorted([f"{prefix}-{p.name}" for p in plugins] + [f"{prefix}-{p.name}-dlq" for p in plugins]
                           + delivery)


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_queues_redrive_to_their_dlq_with_the_configured_count(stacks, configs, plugins, env: str) -> None:
    for plugin in plugins:
        (_, queue), (dlq_id, _) = _stage(stacks[env], env, plugin.name)
        assert json.loads(queue["redrive_policy"]) == {
            "deadLetterTargetArn": ref(SqsQueue.TF_RESOURCE_TYPE, dlq_id, "arn"),
            "maxReceiveCount": configs[env].queues.max_receive_count}, plugin.name


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_queues_are_encrypted_with_the_environment_key(stacks, env: str) -> None:
    keys = {q["kms_master_key_id"] for q in resources(stacks[env], SqsQueue.TF_RESOURCE_TYPE).values()}
    assert keys == {key_arn(stacks[env])}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_queue_retention_follows_the_config(stacks, configs, plugins, env: str) -> None:
    q_cfg = configs[env].queues
    for plugin in plugins:
        (_, queue), (_, dlq) = _stage(stacks[env], env, plugin.name)
        assert (queue["message_retention_seconds"], dlq["message_retention_seconds"]) == (
            q_cfg.message_retention_seconds, q_cfg.dlq_retention_seconds), plugin.name


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_visibility_timeout_is_six_times_the_manifest_timeout(stacks, plugins, env: str) -> None:
    got = {p.name: _stage(stacks[env], env, p.name)[0][1]["visibility_timeout_seconds"] for p in plugins}
    assert got == {p.name: 6 * p.runtime.timeout_seconds for p in plugins}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_redrive_policy_changes_are_ignored_only_on_the_emulator(stacks, plugins, env: str) -> None:
    ignored = {rid: q["lifecycle"].get("ignore_changes")
               for rid, q in resources(stacks[env], SqsQueue.TF_RESOURCE_TYPE).items() if "redrive_policy" in q}
    expected = ["redrive_policy"] if env == "local" else None
    assert list(ignored.values()) == [expected] * len(ignored) and len(ignored) == len(plugins)


def test_queue_falls_back_to_the_environment_default_consumer_timeout(tmp_path: Path) -> None:
    # QueueConfig.default_consumer_timeout_seconds: "Default consumer (Lambda) timeout; a plug-in
    # manifest may declare its own". A manifest without runtime.timeout_seconds gets the default.
    folder = tmp_path / "stage"
    folder.mkdir()
    (folder / "manifest.toml").write_text('[plugin]\ndescription = "d"\n[consumes]\nsource = "landing"\n')
    plugin = load_manifest(folder)
    cfg = load_environment("dev")
    assert cfg.queues.default_consumer_timeout_seconds == 120

    app = CdkTesting.app()
    stack = PipelineStack(app, "dev", config=cfg, plugins=[plugin])
    doc = json.loads(CdkTesting.synth(stack))
    [queue] = [q for q in resources(doc, SqsQueue.TF_RESOURCE_TYPE).values() if q["name"] == "pk-dev-stage"]
    assert queue["visibility_timeout_seconds"] == 6 * 120


# -- landing → first stage ---------------------------------------------------------------


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_landing_notification_targets_the_first_stage_queue(stacks, plugins, env: str) -> None:
    doc = stacks[env]
    assert plugins[0].consumes_landing
    landing_id, _ = bucket_of(doc, env, "landing")
    (queue_id, _), _ = _stage(doc, env, plugins[0].name)
    policy_id, _ = at(doc, SqsQueuePolicy.TF_RESOURCE_TYPE, f"{env}/landing-events/policy")
    _, notification = only(doc, S3BucketNotification.TF_RESOURCE_TYPE)
    assert notification["bucket"] == ref(S3Bucket.TF_RESOURCE_TYPE, landing_id, "id")
    assert notification["queue"] == [{"id": "object-created", "events": ["s3:ObjectCreated:*"],
                                      "queue_arn": ref(SqsQueue.TF_RESOURCE_TYPE, queue_id, "arn")}]
    assert notification["depends_on"] == [f"{SqsQueuePolicy.TF_RESOURCE_TYPE}.{policy_id}"]


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_first_stage_queue_policy_allows_exactly_the_landing_bucket(stacks, configs, plugins, env: str) -> None:
    doc = stacks[env]
    landing_id, _ = bucket_of(doc, env, "landing")
    (queue_id, _), _ = _stage(doc, env, plugins[0].name)
    _, policy = at(doc, SqsQueuePolicy.TF_RESOURCE_TYPE, f"{env}/landing-events/policy")
    assert policy["queue_url"] == ref(SqsQueue.TF_RESOURCE_TYPE, queue_id, "url")
    assert statements(policy["policy"]) == [{
        "Sid": "AllowBucketEvents", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": ref(SqsQueue.TF_RESOURCE_TYPE, queue_id, "arn"),
        "Condition": {"ArnEquals": {"aws:SourceArn": ref(S3Bucket.TF_RESOURCE_TYPE, landing_id, "arn")},
                      "StringEquals": {"aws:SourceAccount": configs[env].account_id}},
    }]


# -- topics, tables, log groups ----------------------------------------------------------


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_topics_are_encrypted_with_the_environment_key(stacks, configs, env: str) -> None:
    topics = {t["name"]: t["kms_master_key_id"] for t in resources(stacks[env], SnsTopic.TF_RESOURCE_TYPE).values()}
    prefix = configs[env].name_prefix
    assert topics == {f"{prefix}-pipeline-events": key_arn(stacks[env]), f"{prefix}-alarms": key_arn(stacks[env])}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_status_table(stacks, configs, env: str) -> None:
    cfg = configs[env]
    _, table = at(stacks[env], DynamodbTable.TF_RESOURCE_TYPE, f"{env}/table-status/table")
    assert (table["name"], table["hash_key"], table["billing_mode"]) == (
        cfg.resource_name("status"), "file_id", cfg.tables.billing_mode)
    assert table["ttl"] == {"attribute_name": "expires_at", "enabled": True}
    assert table["point_in_time_recovery"] == {"enabled": cfg.protection.point_in_time_recovery}
    assert [(i["name"], i["hash_key"], i["range_key"]) for i in table["global_secondary_index"]] == [
        ("by-dataset", "dataset", "updated_at")]
    assert table["server_side_encryption"] == {"enabled": True, "kms_key_arn": key_arn(stacks[env])}


def test_status_table_point_in_time_recovery_is_on_everywhere(stacks) -> None:
    assert all(at(stacks[env], DynamodbTable.TF_RESOURCE_TYPE, f"{env}/table-status/table")[1]
               ["point_in_time_recovery"] == {"enabled": True} for env in ALL_ENVIRONMENTS)


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_idempotency_table(stacks, configs, env: str) -> None:
    _, table = at(stacks[env], DynamodbTable.TF_RESOURCE_TYPE, f"{env}/table-idempotency/table")
    assert (table["name"], table["hash_key"], table["attribute"], table["ttl"]) == (
        configs[env].resource_name("idempotency"), "id", [{"name": "id", "type": "S"}],
        {"attribute_name": "expiration", "enabled": True})
    assert table["server_side_encryption"] == {"enabled": True, "kms_key_arn": key_arn(stacks[env])}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_one_log_group_per_plugin_with_retention_and_key(stacks, configs, plugins, env: str) -> None:
    cfg = configs[env]
    groups = {g["name"]: (g["retention_in_days"], g["kms_key_id"])
              for g in resources(stacks[env], CloudwatchLogGroup.TF_RESOURCE_TYPE).values()
              if g["name"].startswith("/aws/lambda/")}
    assert groups == {f"/aws/lambda/{cfg.resource_name(p.name)}": (cfg.log_retention_days, key_arn(stacks[env]))
                      for p in discover_plugins()}


# -- provider and backend ----------------------------------------------------------------


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_aws_provider_is_pinned_to_5_100_0(stacks, env: str) -> None:
    assert stacks[env]["terraform"]["required_providers"] == {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_default_tags_carry_project_and_environment(stack_texts, env: str) -> None:
    assert CdkTesting.to_have_provider_with_properties(
        stack_texts[env], "aws", {"default_tags": [{"tags": {"Project": "pipeline-kit", "Environment": env}}]})


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_default_tags_are_the_configured_tags(stacks, configs, env: str) -> None:
    [provider] = stacks[env]["provider"]["aws"]
    assert provider["default_tags"] == [{"tags": dict(configs[env].tags)}]


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_provider_region_follows_the_config(stacks, configs, env: str) -> None:
    [provider] = stacks[env]["provider"]["aws"]
    assert provider["region"] == configs[env].region


def test_emulator_endpoints_only_in_local(stacks) -> None:
    with_endpoints = [env for env in ALL_ENVIRONMENTS if "endpoints" in stacks[env]["provider"]["aws"][0]]
    assert with_endpoints == ["local"]


def test_local_endpoints_point_at_the_emulator(stacks, configs) -> None:
    [endpoints] = stacks["local"]["provider"]["aws"][0]["endpoints"]
    assert set(endpoints.values()) == {configs["local"].endpoint_url} == {"http://127.0.0.1:4566"}
    assert {"s3", "sqs", "sns", "dynamodb", "kms", "logs", "sts", "iam", "lambda"} <= set(endpoints)


@pytest.mark.parametrize("env", AWS_ENVS)
def test_aws_environments_use_real_credentials_and_allowed_accounts(stacks, configs, env: str) -> None:
    [provider] = stacks[env]["provider"]["aws"]
    assert provider["allowed_account_ids"] == [configs[env].account_id]
    assert not {"access_key", "secret_key", "skip_credentials_validation"} & set(provider)


def test_local_has_no_allowed_account_ids(stacks) -> None:
    assert "allowed_account_ids" not in stacks["local"]["provider"]["aws"][0]


def test_local_uses_the_local_backend_at_the_configured_path(stacks, synth_dirs, synth_workroot, configs) -> None:
    # state.path is relative to the work folder (the repository root unless PIPELINE_KIT_WORKDIR is set)
    backend = stacks["local"]["terraform"]["backend"]
    assert list(backend) == ["local"]
    assert (synth_dirs["local"] / backend["local"]["path"]).resolve() == (
        synth_workroot / configs["local"].state.path).resolve()


@pytest.mark.parametrize("env", AWS_ENVS)
def test_aws_environments_use_the_s3_backend_from_config(stacks, configs, env: str) -> None:
    st = configs[env].state
    assert stacks[env]["terraform"]["backend"] == {"s3": {
        "bucket": st.bucket, "key": st.key, "region": st.region, "dynamodb_table": st.dynamodb_table,
        "encrypt": True}}


@pytest.mark.parametrize("env", ALL_ENVIRONMENTS)
def test_outputs_name_every_stage_queue(stacks, plugins, env: str) -> None:
    outputs = set(stacks[env]["output"])
    assert {f"queue_{p.name}_url" for p in plugins} | {f"queue_{p.name}_dlq_url" for p in plugins} <= outputs
