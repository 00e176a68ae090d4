"""The Glue compaction transform (``glue/transform.py``), pure Python, no Spark: casting per
contract type, rejection reasons, partitions, de-duplication, and agreement with what cleanse
really writes to the clean zone. Also the job script's own pure parts and the artifacts."""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import itertools
import json
import sys
import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from glue import artifacts, transform
from glue.specs import SHARED_DIR, ColumnSpec, DatasetSpec, load_specs, shipped_specs, specs_from_json, specs_json
from glue.transform import CompactStats, Rejected, cast_record, cast_value, compact_rows, partition_from_path

TOKEN = "a" * 64
TOKEN2 = "b" * 64

ORDERS = DatasetSpec(
    name="orders",
    format="csv",
    columns=(
        ColumnSpec("order_id", "string", required=True),
        ColumnSpec("email", "string", required=True, pii=True),
        ColumnSpec("order_date", "date", required=True),
        ColumnSpec("amount", "decimal", required=True),
        ColumnSpec("qty", "integer"),
        ColumnSpec("paid_at", "timestamp"),
        ColumnSpec("express", "boolean"),
    ),
    key_columns=("order_id",),
    partition_column="order_date",
)


def source(day: str, file_id: str = "f1", dataset: str = "orders", ext: str = "csv") -> str:
    return f"s3://pk-dev-clean/dataset={dataset}/date={day}/{file_id}.{ext}"


def record(**values):
    base = {"order_id": "ORD-1", "email": TOKEN, "order_date": "2024-05-01", "amount": "19.99", "qty": "",
            "paid_at": "", "express": "", transform.SOURCE_FIELD: source("2024-05-01")}
    base.update(values)
    return base


def col(type_: str, **kw) -> ColumnSpec:
    return ColumnSpec("c", type_, **kw)


# ======================================================================================
# values
# ======================================================================================


@pytest.mark.parametrize("raw, expected", [("12", 12), ("-3", -3), ("+7", 7), (" 42 ", 42), (5, 5), (5.0, 5),
                                           (str(2**63 - 1), 2**63 - 1)])
def test_integer_values_are_cast(raw, expected):
    assert cast_value(col("integer"), raw) == expected


@pytest.mark.parametrize("raw", ["1.5", "abc", "1e3", True, 2.5, str(2**63), [1]])
def test_bad_integer_is_rejected(raw):
    with pytest.raises(Rejected) as caught:
        cast_value(col("integer"), raw)
    assert caught.value.reason == "bad_integer:c"


@pytest.mark.parametrize("raw, expected", [("19.99", "19.990000000"), ("-0.5", "-0.500000000"), ("7", "7.000000000"),
                                           (3, "3.000000000"), (Decimal("1.25"), "1.250000000"), (0.1, "0.100000000"),
                                           ("0.123456789", "0.123456789")])
def test_decimals_are_quantized_to_the_catalog_scale(raw, expected):
    value = cast_value(col("decimal"), raw)
    assert isinstance(value, Decimal) and str(value) == expected
    assert value.as_tuple().exponent == -9


def test_decimal_with_more_fractional_digits_than_the_scale_is_rejected_not_rounded():
    with pytest.raises(Rejected) as caught:
        cast_value(col("decimal"), "0.1234567891")
    assert caught.value.reason == "decimal_scale:c"


def test_trailing_zeros_beyond_the_scale_are_not_a_loss():
    assert cast_value(col("decimal"), "1.50000000000") == Decimal("1.5")


def test_decimal_beyond_29_integer_digits_is_out_of_range():
    assert cast_value(col("decimal"), "9" * 29) == Decimal("9" * 29)
    with pytest.raises(Rejected) as caught:
        cast_value(col("decimal"), "1" + "0" * 29)
    assert caught.value.reason == "decimal_out_of_range:c"


@pytest.mark.parametrize("raw", ["1,5", "NaN", "Infinity", "abc", "1e5", True, ""])
def test_bad_decimal_is_rejected(raw):
    column = col("decimal", required=True)
    with pytest.raises(Rejected) as caught:
        cast_value(column, raw)
    assert caught.value.reason == ("missing_required:c" if raw == "" else "bad_decimal:c")


def test_dates_are_iso_only():
    assert cast_value(col("date"), "2024-02-29") == date(2024, 2, 29)
    assert cast_value(col("date"), date(2024, 1, 2)) == date(2024, 1, 2)
    for bad in ("2023-02-29", "01/02/2024", "2024-1-2", datetime(2024, 1, 2), 20240102):
        with pytest.raises(Rejected) as caught:
            cast_value(col("date"), bad)
        assert caught.value.reason == "bad_date:c"


@pytest.mark.parametrize("raw, expected", [
    ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=timezone.utc)),
    ("2024-05-01T10:00:00.123456Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)),
    ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=timezone.utc)),
    ("2024-05-01 10:00:00", datetime(2024, 5, 1, 10, tzinfo=timezone.utc)),  # naive: UTC
    (datetime(2024, 5, 1, 10), datetime(2024, 5, 1, 10, tzinfo=timezone.utc)),
])
def test_timestamps_become_aware_utc(raw, expected):
    value = cast_value(col("timestamp"), raw)
    assert value == expected and value.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("raw", ["2024-05-01", "yesterday", "2024-13-01T00:00:00Z", 1714557600])
def test_bad_timestamp_is_rejected(raw):
    with pytest.raises(Rejected) as caught:
        cast_value(col("timestamp"), raw)
    assert caught.value.reason == "bad_timestamp:c"


def test_booleans_are_the_clean_true_false():
    assert cast_value(col("boolean"), "true") is True
    assert cast_value(col("boolean"), "FALSE") is False
    assert cast_value(col("boolean"), False) is False
    for bad in ("yes", "1", 1, "t"):
        with pytest.raises(Rejected) as caught:
            cast_value(col("boolean"), bad)
        assert caught.value.reason == "bad_boolean:c"


def test_missing_values_are_none_unless_required():
    for type_ in ("string", "integer", "decimal", "date", "timestamp", "boolean"):
        assert cast_value(col(type_), "") is None
        assert cast_value(col(type_), None) is None
        with pytest.raises(Rejected) as caught:
            cast_value(col(type_, required=True), None)
        assert caught.value.reason == "missing_required:c"


def test_strings_keep_their_text_and_whitespace():
    assert cast_value(col("string"), "  keep  ") == "  keep  "
    assert cast_value(col("string"), 12) == "12"


def test_pii_must_be_a_token_so_raw_pii_never_reaches_parquet():
    assert cast_value(col("string", pii=True), TOKEN) == TOKEN
    for raw in ("alice@example.com", TOKEN.upper(), TOKEN[:-1]):
        with pytest.raises(Rejected) as caught:
            cast_value(col("string", pii=True), raw)
        assert caught.value.reason == "pii_not_tokenised:c"


# ======================================================================================
# partitions and records
# ======================================================================================


def test_partition_comes_from_the_date_segment_of_the_path():
    assert partition_from_path(source("2024-05-01")) == "2024-05-01"
    assert partition_from_path("dataset=x/date=2024-05-01/f.csv") == "2024-05-01"
    assert partition_from_path("s3://b/dataset=x/f.csv") is None
    assert partition_from_path("s3://b/dataset=x/date=2024-02-30/f.csv") is None
    assert partition_from_path("s3://b/dataset=x/update=2024-05-01/f.csv") is None
    assert partition_from_path(None) is None


def test_a_good_record_becomes_a_typed_row_with_its_partition():
    cast = cast_record(record(qty="3", paid_at="2024-05-01T10:00:00Z", express="true"), ORDERS)
    assert cast.reason is None
    assert cast.row == {
        "order_id": "ORD-1", "email": TOKEN, "order_date": date(2024, 5, 1), "amount": Decimal("19.99"),
        "qty": 3, "paid_at": datetime(2024, 5, 1, 10, tzinfo=timezone.utc), "express": True, "date": "2024-05-01",
    }
    assert transform.SOURCE_FIELD not in cast.row


def test_the_path_partition_wins_over_the_partition_column():
    cast = cast_record(record(order_date="2024-04-30", **{transform.SOURCE_FIELD: source("2024-05-02")}), ORDERS)
    assert cast.row["date"] == "2024-05-02"


def test_without_a_path_the_partition_column_gives_the_date():
    raw = record(order_date="2024-04-30")
    del raw[transform.SOURCE_FIELD]
    assert cast_record(raw, ORDERS).row["date"] == "2024-04-30"


def test_a_timestamp_partition_column_gives_its_utc_date():
    spec = DatasetSpec("events", "jsonl", (ColumnSpec("at", "timestamp", required=True),), partition_column="at")
    assert cast_record({"at": "2024-05-01T23:30:00-02:00"}, spec).row["date"] == "2024-05-02"


def test_no_partition_at_all_is_rejected():
    spec = DatasetSpec("customers", "csv", (ColumnSpec("id", "string", required=True),))
    cast = cast_record({"id": "C1"}, spec)
    assert cast.row is None and cast.reason == "no_partition"


def test_a_record_is_rejected_with_the_first_failing_column():
    cast = cast_record(record(amount="abc", qty="x"), ORDERS)
    assert cast.row is None and cast.reason == "bad_decimal:amount"


def test_columns_are_found_by_glue_name_and_extra_fields_ignored():
    spec = DatasetSpec("d", "jsonl", (ColumnSpec("OrderId", "string", required=True),), partition_column=None)
    cast = cast_record({"orderid": "X", "unexpected": 1, transform.SOURCE_FIELD: source("2024-01-01")}, spec)
    assert cast.row == {"orderid": "X", "date": "2024-01-01"}


# ======================================================================================
# the batch: rejections, de-duplication
# ======================================================================================


def test_compact_rows_counts_rejections_by_reason():
    stats = CompactStats()
    rows = compact_rows([record(), record(order_id="ORD-2", amount="x"), record(order_id="ORD-3", amount="y"),
                         record(order_id="ORD-4", email="raw@example.com"), record(order_id="")], ORDERS, stats)
    assert [r["order_id"] for r in rows] == ["ORD-1"]
    assert stats.as_dict() == {"records_in": 5, "rows_out": 1, "duplicates": 0, "rejected": {
        "bad_decimal:amount": 2, "missing_required:order_id": 1, "pii_not_tokenised:email": 1}}
    assert stats.rejected_total == 4


def test_duplicates_by_key_keep_the_earliest_partition_then_source():
    a = record(amount="1", **{transform.SOURCE_FIELD: source("2024-05-02", "f9")})
    b = record(amount="2", **{transform.SOURCE_FIELD: source("2024-05-01", "f5")})
    c = record(amount="3", **{transform.SOURCE_FIELD: source("2024-05-01", "f7")})
    stats = CompactStats()
    assert [r["amount"] for r in compact_rows([a, b, c], ORDERS, stats)] == [Decimal("2")]
    assert stats.duplicates == 2 and stats.rows_out == 1


def test_deduplication_does_not_depend_on_input_order():
    records = [record(order_id=f"ORD-{i % 3}", amount=str(i), email=TOKEN if i % 2 else TOKEN2,
                      **{transform.SOURCE_FIELD: source(f"2024-05-0{1 + i % 4}", f"f{i}")}) for i in range(9)]
    outcomes = {json.dumps(compact_rows(list(p), ORDERS), default=str, sort_keys=True)
                for p in itertools.islice(itertools.permutations(records), 0, 2000, 97)}
    assert len(outcomes) == 1


def test_identical_keys_in_the_same_file_keep_one_deterministically():
    rows = compact_rows([record(amount="5"), record(amount="4")], ORDERS)
    assert [r["amount"] for r in rows] == [Decimal("4")]  # same partition and file: smallest values


def test_key_identity_uses_the_cast_value():
    rows = compact_rows([record(order_id="ORD-1"), record(order_id="ORD-1", amount="19.990")], ORDERS)
    assert len(rows) == 1


def test_without_key_columns_nothing_is_deduplicated():
    spec = DatasetSpec("logs", "csv", (ColumnSpec("msg", "string"),))
    raw = {"msg": "same", transform.SOURCE_FIELD: source("2024-05-01", dataset="logs")}
    stats = CompactStats()
    assert len(compact_rows([raw, dict(raw)], spec, stats)) == 2
    assert stats.duplicates == 0


def test_rows_come_out_sorted_by_partition():
    rows = compact_rows([record(order_id="B", **{transform.SOURCE_FIELD: source("2024-05-03")}),
                         record(order_id="A", **{transform.SOURCE_FIELD: source("2024-05-01")})], ORDERS)
    assert [r["date"] for r in rows] == ["2024-05-01", "2024-05-03"]


def test_tag_records_and_prefer_are_what_spark_calls():
    tagged = list(transform.tag_records([record(), record(amount="bad")], ORDERS))
    (ok_reason, key, order, row), (bad_reason, *rest) = tagged
    assert ok_reason is None and key == ("ORD-1",) and row["order_id"] == "ORD-1"
    assert bad_reason == "bad_decimal:amount" and rest == [None, None, None]
    later = (("2024-05-09", "", ""), {"v": 2})
    assert transform.prefer(later, (order, row)) == (order, row)
    assert transform.prefer((order, row), later) == (order, row)


def test_output_fields_and_row_values_follow_the_catalog_types():
    fields = transform.output_fields(ORDERS)
    assert fields == [("order_id", "string"), ("email", "string"), ("order_date", "date"),
                      ("amount", "decimal(38,9)"), ("qty", "bigint"), ("paid_at", "timestamp"),
                      ("express", "boolean"), ("date", "string")]
    row = cast_record(record(), ORDERS).row
    assert transform.row_values(row, fields)[-1] == "2024-05-01"


def test_specs_travel_to_the_job_as_json():
    import main

    specs = shipped_specs()
    back = specs_from_json(specs_json(specs))
    assert sorted(back) == main.dataset_names()  # every contract, the shipped ones and any a user adds
    assert back["orders"].key_columns == ("order_id",) and back["events"].partition_column == "occurred_at"
    orders = next(s for s in specs if s.name == "orders")
    assert [c.type for c in back["orders"].columns] == [c.type for c in orders.columns]


# ======================================================================================
# agreement with what cleanse really writes
# ======================================================================================


@pytest.fixture(scope="module")
def cleanse_core():
    if str(SHARED_DIR) not in sys.path:
        sys.path.insert(0, str(SHARED_DIR))
    loader = importlib.import_module("plugin_loader")
    return loader.load_plugin_module("cleanse", "core")


def clean_files(core, dataset: str, sample: str) -> dict[str, bytes]:
    """Run cleanse on a shipped sample; ``{clean S3 path: bytes}`` as it would land in the zone."""
    contracts = importlib.import_module("pipeline_shared.contracts")
    contract = contracts.load_contract(dataset)
    sinks: dict[date, io.BytesIO] = {}

    def open_partition(day):
        sinks[day] = io.BytesIO()
        return sinks[day]

    core.cleanse_stream(
        io.BytesIO((SHARED_DIR / "samples" / dataset / sample).read_bytes()), key=f"{dataset}/{sample}",
        contract=contract, max_bytes=10 * 1024 * 1024, tokenise=core.Tokeniser(b"k" * 32),
        default_partition=date(2024, 6, 1), open_partition=open_partition)
    return {source(d.isoformat(), "0123abcd", dataset, contract.extension): s.getvalue() for d, s in sinks.items()}


def read_like_glue(path: str, data: bytes, fmt: str) -> list[dict]:
    text = data.decode("utf-8")
    if fmt == "csv":
        records = list(csv.DictReader(io.StringIO(text)))
    else:
        records = [json.loads(line) for line in text.splitlines() if line]
    return [{**r, transform.SOURCE_FIELD: path} for r in records]


@pytest.mark.parametrize("dataset, sample", [("orders", "good.csv"), ("customers", "good.csv"),
                                             ("events", "good.jsonl")])
def test_every_row_cleanse_writes_compacts_without_rejection(cleanse_core, dataset, sample):
    spec = next(s for s in shipped_specs() if s.name == dataset)
    files = clean_files(cleanse_core, dataset, sample)
    records = [r for path, data in files.items() for r in read_like_glue(path, data, spec.format)]
    stats = CompactStats()
    rows = compact_rows(records, spec, stats)
    assert stats.rejected == {} and stats.duplicates == 0 and len(rows) == len(records) > 0
    kinds = {"string": str, "integer": int, "decimal": Decimal, "date": date, "timestamp": datetime, "boolean": bool}
    for row in rows:
        for c in spec.columns:
            value = row[c.glue_name]
            assert value is None or isinstance(value, kinds["string" if c.pii else c.type]), (c.name, value)
            if c.required:
                assert value is not None
        assert row["date"] in {p.split("date=")[1][:10] for p in files}


def test_timestamps_from_clean_jsonl_are_utc(cleanse_core):
    spec = next(s for s in shipped_specs() if s.name == "events")
    files = clean_files(cleanse_core, "events", "good.jsonl")
    rows = compact_rows([r for p, d in files.items() for r in read_like_glue(p, d, "jsonl")], spec)
    assert {r["occurred_at"].tzinfo for r in rows} == {timezone.utc}
    assert all(r["date"] == r["occurred_at"].date().isoformat() for r in rows)


def test_load_specs_reads_a_contracts_folder(tmp_path):
    (tmp_path / "things.toml").write_text('[dataset]\nformat = "csv"\n[[columns]]\nname = "id"\nrequired = true\n')
    (spec,) = load_specs(tmp_path)
    assert spec.name == "things" and spec.source == "things.toml" and spec.columns[0].required


# ======================================================================================
# the job script's pure parts, and its artifacts
# ======================================================================================


def test_job_script_imports_without_spark():
    module = importlib.import_module("glue.compact_clean")
    assert "pyspark" not in sys.modules and "awsglue" not in sys.modules
    assert callable(module.main)


def test_job_arguments_are_parsed_in_both_spellings():
    from glue.compact_clean import parse_job_arguments

    options = parse_job_arguments(["--JOB_NAME", "j", "--datasets", "orders, events", "--dataset-specs=[]",
                                   "--clean_bucket", "pk-dev-clean", "--parquet-prefix", "/parquet/",
                                   "--job-bookmark-option", "job-bookmark-enable"])
    assert options.datasets == ("orders", "events")
    assert (options.dataset_specs, options.clean_bucket, options.parquet_prefix) == ("[]", "pk-dev-clean", "parquet")


def test_a_missing_job_argument_is_named():
    from glue.compact_clean import parse_job_arguments

    with pytest.raises(ValueError, match=r"missing job argument\(s\): --clean-bucket, --parquet-prefix"):
        parse_job_arguments(["--datasets", "orders", "--dataset-specs", "[]"])


def test_script_artifact_is_content_addressed():
    key, digest = artifacts.script_artifact()
    assert digest == hashlib.sha256(artifacts.SCRIPT.read_bytes()).hexdigest()
    assert key == f"artifacts/glue/{digest}.py"


def test_library_zip_is_deterministic_and_importable(tmp_path):
    first, second = artifacts.library_artifact(), artifacts.library_artifact()
    assert first == second and first.key == f"artifacts/glue/{first.sha256}.zip"
    names = zipfile.ZipFile(io.BytesIO(first.data)).namelist()
    assert names == ["pk_glue/__init__.py", "pk_glue/specs.py", "pk_glue/transform.py"]
    archive = tmp_path / "lib.zip"
    archive.write_bytes(first.data)
    sys.path.insert(0, str(archive))
    try:
        lib = importlib.import_module("pk_glue.transform")
        assert lib.cast_value(lib.ColumnSpec("x", "integer"), "4") == 4
    finally:
        sys.path.remove(str(archive))
        for name in [n for n in sys.modules if n.startswith("pk_glue")]:
            del sys.modules[name]


def test_glue_artifacts_lists_script_then_library():
    script, library = artifacts.glue_artifacts()
    assert script.key.endswith(".py") and script.data == artifacts.SCRIPT.read_bytes()
    assert library.key.endswith(".zip")


def test_both_job_scripts_map_glue_types_to_spark_types_through_the_library():
    """The Spark schema of compaction and streaming comes from one mapping (``specs.spark_type``);
    a stand-in for ``pyspark.sql.types`` records what was built."""
    from types import SimpleNamespace

    from glue import compact_clean, stream_events
    from glue.specs import spark_type

    fake = SimpleNamespace(**{n: (lambda *a, _n=n: (_n, *a)) for n in
                              ("StringType", "LongType", "DateType", "TimestampType", "BooleanType", "DecimalType")})
    assert spark_type(fake, "bigint") == ("LongType",)
    assert spark_type(fake, "decimal(18,2)") == ("DecimalType", 18, 2)
    with pytest.raises(ValueError, match="no Spark type for Glue type 'array<string>'"):
        spark_type(fake, "array<string>")
    assert compact_clean._library()[0].spark_type is spark_type
    assert stream_events._library()[0].spark_type is spark_type
