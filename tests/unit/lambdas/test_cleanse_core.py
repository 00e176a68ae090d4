"""cleanse core: tokenisation, standardisation, de-duplication, partitioning."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from datetime import date

import pytest
from pipeline_shared.contracts import load_contract, parse_contract

KEY = b"0123456789abcdef0123456789abcdef"
MAX = 10 * 1024 * 1024


def run(core, data: bytes, *, contract, key="x/a.csv", tokenise=None):
    sinks: dict[date, io.BytesIO] = {}

    def open_partition(partition):
        sinks[partition] = io.BytesIO()
        return sinks[partition]

    result = core.cleanse_stream(
        io.BytesIO(data),
        key=key,
        contract=contract,
        max_bytes=MAX,
        tokenise=tokenise or core.Tokeniser(KEY),
        default_partition=date(2024, 1, 31),
        open_partition=open_partition,
    )
    return result, {d: s.getvalue().decode() for d, s in sinks.items()}


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def token(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()


def test_tokeniser_is_keyed_hmac_sha256(cleanse_core):
    assert cleanse_core.Tokeniser(KEY)("alice@example.com") == token("alice@example.com")
    assert cleanse_core.Tokeniser(KEY[::-1])("alice@example.com") != token("alice@example.com")


def test_tokeniser_hides_its_key(cleanse_core):
    assert KEY.decode() not in repr(cleanse_core.Tokeniser(KEY))


def test_short_key_is_refused_without_revealing_it(cleanse_core):
    with pytest.raises(ValueError) as caught:
        cleanse_core.key_from_parameter("s3cret", "/pk/tokenisation-key")
    assert str(caught.value) == (
        "SSM parameter /pk/tokenisation-key holds a 6-byte tokenisation key; at least 32 bytes are "
        "required (e.g. 64 random hex characters)"
    )


def test_orders_are_standardised_deduplicated_tokenised_and_partitioned(cleanse_core, samples):
    result, outputs = run(cleanse_core, (samples / "orders/good.csv").read_bytes(), contract=load_contract("orders"))
    assert (result.records_in, result.valid, result.rejected, result.duplicates, result.out) == (5, 5, 0, 1, 4)
    assert sorted(outputs) == [date(2024, 5, 1), date(2024, 5, 2)]
    first = rows(outputs[date(2024, 5, 1)])
    assert [r["order_id"] for r in first] == ["ORD-000001", "ORD-000003"]
    assert first[0] == {
        "order_id": "ORD-000001",
        "customer_id": "C00001",
        "email": token("alice@example.com"),
        "order_date": "2024-05-01",
        "amount": "19.99",
        "currency": "EUR",
        "status": "paid",
        "express": "true",
    }
    second = rows(outputs[date(2024, 5, 2)])
    assert [(r["order_id"], r["order_date"], r["status"]) for r in second] == [
        ("ORD-000002", "2024-05-02", "pending"),
        ("ORD-000004", "2024-05-02", "refunded"),
    ]
    assert result.partitions[date(2024, 5, 2)] == (2, len(outputs[date(2024, 5, 2)].encode()))


def test_same_email_gets_the_same_token_across_spellings(cleanse_core, samples):
    _, outputs = run(cleanse_core, (samples / "orders/good.csv").read_bytes(), contract=load_contract("orders"))
    emails = [r["email"] for r in rows(outputs[date(2024, 5, 1)])]
    assert emails[0] == emails[1]  # "Alice@Example.com" and "alice@example.com"


def test_rows_validate_rejected_never_reach_clean(cleanse_core, samples):
    result, outputs = run(
        cleanse_core, (samples / "orders/bad_rows.csv").read_bytes(), contract=load_contract("orders")
    )
    assert (result.rejected, result.out) == (1, 10)
    assert "ORD-000019" not in outputs[date(2024, 5, 3)]


def test_customers_numbers_timestamps_and_unicode(cleanse_core, samples):
    _, outputs = run(cleanse_core, (samples / "customers/good.csv").read_bytes(), contract=load_contract("customers"))
    (out,) = outputs.values()  # no partition column: the landing date
    assert list(outputs) == [date(2024, 1, 31)]
    got = rows(out)
    assert [(r["credit_limit"], r["signup_ts"], r["country"], r["marketing_opt_in"]) for r in got] == [
        ("1500.00", "2023-01-15T09:30:00Z", "DE", "true"),
        ("250", "2023-02-15T14:05:00Z", "ES", "false"),
        ("", "2023-03-01T07:00:00Z", "DK", "true"),
    ]
    assert got[1]["email"] == "" and got[2]["full_name"] == token("Carol Ø")


def test_jsonl_output_keeps_json_types(cleanse_core, samples):
    result, outputs = run(
        cleanse_core,
        (samples / "events/good.jsonl").read_bytes(),
        contract=load_contract("events"),
        key="events/a.jsonl",
    )
    assert (result.out, result.duplicates) == (3, 1)
    day1 = [json.loads(line) for line in outputs[date(2024, 5, 1)].splitlines()]
    assert day1[1] == {
        "event_id": "0b6f2d6e-1c1d-4f7e-9a53-2a2f6f0e8a02",
        "event_type": "add_to_cart",
        "occurred_at": "2024-05-01T10:00:00Z",
        "user_id": token("u-1001"),
        "ip_address": token("203.0.113.7"),
        "value": "19.99",
        "item_count": 1,
    }
    assert day1[0]["value"] is None
    day2 = [json.loads(line) for line in outputs[date(2024, 5, 2)].splitlines()]
    assert (day2[0]["value"], day2[0]["occurred_at"], "ip_address" in day2[0]) == (
        "42.5",
        "2024-05-02T08:15:30.250000Z",
        True,
    )


def test_without_key_columns_nothing_is_deduplicated(cleanse_core, tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text('[dataset]\nformat = "csv"\n[[columns]]\nname = "a"\n', encoding="utf-8")
    result, _ = run(cleanse_core, b"a\nx\nx\n", contract=parse_contract(path))
    assert (result.duplicates, result.out) == (0, 2)


def test_unreadable_input_fails_with_the_reason(cleanse_core):
    with pytest.raises(cleanse_core.CleanseError, match=r"cannot cleanse x/a.csv: empty file: the object has 0 bytes"):
        run(cleanse_core, b"", contract=load_contract("orders"))


def test_pii_contract_without_tokeniser_is_refused(cleanse_core):
    with pytest.raises(cleanse_core.CleanseError, match=r"declares PII column\(s\) email but no tokeniser"):
        cleanse_core.cleanse_stream(
            io.BytesIO(b"x"),
            key="k",
            contract=load_contract("orders"),
            max_bytes=MAX,
            tokenise=None,
            default_partition=date(2024, 1, 1),
            open_partition=lambda d: io.BytesIO(),
        )


@pytest.mark.parametrize("length", [32, 63, 64, 65, 200])
def test_tokeniser_matches_hmac_for_any_key_length(cleanse_core, length):
    key = bytes(range(256))[:length] if length <= 256 else b"k" * length
    tokenise = cleanse_core.Tokeniser(key)
    for value in ("", "alice@example.com", "Carol Ø", "x" * 1000):
        assert tokenise(value) == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def test_a_tiny_token_cache_gives_the_same_output(cleanse_core, samples):
    data = (samples / "orders/good.csv").read_bytes()
    contract = load_contract("orders")

    def go(**kwargs):
        sinks: dict[date, io.BytesIO] = {}
        cleanse_core.cleanse_stream(
            io.BytesIO(data),
            key="x/a.csv",
            contract=contract,
            max_bytes=MAX,
            tokenise=cleanse_core.Tokeniser(KEY),
            default_partition=date(2024, 1, 31),
            open_partition=lambda d: sinks.setdefault(d, io.BytesIO()),
            **kwargs,
        )
        return {d: s.getvalue() for d, s in sinks.items()}

    assert go(token_cache=1) == go()


def test_partition_spool_holds_a_bounded_amount_in_memory(cleanse_core):
    spool = cleanse_core.PartitionSpool(spool_bytes=100, memory_bytes=250)
    sinks = [spool(date(2024, 1, d)) for d in range(1, 5)]
    try:
        assert [type(s).__name__ for s in sinks] == [
            "SpooledTemporaryFile",
            "SpooledTemporaryFile",
            "BufferedRandom",
            "BufferedRandom",
        ]
        sinks[0].write(b"x" * 150)  # beyond spool_bytes: rolled over to disk
        assert sinks[0]._rolled  # noqa: SLF001
        assert list(spool.sinks) == [date(2024, 1, d) for d in range(1, 5)]
    finally:
        spool.close()
    assert all(s.closed for s in sinks)


def test_fast_and_slow_paths_write_the_same_bytes_for_the_samples(cleanse_core, samples):
    for name, contract in (
        ("orders/good.csv", "orders"),
        ("orders/bad_rows.csv", "orders"),
        ("customers/good.csv", "customers"),
    ):
        data = (samples / name).read_bytes()
        outputs = []
        for fast in (True, False):
            sinks: dict[date, io.BytesIO] = {}
            result = cleanse_core.cleanse_stream(
                io.BytesIO(data),
                key="x/a.csv",
                contract=load_contract(contract),
                max_bytes=MAX,
                tokenise=cleanse_core.Tokeniser(KEY),
                default_partition=date(2024, 1, 31),
                open_partition=lambda d, sinks=sinks: sinks.setdefault(d, io.BytesIO()),
                fast_path=fast,
            )
            outputs.append((result.counts, {d: s.getvalue() for d, s in sinks.items()}))
        assert outputs[0] == outputs[1], name


# -- PII on both paths, with a contract of two PII columns written here

TWO_PII = """[dataset]
format = "csv"
key_columns = ["id"]

[[columns]]
name = "id"
required = true

[[columns]]
name = "name"
required = true
pii = true

[[columns]]
name = "email"
pii = true
case = "lower"

[[columns]]
name = "note"
"""


def two_pii(tmp_path):
    path = tmp_path / "people.toml"
    path.write_text(TWO_PII, encoding="utf-8")
    return parse_contract(path)


def cleanse_csv(core, data: bytes, contract, *, fast: bool):
    sinks: dict[date, io.BytesIO] = {}
    result = core.cleanse_stream(
        io.BytesIO(data),
        key="people/a.csv",
        contract=contract,
        max_bytes=MAX,
        tokenise=core.Tokeniser(KEY),
        default_partition=date(2024, 1, 31),
        open_partition=lambda d: sinks.setdefault(d, io.BytesIO()),
        fast_path=fast,
    )
    (out,) = sinks.values()
    return result, rows(out.getvalue().decode())


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "slow"])
def test_every_pii_column_is_tokenised_on_both_paths(cleanse_core, tmp_path, fast):
    data = b"id,name,email,note\n1,Ann,Ann@Example.org,x\n2,Bob,bob@example.org,y\n"
    result, got = cleanse_csv(cleanse_core, data, two_pii(tmp_path), fast=fast)
    assert result.fast_rows == (2 if fast else 0)
    assert got == [
        {"id": "1", "name": token("Ann"), "email": token("ann@example.org"), "note": "x"},
        {"id": "2", "name": token("Bob"), "email": token("bob@example.org"), "note": "y"},
    ]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "slow"])
def test_an_empty_pii_value_stays_empty_on_both_paths(cleanse_core, tmp_path, fast):
    data = b"id,name,email,note\n1,Ann,,x\n2,Bob,,\n"
    result, got = cleanse_csv(cleanse_core, data, two_pii(tmp_path), fast=fast)
    assert result.fast_rows == (2 if fast else 0)
    assert [(r["name"], r["email"]) for r in got] == [(token("Ann"), ""), (token("Bob"), "")]
