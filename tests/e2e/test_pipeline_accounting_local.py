"""Accounting over a mixed corpus on the deployed `local` stack: every file in is accounted for.

The corpus is built here from a contract that exists (the first CSV contract, by name, with a
de-duplication key, at least two PII string columns and a whole-file threshold above 0: nothing
depends on the shipped samples or dataset names): rows of known good values generated from the
contract's columns, and defects whose outcome is certain from the row check (a ragged row, an empty
required value) or the reader (a header that does not match). Eight files go into landing under
``<dataset>/accounting-<run>/`` before one drain (``kit run --drain-only``):

====================  =================================================  ==============================
file                  what                                               expected
====================  =================================================  ==============================
good.csv              6 good rows                                        processed 6/6/0, 0 dup, 6 out
bad_rows.csv          N rows, D of them bad (D/N ≤ the threshold)        processed N/N-D/D, 0 dup
threshold.csv         2 good + B ragged rows (B/(2+B) > the threshold)   quarantined 2+B/2/B (threshold)
header.csv            a renamed column, 3 rows                           quarantined 0/0/0 (header)
compressed.csv.gz     5 good rows, gzip                                  processed 5/5/0, 0 dup, 5 out
duplicates.csv        7 rows, 3 of them repeat an earlier key            processed 7/7/0, 3 dup, 4 out
versions.csv (×2)     two uploads to one key: 3 rows, then 5 other rows  two files: processed 3 and 5
====================  =================================================  ==============================

(rows in / valid / rejected). Then: files in = status records with a final status = processed +
quarantined + gone; exact counts per file and, for every record, ``records_in = valid + rejected``
(and ``valid = out + duplicates`` once processed); landing holds no version of any corpus file
(validate deletes what it quarantined whole, archive what it archived: each exactly its version);
the archive holds the raw bytes of every processed file at ``<dataset>/<yyyy>/<mm>/<dd>/<file_id>/<key>``,
quarantine the original of every whole-file reject; the clean rows are the kept rows with each PII
value replaced by its HMAC token, and no raw PII value of the corpus is in any object of the clean
bucket; every dead-letter queue is empty.

Runs after test_deploy_local and before test_redeploy_destroy (file order)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import io
import json
import random
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from names import PREFIX, bucket

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "lambdas" / "_shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))

from pipeline_shared.contracts import Column, Contract, load_all  # noqa: E402
from pipeline_shared.rows import RowChecker, canonical_text  # noqa: E402
from pipeline_shared.wiring.messages import FINAL_STATUSES  # noqa: E402

#: Characters a generated text is made of, in order of preference: letters that are no hex digit
#: first, so that a PII value can never be part of an HMAC token (hex) or a file id.
ALPHABET = "ghijklmnopqrstuvwxyzabcdef0123456789GHIJKLMNOPQRSTUVWXYZABCDEF._-"
#: A generated PII value must be at least this long for its absence from clean data to mean anything.
MIN_PII_CHARS = 8
REPEAT = 6  # how many times an unbounded regex repeat is taken


# -- values from a contract's columns -------------------------------------------------------------

class CannotGenerate(Exception):
    """The contract has a column whose values this test cannot generate (the reason says which)."""


def _in_class(items: list[tuple[Any, Any]], ch: str) -> bool:
    import re._constants as c

    code, negate, hit = ord(ch), False, False
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            hit = hit or code == av
        elif op is c.RANGE:
            hit = hit or av[0] <= code <= av[1]
        elif op is c.CATEGORY:
            hit = hit or {
                c.CATEGORY_DIGIT: ch.isdigit(), c.CATEGORY_NOT_DIGIT: not ch.isdigit(),
                c.CATEGORY_SPACE: ch.isspace(), c.CATEGORY_NOT_SPACE: not ch.isspace(),
                c.CATEGORY_WORD: ch.isalnum() or ch == "_", c.CATEGORY_NOT_WORD: not (ch.isalnum() or ch == "_"),
            }.get(av, False)
        else:
            raise CannotGenerate(f"character class item {op}")
    return hit != negate


def regex_slots(pattern: str, alphabet: str) -> list[str | tuple[str, ...]]:
    """The pattern as a sequence of literal texts and character slots (the characters of
    ``alphabet`` a position accepts), repeats taken ``REPEAT`` times within their bounds, the first
    branch of an alternation. Enumerating the slots (``slot_value``) gives distinct matching texts."""
    import re._constants as c
    import re._parser as parser

    out: list[str | tuple[str, ...]] = []

    def walk(items: Any) -> None:
        for op, av in items:
            if op is c.LITERAL:
                out.append(chr(av))
            elif op is c.NOT_LITERAL:
                out.append(tuple(ch for ch in alphabet if ord(ch) != av))
            elif op is c.ANY:
                out.append(tuple(alphabet))
            elif op is c.IN:
                out.append(tuple(ch for ch in alphabet if _in_class(av, ch)))
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
                low, high, sub = av
                for _ in range(min(high, max(low, REPEAT))):
                    walk(sub)
            elif op is c.SUBPATTERN:
                walk(av[-1])
            elif op is c.BRANCH:
                walk(av[1][0])
            elif op is c.AT:
                continue
            else:
                raise CannotGenerate(f"regular expression construct {op} in {pattern!r}")
            if out and isinstance(out[-1], tuple) and not out[-1]:
                raise CannotGenerate(f"no character of the test's alphabet fits a position of {pattern!r}")

    walk(parser.parse(pattern))
    return out


def capacity(slots: list[str | tuple[str, ...]]) -> int:
    n = 1
    for slot in slots:
        if isinstance(slot, tuple):
            n *= len(slot)
    return n


def slot_value(slots: list[str | tuple[str, ...]], index: int) -> str:
    """The ``index``-th text of the slots (mixed radix, last slot fastest): distinct for distinct
    indexes below ``capacity``."""
    chars = []
    for slot in reversed(slots):
        if isinstance(slot, tuple):
            index, digit = divmod(index, len(slot))
            chars.append(slot[digit])
        else:
            chars.append(slot)
    return "".join(reversed(chars))


class ValueMaker:
    """Good raw values for each column of ``contract``, already in their normalised form (trim,
    Unicode, case), so the raw text is what the row check keeps: text columns from their pattern
    (or a plain run of letters), typed columns in their first declared format."""

    def __init__(self, contract: Contract, seed: int) -> None:
        self.contract = contract
        rng = random.Random(seed)
        self.slots: dict[str, list[str | tuple[str, ...]]] = {}
        self.base: dict[str, int] = {}
        for col in contract.columns:
            if col.type != "string" or col.allowed is not None:
                continue
            alphabet = "".join(ch for ch in ALPHABET if _normalised(col, ch) == ch
                               and ch not in (contract.delimiter, contract.quote_char))
            letters = "".join(ch for ch in alphabet if ch.isalpha())
            source = col.pattern.pattern if col.pattern is not None else f"[{letters}]{{{min(14, col.max_length or 14)}}}"
            slots = regex_slots(source, alphabet)
            self.slots[col.name] = slots
            room = capacity(slots)
            if col.pii:  # a random start: the values of this run are its own
                self.base[col.name] = rng.randrange(max(room // 4, 1))

    def value(self, col: Column, n: int) -> str:
        if col.type == "string":
            if col.allowed is not None:
                return sorted(col.allowed)[n % len(col.allowed)]
            slots, index = self.slots[col.name], self.base.get(col.name, 0) + n
            if index >= capacity(slots):
                if col.pii or col.name in self.contract.key_columns:  # these must be distinct
                    raise CannotGenerate(f"column {col.name}: its pattern has fewer than {index + 1} distinct values")
                index %= capacity(slots)
            return slot_value(slots, index)
        if col.type == "integer":
            return str(n + 1)
        if col.type == "decimal":
            return f"{n + 1}{col.decimal_separator}25"
        if col.type == "boolean":
            return "true" if n % 2 == 0 else "false"
        if col.type == "date":
            day = date(2024, 6, 1 + n % 3)
            return day.strftime(col.formats[0]) if col.formats else day.isoformat()
        if col.type == "timestamp":
            when = datetime(2024, 6, 1 + n % 3, 10, 30)
            return when.strftime(col.formats[0]) if col.formats else when.isoformat()
        raise CannotGenerate(f"column {col.name}: type {col.type}")


def _normalised(col: Column, text: str) -> str:
    import unicodedata

    if col.unicode:
        text = unicodedata.normalize(col.unicode, text)
    if col.trim:
        text = text.strip()
    return text.lower() if col.case == "lower" else text.upper() if col.case == "upper" else text


# -- the corpus -------------------------------------------------------------------------------------

@dataclass
class CorpusFile:
    """One upload: its bytes and what must become of it."""

    name: str
    body: bytes
    status: str
    counts: dict[str, int]
    rule: str | None = None
    #: the rows the clean data must hold (first occurrence of each key), as raw values
    kept: list[dict[str, str]] = field(default_factory=list)
    #: the rows validate must put in quarantine (bad rows of an accepted file)
    bad_rows: int = 0
    version_id: str | None = None
    key: str = ""


class Corpus:
    def __init__(self, contract: Contract, run: str) -> None:
        self.contract = contract
        self.run = run
        self.maker = ValueMaker(contract, seed=uuid.UUID(run).int)
        self.checker = RowChecker(contract)
        self.pii_counter = 0
        self.pii_values: list[str] = []
        self.files: list[CorpusFile] = []

    # rows
    def good_row(self, n: int) -> dict[str, str]:
        """A good row whose key is the ``n``-th and whose PII values are new to the run."""
        row = {}
        for col in self.contract.columns:
            if col.pii:
                row[col.name] = self.maker.value(col, self.pii_counter)
                self.pii_counter += 1
                if len(row[col.name]) < MIN_PII_CHARS:
                    raise CannotGenerate(f"column {col.name}: PII values are shorter than {MIN_PII_CHARS} characters")
                self.pii_values.append(row[col.name])
            else:
                row[col.name] = self.maker.value(col, n)
        values, violations = self.checker.check(row, row=1, line=2)
        if violations:
            raise CannotGenerate(f"a generated row breaks the {self.contract.name} contract: {violations[0].message}")
        for col in self.contract.columns:  # the raw text is the normalised one: what clean holds, tokenised
            if canonical_text(values[col.name]) != row[col.name] and col.type == "string":
                raise CannotGenerate(f"column {col.name}: generated value {row[col.name]!r} is not normalised")
        return row

    def defects(self, n: int) -> list[list[str]]:
        """Bad rows whose fate is certain: one field too many (a ragged row), and, when the contract
        has a required column, a good row with that value empty."""
        names = self.contract.column_names
        ragged = [*self.fields(self.good_row(n)), "one-field-too-many"]
        out = [ragged]
        required = [c for c in self.contract.columns if c.required]
        if required:
            target = next((c for c in required if c.name not in self.contract.key_columns), required[0])
            row = self.good_row(n + 1)
            row[target.name] = ""
            assert self.checker.check(row, row=1, line=2)[1], "an empty required value must be a violation"
            out.append([row[name] for name in names])
        return out

    def fields(self, row: dict[str, str]) -> list[str]:
        return [row[name] for name in self.contract.column_names]

    def csv_bytes(self, rows: list[list[str]], header: list[str] | None = None) -> bytes:
        text = io.StringIO()
        writer = csv.writer(text, delimiter=self.contract.delimiter, quotechar=self.contract.quote_char,
                            lineterminator="\n")
        writer.writerow(header or list(self.contract.column_names))
        writer.writerows(rows)
        return text.getvalue().encode("utf-8")

    def key_of(self, row: dict[str, str]) -> tuple[str, ...]:
        return tuple(row[k] for k in self.contract.key_columns)

    # files
    def processed(self, name: str, rows: list[dict[str, str]], body: bytes | None = None,
                  bad: list[list[str]] | None = None) -> CorpusFile:
        """A file that must end processed: ``rows`` good (duplicates by key dropped), ``bad`` rejected."""
        kept, seen = [], set()
        for row in rows:
            if self.key_of(row) not in seen:
                seen.add(self.key_of(row))
                kept.append(row)
        bad = bad or []
        body = body if body is not None else self.csv_bytes([self.fields(r) for r in rows] + bad)
        valid = len(rows)
        counts = {"records_in": valid + len(bad), "valid": valid, "rejected": len(bad),
                  "duplicates": valid - len(kept), "out": len(kept), "bytes_in": len(body)}
        return CorpusFile(name, body, "processed", counts, kept=kept, bad_rows=len(bad))

    def build(self) -> list[CorpusFile]:
        c = self.contract
        fraction = c.max_rejected_fraction
        files = []

        files.append(self.processed("good.csv", [self.good_row(i) for i in range(6)]))

        bad = self.defects(1000)
        total = max(len(bad) + 3, 8)
        while len(bad) / total > fraction:  # the validator's own comparison: share > fraction rejects
            total += 1
        good = [self.good_row(i) for i in range(total - len(bad))]
        rows = [self.fields(r) for r in good]
        for j, defect in enumerate(bad):  # spread the bad rows through the file
            rows.insert((j + 1) * len(rows) // (len(bad) + 1), defect)
        files.append(self.processed("bad_rows.csv", good, body=self.csv_bytes(rows), bad=bad))

        if fraction < 1.0:
            ragged = 1
            while ragged / (2 + ragged) <= fraction:
                ragged += 1
            good = [self.fields(self.good_row(i)) for i in range(2)]
            extra = [[*self.fields(self.good_row(10 + i)), "one-field-too-many"] for i in range(ragged)]
            files.append(CorpusFile("threshold.csv", self.csv_bytes(good + extra), "quarantined",
                                    {"records_in": 2 + ragged, "valid": 2, "rejected": ragged}, rule="threshold"))

        header = list(c.column_names)
        header[-1] = header[-1] + "_renamed"
        files.append(CorpusFile("header.csv",
                                self.csv_bytes([self.fields(self.good_row(i)) for i in range(3)], header=header),
                                "quarantined", {"records_in": 0, "valid": 0, "rejected": 0}, rule="header"))

        rows5 = [self.good_row(i) for i in range(5)]
        files.append(self.processed("compressed.csv.gz", rows5,
                                    body=gzip.compress(self.csv_bytes([self.fields(r) for r in rows5]), mtime=0)))

        rows = [self.good_row(i) for i in range(4)]
        rows += [self.good_row(i) for i in (0, 2, 0)]  # the same keys again, other values
        files.append(self.processed("duplicates.csv", rows))

        files.append(self.processed("versions.csv", [self.good_row(i) for i in range(3)]))
        files.append(self.processed("versions.csv", [self.good_row(i) for i in range(5)]))
        return files


def eligible(contract: Contract) -> str | None:
    """Why ``contract`` cannot carry this corpus (None: it can)."""
    if contract.format != "csv":
        return "not CSV"
    if not contract.key_columns:
        return "no key_columns"
    pii = [c for c in contract.columns if c.pii]
    if len(pii) < 2 or any(c.type != "string" for c in pii):
        return "fewer than two PII columns, or a PII column that is not a string"
    if set(contract.key_columns) & set(contract.pii_columns):
        return "a key column is PII (the test compares clean keys with the raw ones)"
    if contract.max_rejected_fraction <= 0:
        return "max_rejected_fraction is 0: no file may hold a bad row"
    return None


def choose_corpus(run: str) -> tuple[Contract, list[CorpusFile], list[str]]:
    reasons = []
    for contract in load_all():
        why = eligible(contract)
        if why is None:
            corpus = Corpus(contract, run)
            try:
                return contract, corpus.build(), corpus.pii_values
            except CannotGenerate as exc:
                why = str(exc)
        reasons.append(f"{contract.name}: {why}")
    pytest.skip("no contract can carry the accounting corpus (a CSV contract with key_columns, two or more PII "
                "string columns and max_rejected_fraction > 0, whose values this test can generate): "
                + "; ".join(reasons))


# -- the run ----------------------------------------------------------------------------------------

def status_records(kit, prefix: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    pages = kit.client("dynamodb").get_paginator("scan").paginate(TableName=f"{PREFIX}-status")
    items = [{k: des.deserialize(v) for k, v in raw.items()} for page in pages for raw in page["Items"]]
    return [it for it in items if str(it["key"]).startswith(prefix)]


def plain(value: Any) -> Any:
    """DynamoDB's Decimals as ints (counts)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return int(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, (bool, float)) else value


def s3_location(uri: str) -> tuple[str, str]:
    name, _, key = uri.removeprefix("s3://").partition("/")
    return name, key


def object_bytes(s3, name: str, key: str, version_id: str | None = None) -> bytes:
    extra = {"VersionId": version_id} if version_id else {}
    data = s3.get_object(Bucket=name, Key=key, **extra)["Body"].read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@dataclass
class Accounting:
    kit: Any
    contract: Contract
    prefix: str
    files: list[CorpusFile]
    pii_values: list[str]
    drain: Any
    records: list[dict[str, Any]]

    def record(self, f: CorpusFile) -> dict[str, Any]:
        (found,) = [r for r in self.records if (r["key"], r.get("version_id")) == (f.key, f.version_id)]
        return found


@pytest.fixture(scope="module")
def accounting(deployed) -> Accounting:
    kit, _ = deployed
    run = str(uuid.uuid4())
    contract, files, pii_values = choose_corpus(run)
    prefix = f"{contract.name}/accounting-{run}/"
    s3 = kit.client("s3")
    for f in files:
        f.key = prefix + f.name
        f.version_id = s3.put_object(Bucket=bucket("landing"), Key=f.key, Body=f.body).get("VersionId")
    drain = kit.run("run", "--env", "local", "--drain-only")  # fails when a dead-letter queue holds a message
    records = [plain(r) for r in status_records(kit, prefix)]
    return Accounting(kit, contract, prefix, files, pii_values, drain, records)


# -- the checks ---------------------------------------------------------------------------------------

def test_the_corpus_holds_every_kind_of_file(accounting):
    names = Counter(f.name for f in accounting.files)
    assert names["versions.csv"] == 2 and len({f.version_id for f in accounting.files}) == len(accounting.files)
    assert {f.status for f in accounting.files} == {"processed", "quarantined"}
    assert {f.rule for f in accounting.files} >= {"header"}
    assert any(f.counts.get("duplicates") for f in accounting.files)
    assert any(f.counts["rejected"] and f.status == "processed" for f in accounting.files)
    assert any(f.body[:2] == b"\x1f\x8b" for f in accounting.files)


def test_the_drain_reports_every_corpus_file_and_no_dead_letters(accounting):
    out = accounting.drain.stdout
    for f in accounting.files:
        assert f.key in out, f.key
    assert "dead-letter queues: all empty" in out


def test_files_in_equal_the_final_status_records_processed_plus_quarantined_plus_gone(accounting):
    records = accounting.records
    assert all(r["status"] in FINAL_STATUSES for r in records), [(r["key"], r["status"]) for r in records]
    assert len({r["file_id"] for r in records}) == len(records)
    by_status = Counter(r["status"] for r in records)
    assert len(accounting.files) == len(records) == sum(by_status[s] for s in FINAL_STATUSES)
    assert by_status == Counter(f.status for f in accounting.files)  # nothing ended gone


def test_each_file_ends_with_its_status_and_exact_counts(accounting):
    for f in accounting.files:
        record = accounting.record(f)
        assert record["status"] == f.status, (f.name, record.get("reason"))
        counts = record["counts"]
        assert {k: v for k, v in counts.items() if k in f.counts} == f.counts, f.name
        assert set(counts) - set(f.counts) <= {"bytes_in", "bytes_out"}, f.name  # sizes: not row counts
        assert record["sha256"] == hashlib.sha256(f.body).hexdigest(), f.name


def test_every_status_record_balances(accounting):
    for record in accounting.records:
        counts = record["counts"]
        assert counts["records_in"] == counts["valid"] + counts["rejected"], record["key"]
        if record["status"] == "processed":
            assert counts["valid"] == counts["out"] + counts["duplicates"], record["key"]


def test_two_uploads_to_one_key_are_two_files_each_with_its_own_counts(accounting):
    versions = [f for f in accounting.files if f.name == "versions.csv"]
    records = [accounting.record(f) for f in versions]
    assert len({r["file_id"] for r in records}) == 2
    assert [r["counts"]["records_in"] for r in records] == [f.counts["records_in"] for f in versions] == [3, 5]


def test_whole_file_rejects_carry_their_rule_in_the_quarantine_report(accounting):
    s3 = accounting.kit.client("s3")
    for f in accounting.files:
        if f.status != "quarantined":
            continue
        report = json.loads(object_bytes(s3, *s3_location(accounting.record(f)["locations"]["quarantine_report"])))
        assert (report["status"], report["rule"]) == ("quarantined", f.rule), f.name


def test_landing_holds_no_version_of_any_corpus_file(accounting):
    listed = accounting.kit.client("s3").list_object_versions(Bucket=bucket("landing"), Prefix=accounting.prefix)
    assert [v["Key"] for v in listed.get("Versions", [])] == []
    assert [m["Key"] for m in listed.get("DeleteMarkers", [])] == []  # exact versions deleted, no markers


def test_the_archive_holds_the_raw_bytes_of_every_processed_file_once(accounting):
    s3 = accounting.kit.client("s3")
    expected = {}
    for f in accounting.files:
        if f.status != "processed":
            continue
        record = accounting.record(f)
        landed = datetime.fromisoformat(record["received_at"].replace("Z", "+00:00"))
        key = f"{f.key.split('/', 1)[0]}/{landed:%Y/%m/%d}/{record['file_id']}/{f.key}"
        assert record["locations"]["archive"] == f"s3://{bucket('archive')}/{key}", f.name
        expected[key] = f.body
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket("archive"),
                                                              Prefix=accounting.contract.name + "/")
    ours = [v["Key"] for page in pages for v in page.get("Versions", []) if f"/{accounting.prefix}" in v["Key"]]
    assert sorted(ours) == sorted(expected)  # one version each, nothing else
    for key, body in expected.items():
        assert s3.get_object(Bucket=bucket("archive"), Key=key)["Body"].read() == body, key


def test_quarantine_holds_the_original_of_every_whole_file_reject(accounting):
    s3 = accounting.kit.client("s3")
    for f in accounting.files:
        if f.status != "quarantined":
            continue
        record = accounting.record(f)
        name, key = s3_location(record["locations"]["quarantine"])
        assert (name, key) == (bucket("quarantine"), f"{accounting.contract.name}/{record['file_id']}/original/{f.name}")
        assert s3.get_object(Bucket=name, Key=key)["Body"].read() == f.body, f.name


def test_the_bad_rows_of_an_accepted_file_are_in_quarantine(accounting):
    s3 = accounting.kit.client("s3")
    for f in accounting.files:
        if f.status == "processed" and f.bad_rows:
            rows = object_bytes(s3, *s3_location(accounting.record(f)["locations"]["quarantine_rows"]))
            assert len(rows.decode("utf-8").splitlines()) == 1 + f.bad_rows, f.name  # header + the bad rows


def tokenisation_key(kit) -> bytes:
    """The HMAC key cleanse uses: the SecureString named by the function that tokenises."""
    lam, ssm = kit.client("lambda"), kit.client("ssm")
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            name = (fn.get("Environment") or {}).get("Variables", {}).get("PIPELINE_PARAM_TOKENISATION_KEY")
            if fn["FunctionName"].startswith(PREFIX) and name:
                return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"].encode("utf-8")
    raise AssertionError("no deployed function names PIPELINE_PARAM_TOKENISATION_KEY")


def test_clean_rows_are_the_kept_rows_with_each_pii_value_tokenised(accounting):
    s3, contract = accounting.kit.client("s3"), accounting.contract
    key = tokenisation_key(accounting.kit)
    pii = contract.pii_columns
    for f in accounting.files:
        if f.status != "processed":
            continue
        rows = []
        for uri in accounting.record(f)["locations"]["clean"]:
            rows += list(csv.DictReader(io.StringIO(object_bytes(s3, *s3_location(uri)).decode("utf-8"))))
        assert len(rows) == f.counts["out"], f.name
        expected = {tuple(r[k] for k in contract.key_columns): r for r in f.kept}
        assert sorted(tuple(r[k] for k in contract.key_columns) for r in rows) == sorted(expected), f.name
        for row in rows:
            source = expected[tuple(row[k] for k in contract.key_columns)]
            assert {c: row[c] for c in pii} == {
                c: hmac.new(key, source[c].encode("utf-8"), hashlib.sha256).hexdigest() for c in pii}, f.name


def test_no_raw_pii_value_is_in_any_object_of_the_clean_bucket(accounting):
    s3 = accounting.kit.client("s3")
    needles = [v.encode("utf-8") for v in accounting.pii_values]
    assert len(needles) == len(set(needles)) > 0
    scanned = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket("clean")):
        for version in page.get("Versions", []):
            data = object_bytes(s3, bucket("clean"), version["Key"], version["VersionId"])
            found = [n.decode() for n in needles if n in data]
            assert not found, (version["Key"], found[:3])
            scanned.add(version["Key"])
    ours = {s3_location(uri)[1] for r in accounting.records for uri in r["locations"].get("clean", [])}
    assert ours and ours <= scanned


def test_every_dead_letter_queue_is_empty(accounting):
    sqs = accounting.kit.client("sqs")
    urls = [u for u in sqs.list_queues(QueueNamePrefix=PREFIX).get("QueueUrls", []) if u.endswith("-dlq")]
    assert urls
    for url in urls:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, url
