"""The kit's own output: one clear line per step, distinct from Terraform's streamed output."""

from __future__ import annotations

import sys


class KitError(RuntimeError):
    """A failure the kit explains itself (no traceback for the user)."""


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def note(message: str) -> None:
    print(f"    {message}", flush=True)


def warn(message: str) -> None:
    print(f"==> warning: {message}", file=sys.stderr, flush=True)
