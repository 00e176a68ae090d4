"""modules.plugins: the shipped plug-in manifests load and are ordered; malformed manifests and
inconsistent plug-in graphs fail with a ManifestError naming the manifest and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from modules.plugins import (
    EXTERNAL_SOURCES,
    LAMBDAS_DIR,
    MANIFEST_NAME,
    ManifestError,
    PluginManifest,
    Runtime,
    discover_plugins,
    load_manifest,
)

VALID = '''\
[plugin]
description = "A test stage"
handler = "handler.lambda_handler"

[consumes]
source = "landing"

[permissions]
read_buckets = ["landing"]

[runtime]
timeout_seconds = 60
'''


#: The handler module every test plug-in gets (discover_plugins checks the code the manifest names).
HANDLER_PY = "def lambda_handler(event, context):\n    return {}\n"


def write_plugin(root: Path, name: str, text: str) -> Path:
    """``root/<name>/manifest.toml`` holding ``text`` (and a ``handler.py`` defining
    ``lambda_handler``); returns the plug-in folder."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_NAME).write_text(text, encoding="utf-8")
    (folder / "handler.py").write_text(HANDLER_PY, encoding="utf-8")
    return folder


def manifest(source: str | list[str], produces: list[str] | None = None, extra: str = "") -> str:
    src = f'"{source}"' if isinstance(source, str) else "[" + ", ".join(f'"{s}"' for s in source) + "]"
    text = f'[plugin]\ndescription = "stage"\n\n[consumes]\nsource = {src}\n'
    if produces is not None:
        text += "\n[produces]\nstages = [" + ", ".join(f'"{p}"' for p in produces) + "]\n"
    return text + extra


def expect_error(call, path: Path, field: str, fragment: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        call()
    message = str(info.value)
    prefix = f"{path}: {field}: " if field else f"{path}: "
    assert message.startswith(prefix), message
    assert fragment in message, message
    assert info.value.field == field
    return info.value


# --------------------------------------------------------------------------------------
# the shipped manifests
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> list[PluginManifest]:
    return discover_plugins()


def test_every_plugin_folder_is_discovered(shipped: list[PluginManifest]) -> None:
    # the shipped plug-ins and any a user adds: every folder under lambdas/ with a manifest
    folders = sorted(m.parent.name for m in LAMBDAS_DIR.glob(f"*/{MANIFEST_NAME}")
                     if not m.parent.name.startswith(("_", ".")))
    assert sorted(p.name for p in shipped) == folders
    assert {"api", "archive", "cleanse", "notify", "validate"} <= set(folders)


def test_shipped_plugins_start_at_the_landing_consumer(shipped: list[PluginManifest]) -> None:
    # the landing consumer first, then the queue stages, then the consumers of pipeline-events
    # (they react to finished files), then the API (invoked by API Gateway, outside the queue chain)
    groups = ["landing", "stage", "pipeline-events", "api"]

    def group(p: PluginManifest) -> str:
        if p.consumes_landing:
            return "landing"
        return "api" if p.consumes_api else "pipeline-events" if p.consumes_events else "stage"

    kinds = [group(p) for p in shipped]
    assert kinds[0] == "landing" and kinds == sorted(kinds, key=groups.index), list(zip(kinds, shipped))


def test_shipped_plugins_list_sources_before_consumers(shipped: list[PluginManifest]) -> None:
    # discover_plugins promises "Sorted in pipeline order (sources before consumers)";
    # notify consumes archive, so archive must come before notify.
    position = {p.name: i for i, p in enumerate(shipped)}
    late = [(p.name, src) for p in shipped for src in p.consumes
            if src not in EXTERNAL_SOURCES and position[src] > position[p.name]]
    assert late == [], f"consumers listed before their sources: {late}"
    assert [p.name for p in shipped if p.name in {"validate", "cleanse", "archive", "notify"}] == [
        "validate", "cleanse", "archive", "notify"]


def test_only_validate_consumes_landing(shipped: list[PluginManifest]) -> None:
    assert [p.name for p in shipped if p.consumes_landing] == ["validate"]


def test_notify_consumes_validate_and_archive(shipped: list[PluginManifest]) -> None:
    notify = next(p for p in shipped if p.name == "notify")
    assert (notify.consumes, notify.produces) == (("validate", "archive"), ())


def test_shipped_manifest_fields_are_typed() -> None:
    cleanse = load_manifest(LAMBDAS_DIR / "cleanse")
    assert cleanse.handler == "handler.lambda_handler"
    assert cleanse.runtime == Runtime(memory_mb=1024, timeout_seconds=300, batch_size=5, max_concurrency=10, batch=True)
    assert cleanse.permissions.parameters == ("tokenisation-key",)
    assert cleanse.directory == LAMBDAS_DIR / "cleanse"


def test_manifest_defaults(tmp_path: Path) -> None:
    m = load_manifest(write_plugin(tmp_path, "minimal", manifest("landing")))
    assert (m.handler, m.runtime, m.produces, dict(m.environment)) == ("handler.lambda_handler", Runtime(), (), {})


def test_manifest_environment_is_kept(tmp_path: Path) -> None:
    m = load_manifest(write_plugin(tmp_path, "stage", VALID + '\n[environment]\nLOG_SAMPLE_RATE = "0.1"\n'))
    assert dict(m.environment) == {"LOG_SAMPLE_RATE": "0.1"}


def test_manifest_is_frozen(shipped: list[PluginManifest]) -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        shipped[0].name = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------------------
# malformed manifests: one folder each
# --------------------------------------------------------------------------------------

MALFORMED = [
    # id, folder, manifest text, field, message fragment
    ("unknown-section", "stage", VALID + "\n[extras]\nx = 1\n", "extras",
     "unknown section (allowed: plugin, consumes, produces, permissions, runtime, environment)"),
    ("section-not-a-table", "stage", 'plugin = "validate"\n', "plugin", "must be a table ([section])"),
    ("unknown-key", "stage", VALID.replace('handler = "handler.lambda_handler"', 'entrypoint = "main"'),
     "plugin.entrypoint", "unknown key (allowed: description, handler)"),
    ("unknown-runtime-key", "stage", VALID.replace("timeout_seconds = 60", "timeout = 60"),
     "runtime.timeout", "unknown key (allowed: batch, batch_size, max_concurrency, memory_mb, timeout_seconds)"),
    ("missing-description", "stage", VALID.replace('description = "A test stage"\n', ""),
     "plugin.description", "is required: a non-empty string"),
    ("blank-description", "stage", VALID.replace('"A test stage"', '"   "'),
     "plugin.description", "is required: a non-empty string"),
    ("handler-without-function", "stage", VALID.replace('"handler.lambda_handler"', '"handler"'),
     "plugin.handler", "must look like 'module.function', got 'handler'"),
    ("handler-with-dash", "stage", VALID.replace('"handler.lambda_handler"', '"handler.lambda-handler"'),
     "plugin.handler", "must look like 'module.function', got 'handler.lambda-handler'"),
    ("consumes-missing", "stage", VALID.replace('[consumes]\nsource = "landing"\n', ""),
     "consumes.source", "is required: 'landing', 'pipeline-events', 'api', or the name (or list of names)"),
    ("consumes-empty-list", "stage", VALID.replace('source = "landing"', "source = []"),
     "consumes.source", "got []"),
    ("consumes-bad-name", "stage", VALID.replace('source = "landing"', 'source = "Validate"'),
     "consumes.source", "got ['Validate']"),
    ("consumes-not-a-string", "stage", VALID.replace('source = "landing"', "source = 3"),
     "consumes.source", "got 3"),
    ("consumes-landing-and-more", "stage", VALID.replace('source = "landing"', 'source = ["landing", "validate"]'),
     "consumes.source", "'landing' cannot be combined with other sources"),
    ("consumes-itself", "cleanse", VALID.replace('source = "landing"', 'source = ["validate", "cleanse"]'),
     "consumes.source", "a plug-in cannot consume its own output"),
    ("produces-not-a-list", "stage", VALID + '\n[produces]\nstages = "cleanse"\n',
     "produces.stages", "must be a list of strings, got 'cleanse'"),
    ("produces-bad-name", "stage", VALID + '\n[produces]\nstages = ["Clean-Se"]\n',
     "produces.stages", "invalid name 'Clean-Se'"),
    ("unknown-read-bucket", "stage", VALID.replace('read_buckets = ["landing"]', 'read_buckets = ["raw"]'),
     "permissions.read_buckets",
     "unknown name 'raw' (allowed: landing, clean, quarantine, archive, athena-results, audit)"),
    ("unknown-write-bucket", "stage", VALID.replace('read_buckets = ["landing"]', 'write_buckets = ["curated"]'),
     "permissions.write_buckets", "unknown name 'curated'"),
    ("unknown-delete-bucket", "stage", VALID.replace('read_buckets = ["landing"]', 'delete_buckets = ["tmp"]'),
     "permissions.delete_buckets", "unknown name 'tmp'"),
    ("bucket-listed-twice", "stage",
     VALID.replace('read_buckets = ["landing"]', 'read_buckets = ["landing", "landing"]'),
     "permissions.read_buckets", "lists a name twice"),
    ("unknown-topic", "stage", VALID.replace('read_buckets = ["landing"]', 'publish_topics = ["events"]'),
     "permissions.publish_topics", "unknown name 'events' (allowed: pipeline-events, alarms)"),
    ("unknown-table", "stage", VALID.replace('read_buckets = ["landing"]', 'tables = ["jobs"]'),
     "permissions.tables", "unknown name 'jobs' (allowed: status, idempotency)"),
    ("bad-parameter-name", "stage", VALID.replace('read_buckets = ["landing"]', 'parameters = ["/abs/key"]'),
     "permissions.parameters", "invalid name '/abs/key'"),
    ("timeout-too-long", "stage", VALID.replace("timeout_seconds = 60", "timeout_seconds = 901"),
     "runtime.timeout_seconds", "must be between 1 and 900, got 901"),
    ("timeout-zero", "stage", VALID.replace("timeout_seconds = 60", "timeout_seconds = 0"),
     "runtime.timeout_seconds", "must be between 1 and 900, got 0"),
    ("memory-too-small", "stage", VALID.replace("timeout_seconds = 60", "memory_mb = 64"),
     "runtime.memory_mb", "must be between 128 and 10240, got 64"),
    ("concurrency-below-two", "stage", VALID.replace("timeout_seconds = 60", "max_concurrency = 1"),
     "runtime.max_concurrency", "must be between 2 and 1000, got 1"),
    ("timeout-as-string", "stage", VALID.replace("timeout_seconds = 60", 'timeout_seconds = "60"'),
     "runtime.timeout_seconds", "must be an integer, got '60'"),
    ("timeout-as-bool", "stage", VALID.replace("timeout_seconds = 60", "timeout_seconds = true"),
     "runtime.timeout_seconds", "must be an integer, got True"),
    ("timeout-as-float", "stage", VALID.replace("timeout_seconds = 60", "timeout_seconds = 60.0"),
     "runtime.timeout_seconds", "must be an integer, got 60.0"),
    ("reserved-env-var", "stage", VALID + '\n[environment]\nPOWERTOOLS_SERVICE_NAME = "mine"\n',
     "environment.POWERTOOLS_SERVICE_NAME", "is set by the kit and cannot be overridden"),
    ("reserved-aws-region", "stage", VALID + '\n[environment]\nAWS_REGION = "eu-west-1"\n',
     "environment.AWS_REGION", "is set by the kit and cannot be overridden"),
    ("non-string-env-value", "stage", VALID + "\n[environment]\nLOG_SAMPLE_RATE = 0.1\n",
     "environment.LOG_SAMPLE_RATE", "must be a string, got 0.1"),
    ("invalid-env-name", "stage", VALID + '\n[environment]\n1ST = "x"\n',
     "environment.1ST", "is not a valid environment variable name"),
]


@pytest.mark.parametrize(("folder", "text", "field", "fragment"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_manifest(tmp_path: Path, folder: str, text: str, field: str, fragment: str) -> None:
    directory = write_plugin(tmp_path, folder, text)
    expect_error(lambda: load_manifest(directory), directory / MANIFEST_NAME, field, fragment)


def test_the_base_manifest_of_the_malformed_cases_is_valid(tmp_path: Path) -> None:
    assert load_manifest(write_plugin(tmp_path, "stage", VALID)).consumes == ("landing",)


def test_invalid_toml(tmp_path: Path) -> None:
    directory = write_plugin(tmp_path, "stage", '[plugin]\ndescription = "unterminated\n')
    expect_error(lambda: load_manifest(directory), directory / MANIFEST_NAME, "", "is not valid TOML: ")


def test_non_utf8_manifest(tmp_path: Path) -> None:
    directory = tmp_path / "stage"
    directory.mkdir()
    (directory / MANIFEST_NAME).write_bytes('[plugin]\ndescription = "caf\u00e9"\n'.encode("latin-1"))
    expect_error(lambda: load_manifest(directory), directory / MANIFEST_NAME, "", "is not valid TOML: ")


def test_missing_manifest(tmp_path: Path) -> None:
    directory = tmp_path / "stage"
    directory.mkdir()
    expect_error(lambda: load_manifest(directory), directory / MANIFEST_NAME, "",
                 "missing: every plug-in folder needs a manifest.toml (a folder that is not a plug-in starts with '_')")


def test_missing_manifest_is_reported_before_a_bad_folder_name(tmp_path: Path) -> None:
    # a stray folder "my-data" is told what a plug-in folder needs, not to rename itself
    directory = tmp_path / "my-data"
    directory.mkdir()
    expect_error(lambda: load_manifest(directory), directory / MANIFEST_NAME, "",
                 "missing: every plug-in folder needs a manifest.toml")


def test_bad_plugin_folder_name(tmp_path: Path) -> None:
    directory = write_plugin(tmp_path, "Bad-Name", VALID)
    expect_error(lambda: load_manifest(directory), directory / MANIFEST_NAME, "",
                 "plug-in folder name 'Bad-Name' must be 2-31 characters of a-z, 0-9 and '_'")


def test_discover_reports_the_malformed_manifest(tmp_path: Path) -> None:
    write_plugin(tmp_path, "validate", manifest("landing"))
    broken = write_plugin(tmp_path, "broken", VALID.replace("timeout_seconds = 60", "timeout_seconds = 0"))
    expect_error(lambda: discover_plugins(tmp_path), broken / MANIFEST_NAME, "runtime.timeout_seconds",
                 "must be between 1 and 900")


# --------------------------------------------------------------------------------------
# the plug-in graph (discover_plugins)
# --------------------------------------------------------------------------------------


def test_discover_a_valid_graph_in_pipeline_order(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", manifest("landing", ["beta"]))
    write_plugin(tmp_path, "beta", manifest("alpha", ["gamma"]))
    write_plugin(tmp_path, "gamma", manifest("beta"))
    assert [p.name for p in discover_plugins(tmp_path)] == ["alpha", "beta", "gamma"]


def test_produces_names_an_unknown_plugin(tmp_path: Path) -> None:
    alpha = write_plugin(tmp_path, "alpha", manifest("landing", ["ghost"]))
    expect_error(lambda: discover_plugins(tmp_path), alpha / MANIFEST_NAME, "produces.stages",
                 "no plug-in named 'ghost' (known: alpha)")


def test_consumes_names_an_unknown_plugin(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", manifest("landing"))
    beta = write_plugin(tmp_path, "beta", manifest("ghost"))
    expect_error(lambda: discover_plugins(tmp_path), beta / MANIFEST_NAME, "consumes.source",
                 "no plug-in named 'ghost' (known: alpha, beta)")


def test_consumes_a_plugin_that_does_not_produce_for_it(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", manifest("landing"))
    beta = write_plugin(tmp_path, "beta", manifest("alpha"))
    expect_error(lambda: discover_plugins(tmp_path), beta / MANIFEST_NAME, "consumes.source",
                 "'alpha' does not list 'beta' in its produces.stages")


def test_produces_for_a_plugin_that_does_not_consume_it(tmp_path: Path) -> None:
    alpha = write_plugin(tmp_path, "alpha", manifest("landing", ["beta", "gamma"]))
    write_plugin(tmp_path, "beta", manifest("alpha", ["gamma"]))
    write_plugin(tmp_path, "gamma", manifest("beta"))
    expect_error(lambda: discover_plugins(tmp_path), alpha / MANIFEST_NAME, "produces.stages",
                 "'gamma' does not list 'alpha' in its consumes.source")


def test_no_plugin_consumes_landing(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", manifest("beta", ["beta"]))
    write_plugin(tmp_path, "beta", manifest("alpha", ["alpha"]))
    expect_error(lambda: discover_plugins(tmp_path), tmp_path, "consumes.source",
                 "exactly one plug-in must consume 'landing', found 0: none")


def test_two_plugins_consume_landing(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", manifest("landing"))
    write_plugin(tmp_path, "beta", manifest("landing"))
    expect_error(lambda: discover_plugins(tmp_path), tmp_path, "consumes.source",
                 "exactly one plug-in must consume 'landing', found 2: alpha, beta")


def test_unreachable_plugin(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", manifest("landing"))
    beta = write_plugin(tmp_path, "beta", manifest("gamma", ["gamma"]))
    write_plugin(tmp_path, "gamma", manifest("beta", ["beta"]))
    expect_error(lambda: discover_plugins(tmp_path), beta / MANIFEST_NAME, "consumes.source",
                 "plug-in 'beta' is not reachable from the landing bucket")


def test_cycle_between_stages_is_refused(tmp_path: Path) -> None:
    # discover_plugins promises "the stages form no cycle": beta -> gamma -> beta loops forever
    write_plugin(tmp_path, "alpha", manifest("landing", ["beta"]))
    write_plugin(tmp_path, "beta", manifest(["alpha", "gamma"], ["gamma"]))
    write_plugin(tmp_path, "gamma", manifest("beta", ["beta"]))
    with pytest.raises(ManifestError, match="cycle"):
        discover_plugins(tmp_path)


def test_folders_starting_with_underscore_or_dot_are_ignored(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", manifest("landing"))
    write_plugin(tmp_path, "_shared", "this is [not TOML")
    write_plugin(tmp_path, ".cache", "this is [not TOML")
    assert [p.name for p in discover_plugins(tmp_path)] == ["alpha"]


def test_a_folder_with_files_but_no_manifest_is_an_error(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", manifest("landing"))
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "handler.py").write_text(HANDLER_PY)
    with pytest.raises(ManifestError) as info:
        discover_plugins(tmp_path)
    assert str(info.value) == (f"{extra / MANIFEST_NAME}: missing: every plug-in folder needs a manifest.toml "
                               "(a folder that is not a plug-in starts with '_')")


def test_a_deleted_manifest_is_blamed_on_its_own_folder(tmp_path: Path) -> None:
    # without the missing-manifest error, beta's "no plug-in named 'alpha'" came first
    alpha = write_plugin(tmp_path, "alpha", manifest("landing", ["beta"]))
    write_plugin(tmp_path, "beta", manifest("alpha"))
    (alpha / MANIFEST_NAME).unlink()
    expect_error(lambda: discover_plugins(tmp_path), alpha / MANIFEST_NAME, "",
                 "missing: every plug-in folder needs a manifest.toml")


def test_files_and_cache_only_folders_are_not_plugins(tmp_path: Path) -> None:
    # an empty folder, and what a plug-in deleted with git leaves behind (__pycache__ only)
    write_plugin(tmp_path, "alpha", manifest("landing"))
    (tmp_path / "samples").mkdir()
    (tmp_path / "gone" / "__pycache__").mkdir(parents=True)
    (tmp_path / "gone" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\x00")
    (tmp_path / "gone" / ".DS_Store").write_bytes(b"")
    (tmp_path / "README.md").write_text("not a plug-in")
    assert [p.name for p in discover_plugins(tmp_path)] == ["alpha"]


def test_private_folders_with_code_but_no_manifest_are_ignored(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", manifest("landing"))
    for name in ("_private", "__pycache__", ".venv"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "helpers.py").write_text("X = 1\n")
    assert [p.name for p in discover_plugins(tmp_path)] == ["alpha"]


def test_no_plugins_at_all(tmp_path: Path) -> None:
    assert discover_plugins(tmp_path) == []
