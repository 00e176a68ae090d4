"""De-duplication in bounded memory: first occurrence wins, in memory and after spilling to disk."""

from __future__ import annotations

import io
import random
from datetime import date
from pathlib import Path

import pytest
from pipeline_shared import dedupe
from pipeline_shared.contracts import load_contract
from pipeline_shared.dedupe import KeySet, digest, identities, identity

KEY = b"0123456789abcdef0123456789abcdef"


def reference(keys):
    seen: set = set()
    flags = []
    for k in keys:
        flags.append(k not in seen)
        seen.add(k)
    return flags


def test_short_keys_are_their_own_identity_long_and_composite_ones_a_digest():
    assert identity(["ORD-000001"]) == "ORD-000001"
    assert identity(["x" * 16]) == digest("x" * 16) and len(digest("x" * 16)) == 16
    assert identity(["a", "b"]) == digest(repr(("a", "b")))
    assert identity(["a,b"]) != identity(["a", "b"])  # unambiguous
    assert identities(["a", "b" * 20]) == ["a", digest("b" * 20)]


@pytest.mark.parametrize("bound", [1, 3, 50, 10_000])
def test_first_occurrence_wins_whatever_the_memory_bound(bound, tmp_path):
    rnd = random.Random(bound)
    pool = [f"K{i}" for i in range(300)] + ["L" * 20 + str(i) for i in range(100)]  # short and long keys
    batches = [[identity([rnd.choice(pool)]) for _ in range(rnd.randint(0, 40))] for _ in range(60)]
    with KeySet(bound, directory=str(tmp_path)) as keys:
        got = [flag for batch in batches for flag in keys.first_seen(batch)]
        if bound < 300:
            assert keys.spills > 0 and keys.spilled > 0
            assert len(list(Path(tmp_path).iterdir())) == 1  # the on-disk table
        else:
            assert keys.spills == 0
        assert len(keys) == len({k for batch in batches for k in batch})
    assert got == reference([k for batch in batches for k in batch])
    assert list(Path(tmp_path).iterdir()) == []  # removed on close


def test_a_key_repeated_within_one_batch_after_a_spill_is_a_duplicate_once(tmp_path):
    with KeySet(2, directory=str(tmp_path)) as keys:
        assert keys.first_seen(["a", "b", "c"]) == [True, True, True]  # spilled: a, b, c on disk
        assert keys.first_seen(["a", "d", "a", "d", "e"]) == [False, True, False, False, True]
        assert keys.first_seen(["d", "e", "f"]) == [False, False, True]


def test_bound_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        KeySet(0)


def run_cleanse(cleanse_core, data: bytes, **kwargs):
    sinks: dict[date, io.BytesIO] = {}

    def open_partition(partition):
        sinks[partition] = io.BytesIO()
        return sinks[partition]

    result = cleanse_core.cleanse_stream(
        io.BytesIO(data),
        key="orders/a.csv",
        contract=load_contract("orders"),
        max_bytes=1 << 30,
        tokenise=cleanse_core.Tokeniser(KEY),
        default_partition=date(2024, 1, 31),
        open_partition=open_partition,
        **kwargs,
    )
    return result, {d: s.getvalue() for d, s in sinks.items()}


@pytest.mark.parametrize("fast_path", [True, False])
def test_cleanse_keeps_the_first_row_of_each_key_when_keys_spill(cleanse_core, fast_path):
    rnd = random.Random(5)
    header = "order_id,customer_id,email,order_date,amount,currency,status,express"
    rows = [
        f"ORD-{rnd.randrange(500):06d},C00001,u{i}@example.com,2024-05-0{1 + rnd.randrange(3)},{i}.00,EUR,paid,"
        for i in range(4000)
    ]
    data = ("\n".join([header, *rows]) + "\n").encode()
    spilled, out_spilled = run_cleanse(cleanse_core, data, dedupe_memory_keys=3, fast_path=fast_path)
    memory, out_memory = run_cleanse(cleanse_core, data, fast_path=fast_path)
    assert spilled.spilled_keys > 0 and memory.spilled_keys == 0
    assert (spilled.counts, out_spilled) == (memory.counts, out_memory)
    assert spilled.out == len({r.split(",")[0] for r in rows}) and spilled.duplicates == 4000 - spilled.out
    first = {}
    for r in rows:
        first.setdefault(r.split(",")[0], r.split(",")[4])  # amount of the first row of each key
    kept = [line.split(",") for text in out_spilled.values() for line in text.decode().splitlines()[1:]]
    assert {f[0]: f[4] for f in kept} == first


def test_memory_bound_default_is_documented():
    assert dedupe.MEMORY_KEYS == 1 << 20
