"""The content-addressed artifacts the Glue job runs from (pure: bytes and hashes, no AWS).

- the **script**, ``glue/compact_clean.py`` as is: ``artifacts/glue/<sha256>.py``;
- the **library**, a deterministic zip of package ``pk_glue`` (``__init__.py``, ``specs.py``,
  ``transform.py``, copied from this folder): ``artifacts/glue/<sha256>.zip``, passed to the job in
  ``--extra-py-files``. Fixed timestamps and permissions, sorted entries: the same sources
  always give the same bytes, hence the same key.

The release uploads both under their keys (e.g. to the environment's artifacts bucket) and the
job names them; a changed script or library is a new key, never an overwritten object.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

GLUE_DIR = Path(__file__).resolve().parent
SCRIPT = GLUE_DIR / "compact_clean.py"
LIBRARY_PACKAGE = "pk_glue"
LIBRARY_MODULES = ("__init__.py", "specs.py", "transform.py")
KEY_PREFIX = "artifacts/glue"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Artifact:
    key: str
    sha256: str
    data: bytes


def _key(sha256: str, suffix: str, prefix: str) -> str:
    return f"{prefix.strip('/')}/{sha256}{suffix}"


def script_artifact(path: Path | str = SCRIPT, *, prefix: str = KEY_PREFIX) -> tuple[str, str]:
    """``(key, sha256)`` of a job script: ``artifacts/glue/<sha256 of its bytes>.py``."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _key(digest, ".py", prefix), digest


def library_zip(source_dir: Path | str = GLUE_DIR) -> bytes:
    """The library zip: ``pk_glue/<module>`` for each of ``LIBRARY_MODULES``, deterministic."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for module in sorted(LIBRARY_MODULES):
            info = zipfile.ZipInfo(f"{LIBRARY_PACKAGE}/{module}", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED  # deflate output differs between zlib builds
            info.create_system = 3
            archive.writestr(info, (Path(source_dir) / module).read_bytes())
    return buffer.getvalue()


def library_artifact(source_dir: Path | str = GLUE_DIR, *, prefix: str = KEY_PREFIX) -> Artifact:
    """The library zip with its key ``artifacts/glue/<sha256>.zip``."""
    data = library_zip(source_dir)
    digest = hashlib.sha256(data).hexdigest()
    return Artifact(key=_key(digest, ".zip", prefix), sha256=digest, data=data)


def glue_artifacts(source_dir: Path | str = GLUE_DIR, *, prefix: str = KEY_PREFIX) -> list[Artifact]:
    """Everything a release uploads for the Glue job: the script, then the library."""
    script = Path(source_dir) / SCRIPT.name
    key, digest = script_artifact(script, prefix=prefix)
    return [Artifact(key=key, sha256=digest, data=script.read_bytes()), library_artifact(source_dir, prefix=prefix)]
