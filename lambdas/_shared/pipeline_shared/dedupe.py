"""De-duplication by key in bounded memory: the first occurrence of a key wins.

``KeySet.first_seen(identities)`` answers, for each identity in order, whether it was never seen
before (earlier in the same list or in an earlier call), and remembers it.

Identities (``identity``): a single key column's text when it is at most ``SHORT_KEY_CHARS``
characters (such a string costs the same memory as a 16-byte digest, and needs no hashing),
otherwise a 16-byte BLAKE2b digest of the text (or of the ``repr`` of the tuple of several key
columns). Two keys are the same key exactly when their standardised texts are equal; distinct
long keys could only collide with a 2^-128-ish chance, as before.

Memory stays flat: up to ``memory_keys`` identities live in a set (about 100 bytes each). Past
that bound the set is spilled, sorted, into a SQLite table in the temporary directory (``PRIMARY
KEY``, ``WITHOUT ROWID``, ``INSERT OR IGNORE`` in one batch) and emptied; from then on each batch
checks the identities the set does not hold against the table in one sorted query per 500. A file
with more distinct keys than the bound is slower (a few µs per row on this machine), never wrong.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from typing import Any

#: Identities held in memory before spilling to disk (~100 MB at the bound, see the module docstring).
MEMORY_KEYS = 1 << 20
#: A key text up to this long is its own identity (a str of ≤ 15 ASCII characters is a 64-byte
#: object, like a 16-byte ``bytes`` digest).
SHORT_KEY_CHARS = 15
_QUERY_CHUNK = 500


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def identity(texts: Sequence[str]) -> str | bytes:
    """The identity of a key given the standardised texts of its columns (see module docstring)."""
    if len(texts) == 1:
        text = texts[0]
        return text if len(text) <= SHORT_KEY_CHARS else digest(text)
    return digest(repr(tuple(texts)))  # unambiguous for any texts


def identities(column: list[str]) -> list[str | bytes]:
    """``identity`` of each text of a single key column (C-speed when all are short)."""
    if not column or max(map(len, column)) <= SHORT_KEY_CHARS:
        return column  # type: ignore[return-value]
    return [t if len(t) <= SHORT_KEY_CHARS else digest(t) for t in column]


def _sorted(keys: Any) -> list[str | bytes]:
    """Sorted (B-tree friendly); texts before digests when a key set holds both."""
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=lambda k: (isinstance(k, bytes), k))


class KeySet:
    """The identities seen so far (see the module docstring)."""

    def __init__(self, memory_keys: int = MEMORY_KEYS, directory: str | None = None) -> None:
        if memory_keys < 1:
            raise ValueError("memory_keys must be at least 1")
        self._memory_keys = memory_keys
        self._directory = directory
        self._seen: set[str | bytes] = set()
        self._db: Any = None
        self._path: str | None = None
        #: identities moved to disk so far, and how many times the set was spilled
        self.spilled = 0
        self.spills = 0

    def __len__(self) -> int:
        return len(self._seen) + self.spilled

    def first_seen(self, ids: Sequence[str | bytes]) -> list[bool]:
        seen = self._seen
        add = seen.add
        # "k in seen or add(k)": True for a duplicate; add() returns None for a new identity
        flags = [not (k in seen or add(k)) for k in ids]
        if self._db is not None:
            self._check_disk(ids, flags)
        if len(seen) > self._memory_keys:
            self._spill()
        return flags

    def _check_disk(self, ids: Sequence[str | bytes], flags: list[bool]) -> None:
        """Identities new to the set may still be on disk: those are duplicates after all, and leave
        the set again (so the set only holds what the table does not)."""
        fresh = _sorted({k for k, new in zip(ids, flags) if new})
        if not fresh:
            return
        found: set[str | bytes] = set()
        execute = self._db.execute
        for i in range(0, len(fresh), _QUERY_CHUNK):
            chunk = fresh[i : i + _QUERY_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in execute(f"SELECT id FROM seen WHERE id IN ({marks})", chunk))
        if found:
            for i, k in enumerate(ids):
                if flags[i] and k in found:
                    flags[i] = False  # a later repeat in this list is already flagged a duplicate
            self._seen.difference_update(found)

    def _spill(self) -> None:
        if self._db is None:
            import sqlite3  # only files with more distinct keys than the bound need it

            fd, self._path = tempfile.mkstemp(prefix="pipeline-keys-", suffix=".sqlite", dir=self._directory)
            os.close(fd)
            self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-8192", "temp_store=FILE"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.execute("CREATE TABLE seen (id PRIMARY KEY) WITHOUT ROWID")
        before = self._db.total_changes
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO seen (id) VALUES (?)", ((k,) for k in _sorted(self._seen)))
        self._db.execute("COMMIT")
        self.spilled += self._db.total_changes - before
        self.spills += 1
        self._seen.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._path is not None:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
            self._path = None

    def __enter__(self) -> KeySet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
