"""Config sections of the ingest services: ``[services.timestream]``, ``[services.dms]``,
``[services.streaming]`` — off by default, bad values named by field, cross-checks."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from environments.config import ConfigError, _build
from environments.sections.ingest import DmsConfig, StreamingConfig, TimestreamConfig, cross_checks

PATH = Path("x.toml")
SECRET = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:pk-x/shop-db-AbCdEf"


def build(cls, data, key):
    return _build(cls, data, PATH, f"services.{key}")


@pytest.mark.parametrize("cls", [TimestreamConfig, DmsConfig, StreamingConfig])
def test_every_section_is_off_by_default_with_enabled_first(cls):
    assert fields(cls)[0].name == "enabled" and cls().enabled is False


@pytest.mark.parametrize("cls,key", [(TimestreamConfig, "timestream"), (DmsConfig, "dms"),
                                     (StreamingConfig, "streaming")])
def test_enabled_alone_is_a_valid_section(cls, key):
    assert build(cls, {"enabled": True}, key).enabled is True


def test_msk_is_off_by_default():
    assert StreamingConfig().msk_enabled is False


def test_timestream_memory_retention_out_of_range_names_the_field():
    with pytest.raises(ConfigError, match=r"x.toml: services.timestream.memory_retention_hours: must be between 1 and 8766, got 0"):
        build(TimestreamConfig, {"memory_retention_hours": 0}, "timestream")


def test_dms_unknown_engine_names_the_field():
    with pytest.raises(ConfigError, match=r"services.dms.engine: must be one of .*got 'db2'"):
        build(DmsConfig, {"engine": "db2"}, "dms")


def test_dms_secret_must_be_a_secret_arn():
    with pytest.raises(ConfigError, match=r"services.dms.source_secret_arn: must be a Secrets Manager secret ARN"):
        build(DmsConfig, {"source_secret_arn": "hunter2"}, "dms")


def test_dms_ssl_mode_none_is_refused():
    with pytest.raises(ConfigError, match=r"services.dms.ssl_mode: must be one of 'require', 'verify-ca', 'verify-full', got 'none'"):
        build(DmsConfig, {"ssl_mode": "none"}, "dms")


def test_dms_instance_class_is_checked():
    with pytest.raises(ConfigError, match=r"services.dms.instance_class: must be a DMS instance class"):
        build(DmsConfig, {"instance_class": "t3.micro"}, "dms")


def test_dms_source_cidr_is_checked():
    with pytest.raises(ConfigError, match=r"services.dms.source_cidr: must be an IPv4 CIDR block"):
        build(DmsConfig, {"source_cidr": "10.0.0.0/33"}, "dms")


def test_streaming_stream_mode_is_checked():
    with pytest.raises(ConfigError, match=r"services.streaming.stream_mode: must be one of 'ON_DEMAND', 'PROVISIONED'"):
        build(StreamingConfig, {"stream_mode": "on-demand"}, "streaming")


def test_streaming_buffering_size_is_bounded():
    with pytest.raises(ConfigError, match=r"services.streaming.buffering_size_mib: must be between 1 and 128, got 256"):
        build(StreamingConfig, {"buffering_size_mib": 256}, "streaming")


def test_streaming_glue_worker_type_is_a_streaming_type():
    with pytest.raises(ConfigError, match=r"services.streaming.glue_worker_type: must be one of 'G.025X'"):
        build(StreamingConfig, {"glue_worker_type": "G.8X"}, "streaming")


def test_streaming_unknown_key_is_refused():
    with pytest.raises(ConfigError, match=r"services.streaming.shards: unknown key"):
        build(StreamingConfig, {"shards": 2}, "streaming")


# -- cross-checks ----------------------------------------------------------------------


def checks(section, network=True, azs=2):
    return cross_checks(section, env_name="dev", network_enabled=network, az_count=azs)


def test_disabled_sections_have_no_cross_check_problem():
    assert checks(DmsConfig(), network=False) == [] and checks(StreamingConfig(msk_enabled=True), network=False) == []


def test_enabled_dms_needs_the_network():
    complete = DmsConfig(enabled=True, source_secret_arn=SECRET, database_name="shop", table_name="orders",
                         dataset="orders")
    assert checks(complete, network=False) == [
        ("enabled", "needs [network] enabled = true (the service lives in the private subnets)")]


def test_enabled_dms_needs_its_source():
    fields_named = [f for f, _ in checks(DmsConfig(enabled=True))]
    assert fields_named == ["source_secret_arn", "database_name", "table_name", "dataset"]


def test_a_complete_dms_section_passes():
    assert checks(DmsConfig(enabled=True, source_secret_arn=SECRET, database_name="shop", table_name="orders",
                            dataset="orders")) == []


def test_msk_needs_the_network():
    assert checks(StreamingConfig(enabled=True, msk_enabled=True), network=False) == [
        ("msk_enabled", "needs [network] enabled = true (the service lives in the private subnets)")]


def test_msk_brokers_must_spread_evenly_over_the_zones():
    assert checks(StreamingConfig(enabled=True, msk_enabled=True, msk_broker_count=4), azs=3) == [
        ("msk_broker_count", "must be a multiple of the 3 availability zones, got 4")]


def test_shard_count_only_applies_to_provisioned_streams():
    assert checks(StreamingConfig(enabled=True, shard_count=4)) == [
        ("shard_count", "only applies to stream_mode = 'PROVISIONED'")]


def test_streaming_without_msk_needs_no_network():
    assert checks(StreamingConfig(enabled=True), network=False) == []
