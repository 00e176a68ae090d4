"""Deployment gates: what a saved plan may do before the kit applies it.

- A plan that **destroys or replaces a data store** (``DATA_STORE_TYPES``: bucket, table, queue,
  key, catalog, log group, backup vault, warehouse, stream, search/graph/document database, …)
  is refused unless explicitly allowed (``ALLOW_DATA_STORE_REPLACEMENT=yes``): data lives there,
  and a harmless-looking rename in code would otherwise delete it.
- **prod needs an explicit approval** (``APPROVE=prod``); in CI the GitHub environment's
  protection rule is the human approval and the workflow passes it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .ui import KitError

#: Resource types that hold data a destroy (or a replacement) loses: stored data, messages or
#: records in flight, or the key without which stored data cannot be read. Every type any
#: environment synthesizes is either here or in the "holds no data" list of
#: ``tests/infra/test_data_store_types.py``, which fails on a type that is in neither.
DATA_STORE_TYPES = (
    # the pipeline's own stores
    "aws_s3_bucket",                    # every object (landing, clean, archive, quarantine, audit, …)
    "aws_dynamodb_table",               # status records, idempotency records
    "aws_sqs_queue",                    # messages not yet processed, and the dead letters
    "aws_kms_key",                      # without it nothing encrypted under it can be read again
    "aws_glue_catalog_database",        # the catalog's tables and partitions
    "aws_glue_catalog_table",           # schema and partitions (Athena and Spectrum read through it)
    "aws_glue_registry",                # the schemas' version history ...
    "aws_glue_schema",                  # ... that BACKWARD compatibility checks against
    "aws_cloudwatch_log_group",         # logs within their retention (functions, API access, flow logs, …)
    "aws_cloudwatch_log_stream",        # the events of that stream
    "aws_backup_vault",                 # the recovery points
    "aws_ecr_repository",               # the images the Batch jobs of each release run
    # the warehouse
    "aws_redshift_cluster",             # the warehouse's tables (provisioned: not built today, still gated)
    "aws_redshiftserverless_namespace", # the warehouse's tables (the workgroup is compute only)
    # optional services ([services.*])
    "aws_opensearch_domain",            # the indices
    "aws_neptune_cluster",              # the graph (its instances are compute only)
    "aws_docdb_cluster",                # the documents (its instances are compute only)
    "aws_elasticache_replication_group",  # the cached data set
    "aws_memorydb_cluster",             # the durable in-memory database
    "aws_kinesis_stream",               # records within the stream's retention
    "aws_kinesis_firehose_delivery_stream",  # records buffered for delivery
    "aws_msk_cluster",                  # the topics' records within retention
    "aws_timestreamwrite_database",     # its tables ...
    "aws_timestreamwrite_table",        # ... and their time series
    "aws_datazone_domain",              # the business catalog (glossaries, assets, subscriptions)
    "aws_datazone_project",             # the project's inventory and subscriptions
)
APPROVAL_REQUIRED = ("prod",)


@dataclass(frozen=True)
class Change:
    address: str
    type: str
    actions: tuple[str, ...]
    #: Terraform's ``action_reason`` (e.g. ``replace_because_tainted``), when it gives one.
    reason: str | None = None
    #: The old object of a replacement cut short (Terraform "deposed" it): its deletion finishes
    #: a replacement an earlier plan already made, past the gate.
    deposed: bool = False

    @property
    def verb(self) -> str:
        return "replace" if {"create", "delete"} <= set(self.actions) else "destroy"

    @property
    def finishing(self) -> bool:
        """The deposed half of a replacement that an earlier, gated plan started: destroying it
        finishes that replacement. (A *tainted* data store never gets here: the kit untaints
        data stores before planning, see kit/deploy.py.)"""
        return self.deposed

    def describe(self) -> str:
        why = "deposed" if self.deposed else self.reason
        return f"{self.verb} {self.address}" + (f" ({why})" if why else "")


def destructive_data_store_changes(plan: dict[str, Any]) -> list[Change]:
    """Data-store resources the plan deletes (alone or as part of a replacement)."""
    out = []
    for rc in plan.get("resource_changes", []):
        actions = tuple(rc.get("change", {}).get("actions", ()))
        if rc.get("type") in DATA_STORE_TYPES and "delete" in actions:
            out.append(Change(address=rc["address"], type=rc["type"], actions=actions,
                              reason=rc.get("action_reason"), deposed=bool(rc.get("deposed"))))
    return out


def check_data_stores(plan: dict[str, Any], *, allowed: bool, rollback: bool = False) -> list[Change]:
    """Refuse a plan that destroys or replaces a data store unless ``allowed``; returns the
    destructive changes being let through. A **rollback** re-applies the configuration of the
    deployment before: whatever it deletes outright exists only because the failed release
    added it (a new plug-in's queue, a new dataset's table), so plain deletions pass; replacing
    a data store both configurations hold still needs ``allowed``. The deposed half of a
    replacement an earlier plan started (and the gate let through) passes."""
    everything = destructive_data_store_changes(plan)
    tainted = [c for c in everything if c.finishing]
    changes = [c for c in everything if not c.finishing]
    if rollback:
        added_by_failed = [c for c in changes if c.verb == "destroy"]
        refused = [c for c in changes if c.verb == "replace"]
        if refused and not allowed:
            listing = "; ".join(c.describe() for c in refused)
            raise KitError(f"refusing to roll back: the plan would {listing}. Rerun with "
                           "ALLOW_DATA_STORE_REPLACEMENT=yes if you really mean it")
        return tainted + added_by_failed + (refused if allowed else [])
    if changes and not allowed:
        listing = "; ".join(c.describe() for c in changes)
        raise KitError(
            f"refusing to apply: the plan would {listing}. Data stores are never destroyed or replaced "
            "silently; if you really mean it, rerun with ALLOW_DATA_STORE_REPLACEMENT=yes"
        )
    return tainted + changes


def check_approval(env: str, approve: str | None) -> None:
    if env in APPROVAL_REQUIRED and approve != env:
        raise KitError(f"{env} needs an explicit approval: rerun with APPROVE={env} "
                       "(CI passes it after the GitHub environment's required reviewers approve)")


def changed_addresses(plan: dict[str, Any]) -> list[str]:
    """Every resource the plan changes, with its actions (for drift reports)."""
    out = []
    for rc in plan.get("resource_changes", []):
        actions: Iterable[str] = rc.get("change", {}).get("actions", ())
        if set(actions) - {"no-op", "read"}:
            out.append(f"{'/'.join(actions)} {rc['address']}")
    return out
