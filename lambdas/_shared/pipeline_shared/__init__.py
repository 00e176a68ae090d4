"""Runtime code shared by every pipeline plug-in (packaged once into each plug-in zip).

Modules, lightest first; none imports boto3 at import time:

- ``wiring``     the runtime contract, shared with the infrastructure wiring (``modules/``):
                 ``wiring.env`` the environment variables (names and parsing), ``wiring.messages``
                 ``StageMessage`` (the versioned JSON message passed between stages), ``wiring.api``
                 the REST API's routes and limits, ``wiring.queries`` the Athena queries' SQL;
- ``keys``       object-key conventions (landing, quarantine, clean, archive) and ``file_id``;
- ``events``     builders of real-shaped Lambda SQS events, S3 notifications and a local context;
- ``contracts``  per-dataset contracts (``contracts/<dataset>.toml``), loaded and validated;
- ``rows``       the row check and normaliser shared by validate and cleanse;
- ``readers``    streaming readers (gzip detection, UTF-8 decoding, size limits, CSV / JSON Lines);
- ``validation`` the streaming file check (validate's stage and the API's synchronous cleanse);
- ``cleansing``  normalise, de-duplicate, tokenise, partition (cleanse's stage and the API);
- ``s3``         small S3 helpers (conditional reads, verified copies) that take a client;
- ``aws``        the lazily created, cached boto3 clients;
- ``tracing``    a lazy front for the Powertools Tracer (built only when tracing is on);
- ``runtime``    Powertools glue: SQS partial batches, idempotency, per-dataset metrics, sending.

Data files: ``contracts/*.toml`` and ``contracts/*.schema.json`` must be packaged with the code.
"""

__all__ = ["__version__"]
__version__ = "1.0.0"
