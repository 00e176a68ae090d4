"""The optional data services wired into a whole environment: prod with every service switched on
(synthesized and passed through a real ``terraform validate``), the shipped environments with
none, and the config rules that tie a service to the network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from environments import ConfigError, load_environment
from environments.sections.services import VPC_SERVICES

ALL = ("elasticache", "memorydb", "documentdb", "neptune", "opensearch", "timestream", "dms", "streaming",
       "appsync", "lakeformation", "datazone")


def all_services_on(env: str = "prod"):
    """What `make policy-scan` scans as prod+services (one definition: kit/policy_scan.py)."""
    from kit.policy_scan import every_service_on

    cfg = every_service_on(env)
    assert set(cfg.services.enabled()) == set(ALL), "a service was added: list it in ALL"
    return cfg


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    import main

    root = tmp_path_factory.mktemp("services")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIPELINE_KIT_WORKDIR", str(root))
        dirs = main.synth([all_services_on()], outdir=root / "cdktf.out")
    workdir = dirs["prod"]
    return workdir, json.loads((workdir / "cdk.tf.json").read_text(encoding="utf-8"))


def test_no_service_is_on_in_any_shipped_environment() -> None:
    for env in ("local", "dev", "test", "staging", "prod"):
        assert load_environment(env).services.enabled() == [], env


def test_every_service_is_built_when_switched_on(everything) -> None:
    _, doc = everything
    res = doc["resource"]
    for rtype in ("aws_elasticache_replication_group", "aws_memorydb_cluster", "aws_docdb_cluster",
                  "aws_neptune_cluster", "aws_opensearch_domain", "aws_timestreamwrite_database",
                  "aws_dms_replication_task", "aws_kinesis_stream", "aws_kinesis_firehose_delivery_stream",
                  "aws_msk_cluster", "aws_appsync_graphql_api", "aws_lakeformation_data_lake_settings",
                  "aws_datazone_domain"):
        assert res.get(rtype), rtype


def test_services_in_the_vpc_use_only_the_private_subnets(everything) -> None:
    _, doc = everything
    res = doc["resource"]
    groups = [*res["aws_elasticache_subnet_group"].values(), *res["aws_memorydb_subnet_group"].values(),
              *res["aws_docdb_subnet_group"].values(), *res["aws_neptune_subnet_group"].values(),
              *res["aws_dms_replication_subnet_group"].values()]
    subnet_refs = {f"${{aws_subnet.network_private-{i}" for i in range(3)}
    for g in groups:
        ids = g.get("subnet_ids")
        assert ids and all(any(i.startswith(r) for r in subnet_refs) for i in ids), g


def test_notify_announces_statuses_to_the_status_api(everything) -> None:
    _, doc = everything
    res = doc["resource"]
    notify = next(f for f in res["aws_lambda_function"].values() if f["function_name"] == "pk-prod-notify")
    url = notify["environment"]["variables"]["PIPELINE_STATUS_GRAPHQL_URL"]
    assert url.startswith("${aws_appsync_graphql_api.") and "GRAPHQL" in url
    policy = next(p for p in res["aws_iam_role_policy"].values() if p["name"] == "announce-statuses")
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert statement["Action"] == "appsync:GraphQL"
    assert statement["Resource"].endswith("/types/Mutation/fields/publishStatus")
    others = [f for f in res["aws_lambda_function"].values() if f["function_name"] != "pk-prod-notify"]
    assert not any("PIPELINE_STATUS_GRAPHQL_URL" in f["environment"]["variables"] for f in others)


def test_prod_with_every_service_passes_the_policy_scan(everything) -> None:
    from kit.policy_scan import scan_stack

    _, doc = everything
    assert [str(f) for f in scan_stack("prod", doc, aws=True, protected=True)] == []


def test_dms_gets_a_secrets_manager_endpoint_in_the_vpc(everything) -> None:
    _, doc = everything
    names = [e["service_name"] for e in doc["resource"]["aws_vpc_endpoint"].values()]
    assert "com.amazonaws.eu-west-1.secretsmanager" in names


def test_no_service_ingress_from_an_address_range(everything) -> None:
    _, doc = everything
    for rid, rule in doc["resource"].get("aws_vpc_security_group_ingress_rule", {}).items():
        assert "cidr_ipv4" not in rule and "cidr_ipv6" not in rule, rid


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_terraform_validate_accepts_prod_with_every_service(everything, tmp_path: Path) -> None:
    from kit.terraform import Terraform

    workdir, _ = everything
    tf = Terraform.for_stack(workdir, state_dir=tmp_path / "state")
    tf.init(backend=False, quiet=True)
    result = tf.validate()
    assert result.returncode == 0, f"terraform validate failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("service", VPC_SERVICES)
def test_a_vpc_service_needs_the_network(service: str, tmp_path: Path) -> None:
    from environments.config import ENVIRONMENTS_DIR, load_environment_file

    # An AWS environment cannot switch the network off at all (the functions run in it): local can.
    text = (ENVIRONMENTS_DIR / "local.toml").read_text(encoding="utf-8")
    text = text.replace("[network]\n", "[network_off]\n").replace("[batch]\n", "[batch_off]\n")
    text = text.replace("[network_off]", "[network]\nenabled = false\n[network_ignored]")
    text = text.replace("[batch_off]", "[batch]\nenabled = false\n[batch_ignored]")
    # drop the two ignored tables again: keep only their switched-off headers
    lines, out, skip = text.splitlines(), [], False
    for line in lines:
        if line.startswith("["):
            skip = line in ("[network_ignored]", "[batch_ignored]")
        if not skip:
            out.append(line)
    path = tmp_path / "local.toml"
    path.write_text("\n".join(out) + f"\n\n[services.{service}]\nenabled = true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_environment_file(path)
    assert info.value.field.startswith(f"services.{service}."), str(info.value)
    assert "network" in str(info.value)
