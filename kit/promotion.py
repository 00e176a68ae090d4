"""The promotion rule: a release moves one stage at a time along the promotion chain.

Pure (no AWS, no Terraform): ``cmd_promote`` calls it before it reads anything, and the fast
tests check every pair of environments against it."""

from __future__ import annotations

from collections.abc import Sequence

from environments import PROMOTION_ORDER

from .ui import KitError


def check_promotion(src: str, dst: str, order: Sequence[str] = PROMOTION_ORDER) -> None:
    """Raise ``KitError`` unless ``dst`` is the stage right after ``src`` in ``order``
    (``local`` and any other environment outside the chain are never promoted from or to)."""
    chain = " → ".join(order)
    for env in (src, dst):
        if env not in order:
            raise KitError(f"{env} is not in the promotion chain {chain}")
    position = list(order).index(src)
    if list(order).index(dst) != position + 1:
        following = f" (from {src} the next stage is {order[position + 1]})" if position + 1 < len(order) else ""
        raise KitError(f"refusing to promote {src} → {dst}: releases move one stage at a time along {chain}{following}")
