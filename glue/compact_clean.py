"""Glue job: compact the clean zone into Parquet partitions, incrementally (job bookmarks).

For each dataset named in ``--datasets``:

1. read the clean objects not yet processed, ``s3://<clean bucket>/dataset=<name>/**`` (CSV with a
   header, or JSON Lines), through a DynamicFrame whose ``transformation_ctx`` is
   ``read_<table name>``: with ``--job-bookmark-option job-bookmark-enable`` Glue remembers the
   objects each run processed and hands the next run only new ones (the bookmark advances at
   ``job.commit()``, so a failed run is read again). Each record carries its object's path
   (``attachFilename``), from which the partition date is taken;
2. cast, reject and de-duplicate with the pure functions of ``transform`` (``mapPartitions`` with
   ``tag_records``, ``reduceByKey`` with ``prefer``), counting rejections by reason;
3. append the rows as Snappy Parquet, one folder per partition:
   ``s3://<clean bucket>/<parquet prefix>/dataset=<name>/date=<YYYY-MM-DD>/part-….parquet``
   (``repartition("date")``: one file per partition and run, instead of one per landed file).

Arguments (job default arguments, set by ``modules/etl.py``): ``--datasets`` (comma-separated
names), ``--dataset-specs`` (``glue.specs.specs_json``), ``--clean-bucket``, ``--parquet-prefix``;
``--extra-py-files`` puts the library zip (package ``pk_glue``: ``specs``, ``transform``) on the
path of the driver and the executors.

Spark and ``awsglue`` exist only in the Glue runtime, so they are imported inside ``main()``; the
module itself imports without them (``parse_job_arguments`` is tested locally).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Sequence

REQUIRED_ARGUMENTS = ("datasets", "dataset-specs", "clean-bucket", "parquet-prefix")


@dataclass(frozen=True)
class JobOptions:
    datasets: tuple[str, ...]
    dataset_specs: str
    clean_bucket: str
    parquet_prefix: str


def parse_job_arguments(argv: Sequence[str]) -> JobOptions:
    """This job's own arguments from ``sys.argv`` (``--name value`` or ``--name=value``; ``-`` and
    ``_`` are the same). Raises ``ValueError`` naming a missing one."""
    found = _library()[0].job_arguments(argv)
    missing = [n for n in REQUIRED_ARGUMENTS if n not in found]
    if missing:
        raise ValueError(f"missing job argument(s): {', '.join('--' + n for n in missing)}")
    datasets = tuple(n.strip() for n in found["datasets"].split(",") if n.strip())
    if not datasets:
        raise ValueError("--datasets names no dataset")
    return JobOptions(datasets=datasets, dataset_specs=found["dataset-specs"],
                      clean_bucket=found["clean-bucket"], parquet_prefix=found["parquet-prefix"].strip("/"))


def _library() -> tuple[Any, Any]:
    try:  # in Glue: the library zip (--extra-py-files)
        from pk_glue import specs, transform
    except ImportError:  # the repository: tests, local runs
        from glue import specs, transform
    return specs, transform


def compact_dataset(glue_context: Any, spark: Any, transform: Any, spec: Any, options: JobOptions) -> dict[str, Any]:
    """Compact the new clean objects of one dataset; returns its counts."""
    from awsglue.dynamicframe import DynamicFrame
    from pyspark.sql import types as T

    source = f"s3://{options.clean_bucket}/dataset={spec.name}/"
    target = f"s3://{options.clean_bucket}/{options.parquet_prefix}/dataset={spec.name}/"
    if spec.format == "csv":
        fmt, format_options = "csv", {"withHeader": True, "separator": ",", "quoteChar": '"'}
    else:
        fmt, format_options = "json", {}
    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [source], "recurse": True, "groupFiles": "inPartition",
                            "attachFilename": transform.SOURCE_FIELD},
        format=fmt,
        format_options=format_options,
        transformation_ctx=f"read_{spec.table_name}",
    )
    records = frame.toDF().rdd.map(lambda r: r.asDict())
    tagged = records.mapPartitions(lambda it: transform.tag_records(it, spec)).persist()
    counts: dict[str, Any] = {"dataset": spec.name, "records_in": tagged.count()}
    counts["rejected"] = dict(tagged.filter(lambda t: t[0] is not None).map(lambda t: t[0]).countByValue())
    good = tagged.filter(lambda t: t[0] is None)
    if spec.key_columns:
        rows = good.map(lambda t: (t[1], (t[2], t[3]))).reduceByKey(transform.prefer).map(lambda kv: kv[1][1])
    else:
        rows = good.map(lambda t: t[3])
    fields = transform.output_fields(spec)
    schema = T.StructType([T.StructField(name, _library()[0].spark_type(T, gtype), True) for name, gtype in fields])
    out = spark.createDataFrame(rows.map(lambda r: transform.row_values(r, fields)), schema).persist()
    counts["rows_out"] = out.count()
    counts["duplicates"] = good.count() - counts["rows_out"]
    if counts["rows_out"]:
        glue_context.write_dynamic_frame.from_options(
            frame=DynamicFrame.fromDF(out.repartition("date"), glue_context, f"compacted_{spec.table_name}"),
            connection_type="s3",
            connection_options={"path": target, "partitionKeys": ["date"]},
            format="glueparquet",
            format_options={"compression": "snappy"},
            transformation_ctx=f"write_{spec.table_name}",
        )
    out.unpersist()
    tagged.unpersist()
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

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
    unknown = [n for n in options.datasets if n not in known]
    if unknown:
        raise ValueError(f"--datasets names {', '.join(unknown)}, not in --dataset-specs ({', '.join(sorted(known))})")
    for name in options.datasets:
        counts = compact_dataset(glue_context, spark, transform, known[name], options)
        line = json.dumps(counts, sort_keys=True)
        logger.info(line)
        print(line, flush=True)
    job.commit()


if __name__ == "__main__":
    main()
