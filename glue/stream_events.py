"""Glue streaming job: one dataset's Kinesis stream → typed, tokenised Parquet in the clean bucket.

The job (``command.name = "gluestreaming"``, set up by ``modules/services/streaming.py``) reads
the stream through a Glue catalog table whose schema is the dataset's schema in the registry, and
processes it in micro-batches (``forEachBatch``, ``--window-seconds``); Spark's checkpoints under
``--checkpoint-location`` remember the stream position, so a restarted job resumes where it stopped.
For each micro-batch:

1. every record is **prepared** (``prepare_record``, pure): a JSON text is parsed (``bad_json``,
   ``not_an_object`` otherwise) and every PII column is **tokenised** exactly as cleanse does it
   (HMAC-SHA256, hex, of the trimmed value, with the environment's tokenisation key from SSM,
   ``--tokenisation-parameter``) — raw PII never reaches the clean zone;
2. cast, rejected and de-duplicated within the batch by the batch job's pure functions
   (``glue.transform``: ``tag_records``, ``prefer``); the partition ``date`` comes from the
   contract's ``partition_column``, else from the day the batch ran (``source_tag``);
3. appended as Snappy Parquet: ``s3://<clean>/<output prefix>/dataset=<name>/date=<YYYY-MM-DD>/``.

Counts per batch are logged as one JSON line. Arguments (job default arguments): ``--dataset``,
``--dataset-specs``, ``--database``, ``--table``, ``--clean-bucket``, ``--output-prefix``,
``--checkpoint-location``, ``--tokenisation-parameter``, ``--window-seconds``,
``--starting-position``; ``--extra-py-files`` puts the ``pk_glue`` library on the path.

Spark, ``awsglue`` and boto3 exist only in the Glue runtime, so they are imported inside the
functions that run there; the pure part (``parse_job_arguments``, ``prepare_record``,
``stream_rows``, ``tag_stream_records``, ``source_tag``, ``Tokeniser``) is tested locally.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Sequence

REQUIRED_ARGUMENTS = (
    "dataset", "dataset-specs", "database", "table", "clean-bucket", "output-prefix", "checkpoint-location",
    "tokenisation-parameter", "window-seconds", "starting-position",
)
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
MIN_KEY_BYTES = 32
#: The field a record arrives in when the catalog table has no schema (raw text).
RAW_FIELD = "data"


@dataclass(frozen=True)
class StreamOptions:
    dataset: str
    dataset_specs: str
    database: str
    table: str
    clean_bucket: str
    output_prefix: str
    checkpoint_location: str
    tokenisation_parameter: str
    window_seconds: int
    starting_position: str

    @property
    def target(self) -> str:
        return f"s3://{self.clean_bucket}/{self.output_prefix}/dataset={self.dataset}/"


def parse_job_arguments(argv: Sequence[str]) -> StreamOptions:
    """This job's arguments from ``sys.argv`` (``--name value`` or ``--name=value``; ``-`` and
    ``_`` are the same). Raises ``ValueError`` naming what is missing or wrong."""
    found = _library()[0].job_arguments(argv)
    missing = [n for n in REQUIRED_ARGUMENTS if n not in found]
    if missing:
        raise ValueError(f"missing job argument(s): {', '.join('--' + n for n in missing)}")
    try:
        window = int(found["window-seconds"])
    except ValueError:
        raise ValueError(f"--window-seconds must be a whole number of seconds, got {found['window-seconds']!r}") from None
    if window < 1:
        raise ValueError(f"--window-seconds must be positive, got {window}")
    position = found["starting-position"].upper()
    if position not in STARTING_POSITIONS:
        raise ValueError(f"--starting-position must be one of {', '.join(STARTING_POSITIONS)}, "
                         f"got {found['starting-position']!r}")
    if not found["checkpoint-location"].startswith("s3://"):
        raise ValueError(f"--checkpoint-location must be an s3:// URI, got {found['checkpoint-location']!r}")
    return StreamOptions(
        dataset=found["dataset"].strip(), dataset_specs=found["dataset-specs"], database=found["database"],
        table=found["table"], clean_bucket=found["clean-bucket"], output_prefix=found["output-prefix"].strip("/"),
        checkpoint_location=found["checkpoint-location"].rstrip("/") + "/",
        tokenisation_parameter=found["tokenisation-parameter"], window_seconds=window, starting_position=position,
    )


class Tokeniser:
    """HMAC-SHA256 (hex) of a value's UTF-8 bytes: the same tokens cleanse writes for the same key
    and value. Picklable (Spark ships it to the executors); the key never appears in repr."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"tokenisation key is too short: {len(key)} bytes, at least {MIN_KEY_BYTES} required")
        self._key = key

    def __call__(self, value: str) -> str:
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "Tokeniser(<key redacted>)"

    def __getstate__(self) -> bytes:
        return self._key

    def __setstate__(self, state: bytes) -> None:
        self._key = state


class RecordRejected(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _pii_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.strip() if isinstance(value, str) else str(value)


def prepare_record(raw: Any, spec: Any, tokenise: Any, source: str) -> dict[str, Any]:
    """One stream record (a mapping, or JSON text/bytes, or a mapping holding the text in
    ``RAW_FIELD``) → a record ``glue.transform.cast_record`` takes: PII tokenised (a missing or
    empty value stays missing), ``SOURCE_FIELD`` set to ``source``. Raises ``RecordRejected``."""
    from_text = raw
    if isinstance(raw, Mapping) and set(raw) == {RAW_FIELD}:
        from_text = raw[RAW_FIELD]
    if isinstance(from_text, (bytes, bytearray)):
        try:
            from_text = from_text.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordRejected("bad_json") from None
    if isinstance(from_text, str):
        try:
            record = json.loads(from_text)
        except ValueError:
            raise RecordRejected("bad_json") from None
    else:
        record = from_text
    if not isinstance(record, Mapping):
        raise RecordRejected("not_an_object")
    out = dict(record)
    for column in spec.columns:
        if not column.pii:
            continue
        for name in dict.fromkeys((column.name, column.glue_name)):
            if name in out:
                value = out[name]
                if value is None or (isinstance(value, str) and not value.strip()):
                    out[name] = None
                else:
                    out[name] = tokenise(_pii_text(value))
    out[_library()[1].SOURCE_FIELD] = source
    return out


def source_tag(spec: Any, dataset_stream: str, batch_id: Any, ran_on: date | None = None) -> str:
    """What a batch's records carry as their source: ``stream/<name>/batch-<id>``; with no
    ``partition_column`` in the contract, ``…/date=<day the batch ran>/…`` so the row's partition
    is that day (``glue.transform.partition_from_path``)."""
    if spec.partition_column is not None:
        return f"stream/{dataset_stream}/batch-{batch_id}"
    day = ran_on or datetime.now(timezone.utc).date()
    return f"stream/{dataset_stream}/date={day.isoformat()}/batch-{batch_id}"


def tag_stream_records(records: Iterable[Any], spec: Any, tokenise: Any, source: str) -> Iterator[tuple[Any, ...]]:
    """For Spark's ``mapPartitions``: like ``glue.transform.tag_records`` (``(None, key, order,
    row)`` or ``(reason, None, None, None)``) after ``prepare_record``."""
    transform = _library()[1]
    for raw in records:
        try:
            record = prepare_record(raw, spec, tokenise, source)
        except RecordRejected as exc:
            yield (exc.reason, None, None, None)
            continue
        cast = transform.cast_record(record, spec)
        if cast.row is None:
            yield (cast.reason, None, None, None)
        else:
            yield (None, transform.dedupe_key(cast.row, spec), cast.order, cast.row)


def stream_rows(records: Iterable[Any], spec: Any, tokenise: Any, source: str, stats: Any = None) -> list[dict[str, Any]]:
    """A whole micro-batch held in memory (what the job does with Spark): prepared, cast, rejected
    and de-duplicated; rows sorted like ``glue.transform.compact_rows``. ``stats`` (a
    ``CompactStats``) gets the counts."""
    transform = _library()[1]
    stats = stats if stats is not None else transform.CompactStats()
    kept: dict[Any, Any] = {}
    unkeyed: list[Any] = []
    for reason, key, order, row in tag_stream_records(records, spec, tokenise, source):
        stats.records_in += 1
        if reason is not None:
            stats.reject(reason)
        elif key is None:
            unkeyed.append((order, row))
        elif key in kept:
            stats.duplicates += 1
            kept[key] = transform.prefer(kept[key], (order, row))
        else:
            kept[key] = (order, row)
    winners = sorted([*kept.values(), *unkeyed], key=lambda pair: pair[0])
    stats.rows_out += len(winners)
    return [row for _, row in winners]


# ---------------------------------------------------------------------------------------------
# the Glue runtime part
# ---------------------------------------------------------------------------------------------


def _library() -> tuple[Any, Any]:
    try:  # in Glue: the library zip (--extra-py-files)
        from pk_glue import specs, transform
    except ImportError:  # the repository: tests, local runs
        from glue import specs, transform
    return specs, transform


def _tokenisation_key(parameter: str) -> bytes:
    import boto3

    value = boto3.client("ssm").get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    return value.encode("utf-8")


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - runs in Glue only
    from awsglue.context import GlueContext
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext
    from pyspark.sql import types as T

    argv = list(sys.argv if argv is None else argv)
    specs, transform = _library()
    options = parse_job_arguments(argv[1:])
    resolved = getResolvedOptions(argv, ["JOB_NAME"])
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    logger = glue_context.get_logger()
    known = specs.specs_from_json(options.dataset_specs)
    if options.dataset not in known:
        raise ValueError(f"--dataset {options.dataset} is not in --dataset-specs ({', '.join(sorted(known))})")
    spec = known[options.dataset]
    tokenise = Tokeniser(_tokenisation_key(options.tokenisation_parameter))
    fields = transform.output_fields(spec)
    schema = T.StructType([T.StructField(name, _library()[0].spark_type(T, gtype), True) for name, gtype in fields])
    stream = glue_context.create_data_frame.from_catalog(
        database=options.database, table_name=options.table, transformation_ctx="read_stream",
        additional_options={"startingPosition": options.starting_position, "inferSchema": "false"})

    def process(batch: Any, batch_id: int) -> None:
        source = source_tag(spec, options.dataset, batch_id)
        tagged = batch.rdd.map(lambda r: r.asDict(recursive=True)).mapPartitions(
            lambda it: tag_stream_records(it, spec, tokenise, source)).persist()
        counts: dict[str, Any] = {"dataset": spec.name, "batch": batch_id, "records_in": tagged.count()}
        if not counts["records_in"]:
            tagged.unpersist()
            return
        counts["rejected"] = dict(tagged.filter(lambda t: t[0] is not None).map(lambda t: t[0]).countByValue())
        good = tagged.filter(lambda t: t[0] is None)
        if spec.key_columns:
            rows = good.map(lambda t: (t[1], (t[2], t[3]))).reduceByKey(transform.prefer).map(lambda kv: kv[1][1])
        else:
            rows = good.map(lambda t: t[3])
        out = spark.createDataFrame(rows.map(lambda r: transform.row_values(r, fields)), schema)
        counts["rows_out"] = out.count()
        if counts["rows_out"]:
            glue_context.write_dynamic_frame.from_options(
                frame=DynamicFrame.fromDF(out.repartition("date"), glue_context, f"stream_{spec.table_name}"),
                connection_type="s3", connection_options={"path": options.target, "partitionKeys": ["date"]},
                format="glueparquet", format_options={"compression": "snappy"})
        tagged.unpersist()
        line = json.dumps(counts, sort_keys=True)
        logger.info(line)
        print(line, flush=True)

    glue_context.forEachBatch(frame=stream, batch_function=process, options={
        "windowSize": f"{options.window_seconds} seconds", "checkpointLocation": options.checkpoint_location})
    job.commit()


if __name__ == "__main__":
    main()
