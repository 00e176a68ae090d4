"""Terraform lifecycle settings shared by the constructs."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle


def destroy_guard(prevent_destroy: bool) -> TerraformResourceLifecycle | None:
    """``lifecycle { prevent_destroy = true }`` when asked, else no lifecycle block at all."""
    return TerraformResourceLifecycle(prevent_destroy=True) if prevent_destroy else None
