"""Deterministic plug-in artifacts (``make package`` builds a release of them, ``kit/release.py``).

Each plug-in becomes ``build/artifacts/<name>.zip``: the plug-in folder's files at the zip root
plus the shared runtime package ``pipeline_shared`` (from ``lambdas/_shared``). Powertools is
not inside: it comes from the official Powertools layer (or, on the emulator, the kit's own layer
built from the same pinned release, ``powertools-layer.zip``).

The same sources give a byte-identical zip, hence the same sha256, on any machine:
entries sorted by path, fixed timestamps (1980-01-01), fixed permissions, no extra fields,
line endings as committed (see .gitattributes), and STORED entries (no compression: deflate
output differs between zlib builds, e.g. zlib-ng, so compressed zips are not portable).
The same holds for the emulator's Powertools layer from any installation of the pinned releases:
it takes only the importable files inside site-packages (``layer_file``).
An artifact manifest (``build/artifacts/manifest.json``) lists name, file, sha256 and size.
`make package` (``python -m kit package``, ``kit.release.package``) builds a release with them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import zipfile
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"
SHARED = LAMBDAS / "_shared"
SHARED_PACKAGES = ("pipeline_shared",)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
EXCLUDED_DIRS = {"__pycache__", "tests", ".pytest_cache", "samples"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
#: Build-time files inside the shared package that no function reads.
EXCLUDED_FILES = {"schemas.lock.json"}
#: What the official Powertools layer provides that the plug-ins use (fastjsonschema: JSON Schema
#: contracts), rebuilt for the emulator from the pinned, installed releases.
LAYER_DISTRIBUTIONS = ("aws-lambda-powertools", "jmespath", "typing_extensions", "fastjsonschema")


@dataclass(frozen=True)
class Artifact:
    name: str
    file: str
    sha256: str
    size: int

    @property
    def path(self) -> Path:
        return Path(self.file)

    @property
    def source_code_hash(self) -> str:
        """base64 of the raw sha256: what Lambda reports as CodeSha256."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


def _files_under(base: Path, prefix: str = "") -> Iterable[tuple[str, Path]]:
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if any(part in EXCLUDED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in EXCLUDED_SUFFIXES and path.name not in EXCLUDED_FILES:
            yield (f"{prefix}{rel.as_posix()}", path)


def deterministic_zip(entries: Iterable[tuple[str, Path | bytes]], target: Path) -> Artifact:
    """Write ``entries`` (archive name → file or bytes) to ``target`` deterministically."""
    items = sorted(entries, key=lambda e: e[0])
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"{target.name}: two sources for {dup!r} (a plug-in file shadows shared code?)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, source in items:
            data = source if isinstance(source, bytes) else source.read_bytes()
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, whatever the building OS
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, data)
    tmp.replace(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return Artifact(name=target.stem, file=str(target), sha256=digest, size=target.stat().st_size)


def plugin_entries(plugin_dir: Path, shared_dir: Path | None = None) -> list[tuple[str, Path]]:
    """The plug-in folder's files at the root, plus the shared runtime packages."""
    shared_dir = shared_dir or plugin_dir.parent / "_shared"
    entries = list(_files_under(plugin_dir))
    for package in SHARED_PACKAGES:
        if not (shared_dir / package).is_dir():
            raise FileNotFoundError(f"shared runtime package {shared_dir / package} is missing")
        entries += _files_under(shared_dir / package, f"{package}/")
    return entries


def build_plugin(plugin_dir: Path, outdir: Path) -> Artifact:
    return deterministic_zip(plugin_entries(plugin_dir), outdir / f"{plugin_dir.name}.zip")


def layer_file(path: PurePosixPath | metadata.PackagePath) -> bool:
    """Whether a file a distribution's RECORD lists goes into the layer: only what is importable
    from ``site-packages`` and the same in every installation of the pinned release. Left out:
    paths outside site-packages (console scripts in the venv's ``bin/``, e.g. jmespath's
    ``../../../bin/jp.py``, whose shebang names the venv's interpreter, and ``..`` in a zip name
    would escape ``/opt/python``), ``*.dist-info`` (``INSTALLER``, ``REQUESTED``, ``RECORD``,
    ``direct_url.json`` depend on the installer and on how it was asked) and byte code
    (``__pycache__``, ``*.pyc``: written or not, for one interpreter, at install or first import)."""
    parts = PurePosixPath(path.as_posix()).parts
    if not parts or path.as_posix().startswith("/") or ".." in parts or parts[0].endswith(".dist-info"):
        return False
    return "__pycache__" not in parts and PurePosixPath(parts[-1]).suffix not in EXCLUDED_SUFFIXES


def _distribution(name: str, search_path: Sequence[Path] | None) -> metadata.Distribution:
    if search_path is None:
        return metadata.distribution(name)
    found = next(iter(metadata.distributions(name=name, path=[str(p) for p in search_path])), None)
    if found is None:
        raise metadata.PackageNotFoundError(name)
    return found


def layer_entries(search_path: Sequence[Path] | None = None,
                  distributions: Sequence[str] = LAYER_DISTRIBUTIONS) -> list[tuple[str, Path]]:
    """``(python/<path>, file)`` for every layer file of ``distributions`` as installed in
    ``search_path`` (site-packages folders; default: this interpreter's ``sys.path``)."""
    entries: list[tuple[str, Path]] = []
    for dist_name in distributions:
        dist = _distribution(dist_name, search_path)
        if dist.files is None:
            raise FileNotFoundError(f"{dist_name} {dist.version}: installed without a RECORD, so its files are "
                                    "unknown; reinstall it with pip (pip install -r requirements.txt)")
        for f in dist.files:
            if not layer_file(f):
                continue
            src = Path(dist.locate_file(f))
            if not src.is_file():
                raise FileNotFoundError(f"{dist_name} {dist.version}: {f.as_posix()} is listed in its RECORD but "
                                        f"missing at {src}; reinstall it (pip install --force-reinstall {dist_name})")
            entries.append((f"python/{f.as_posix()}", src))
    return entries


def build_powertools_layer(outdir: Path, search_path: Sequence[Path] | None = None,
                           distributions: Sequence[str] = LAYER_DISTRIBUTIONS) -> Artifact:
    """The kit's own Powertools layer (``python/...``) from the installed, pinned release: used
    only on the emulator, which refuses functions naming a layer it does not hold. Byte-identical
    from any installation of the pinned releases (see ``layer_file``)."""
    return deterministic_zip(layer_entries(search_path, distributions), outdir / "powertools-layer.zip")


def commit_id() -> str:
    """The commit the sources come from (12 hex digits), or "unversioned" outside git."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()[:12]
    except (OSError, subprocess.CalledProcessError):
        return "unversioned"


def lambdas_dirty() -> bool:
    """True when lambdas/ has uncommitted changes (the commit alone does not name the sources)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "lambdas"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return True
    return bool(out.strip())


def build_all(outdir: Path, plugins: Iterable[Path] | None = None, *, layer: bool = True,
              write_manifest: bool = True) -> dict[str, Artifact]:
    from modules.plugins import discover_plugins

    dirs = list(plugins) if plugins is not None else [m.directory for m in discover_plugins()]
    artifacts = {d.name: build_plugin(d, outdir) for d in dirs}
    if layer:
        artifacts["powertools-layer"] = build_powertools_layer(outdir)
    if write_manifest:
        manifest = {
            "release": commit_id() + ("-dirty" if lambdas_dirty() else ""),
            "artifacts": {name: {**asdict(a), "file": Path(a.file).name} for name, a in sorted(artifacts.items())},
        }
        (outdir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return artifacts
