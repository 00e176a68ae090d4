"""cleanse — pure core: normalise, standardise, de-duplicate and tokenise one validated file.

The rows are re-read from landing and run through the **same** row check validate used, so a row
validate quarantined never reaches clean, and every kept row comes out normalised (trim, Unicode,
case as declared) and standardised (ISO-8601 dates and UTC timestamps, plain decimals with '.',
``true``/``false``). Runs of lines the contract's fast path accepts (``pipeline_shared.fastpath``:
good rows whose fields are already standard, but for ASCII case) are processed column-wise at C
speed; every other row goes through ``RowChecker``. Both give the same bytes. Then:

- **duplicates** by the contract's ``key_columns`` are dropped, first occurrence wins. Memory is
  bounded whatever the number of distinct keys: ``pipeline_shared.dedupe.KeySet`` keeps up to
  ``dedupe.MEMORY_KEYS`` keys in memory and spills to a SQLite table in the temporary directory
  beyond. Without key columns nothing is de-duplicated;
- **PII columns** are replaced by ``HMAC-SHA256(key, normalised value)`` in hex: stable across
  files (joinable), irreversible without the key; empty values stay empty. Tokens are memoised in
  a bounded cache (a customer's e-mail recurs on each of their orders);
- rows are written per **partition** date — the contract's ``partition_column`` or, without one,
  the date the file landed — as CSV (comma-separated, with header) or JSON Lines, to sinks the
  caller provides (``PartitionSpool`` spools them in bounded memory, then in temporary files),
  in batches of ``BATCH_ROWS``.

The cleansing itself lives in ``pipeline_shared.cleansing`` (the REST API cleanses request bodies
with the same code); this module re-exports it and adds ``PartitionSpool``, the sinks the handler
uploads from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from datetime import date

    from pipeline_shared.cleansing import (
        BATCH_ROWS,
        MIN_KEY_BYTES,
        TOKEN_CACHE_ENTRIES,
        CleanseError,
        CleanseResult,
        Tokeniser,
        cleanse_stream,
        key_from_parameter,
    )
else:

    def __getattr__(name: str) -> Any:
        """The re-exported names, imported at first use (PEP 562): ``pipeline_shared.cleansing``
        and the contracts, readers and row checks it needs stay out of the cold-start import."""
        if name in __all__ and name != "PartitionSpool":
            from pipeline_shared import cleansing

            value = globals()[name] = getattr(cleansing, name)
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BATCH_ROWS",
    "MIN_KEY_BYTES",
    "TOKEN_CACHE_ENTRIES",
    "CleanseError",
    "CleanseResult",
    "PartitionSpool",
    "Tokeniser",
    "cleanse_stream",
    "key_from_parameter",
]


class PartitionSpool:
    """``open_partition`` for callers that upload afterwards: one temporary file per partition,
    kept in memory up to ``spool_bytes`` while at most ``memory_bytes`` are held that way in all;
    further partitions go straight to disk (so many partitions cannot exhaust memory)."""

    def __init__(self, *, spool_bytes: int = 4 * 1024 * 1024, memory_bytes: int = 32 * 1024 * 1024) -> None:
        self.spool_bytes, self.memory_bytes = spool_bytes, memory_bytes
        self.sinks: dict[date, BinaryIO] = {}

    def __call__(self, partition: date) -> BinaryIO:
        import tempfile  # at the first partition of the first file, not at import

        if (len(self.sinks) + 1) * self.spool_bytes <= self.memory_bytes:
            sink: Any = tempfile.SpooledTemporaryFile(max_size=self.spool_bytes)
        else:
            sink = tempfile.TemporaryFile()
        self.sinks[partition] = sink
        return sink  # type: ignore[no-any-return]

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
