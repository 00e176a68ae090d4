"""The CSV fast path is a sound under-approximation of the row check.

Property-style tests over generated values and files (seeded, so failures reproduce): whatever the
fast expression accepts, ``RowChecker`` accepts too, with the field itself (case-mapped) as the
standardised text; and validate/cleanse give the same results and bytes with and without it —
for every CSV contract in ``contracts/`` (shipped or added), on rows generated from the contract's
own column declarations so that most of them really take the fast path."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
import re
import textwrap
from datetime import date

import pytest
from pipeline_shared.contracts import known_datasets, load_contract, parse_contract
from pipeline_shared.fastpath import Unsupported, compile_fast_path, fast_path_for, field_alphabet, field_regex
from pipeline_shared.rows import RowChecker, canonical_text

KEY = b"0123456789abcdef0123456789abcdef"

FEATURES = """
[[columns]]
name = "s_plain"

[[columns]]
name = "s_untrimmed"
required = true
trim = false

[[columns]]
name = "s_upper_pattern"
required = true
case = "upper"
pattern = '[A-Z]{2}-[0-9]+'

[[columns]]
name = "s_lower_allowed"
case = "lower"
allowed = ["al", "alpha", "beta"]

[[columns]]
name = "s_max_length"
max_length = 5

[[columns]]
name = "s_email"
required = true
unicode = "NFKC"
case = "lower"
max_length = 30
pattern = '[^@\\s]+@[^@\\s]+\\.[^@\\s]+'

[[columns]]
name = "s_lazy_alternation"
pattern = '(?:ab|a)+?c*'

[[columns]]
name = "s_any_and_classes"
pattern = 'x.y|[^a-m\\d]{2}\\w?'

[[columns]]
name = "s_pattern_and_allowed"
case = "upper"
pattern = '[A-Z]+'
allowed = ["AB", "ABC", "X Y"]

[[columns]]
name = "s_nfc_name"
unicode = "NFC"
max_length = 12

[[columns]]
name = "i_plain"
type = "integer"

[[columns]]
name = "i_thousands"
type = "integer"
required = true
thousands_separator = "'"

[[columns]]
name = "d_pattern"
type = "decimal"
pattern = '-?[0-9]{1,3}(\\.[0-9]{1,2})?'

[[columns]]
name = "d_european"
type = "decimal"
decimal_separator = ","
thousands_separator = "."

[[columns]]
name = "d_plain"
type = "decimal"
required = true

[[columns]]
name = "date_formats"
type = "date"
formats = ["%d/%m/%Y"]

[[columns]]
name = "ts"
type = "timestamp"
formats = ["%d.%m.%Y %H:%M"]

[[columns]]
name = "b_plain"
type = "boolean"

[[columns]]
name = "b_allowed"
type = "boolean"
required = true
allowed = ["true"]
"""

SEEDS = [
    "",
    " ",
    "a",
    "AB-12",
    "ab-12",
    "Ab-007",
    "al",
    "ALPHA",
    "Beta",
    "alp",
    "abcde",
    "abcdef",
    "x@y.z",
    "Anna.Berg@Example.COM",
    "a b@c.d",
    "ñ@x.com",
    "ｆｕｌｌ@example.com",
    "aab",
    "abac",
    "ac",
    "xzy",
    "x,y",
    "zz",
    "zz_",
    "AB",
    "ABC",
    "abc",
    "X Y",
    "Carol Ø",
    "Anna Berg",
    "0",
    "-0",
    "+5",
    "007",
    "12",
    "-12",
    "1.000",
    "1.5",
    "0.00",
    "-0.00",
    "-0.10",
    ".5",
    "5.",
    "1e3",
    "NaN",
    "123.45",
    "1234.567",
    "1,5",
    "1.234,56",
    "2024-02-29",
    "2023-02-29",
    "2024-13-01",
    "0000-01-01",
    "0001-01-01",
    "29/02/2024",
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:00:00",
    "2024-05-01T10:00:00+02:00",
    "2024-05-01T10:00:00.000000Z",
    "2024-05-01T10:00:00.120000Z",
    "2024-05-01T24:00:00Z",
    "01.05.2024 10:00",
    "true",
    "false",
    "True",
    "yes",
    "n",
    "1",
    "t",
    '"q"',
    "a;b",
    "a\tb",
    "\u00a0x",
]
CHARS = "aAbBxXyYzZ09-.:,;@ T_Z/+e\"'\tñÖ\u00a0"


def mutations(rnd: random.Random, n: int) -> list[str]:
    values = list(SEEDS)
    while len(values) < n:
        value = list(rnd.choice(SEEDS))
        for _ in range(rnd.randint(1, 3)):
            op = rnd.random()
            i = rnd.randint(0, len(value))
            if op < 0.3:
                value.insert(i, rnd.choice(CHARS))
            elif op < 0.5 and value:
                del value[min(i, len(value) - 1)]
            elif op < 0.7 and value:
                value[min(i, len(value) - 1)] = rnd.choice(CHARS)
            elif op < 0.85:
                value = list("".join(value).swapcase())
            else:
                value = [" ", *value] if rnd.random() < 0.5 else [*value, " "]
        values.append("".join(value))
    return values


def single_column_contracts(tmp_path):
    source = parse_contract(write(tmp_path, "features", FEATURES, delimiter=";"))
    for column in source.columns:
        text = '[dataset]\nformat = "csv"\ndelimiter = ";"\n' + column_toml(FEATURES, column.name)
        yield column.name, parse_contract(write_text(tmp_path / f"{column.name}.toml", text))


def column_toml(features: str, name: str) -> str:
    blocks = features.split("[[columns]]")
    (block,) = [b for b in blocks if f'name = "{name}"' in b]
    return "[[columns]]" + block


def write_text(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def write(tmp_path, name: str, columns: str, *, delimiter: str = ",", extra: str = ""):
    header = f'[dataset]\nformat = "csv"\ndelimiter = "{delimiter}"\n{extra}'
    return write_text(tmp_path / f"{name}.toml", header + textwrap.dedent(columns))


def expected_text(column, raw: str) -> str:
    if column.type == "string" and column.case == "lower":
        return raw.lower()
    if column.type == "string" and column.case == "upper":
        return raw.upper()
    return raw


def test_every_accepted_field_is_a_good_standardised_value(tmp_path):
    rnd = random.Random(20240501)
    candidates = mutations(rnd, 4000)
    accepted_total = 0
    for name, contract in single_column_contracts(tmp_path):
        fast = compile_fast_path(contract, [name])
        checker = RowChecker(contract)
        column = contract.columns[0]
        for raw in candidates:
            if fast.run.fullmatch(raw + "\n") is None:
                continue
            accepted_total += 1
            assert next(csv.reader([raw + "\n"], delimiter=";")) == [raw], (name, raw)
            values, violations = checker.check({name: raw}, row=1, line=2)
            assert violations == [], (name, raw, violations)
            assert canonical_text(values[name]) == expected_text(column, raw), (name, raw)
    assert accepted_total > 300  # the fast path does accept a good share of these


def test_standardised_values_take_the_fast_path(tmp_path):
    good = {
        "s_plain": ["", "Anna Berg", "x"],
        "s_untrimmed": [" padded ", "x"],
        "s_upper_pattern": ["AB-12", "ab-12"],
        "s_lower_allowed": ["alpha", "AL", ""],
        "s_max_length": ["abcde"],
        "s_email": ["anna.berg@example.com", "Anna.Berg@Example.COM"],
        "s_lazy_alternation": ["aab", "abacc"[:3] + "c"],
        "s_any_and_classes": ["x-y", "zz", "zz_"],
        "s_pattern_and_allowed": ["abc", "AB"],
        "i_plain": ["0", "-12", "4000"],
        "i_thousands": ["1000", "-7"],
        "d_pattern": ["-1.5", "0.00", "123.45"],
        "d_european": ["1234", "0"],
        "d_plain": ["0.5", "-0.10", "100"],
        "date_formats": ["2024-02-29", "2000-02-29", "1999-12-31"],
        "ts": ["2024-05-01T10:00:00Z", "2024-05-01T23:59:59.120000Z"],
        "b_plain": ["true", "false", ""],
        "b_allowed": ["true"],
        "s_nfc_name": ["Anna Berg"],
    }
    for name, contract in single_column_contracts(tmp_path):
        fast = compile_fast_path(contract, [name])
        for raw in good[name]:
            if raw == "":
                continue  # an empty line is no record at all in a one-column file
            assert fast.run.fullmatch(raw + "\n"), (name, raw)


def test_dates_are_accepted_exactly_when_they_are_iso_calendar_dates(tmp_path):
    contract = parse_contract(write(tmp_path, "d", '[[columns]]\nname = "d"\ntype = "date"\nrequired = true\n'))
    fast = compile_fast_path(contract, ["d"])
    for year in (0, 1, 4, 100, 400, 1900, 1996, 1999, 2000, 2023, 2024, 2100, 2400, 9996, 9999):
        for month in range(0, 14):
            for day in range(0, 33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    ok = date.fromisoformat(text).isoformat() == text
                except ValueError:
                    ok = False
                assert bool(fast.run.fullmatch(text + "\n")) == ok, text


def test_a_pattern_cannot_reach_over_the_delimiter(tmp_path):
    contract = parse_contract(
        write(tmp_path, "p", '[[columns]]\nname = "a"\npattern = ".*"\n[[columns]]\nname = "b"\npattern = "x"\n')
    )
    fast = compile_fast_path(contract, ["a", "b"])
    assert fast.run.fullmatch("anything goes,x\n")
    assert not fast.run.fullmatch("a,b,x\n")  # three fields: ragged, never fast
    assert not fast.run.fullmatch('a",x\n')  # a quote character never takes the fast path


@pytest.mark.parametrize(
    "pattern", ["^a", "a$", r"\ba", "(?=a)a", "(?<=a)b", r"(a)\1", "(?i)a", "(?i:a)b", r"(?P<x>a)(?(x)b|c)"]
)
def test_patterns_the_rewriter_cannot_prove_leave_the_contract_without_fast_path(tmp_path, pattern):
    contract = parse_contract(write(tmp_path, "u", f"[[columns]]\nname = \"a\"\npattern = '{pattern}'\n"))
    with pytest.raises(Unsupported):
        field_regex(contract.columns[0], field_alphabet(contract))
    assert fast_path_for(contract, ["a"]) is None


def test_shipped_csv_contracts_have_a_fast_path():
    for name in ("orders", "customers"):
        contract = load_contract(name)
        assert compile_fast_path(contract, contract.column_names).width == len(contract.columns)
    assert fast_path_for(load_contract("events"), ()) is None  # JSON Lines: no CSV fast path


# -- whole files: validate and cleanse give the same with and without the fast path


def orders_value(rnd: random.Random, column: str, i: int) -> str:
    good = {
        "order_id": f"ORD-{rnd.randrange(300):06d}",
        "customer_id": f"C{rnd.randrange(99999):05d}",
        "email": f"user{rnd.randrange(40)}@example.com",
        "order_date": f"2024-05-{rnd.randrange(1, 4):02d}",
        "amount": f"{rnd.randrange(500)}.{rnd.randrange(100):02d}",
        "currency": "EUR",
        "status": "paid",
        "express": rnd.choice(["true", "false", ""]),
    }[column]
    if rnd.random() < 0.85:
        return good
    return rnd.choice(mutations(rnd, len(SEEDS) + 3)[-3:] + [good.upper(), good.title(), f" {good}", f'"{good}"'])


def generated_orders(rnd: random.Random, rows: int, *, header: list[str]) -> bytes:
    lines = [",".join(header)]
    for i in range(rows):
        fields = [orders_value(rnd, c, i) for c in header]
        line = ",".join(
            f if not f.startswith('"') and "," not in f else '"' + f.replace('"', '""') + '"' for f in fields
        )
        roll = rnd.random()
        if roll < 0.02:
            line = line.rsplit(",", 1)[0]  # ragged
        elif roll < 0.03:
            line = ""  # blank
        elif roll < 0.04:
            line = line.replace("@", '"@\n', 1) + '"'  # a quoted field running over the next line
        lines.append(line)
    text = "\n".join(lines) + "\n"
    return (text.replace("\n", "\r\n") if rnd.random() < 0.3 else text).encode("utf-8")


def run_both(validate_core, cleanse_core, data: bytes, contract, *, fast: bool, **cleanse_kwargs):
    sink = io.BytesIO()
    checked = validate_core.validate_stream(
        io.BytesIO(data), key="x/a.csv", contract=contract, max_bytes=1 << 30, rejected_sink=sink, fast_path=fast
    )
    outputs: dict[date, io.BytesIO] = {}

    def open_partition(partition):
        outputs[partition] = io.BytesIO()
        return outputs[partition]

    try:
        cleansed = cleanse_core.cleanse_stream(
            io.BytesIO(data),
            key="x/a.csv",
            contract=contract,
            max_bytes=1 << 30,
            tokenise=cleanse_core.Tokeniser(KEY),
            default_partition=date(2024, 1, 31),
            open_partition=open_partition,
            fast_path=fast,
            **cleanse_kwargs,
        )
        cleansed_view = (cleansed.counts, cleansed.partitions, {d: s.getvalue() for d, s in outputs.items()})
    except cleanse_core.CleanseError as exc:
        cleansed_view = str(exc)
    checked_view = (
        checked.accepted,
        checked.rule,
        checked.reason,
        checked.counts,
        [v.to_dict() for v in checked.violations],
        checked.violations_total,
        sink.getvalue(),
    )
    return checked_view, cleansed_view, checked.fast_rows


@pytest.mark.parametrize("seed", range(12))
def test_generated_orders_files_come_out_the_same_with_and_without_the_fast_path(validate_core, cleanse_core, seed):
    rnd = random.Random(seed)
    contract = load_contract("orders")
    header = list(contract.column_names)
    if seed % 3 == 1:
        rnd.shuffle(header)
    data = generated_orders(rnd, rnd.randint(1, 600), header=header)
    fast_v, fast_c, fast_rows = run_both(validate_core, cleanse_core, data, contract, fast=True)
    slow_v, slow_c, slow_rows = run_both(validate_core, cleanse_core, data, contract, fast=False)
    assert fast_v == slow_v
    assert fast_c == slow_c
    assert slow_rows == 0


def test_most_rows_of_a_clean_file_take_the_fast_path(validate_core, cleanse_core):
    rnd = random.Random(7)
    contract = load_contract("orders")
    rows = [
        f"ORD-{i:06d},C{i % 997:05d},user{i % 50}@example.com,2024-05-0{1 + i % 3},{i % 90}.5{i % 10},EUR,paid,true"
        for i in range(5000)
    ]
    data = ("\n".join([",".join(contract.column_names), *rows]) + "\n").encode()
    (_, _, _, counts, *_), _, fast_rows = run_both(validate_core, cleanse_core, data, contract, fast=True)
    assert counts["valid"] == 5000 and fast_rows == 5000
    assert rnd  # seeded generator kept for symmetry with the other tests


def test_generated_files_of_a_semicolon_contract_with_every_feature(validate_core, cleanse_core, tmp_path):
    contract = parse_contract(
        write(tmp_path, "features", FEATURES, delimiter=";", extra='key_columns = ["s_upper_pattern"]\n')
    )
    rnd = random.Random(99)
    pools = {c.name: mutations(rnd, 60) for c in contract.columns}
    lines = [";".join(contract.column_names)]
    for _ in range(800):
        fields = []
        for column in contract.columns:
            value = rnd.choice(pools[column.name])
            fields.append('"' + value.replace('"', '""') + '"' if any(ch in value for ch in ';"') else value)
        lines.append(";".join(fields))
    data = ("\n".join(lines) + "\n").encode()
    fast = run_both(validate_core, cleanse_core, data, contract, fast=True)
    slow = run_both(validate_core, cleanse_core, data, contract, fast=False)
    assert fast[:2] == slow[:2]


def test_good_rows_of_every_feature_come_out_the_same(validate_core, cleanse_core, tmp_path):
    contract = parse_contract(
        write(tmp_path, "features", FEATURES, delimiter=";", extra='key_columns = ["s_upper_pattern"]\n')
    )
    rows = []
    for i in range(300):
        rows.append(
            ";".join(
                [
                    "",
                    " padded ",
                    f"ab-{i % 40}",
                    ["alpha", "AL", "Beta", ""][i % 4],
                    "abc",
                    ["Anna.Berg@Example.COM", "x@y.z"][i % 2],
                    "aab",
                    "zz",
                    ["abc", "AB"][i % 2],
                    "Anna Berg",
                    str(i - 150),
                    "1000",
                    ["-1.5", "0.00"][i % 2],
                    "1234",
                    "0.5",
                    ["2024-02-29", "29/02/2024"][i % 2],
                    ["2024-05-01T10:00:00Z", "01.05.2024 10:00"][i % 2],
                    ["true", "false", ""][i % 3],
                    "true",
                ]
            )
        )
    data = ("\n".join([";".join(contract.column_names), *rows]) + "\n").encode()
    fast = run_both(validate_core, cleanse_core, data, contract, fast=True)
    slow = run_both(validate_core, cleanse_core, data, contract, fast=False)
    assert fast[:2] == slow[:2]
    assert fast[0][3]["valid"] == 300 and fast[2] > 100


def test_fast_path_is_compiled_once_per_contract_and_header():
    contract = load_contract("orders")
    header = list(contract.column_names)
    assert fast_path_for(contract, header) is fast_path_for(contract, list(header))
    assert fast_path_for(contract, header[::-1]) is not fast_path_for(contract, header)
    assert re.compile(fast_path_for(contract, header).run.pattern)  # noqa: PLR2004 - it is a plain expression


# -- every contract: rows generated from its own columns take the fast path, and come out the same


def _class_accepts(items, c: str) -> bool:
    from re import _constants as k

    word = c.isalnum() or c == "_"
    categories = {
        k.CATEGORY_DIGIT: c.isdigit(),
        k.CATEGORY_NOT_DIGIT: not c.isdigit(),
        k.CATEGORY_SPACE: c.isspace(),
        k.CATEGORY_NOT_SPACE: not c.isspace(),
        k.CATEGORY_WORD: word,
        k.CATEGORY_NOT_WORD: not word,
    }
    negate, hit = False, False
    for op, av in items:
        if op is k.NEGATE:
            negate = True
        elif op is k.LITERAL:
            hit = hit or ord(c) == av
        elif op is k.RANGE:
            hit = hit or av[0] <= ord(c) <= av[1]
        elif op is k.CATEGORY and av in categories:
            hit = hit or categories[av]
        else:
            raise ValueError(f"class item {op}")
    return hit != negate


def _atom_accepts(op, av, c: str) -> bool:
    from re import _constants as k

    if op is k.LITERAL:
        return ord(c) == av
    if op is k.NOT_LITERAL:
        return ord(c) != av
    if op is k.ANY:
        return c != "\n"
    return _class_accepts(av, c)


def sample_pattern(rnd: random.Random, parsed, alphabet: list[str]) -> str:
    """A random text of ``alphabet`` characters that the parsed pattern matches (ValueError for a
    construct this generator does not know: the caller tries something else)."""
    from re import _constants as k

    out = []
    for op, av in parsed:
        if op in (k.LITERAL, k.NOT_LITERAL, k.ANY, k.IN):
            choices = [c for c in alphabet if _atom_accepts(op, av, c)]
            if not choices:
                raise ValueError("no character of the field alphabet fits")
            out.append(rnd.choice(choices))
        elif op is k.BRANCH:
            out.append(sample_pattern(rnd, rnd.choice(av[1]), alphabet))
        elif op is k.SUBPATTERN:
            out.append(sample_pattern(rnd, av[3], alphabet))
        elif op is k.ATOMIC_GROUP:
            out.append(sample_pattern(rnd, av, alphabet))
        elif op in (k.MAX_REPEAT, k.MIN_REPEAT, k.POSSESSIVE_REPEAT):
            lo, hi, inner = av
            hi = lo + 6 if hi == k.MAXREPEAT else min(hi, lo + 6)
            out.extend(sample_pattern(rnd, inner, alphabet) for _ in range(rnd.randint(lo, hi)))
        else:
            raise ValueError(f"{op} in a pattern")
    return "".join(out)


def typed_value(rnd: random.Random, column) -> str:
    """A value of the column's type, written in its standardised form."""
    if column.type == "integer":
        return str(rnd.randint(-(10**6), 10**6))
    if column.type == "decimal":
        if column.decimal_separator != "." or column.thousands_separator:
            return str(rnd.randint(-(10**6), 10**6))  # the fast path takes plain integers there
        return f"{rnd.randint(-9999, 9999)}.{rnd.randrange(100):02d}"
    if column.type == "date":
        return date.fromordinal(date(2020, 1, 1).toordinal() + rnd.randrange(2000)).isoformat()
    if column.type == "timestamp":
        day = date.fromordinal(date(2020, 1, 1).toordinal() + rnd.randrange(2000)).isoformat()
        micros = rnd.choice(["", f".{rnd.randint(1, 999999):06d}"])
        return f"{day}T{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}{micros}Z"
    if column.type == "boolean":
        return rnd.choice(["true", "false"])
    word = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
                   for _ in range(rnd.randint(1, 12)))
    return word if rnd.random() < 0.5 else f"{word} {word[::-1]}"


def standard_value(rnd: random.Random, contract, column, tries: int = 300) -> str | None:
    """A good value of ``column`` already in its standardised form (but for the ASCII case of a
    ``case`` column, which it varies), made from the column's own declaration; None if none is
    found. Empty (missing) for about one optional value in five."""
    if not column.required and rnd.random() < 0.2:
        return ""
    alphabet = sorted(field_alphabet(contract))
    checker = RowChecker(dataclasses.replace(contract, columns=(column,)))
    parsed = None
    if column.pattern is not None:
        from re import _parser

        parsed = _parser.parse(column.pattern.pattern, column.pattern.flags)
    for attempt in range(tries):
        if column.allowed is not None:
            raw = rnd.choice(sorted(column.allowed))
        elif parsed is not None and (column.type == "string" or attempt % 2):
            try:
                raw = sample_pattern(rnd, parsed, alphabet)
            except ValueError:
                parsed = None
                continue
        else:
            raw = typed_value(rnd, column)
        if column.type == "string" and column.case is not None:
            raw = rnd.choice([raw, raw.lower(), raw.upper(), raw.swapcase()])
        if not raw or not set(raw) <= set(alphabet):
            continue
        values, violations = checker.check({column.name: raw}, row=1, line=2)
        if not violations and canonical_text(values[column.name]) == expected_text(column, raw):
            return raw
    return None


def quoted(value: str, contract) -> str:
    q = contract.quote_char
    return q + value.replace(q, q + q) + q


def contract_rows(rnd: random.Random, contract, header: list[str], rows: int) -> tuple[bytes, int]:
    """A CSV file of ``rows`` rows for ``contract``: mostly standardised good rows (some repeating
    an earlier key), some good rows written the slow way (quoted, padded), some bad ones. Returns
    the data and how many rows are standardised good rows."""
    columns = {c.name: c for c in contract.columns}
    pools = {}
    for name, column in columns.items():
        pool = [standard_value(rnd, contract, column) for _ in range(60)]
        pools[name] = [v for v in pool if v is not None]
        if not pools[name] or (column.required and not any(pools[name])):
            pytest.skip(f"no standardised value of {contract.name}.{name} could be generated")
    d = contract.delimiter
    lines, standard, previous = [d.join(header)], 0, []
    for _ in range(rows):
        values = {n: rnd.choice(pools[n]) for n in header}
        for k in contract.key_columns:  # fresh keys: most rows are kept
            values[k] = standard_value(rnd, contract, columns[k]) or values[k]
        if previous and rnd.random() < 0.15:  # a duplicate key
            earlier = rnd.choice(previous)
            values.update({k: earlier[k] for k in contract.key_columns})
        previous.append(values)
        fields = [values[n] for n in header]
        roll = rnd.random()
        if roll < 0.75:
            standard += 1
        elif roll < 0.85:
            i = rnd.randrange(len(fields))
            fields[i] = quoted(fields[i], contract) if rnd.random() < 0.5 else f" {fields[i]} "
        elif roll < 0.95:
            i = rnd.randrange(len(fields))
            bad = {"date": "2024-W03-1", "timestamp": "yesterday", "integer": "1.5", "decimal": "x",
                   "boolean": "maybe"}.get(columns[header[i]].type, "\u00e9" * 300)
            fields[i] = bad
        else:
            fields = fields[:-1]  # ragged
        lines.append(d.join(fields))
    return ("\n".join(lines) + "\n").encode("utf-8"), standard


def cleanse_fast_rows(cleanse_core, data: bytes, contract) -> int:
    """How many rows cleanse took on its fast path."""
    return cleanse_core.cleanse_stream(
        io.BytesIO(data), key="x/a.csv", contract=contract, max_bytes=1 << 30, tokenise=cleanse_core.Tokeniser(KEY),
        default_partition=date(2024, 1, 31), open_partition=lambda d: io.BytesIO(),
    ).fast_rows


CSV_DATASETS = [name for name in known_datasets() if load_contract(name).format == "csv"]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dataset", CSV_DATASETS)
def test_every_csv_contract_comes_out_the_same_with_and_without_the_fast_path(
    validate_core, cleanse_core, dataset, seed
):
    contract = load_contract(dataset)
    rnd = random.Random(f"{dataset}-{seed}")
    header = list(contract.column_names)
    if seed == 1:
        rnd.shuffle(header)
    if fast_path_for(contract, header) is None:
        pytest.skip(f"the {dataset} contract has no fast path (a pattern the rewriter cannot prove)")
    data, standard = contract_rows(rnd, contract, header, 400)
    fast_v, fast_c, fast_rows = run_both(validate_core, cleanse_core, data, contract, fast=True)
    slow_v, slow_c, slow_rows = run_both(validate_core, cleanse_core, data, contract, fast=False)
    assert fast_rows >= standard * 0.9 and slow_rows == 0  # validate really took the fast path
    assert cleanse_fast_rows(cleanse_core, data, contract) >= standard * 0.9  # and so did cleanse
    assert fast_v == slow_v
    assert fast_c == slow_c


@pytest.mark.parametrize("dataset", CSV_DATASETS)
def test_every_csv_contract_tokenises_every_pii_column_on_the_fast_path(validate_core, cleanse_core, dataset):
    contract = load_contract(dataset)
    header = list(contract.column_names)
    if not contract.pii_columns or fast_path_for(contract, header) is None:
        pytest.skip(f"the {dataset} contract has no PII column or no fast path")
    rnd = random.Random(dataset)
    data, standard = contract_rows(rnd, contract, header, 300)
    _, (counts, _, outputs), _ = run_both(validate_core, cleanse_core, data, contract, fast=True)
    assert cleanse_fast_rows(cleanse_core, data, contract) >= standard * 0.9
    cells = [row[name] for out in outputs.values()
             for row in csv.DictReader(io.StringIO(out.decode("utf-8"))) for name in contract.pii_columns]
    assert len(cells) == counts["out"] * len(contract.pii_columns)
    assert [c for c in cells if c != "" and not re.fullmatch("[0-9a-f]{64}", c)] == []  # no raw PII value


@pytest.mark.parametrize("dataset", [name for name in known_datasets() if name not in CSV_DATASETS])
def test_contracts_that_are_not_csv_have_no_fast_path(dataset):
    contract = load_contract(dataset)
    assert fast_path_for(contract, list(contract.column_names)) is None


# -- dates: the fast path takes ISO calendar dates only


@pytest.mark.parametrize("raw", ["2024-W03-1", "2024W031", "20240115", "2024-015"])
def test_the_fast_path_refuses_week_ordinal_and_compact_dates(tmp_path, raw):
    contract = parse_contract(write(tmp_path, "d", '[[columns]]\nname = "d"\ntype = "date"\nrequired = true\n'))
    assert compile_fast_path(contract, ["d"]).run.fullmatch(raw + "\n") is None


@pytest.mark.parametrize("raw", ["2024-W03-1", "20240115"])
def test_a_file_with_a_week_or_compact_date_is_rejected_both_ways(validate_core, cleanse_core, tmp_path, raw):
    contract = parse_contract(
        write(tmp_path, "d", '[[columns]]\nname = "id"\n[[columns]]\nname = "d"\ntype = "date"\nrequired = true\n')
    )
    data = f"id,d\na,2024-01-15\nb,{raw}\n".encode()
    for fast in (True, False):
        (accepted, rule, _, counts, violations, *_), _, _ = run_both(
            validate_core, cleanse_core, data, contract, fast=fast
        )
        assert (accepted, rule, counts["rejected"]) == (False, "threshold", 1)
        assert [(v["row"], v["column"], v["message"]) for v in violations] == [
            (2, "d", "d: expected a date (YYYY-MM-DD)")
        ]
