"""``modules/kms.py``: how a role uses a key (``kms:ViaService`` only) and the key a single
client-side use gets (the Glue bookmark key: no service principals, no CloudWatch Logs)."""

from __future__ import annotations

import json

import pytest
from synth_helpers import only, synth_construct

import modules  # noqa: F401  -- the lazy bindings loader, before any AWS binding
from modules.kms import EnvironmentKey, key_use_via, via_service

KEY = "arn:aws:kms:eu-west-1:111111111111:key/k"


def test_via_service_names_each_service_in_the_region() -> None:
    assert via_service("eu-west-1", "s3") == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert via_service("eu-west-1", "sqs", "s3", "s3") == {"StringEquals": {"kms:ViaService": [
        "s3.eu-west-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com"]}}


def test_key_use_via_decrypts_and_makes_data_keys_through_the_services_only() -> None:
    st = key_use_via(sid="UseKey", key_arn=KEY, region="eu-west-1", services=["dynamodb"]).render()
    assert st == {"Sid": "UseKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                  "Resource": KEY,
                  "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"}}}


def test_key_use_via_needs_a_service() -> None:
    with pytest.raises(ValueError, match="kms:ViaService needs at least one service"):
        key_use_via(sid="UseKey", key_arn=KEY, region="eu-west-1", services=[])


def test_a_key_for_one_client_side_use_lets_only_the_account_administer_it() -> None:
    doc = synth_construct(lambda s: EnvironmentKey(
        s, "bookmarks", alias_name="pk-x-glue-bookmarks", account_id="111111111111", region="eu-west-1",
        deletion_window_days=7, prevent_destroy=False, service_principals=(), cloudwatch_logs=False,
        description="pipeline-kit Glue job bookmarks (pk-x)"))
    _, key = only(doc, "aws_kms_key")
    assert [s["Sid"] for s in json.loads(key["policy"])["Statement"]] == ["AccountAdministration"]
    assert (key["description"], key["enable_key_rotation"]) == ("pipeline-kit Glue job bookmarks (pk-x)", True)
