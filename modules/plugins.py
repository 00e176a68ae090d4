"""Plug-in manifests: ``lambdas/<name>/manifest.toml``, loaded typed and validated.

A plug-in is a folder under ``lambdas/`` with a thin ``handler.py``, its pure core and this
manifest. Every folder under ``lambdas/`` is a plug-in and needs a manifest, except folders that
are clearly not plug-ins: names starting with '_' (``_shared``, ``__pycache__``) or '.' (tool
caches), and folders holding no file but caches (``__pycache__``, ``*.pyc``, dot-files: what a
plug-in deleted with git leaves behind, and what git itself does not see). The infrastructure
reads the manifests and wires each plug-in (queue + DLQ, function, role derived from
``[permissions]``, log group, alarms); adding a plug-in is adding a folder. This file is pure
Python (no cdktf): the local runner and the packager read manifests too.

    [plugin]
    description = "Checks each landed file against its dataset contract"
    handler = "handler.lambda_handler"      # module.function inside the plug-in folder

    [consumes]
    source = "landing"                      # "landing": object-created events of the landing bucket;
                                            # "pipeline-events": every file's outcome (SNS → this queue);
                                            # "api": invoked by the REST API (no queue);
                                            # or the plug-in(s) whose output this one takes: "validate"
                                            # or ["validate", "archive"] (they list it in produces.stages)

    [produces]
    stages = ["cleanse", "notify"]          # plug-ins whose input queues this one sends to

    [permissions]                           # everything the role may touch; nothing else
    read_buckets = ["landing"]              # landing, clean, quarantine, archive, athena-results, audit
    write_buckets = ["quarantine"]
    delete_buckets = []                     # may delete objects in
    publish_topics = []                     # pipeline-events, alarms
    tables = ["idempotency"]                # status, idempotency (read/write items)
    parameters = ["tokenisation-key"]       # SSM parameter names under /<prefix>/
    athena = false                          # run queries in the environment's Athena workgroup
                                            # (and read the Glue catalog of the clean database)

    [runtime]                               # memory and timeout default to the environment's
    memory_mb = 512
    timeout_seconds = 60
    batch_size = 10
    max_concurrency = 5                     # SQS event source maximum concurrency (2-1000)
    batch = false                           # batch-capable: objects above the environment's Batch
                                            # threshold run as an AWS Batch job (same code, a
                                            # container); the handler must expose run_batch(payload)

    [environment]                           # extra environment variables (strings)
    LOG_SAMPLE_RATE = "0.1"

``discover_plugins`` also checks each plug-in's code statically (``ast``; the modules are never
imported: they import Powertools and boto3 and run code at import): ``<module>.py`` of
``plugin.handler`` exists, parses, and defines the function at module top level (a ``def``, an
``async def``, a class, or an assignment or import binding that name; a ``from x import *`` makes
any name possible, so it is accepted); with ``runtime.batch = true`` the module is ``handler``
(the AWS Batch job imports ``handler.py``) and defines ``run_batch``; every ``pipeline_shared``
module (and name) any of its files imports, at any depth, exists in ``lambdas/_shared`` (a module
that moved is named with its new place). A plug-in consuming ``api``
serves the REST API of the runtime contract (``pipeline_shared.wiring.api``: routes and request
models, what the stack builds API Gateway from); the stack never runs plug-in code.
"""

from __future__ import annotations

import ast
import functools
import re
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pipeline_shared.wiring import env as wiring

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
MANIFEST_NAME = "manifest.toml"
LANDING = "landing"
#: The outcome of every file (one message per file, published by notify): a new plug-in that
#: consumes it needs no change anywhere else.
EVENTS = "pipeline-events"
#: Invoked by API Gateway (REST, AWS_PROXY): no queue, no event source mapping.
API = "api"
EXTERNAL_SOURCES = (LANDING, EVENTS, API)
BUCKETS = ("landing", "clean", "quarantine", "archive", "athena-results", "audit")
TOPICS = ("pipeline-events", "alarms")
TABLES = ("status", "idempotency")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
_HANDLER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
_PARAM_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: Variables the wiring sets itself; a manifest may not override them.
RESERVED_ENV = (wiring.POWERTOOLS_SERVICE_NAME, wiring.POWERTOOLS_METRICS_NAMESPACE, "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME")
#: The function the AWS Batch job calls (``pipeline_shared.batch_job``), in ``handler.py``.
BATCH_MODULE, BATCH_FUNCTION = "handler", "run_batch"
#: The shared runtime package packaged into every plug-in zip, and where it lives under lambdas/.
SHARED_DIR, SHARED_PACKAGE = "_shared", "pipeline_shared"
#: Modules of the shared package that moved, and where to (a plug-in still importing one is told).
MOVED_SHARED_MODULES = {
    "pipeline_shared.env": "pipeline_shared.wiring.env",
    "pipeline_shared.messages": "pipeline_shared.wiring.messages",
}
#: Folder prefixes that mark a folder under lambdas/ as not a plug-in.
NOT_PLUGIN_PREFIXES = ("_", ".")
_CACHE_SUFFIXES = (".pyc", ".pyo")


class ManifestError(ValueError):
    """A malformed plug-in manifest: the message names the file and the field."""

    def __init__(self, path: Path | str, field_path: str, problem: str) -> None:
        self.path, self.field, self.problem = str(path), field_path, problem
        super().__init__(f"{path}: {field_path}: {problem}" if field_path else f"{path}: {problem}")


@dataclass(frozen=True)
class Permissions:
    athena: bool = False
    read_buckets: tuple[str, ...] = ()
    write_buckets: tuple[str, ...] = ()
    delete_buckets: tuple[str, ...] = ()
    publish_topics: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Runtime:
    #: None: the environment's default (compute.lambda_memory_mb / queues.default_consumer_timeout_seconds).
    memory_mb: int | None = None
    timeout_seconds: int | None = None
    batch_size: int = 10
    max_concurrency: int = 2
    #: Batch-capable: the stack gives it a job definition and the routing variables.
    batch: bool = False


@dataclass(frozen=True)
class PluginManifest:
    name: str
    directory: Path
    description: str
    handler: str
    consumes: tuple[str, ...]
    produces: tuple[str, ...]
    permissions: Permissions
    runtime: Runtime
    environment: Mapping[str, str] = field(default_factory=lambda: types.MappingProxyType({}))

    @property
    def consumes_landing(self) -> bool:
        return self.consumes == (LANDING,)

    @property
    def consumes_events(self) -> bool:
        return self.consumes == (EVENTS,)

    @property
    def consumes_api(self) -> bool:
        return self.consumes == (API,)

    @property
    def has_queue(self) -> bool:
        return not self.consumes_api


_SECTIONS: dict[str, set[str]] = {
    "plugin": {"description", "handler"},
    "consumes": {"source"},
    "produces": {"stages"},
    "permissions": {"read_buckets", "write_buckets", "delete_buckets", "publish_topics", "tables", "parameters",
                    "athena"},
    "runtime": {"memory_mb", "timeout_seconds", "batch_size", "max_concurrency", "batch"},
    "environment": set(),
}
_LIMITS = {"memory_mb": (128, 10240), "timeout_seconds": (1, 900), "batch_size": (1, 10000), "max_concurrency": (2, 1000)}


def _str_list(path: Path, dotted: str, value: Any, allowed: tuple[str, ...] | None, pattern: re.Pattern[str] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(path, dotted, f"must be a list of strings, got {value!r}")
    for v in value:
        if allowed is not None and v not in allowed:
            raise ManifestError(path, dotted, f"unknown name {v!r} (allowed: {', '.join(allowed)})")
        if pattern is not None and not pattern.match(v):
            raise ManifestError(path, dotted, f"invalid name {v!r}")
    if len(set(value)) != len(value):
        raise ManifestError(path, dotted, "lists a name twice")
    return tuple(value)


def load_manifest(directory: Path) -> PluginManifest:
    """The folder's manifest, typed and validated (the manifest alone: ``discover_plugins`` also
    checks the code and the plug-in graph)."""
    path = directory / MANIFEST_NAME
    name = directory.name
    if not path.is_file():
        raise ManifestError(path, "", "missing: every plug-in folder needs a manifest.toml "
                                      "(a folder that is not a plug-in starts with '_')")
    if not _NAME_RE.match(name):
        raise ManifestError(path, "", f"plug-in folder name {name!r} must be 2-31 characters of a-z, 0-9 and '_', starting with a letter")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(path, "", f"is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ManifestError(path, "", f"cannot be read: {exc.strerror or exc}") from None
    for section, value in data.items():
        if section not in _SECTIONS:
            raise ManifestError(path, section, f"unknown section (allowed: {', '.join(_SECTIONS)})")
        if not isinstance(value, dict):
            raise ManifestError(path, section, "must be a table ([section])")
        if section != "environment":
            for key in value:
                if key not in _SECTIONS[section]:
                    raise ManifestError(path, f"{section}.{key}", f"unknown key (allowed: {', '.join(sorted(_SECTIONS[section]))})")
    plugin = data.get("plugin", {})
    description = plugin.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ManifestError(path, "plugin.description", "is required: a non-empty string")
    handler = plugin.get("handler", "handler.lambda_handler")
    if not isinstance(handler, str) or not _HANDLER_RE.match(handler):
        raise ManifestError(path, "plugin.handler", f"must look like 'module.function', got {handler!r}")
    consumes_raw = data.get("consumes", {}).get("source")
    if isinstance(consumes_raw, str):
        consumes_raw = [consumes_raw]
    if (not isinstance(consumes_raw, list) or not consumes_raw
            or not all(isinstance(c, str) and (c in EXTERNAL_SOURCES or _NAME_RE.match(c)) for c in consumes_raw)):
        raise ManifestError(path, "consumes.source",
                            "is required: 'landing', 'pipeline-events', 'api', or the name (or list of names) of the "
                            f"plug-ins whose output it takes, got {consumes_raw!r}")
    for external in EXTERNAL_SOURCES:
        if external in consumes_raw and len(consumes_raw) > 1:
            raise ManifestError(path, "consumes.source", f"{external!r} cannot be combined with other sources")
    if name in consumes_raw and name not in EXTERNAL_SOURCES:
        raise ManifestError(path, "consumes.source", "a plug-in cannot consume its own output")
    consumes = tuple(dict.fromkeys(consumes_raw))
    produces = _str_list(path, "produces.stages", data.get("produces", {}).get("stages", []), None, _NAME_RE)
    perms_raw = data.get("permissions", {})
    athena = perms_raw.get("athena", False)
    if not isinstance(athena, bool):
        raise ManifestError(path, "permissions.athena", f"must be true or false, got {athena!r}")
    perms = Permissions(
        athena=athena,
        read_buckets=_str_list(path, "permissions.read_buckets", perms_raw.get("read_buckets", []), BUCKETS),
        write_buckets=_str_list(path, "permissions.write_buckets", perms_raw.get("write_buckets", []), BUCKETS),
        delete_buckets=_str_list(path, "permissions.delete_buckets", perms_raw.get("delete_buckets", []), BUCKETS),
        publish_topics=_str_list(path, "permissions.publish_topics", perms_raw.get("publish_topics", []), TOPICS),
        tables=_str_list(path, "permissions.tables", perms_raw.get("tables", []), TABLES),
        parameters=_str_list(path, "permissions.parameters", perms_raw.get("parameters", []), None, _PARAM_RE),
    )
    rt_raw = data.get("runtime", {})
    rt_values = {}
    for key, (lo, hi) in _LIMITS.items():
        if key not in rt_raw:
            continue
        v = rt_raw[key]
        if not isinstance(v, int) or isinstance(v, bool):
            raise ManifestError(path, f"runtime.{key}", f"must be an integer, got {v!r}")
        if not lo <= v <= hi:
            raise ManifestError(path, f"runtime.{key}", f"must be between {lo} and {hi}, got {v}")
        rt_values[key] = v
    batch = rt_raw.get("batch", False)
    if not isinstance(batch, bool):
        raise ManifestError(path, "runtime.batch", f"must be true or false, got {batch!r}")
    runtime = Runtime(**rt_values, batch=batch)
    env = data.get("environment", {})
    for k, v in env.items():
        if not _ENV_KEY_RE.match(k):
            raise ManifestError(path, f"environment.{k}", "is not a valid environment variable name")
        if k in RESERVED_ENV:
            raise ManifestError(path, f"environment.{k}", "is set by the kit and cannot be overridden")
        if not isinstance(v, str):
            raise ManifestError(path, f"environment.{k}", f"must be a string, got {v!r}")
    return PluginManifest(
        name=name, directory=directory, description=description.strip(), handler=handler,
        consumes=consumes, produces=produces, permissions=perms, runtime=runtime,
        environment=types.MappingProxyType(dict(env)),
    )


# -- the plug-in's code, checked statically ---------------------------------------------------

def _bound_names(tree: ast.Module) -> tuple[set[str], bool]:
    """Names bound at module top level (also inside top-level if/try/with/for blocks, never inside
    a function or class), and whether a ``from x import *`` may bind any other."""
    names: set[str] = set()
    star = False

    def bind(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                bind(element)
        elif isinstance(target, ast.Starred):
            bind(target.value)

    def visit(body: list[ast.stmt]) -> None:
        nonlocal star
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target)
            elif isinstance(node, ast.AnnAssign):
                if node.value is not None:  # ``name: int`` alone binds nothing
                    bind(node.target)
            elif isinstance(node, ast.AugAssign):
                bind(node.target)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        star = True
                    else:
                        names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                bind(node.target)
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars)
                visit(node.body)
            elif isinstance(node, (ast.If, ast.While)):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                visit(node.body)
                for handler in node.handlers:  # ``except E as e``: e is unbound after the block
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Match):
                for case in node.cases:
                    visit(case.body)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.NamedExpr):
                bind(node.value.target)

    visit(tree.body)
    return names, star


def _module_names(manifest_path: Path, field_path: str, module: Path) -> tuple[set[str], bool]:
    """Top-level names of ``module`` (parsed, never imported); a syntax error names file and line."""
    return _bound_names(_parse(manifest_path, field_path, module))


def _parse(manifest_path: Path, field_path: str, module: Path) -> ast.Module:
    """``module`` parsed (never imported); a syntax error names file and line."""
    try:
        return ast.parse(module.read_bytes(), filename=str(module))
    except SyntaxError as exc:
        where = f"{module}:{exc.lineno}" if exc.lineno else str(module)
        raise ManifestError(manifest_path, field_path, f"{where}: is not valid Python: {exc.msg}") from None
    except ValueError as exc:  # null bytes, undecodable source
        raise ManifestError(manifest_path, field_path, f"{module}: is not valid Python: {exc}") from None
    except OSError as exc:
        raise ManifestError(manifest_path, field_path, f"{module} cannot be read: {exc.strerror or exc}") from None


def check_plugin_code(manifest: PluginManifest) -> None:
    """The code the manifest and the stack rely on is there (static checks, see module docstring)."""
    path = manifest.directory / MANIFEST_NAME
    module_name, function = manifest.handler.split(".")
    module = manifest.directory / f"{module_name}.py"
    if not module.is_file():
        raise ManifestError(path, "plugin.handler", f"names module {module_name!r}, but {module} does not exist")
    names, star = _module_names(path, "plugin.handler", module)
    if function not in names and not star:
        raise ManifestError(path, "plugin.handler",
                            f"names function {function!r}, which {module} does not define at top level")
    if manifest.runtime.batch:
        if module_name != BATCH_MODULE:
            raise ManifestError(path, "runtime.batch",
                                f"is true, but plugin.handler's module is {module_name!r}: the AWS Batch job "
                                f"imports {BATCH_MODULE}.py, so a batch-capable plug-in's handler module must be "
                                f"{BATCH_MODULE!r}")
        if BATCH_FUNCTION not in names and not star:
            raise ManifestError(path, "runtime.batch",
                                f"is true, but {module} defines no {BATCH_FUNCTION}(payload) at top level "
                                "(the AWS Batch job calls it)")
    shared = manifest.directory.parent / SHARED_DIR / SHARED_PACKAGE
    if shared.is_dir():
        for source in sorted(manifest.directory.rglob("*.py")):
            if "__pycache__" not in source.parts:
                _check_shared_imports(path, source, shared)


def _shared_module(shared: Path, dotted: str) -> Path | None:
    """The file of ``pipeline_shared[.a.b]`` under ``shared`` (a module or a package's
    ``__init__.py``), or None."""
    base = shared.joinpath(*dotted.split(".")[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=None)
def _shared_imports(source: str, mtime_ns: int) -> tuple[tuple[int, str, str | None], ...]:
    """(line, module, name or None) of each absolute import of the shared package in ``source``,
    at any depth of statements (imports deferred into functions included)."""
    found: list[tuple[int, str, str | None]] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.extend((node.lineno, a.name, None) for a in node.names
                             if a.name.split(".")[0] == SHARED_PACKAGE)
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module and node.module.split(".")[0] == SHARED_PACKAGE:
                    found.extend((node.lineno, node.module, a.name) for a in node.names)
            else:
                for field_name in ("body", "orelse", "finalbody", "handlers", "cases"):
                    for child in getattr(node, field_name, ()) or ():
                        visit([child] if isinstance(child, ast.stmt) else list(getattr(child, "body", [])))

    visit(ast.parse(Path(source).read_bytes(), filename=source).body)
    return tuple(found)


@functools.lru_cache(maxsize=None)
def _shared_names(module: str, mtime_ns: int) -> tuple[frozenset[str], bool]:
    """Top-level names of a module of the shared package (parsed once per version of the file)."""
    names, star = _bound_names(ast.parse(Path(module).read_bytes(), filename=module))
    return frozenset(names), star


def _check_shared_imports(manifest_path: Path, source: Path, shared: Path) -> None:
    """Every ``pipeline_shared`` module (and name) a plug-in file imports exists in the shared
    package that is packaged with it: a wrong or moved import is refused here, at package and synth
    time, instead of failing the deployed function at its first invocation."""
    try:
        imports = _shared_imports(str(source), source.stat().st_mtime_ns)
    except (SyntaxError, ValueError, OSError):
        _parse(manifest_path, "", source)  # raises the ManifestError naming file and line
        raise
    for lineno, dotted, name in imports:
        where = f"{source}:{lineno}"
        module = _shared_module(shared, dotted)
        if module is None:
            moved = MOVED_SHARED_MODULES.get(dotted)
            hint = f" (moved to {moved})" if moved else ""
            raise ManifestError(manifest_path, "", f"{where}: imports {dotted}, which the shared package "
                                                   f"({shared}) does not have{hint}")
        if name is None or name == "*" or _shared_module(shared, f"{dotted}.{name}") is not None:
            continue
        defined, star = _shared_names(str(module), module.stat().st_mtime_ns)
        if name not in defined and not star:
            moved = MOVED_SHARED_MODULES.get(f"{dotted}.{name}")
            hint = f" (moved to {moved})" if moved else ""
            raise ManifestError(manifest_path, "", f"{where}: imports {name} from {dotted}, which does not "
                                                   f"define it{hint}")


def _holds_files(folder: Path) -> bool:
    """Any file but caches (``__pycache__``, ``*.pyc``) and dot-files under ``folder``."""
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).parts
        if any(part == "__pycache__" or part.startswith(".") for part in rel):
            continue
        if path.is_file() and path.suffix not in _CACHE_SUFFIXES:
            return True
    return False


def is_plugin_folder(path: Path) -> bool:
    """A folder under lambdas/ that must be a plug-in (hence hold a manifest): not named '_…' or
    '.…', and holding a manifest or any file but caches."""
    if not path.is_dir() or path.name.startswith(NOT_PLUGIN_PREFIXES):
        return False
    return (path / MANIFEST_NAME).exists() or _holds_files(path)


def discover_plugins(lambdas_dir: Path | None = None) -> list[PluginManifest]:
    """Every plug-in folder (see ``is_plugin_folder``: one without a manifest is an error), each
    manifest and its code checked (``check_plugin_code``), then validated together: sources and
    targets must name existing plug-ins, exactly one consumes landing, and the stages form no
    cycle. Sorted in pipeline order (sources before consumers)."""
    lambdas_dir = lambdas_dir or LAMBDAS_DIR
    manifests: list[PluginManifest] = []
    for d in sorted(lambdas_dir.iterdir()) if lambdas_dir.is_dir() else []:
        if is_plugin_folder(d):
            m = load_manifest(d)
            check_plugin_code(m)
            manifests.append(m)
    by_name = {m.name: m for m in manifests}
    known = ", ".join(sorted(by_name))
    for m in manifests:
        mpath = m.directory / MANIFEST_NAME
        for source in m.consumes:
            if source in EXTERNAL_SOURCES:
                continue
            if source not in by_name:
                raise ManifestError(mpath, "consumes.source", f"no plug-in named {source!r} (known: {known})")
            if m.name not in by_name[source].produces:
                raise ManifestError(mpath, "consumes.source",
                                    f"{source!r} does not list {m.name!r} in its produces.stages")
        for target in m.produces:
            if target not in by_name:
                raise ManifestError(mpath, "produces.stages", f"no plug-in named {target!r} (known: {known})")
            if m.name not in by_name[target].consumes:
                raise ManifestError(mpath, "produces.stages",
                                    f"{target!r} does not list {m.name!r} in its consumes.source")
    entry = [m for m in manifests if m.consumes_landing]
    if manifests and len(entry) != 1:
        raise ManifestError(lambdas_dir, "consumes.source",
                            f"exactly one plug-in must consume 'landing', found {len(entry)}: {', '.join(m.name for m in entry) or 'none'}")
    # Reachability from the landing consumer, then a topological order (sources before
    # consumers, ties by name) that also finds cycles.
    reachable: set[str] = set()
    frontier = [m.name for m in entry] + [m.name for m in manifests if m.consumes_events or m.consumes_api]
    while frontier:
        current = frontier.pop()
        if current not in reachable:
            reachable.add(current)
            frontier.extend(by_name[current].produces)
    unreachable = sorted(set(by_name) - reachable)
    if unreachable:
        m = by_name[unreachable[0]]
        raise ManifestError(m.directory / MANIFEST_NAME, "consumes.source",
                            f"plug-in {m.name!r} is not reachable from the landing bucket, pipeline-events or the api")
    order: list[PluginManifest] = []
    pending = {m.name: {s for s in m.consumes if s not in EXTERNAL_SOURCES} for m in manifests}
    while pending:
        ready = sorted(n for n, sources in pending.items() if not sources)
        if not ready:
            start = min(pending)
            path = [start]
            while True:
                nxt = min(pending[path[-1]])
                if nxt in path:
                    cycle = path[path.index(nxt):] + [nxt]
                    break
                path.append(nxt)
            m = by_name[cycle[0]]
            raise ManifestError(m.directory / MANIFEST_NAME, "produces.stages",
                                f"the stages form a cycle: {' → '.join(reversed(cycle))}")
        for n in ready:
            order.append(by_name[n])
            del pending[n]
        for sources in pending.values():
            sources.difference_update(ready)
    # Consumers of pipeline-events react to finished files: list them after the pipeline.
    order = ([m for m in order if not (m.consumes_events or m.consumes_api)]
             + [m for m in order if m.consumes_events] + [m for m in order if m.consumes_api])
    return order
