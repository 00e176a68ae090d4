"""Deployment gates on a saved plan's JSON (`terraform show -json`)."""

from __future__ import annotations

import pytest

from kit.gates import changed_addresses, check_approval, check_data_stores, destructive_data_store_changes
from kit.ui import KitError


def plan(*changes):
    return {"resource_changes": [{"address": a, "type": t, "change": {"actions": list(acts)}} for a, t, acts in changes]}


def test_replacing_a_bucket_is_refused_with_the_address_named():
    p = plan(("aws_s3_bucket.landing", "aws_s3_bucket", ("delete", "create")))
    with pytest.raises(KitError, match=r"would replace aws_s3_bucket.landing.*ALLOW_DATA_STORE_REPLACEMENT=yes"):
        check_data_stores(p, allowed=False)


@pytest.mark.parametrize("rtype", ["aws_dynamodb_table", "aws_sqs_queue", "aws_kms_key"])
def test_destroying_a_data_store_is_refused(rtype):
    with pytest.raises(KitError, match=f"would destroy {rtype}.x"):
        check_data_stores(plan((f"{rtype}.x", rtype, ("delete",))), allowed=False)


def test_an_explicit_allowance_lets_it_through_and_reports_it():
    p = plan(("aws_sqs_queue.q", "aws_sqs_queue", ("create", "delete")))
    (change,) = check_data_stores(p, allowed=True)
    assert (change.address, change.verb) == ("aws_sqs_queue.q", "replace")


def test_updating_data_stores_and_replacing_functions_pass():
    p = plan(("aws_s3_bucket.b", "aws_s3_bucket", ("update",)),
             ("aws_lambda_function.f", "aws_lambda_function", ("delete", "create")))
    assert destructive_data_store_changes(p) == []
    assert check_data_stores(p, allowed=False) == []


def test_prod_needs_the_approval():
    with pytest.raises(KitError, match="prod needs an explicit approval: rerun with APPROVE=prod"):
        check_approval("prod", None)
    with pytest.raises(KitError, match="APPROVE=prod"):
        check_approval("prod", "yes")
    check_approval("prod", "prod")


def test_other_environments_need_no_approval():
    for env in ("local", "dev", "test", "staging"):
        check_approval(env, None)


def test_drift_lists_only_real_changes():
    p = plan(("a.x", "a", ("no-op",)), ("b.y", "b", ("update",)), ("c.z", "c", ("read",)))
    assert changed_addresses(p) == ["update b.y"]


def test_a_rollback_may_remove_what_the_failed_release_added():
    p = plan(("aws_sqs_queue.new_plugin", "aws_sqs_queue", ("delete",)),
             ("aws_glue_catalog_table.new_dataset", "aws_glue_catalog_table", ("delete",)))
    allowed = check_data_stores(p, allowed=False, rollback=True)
    assert [(c.address, c.verb) for c in allowed] == [("aws_sqs_queue.new_plugin", "destroy"),
                                                      ("aws_glue_catalog_table.new_dataset", "destroy")]


def test_a_rollback_that_replaces_a_data_store_is_refused():
    p = plan(("aws_s3_bucket.landing", "aws_s3_bucket", ("delete", "create")))
    with pytest.raises(KitError, match=r"refusing to roll back: the plan would replace aws_s3_bucket.landing"):
        check_data_stores(p, allowed=False, rollback=True)


def test_a_tainted_data_store_is_still_refused_by_the_gate():
    p = {"resource_changes": [{"address": "aws_kms_key.k", "type": "aws_kms_key", "action_reason": "replace_because_tainted",
                               "change": {"actions": ["delete", "create"]}}]}
    with pytest.raises(KitError, match=r"would replace aws_kms_key.k \(replace_because_tainted\)"):
        check_data_stores(p, allowed=False)


def test_the_refusal_names_terraforms_reason():
    p = {"resource_changes": [{"address": "aws_s3_bucket.b", "type": "aws_s3_bucket",
                               "action_reason": "replace_because_cannot_update",
                               "change": {"actions": ["delete", "create"]}}]}
    with pytest.raises(KitError, match=r"would replace aws_s3_bucket.b \(replace_because_cannot_update\)"):
        check_data_stores(p, allowed=False)


def test_the_deposed_half_of_an_interrupted_replacement_may_be_destroyed():
    p = {"resource_changes": [{"address": "aws_kms_key.k", "type": "aws_kms_key", "deposed": "8e3b1f2a",
                               "change": {"actions": ["delete"]}}]}
    (change,) = check_data_stores(p, allowed=False)
    assert change.finishing and change.describe() == "destroy aws_kms_key.k (deposed)"
