"""Promotion order (``kit.promotion.check_promotion``): a release moves one stage at a time along
dev → test → staging → prod; nothing is promoted from or to local; ``make promote`` applies the
rule before it touches any environment."""

from __future__ import annotations

import argparse
import itertools

import pytest

from environments import ALL_ENVIRONMENTS, PROMOTION_ORDER
from kit.promotion import check_promotion
from kit.ui import KitError

CHAIN = "dev → test → staging → prod"
NEXT_STAGES = {(a, b) for a, b in itertools.pairwise(PROMOTION_ORDER)}


def refusal(src: str, dst: str) -> str:
    with pytest.raises(KitError) as caught:
        check_promotion(src, dst)
    return str(caught.value)


@pytest.mark.parametrize(("src", "dst"), [("dev", "test"), ("test", "staging"), ("staging", "prod")])
def test_promotion_to_the_next_stage_is_allowed(src, dst):
    assert check_promotion(src, dst) is None


def test_skipping_a_stage_is_refused():
    assert refusal("dev", "staging") == (
        f"refusing to promote dev → staging: releases move one stage at a time along {CHAIN} "
        "(from dev the next stage is test)"
    )


def test_promoting_backwards_is_refused():
    assert refusal("test", "dev") == (
        f"refusing to promote test → dev: releases move one stage at a time along {CHAIN} "
        "(from test the next stage is staging)"
    )


def test_promoting_to_the_same_stage_is_refused():
    assert refusal("staging", "staging") == (
        f"refusing to promote staging → staging: releases move one stage at a time along {CHAIN} "
        "(from staging the next stage is prod)"
    )


@pytest.mark.parametrize("dst", PROMOTION_ORDER)
def test_nothing_is_promoted_out_of_prod(dst):
    assert refusal("prod", dst) == (
        f"refusing to promote prod → {dst}: releases move one stage at a time along {CHAIN}"
    )


@pytest.mark.parametrize(("src", "dst"), [("local", "dev"), ("dev", "local"), ("local", "local")])
def test_local_is_not_in_the_chain(src, dst):
    assert refusal(src, dst) == f"local is not in the promotion chain {CHAIN}"


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(ALL_ENVIRONMENTS, repeat=2)))
def test_every_pair_of_environments_follows_the_rule(src, dst):
    if (src, dst) in NEXT_STAGES:
        check_promotion(src, dst)
    else:
        with pytest.raises(KitError, match="not in the promotion chain|releases move one stage at a time"):
            check_promotion(src, dst)


def test_make_promote_refuses_a_skipped_stage_before_touching_anything(monkeypatch):
    from kit import cli

    def untouchable(*args, **kwargs):
        raise AssertionError("an environment was resolved before the promotion order was checked")

    monkeypatch.setattr(cli, "resolve", untouchable)
    with pytest.raises(KitError) as caught:
        cli.cmd_promote(argparse.Namespace(source="dev", to="staging", target=None))
    assert "refusing to promote dev → staging: releases move one stage at a time" in str(caught.value)
