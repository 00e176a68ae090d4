"""Deployment gates: what a saved plan may do before the kit applies it.

- A plan that **destroys or replaces a data store** (bucket, table, queue, key, catalog database)
  is refused unless explicitly allowed (``ALLOW_DATA_STORE_REPLACEMENT=yes``): data lives there,
  and a harmless-looking rename in code would otherwise delete it.
- **prod needs an explicit approval** (``APPROVE=prod``); in CI the GitHub environment's
  protection rule is the human approval and the workflow passes it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .ui import KitError

DATA_STORE_TYPES = (
    "aws_s3_bucket", "aws_dynamodb_table", "aws_sqs_queue", "aws_kms_key", "aws_glue_catalog_database",
    "aws_glue_catalog_table", "aws_redshift_cluster", "aws_redshiftserverless_namespace", "aws_backup_vault",
)
APPROVAL_REQUIRED = ("prod",)


@dataclass(frozen=True)
class Change:
    address: str
    type: str
    actions: tuple[str, ...]

    @property
    def verb(self) -> str:
        return "replace" if {"create", "delete"} <= set(self.actions) else "destroy"


def destructive_data_store_changes(plan: dict[str, Any]) -> list[Change]:
    """Data-store resources the plan deletes (alone or as part of a replacement)."""
    out = []
    for rc in plan.get("resource_changes", []):
        actions = tuple(rc.get("change", {}).get("actions", ()))
        if rc.get("type") in DATA_STORE_TYPES and "delete" in actions:
            out.append(Change(address=rc["address"], type=rc["type"], actions=actions))
    return out


def check_data_stores(plan: dict[str, Any], *, allowed: bool, rollback: bool = False) -> list[Change]:
    """Refuse a plan that destroys or replaces a data store unless ``allowed``; returns the
    destructive changes being let through. A **rollback** re-applies the configuration of the
    deployment before: whatever it deletes outright exists only because the failed release
    added it (a new plug-in's queue, a new dataset's table), so plain deletions pass; replacing
    a data store both configurations hold still needs ``allowed``."""
    changes = destructive_data_store_changes(plan)
    if rollback:
        added_by_failed = [c for c in changes if c.verb == "destroy"]
        refused = [c for c in changes if c.verb == "replace"]
        if refused and not allowed:
            listing = "; ".join(f"replace {c.address}" for c in refused)
            raise KitError(f"refusing to roll back: the plan would {listing}. Rerun with "
                           "ALLOW_DATA_STORE_REPLACEMENT=yes if you really mean it")
        return added_by_failed + (refused if allowed else [])
    if changes and not allowed:
        listing = "; ".join(f"{c.verb} {c.address}" for c in changes)
        raise KitError(
            f"refusing to apply: the plan would {listing}. Data stores are never destroyed or replaced "
            "silently; if you really mean it, rerun with ALLOW_DATA_STORE_REPLACEMENT=yes"
        )
    return changes


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
