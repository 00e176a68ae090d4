"""modules.plugins.discover_plugins checks each plug-in's code statically (never importing it):
the module and function ``plugin.handler`` names and ``run_batch`` for ``runtime.batch = true``
(an API plug-in is checked like any other: its routes are the runtime contract's). Each error is one ManifestError
naming the manifest and the field. Every plug-in here is built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from modules.plugins import MANIFEST_NAME, ManifestError, discover_plugins

HANDLER = "def lambda_handler(event, context):\n    return {}\n"
BATCH_HANDLER = HANDLER + "\n\ndef run_batch(payload):\n    return {}\n"


def plugin(root: Path, name: str, *, source: str = "landing", handler: str = "handler.lambda_handler",
           batch: bool = False, files: dict[str, str] | None = None) -> Path:
    """``root/<name>/`` with a manifest and ``files`` (default: a ``handler.py`` defining
    ``lambda_handler``); returns the folder."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / MANIFEST_NAME).write_text(
        f'[plugin]\ndescription = "test"\nhandler = "{handler}"\n\n[consumes]\nsource = "{source}"\n'
        f"\n[runtime]\nbatch = {'true' if batch else 'false'}\n", encoding="utf-8")
    for filename, text in (files if files is not None else {"handler.py": HANDLER}).items():
        (folder / filename).write_text(text, encoding="utf-8")
    return folder


def error_of(lambdas: Path) -> str:
    with pytest.raises(ManifestError) as info:
        discover_plugins(lambdas)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- plugin.handler ----------------------------------------------------------------------------


def test_a_handler_function_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    stage = plugin(tmp_path, "stage", files={"handler.py": "def handle(event, context):\n    return {}\n"})
    assert error_of(tmp_path) == (f"{stage / MANIFEST_NAME}: plugin.handler: names function 'lambda_handler', "
                                  f"which {stage / 'handler.py'} does not define at top level")


def test_a_deleted_handler_module_is_refused(tmp_path: Path) -> None:
    stage = plugin(tmp_path, "stage", files={"core.py": "X = 1\n"})
    assert error_of(tmp_path) == (f"{stage / MANIFEST_NAME}: plugin.handler: names module 'handler', "
                                  f"but {stage / 'handler.py'} does not exist")


def test_the_module_named_by_plugin_handler_is_the_one_checked(tmp_path: Path) -> None:
    stage = plugin(tmp_path, "stage", handler="entry.main", files={"handler.py": HANDLER})
    assert error_of(tmp_path) == (f"{stage / MANIFEST_NAME}: plugin.handler: names module 'entry', "
                                  f"but {stage / 'entry.py'} does not exist")


def test_a_handler_module_with_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    stage = plugin(tmp_path, "stage", files={"handler.py": "import json\n\ndef lambda_handler(event, context)\n"})
    message = error_of(tmp_path)
    assert message.startswith(f"{stage / MANIFEST_NAME}: plugin.handler: {stage / 'handler.py'}:3: "
                              "is not valid Python: "), message


def test_a_function_defined_only_inside_a_class_or_function_is_not_top_level(tmp_path: Path) -> None:
    text = ("class Stage:\n    def lambda_handler(self, event, context):\n        return {}\n\n\n"
            "def factory():\n    def lambda_handler(event, context):\n        return {}\n    return lambda_handler\n")
    stage = plugin(tmp_path, "stage", files={"handler.py": text})
    assert error_of(tmp_path) == (f"{stage / MANIFEST_NAME}: plugin.handler: names function 'lambda_handler', "
                                  f"which {stage / 'handler.py'} does not define at top level")


@pytest.mark.parametrize("text", [
    "async def lambda_handler(event, context):\n    return {}\n",
    "from core import handle as lambda_handler\n",
    "import core\nlambda_handler = core.handle\n",
    "lambda_handler: object = object()\n",
    "try:\n    from fast import lambda_handler\nexcept ImportError:\n    def lambda_handler(event, context):\n"
    "        return {}\n",
    "from core import *\n",  # may bind any name: not decidable statically, accepted
], ids=["async-def", "import-as", "assignment", "annotated-assignment", "inside-try", "star-import"])
def test_any_top_level_binding_of_the_handler_name_counts(tmp_path: Path, text: str) -> None:
    plugin(tmp_path, "stage", files={"handler.py": text})
    assert [m.name for m in discover_plugins(tmp_path)] == ["stage"]


def test_the_handler_module_is_parsed_not_imported(tmp_path: Path) -> None:
    # importing it would fail (unknown module) or stop the interpreter; parsing does neither
    text = "import not_installed_anywhere\nraise SystemExit(3)\n\n\ndef lambda_handler(event, context):\n    return {}\n"
    plugin(tmp_path, "stage", files={"handler.py": text})
    assert [m.name for m in discover_plugins(tmp_path)] == ["stage"]


# -- runtime.batch -----------------------------------------------------------------------------


def test_batch_without_run_batch_is_refused(tmp_path: Path) -> None:
    stage = plugin(tmp_path, "stage", batch=True)
    assert error_of(tmp_path) == (f"{stage / MANIFEST_NAME}: runtime.batch: is true, but {stage / 'handler.py'} "
                                  "defines no run_batch(payload) at top level (the AWS Batch job calls it)")


def test_batch_with_run_batch_is_accepted(tmp_path: Path) -> None:
    plugin(tmp_path, "stage", batch=True, files={"handler.py": BATCH_HANDLER})
    assert [m.runtime.batch for m in discover_plugins(tmp_path)] == [True]


def test_batch_needs_the_handler_module_the_batch_job_imports(tmp_path: Path) -> None:
    stage = plugin(tmp_path, "stage", batch=True, handler="entry.lambda_handler", files={"entry.py": BATCH_HANDLER})
    assert error_of(tmp_path) == (f"{stage / MANIFEST_NAME}: runtime.batch: is true, but plugin.handler's module "
                                  "is 'entry': the AWS Batch job imports handler.py, so a batch-capable plug-in's "
                                  "handler module must be 'handler'")


def test_run_batch_is_not_required_without_batch(tmp_path: Path) -> None:
    plugin(tmp_path, "stage", batch=False)
    assert [m.runtime.batch for m in discover_plugins(tmp_path)] == [False]


# -- consumes.source = "api" -------------------------------------------------------------------


def test_an_api_plugin_needs_only_its_handler(tmp_path: Path) -> None:
    # The routes and request models are the runtime contract's (pipeline_shared.wiring.api): the
    # stack never reads, let alone runs, an API plug-in's own modules.
    plugin(tmp_path, "entry")
    plugin(tmp_path, "query", source="api")
    assert [(m.name, m.consumes_api) for m in discover_plugins(tmp_path)] == [("entry", False), ("query", True)]


def test_an_api_plugin_without_its_handler_function_is_refused(tmp_path: Path) -> None:
    plugin(tmp_path, "entry")
    api = plugin(tmp_path, "query", source="api", files={"handler.py": "ROUTES = ()\n"})
    assert error_of(tmp_path) == (f"{api / MANIFEST_NAME}: plugin.handler: names function 'lambda_handler', "
                                  f"which {api / 'handler.py'} does not define at top level")


# -- order of the errors -----------------------------------------------------------------------


def test_a_plugins_code_error_comes_before_the_graph_errors(tmp_path: Path) -> None:
    # "beta" consumes a plug-in that does not exist, but "alpha" (first by name) lacks its handler
    alpha = plugin(tmp_path, "alpha", files={})
    plugin(tmp_path, "beta", source="ghost")
    assert error_of(tmp_path).startswith(f"{alpha / MANIFEST_NAME}: plugin.handler: names module 'handler'")


# -- imports of the shared package (pipeline_shared, packaged with every plug-in) ----------------


def shared(root: Path) -> Path:
    """``root/_shared/pipeline_shared`` with a runtime module and the wiring package."""
    package = root / "_shared" / "pipeline_shared"
    (package / "wiring").mkdir(parents=True)
    (package / "__init__.py").write_text('__version__ = "1"\n', encoding="utf-8")
    (package / "runtime.py").write_text("def send(stage, message):\n    pass\n\nLIMIT = 3\n", encoding="utf-8")
    (package / "wiring" / "__init__.py").write_text("", encoding="utf-8")
    (package / "wiring" / "env.py").write_text("def bucket(purpose):\n    return purpose\n", encoding="utf-8")
    return package


def test_imports_of_existing_shared_modules_and_names_are_accepted(tmp_path: Path) -> None:
    shared(tmp_path)
    plugin(tmp_path, "entry", files={"handler.py": HANDLER + "from pipeline_shared import runtime, wiring\n"
                                     "from pipeline_shared.wiring import env\nimport pipeline_shared.wiring.env\n",
                                     "core.py": "def f():\n    from pipeline_shared.runtime import LIMIT, send\n"})
    assert [m.name for m in discover_plugins(tmp_path)] == ["entry"]


@pytest.mark.parametrize(("line", "problem"), [
    ("from pipeline_shared import env",
     "imports env from pipeline_shared, which does not define it (moved to pipeline_shared.wiring.env)"),
    ("from pipeline_shared.messages import StageMessage",
     "imports pipeline_shared.messages, which the shared package ({shared}) does not have "
     "(moved to pipeline_shared.wiring.messages)"),
    ("import pipeline_shared.wiring.api",
     "imports pipeline_shared.wiring.api, which the shared package ({shared}) does not have"),
])
def test_an_import_of_a_missing_or_moved_shared_module_is_refused(tmp_path: Path, line: str, problem: str) -> None:
    package = shared(tmp_path)
    entry = plugin(tmp_path, "entry", files={"handler.py": "import json\n" + line + "\n" + HANDLER})
    assert error_of(tmp_path) == (f"{entry / MANIFEST_NAME}: {entry / 'handler.py'}:2: "
                                  + problem.format(shared=package))


def test_a_missing_name_in_a_deferred_import_of_any_module_is_refused(tmp_path: Path) -> None:
    shared(tmp_path)
    entry = plugin(tmp_path, "entry", files={"handler.py": HANDLER, "core.py": (
        "def f():\n    try:\n        from pipeline_shared.runtime import sned\n    except KeyError:\n        pass\n")})
    assert error_of(tmp_path) == (f"{entry / MANIFEST_NAME}: {entry / 'core.py'}:3: imports sned from "
                                  "pipeline_shared.runtime, which does not define it")


def test_a_plug_in_module_with_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    shared(tmp_path)
    entry = plugin(tmp_path, "entry", files={"handler.py": HANDLER, "core.py": "def f(:\n"})
    assert error_of(tmp_path).startswith(f"{entry / MANIFEST_NAME}: {entry / 'core.py'}:1: is not valid Python: ")
