"""The runtime contract: what the infrastructure wiring (``modules/``) and the Lambda runtime
(``lambdas/``) must agree on, defined once and imported by both sides.

- ``env``       every environment variable the wiring sets: its name (spelled once), the naming
                rule (``PIPELINE_BUCKET_<PURPOSE>``...) and its parsing;
- ``messages``  ``StageMessage``, the versioned JSON message one stage sends to the next;
- ``api``       the REST API's routes, request schemas and ``[api]`` limits (what API Gateway is
                built from and what the API plug-in serves);
- ``queries``   the allow-listed Athena queries: their SQL, for the saved (named) queries and the
                API alike, with identifier and literal quoting.

Standard library only: ``modules/`` imports it at synth time without boto3 or Powertools.
"""
