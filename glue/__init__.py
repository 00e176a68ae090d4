"""Glue ETL code of the pipeline: pure Python shared by the infrastructure, the kit and the job.

- ``specs``          a dataset contract reduced to what the catalog, the schema registry and the
                     ETL need (``DatasetSpec``), its Glue column types and its JSON Schema;
- ``transform``      the pure compaction transform (casting, partitions, de-duplication), no Spark;
- ``compact_clean``  the Glue job script (PySpark, runs only in AWS Glue) that calls ``transform``;
- ``artifacts``      the content-addressed artifacts the job runs from (script, library zip).

``specs`` and ``transform`` use the standard library only and run on Python 3.10 (Glue 4.0):
they are shipped to Glue in the library zip (package ``pk_glue``) and imported relatively.
"""
