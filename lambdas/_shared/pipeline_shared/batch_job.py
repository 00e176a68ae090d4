"""The AWS Batch entrypoint of a batch-capable plug-in.

    python -m pipeline_shared.batch_job --plugin validate --payload '{"file_id": …}'

The job definition runs this with ``--payload Ref::payload`` (the unit of work the Lambda routed,
as JSON) and ``PYTHONPATH=/opt/pipeline/<plugin>``: the plug-in's deployed zip unpacked, its files
at the root next to ``pipeline_shared``, exactly as in Lambda. The image sets ``PYTHONSAFEPATH=1``, so
the working directory is not on ``sys.path`` and the plug-in's folder is its first entry, as the zip
root is in Lambda. The plug-in's ``handler`` module is imported from the first ``sys.path`` entry
that holds ``handler.py`` (``sys.path`` is read, never edited: an earlier entry that would shadow one
of the plug-in's own modules is a refused job), and its ``run_batch(payload: dict) -> dict`` does
the work (the same code as in Lambda, under the ``<plugin>:batch`` idempotency namespace).

Logs are structured JSON (the plug-in's Powertools logger, with ``job_id``, ``job_attempt`` and
``runs_on=batch``). Exit status: 0 done (or already done: a duplicate job); 1 the work failed
(Batch retries the job per its retry strategy); 2 the job itself is wrong (bad arguments or
payload, a plug-in that is not batch-capable): retrying cannot help.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .wiring import env

EXIT_OK, EXIT_FAILED, EXIT_BAD_JOB = 0, 1, 2
HANDLER_FILE = "handler.py"


class JobError(Exception):
    """The job cannot run as given (exit status 2); the message says why."""


def parse_args(argv: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """``(plugin, payload)`` from the command line; ``JobError`` when malformed."""
    parser = argparse.ArgumentParser(prog="python -m pipeline_shared.batch_job", add_help=False)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--payload", required=True)
    try:
        args, extra = parser.parse_known_args(list(argv))
    except SystemExit:
        raise JobError(f"usage: {parser.prog} --plugin <name> --payload <json> (got {list(argv)!r})") from None
    if extra:
        raise JobError(f"unexpected arguments {extra!r}")
    if args.payload.startswith("Ref::"):
        raise JobError(f"--payload is {args.payload!r}: the job was submitted without the 'payload' parameter")
    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        raise JobError(f"--payload is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise JobError(f"--payload must be a JSON object, got {type(payload).__name__}")
    return args.plugin, payload


def find_handler(search_path: Sequence[str] | None = None) -> Path:
    """``handler.py`` in the first ``sys.path`` entry holding one (the plug-in's folder). ``JobError``
    when there is none, or when an entry before that folder holds a module of the plug-in's own
    (``core.py``, ``core/``): Python would import that one for the handler's ``import core``."""
    entries = [Path(entry or ".") for entry in (sys.path if search_path is None else search_path)]
    index = next((i for i, entry in enumerate(entries) if (entry / HANDLER_FILE).is_file()), None)
    if index is None:
        raise JobError(f"no {HANDLER_FILE} on sys.path: PYTHONPATH must name the plug-in's folder "
                       "(/opt/pipeline/<plugin>)")
    folder = entries[index]
    own = sorted(p.stem for p in folder.glob("*.py"))
    for entry in entries[:index]:
        for name in own:
            for candidate in (entry / f"{name}.py", entry / name / "__init__.py"):
                if candidate.is_file():
                    raise JobError(f"{candidate} comes before the plug-in's folder {folder} on sys.path and would be "
                                   f"imported as its {name!r}: PYTHONPATH must name the plug-in's folder first "
                                   "(and PYTHONSAFEPATH=1 keeps the working directory off the path)")
    return (folder / HANDLER_FILE).resolve()


def load_handler() -> ModuleType:
    """Import the plug-in's ``handler`` module as ``handler``, from its folder on ``sys.path``, as
    Lambda does; its own imports (``import core``) resolve through ``sys.path``, which this only reads."""
    path = find_handler()
    spec = importlib.util.spec_from_file_location("handler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module
    spec.loader.exec_module(module)
    return module


def check_plugin(plugin: str, module: ModuleType) -> None:
    """The loaded handler must be ``plugin``'s, batch-capable, and expose ``run_batch``."""
    name = getattr(module, "PLUGIN", None)
    if name is not None and name != plugin:
        raise JobError(f"--plugin is {plugin!r}, but the handler on the path is {name!r}'s ({module.__file__})")
    manifest = Path(module.__file__ or "").with_name("manifest.toml")
    if manifest.is_file():
        runtime = tomllib.loads(manifest.read_text(encoding="utf-8")).get("runtime", {})
        if runtime.get("batch") is not True:
            raise JobError(f"plug-in {plugin!r} is not batch-capable ({manifest}: runtime.batch is not true)")
    if not callable(getattr(module, "run_batch", None)):
        raise JobError(f"plug-in {plugin!r}'s handler has no run_batch(payload) function")


def _logger(plugin: str, module: ModuleType | None) -> Any:
    found = getattr(module, "logger", None) if module is not None else None
    if found is not None:
        return found
    from aws_lambda_powertools import Logger

    return Logger(service=os.environ.get(env.POWERTOOLS_SERVICE_NAME) or plugin or "batch-job")


def main(argv: Sequence[str] | None = None, *, handler_module: ModuleType | None = None) -> int:
    """Run one job; returns the exit status. ``handler_module``: an already loaded handler (the
    local runner, which loads each plug-in's deployed code under a unique name)."""
    argv = sys.argv[1:] if argv is None else argv
    plugin, module = "", handler_module
    context = {"runs_on": "batch", "job_id": os.environ.get(env.BATCH_JOB_ID, "local"),
               "job_attempt": os.environ.get(env.BATCH_JOB_ATTEMPT, "1")}
    try:
        plugin, payload = parse_args(argv)
        module = module or load_handler()
        check_plugin(plugin, module)
    except JobError as exc:
        _logger(plugin, module).error("batch job refused; not retryable", extra={**context, "reason": str(exc)})
        return EXIT_BAD_JOB
    logger = _logger(plugin, module)
    logger.clear_state()  # a job is an invocation of its own: nothing carried over (in-process runs)
    logger.set_correlation_id(str(payload.get("key") or payload.get("file_id") or context["job_id"]))
    with logger.append_context_keys(**context):
        logger.info("batch job started", extra={"file_id": payload.get("file_id"), "size": payload.get("size")})
        try:
            outcome = module.run_batch(payload)
        except Exception:
            logger.exception("batch job failed; AWS Batch retries it per the job's retry strategy")
            return EXIT_FAILED
        logger.info("batch job finished", extra={"status": (outcome or {}).get("status"),
                                                 "duplicate_delivery": bool((outcome or {}).get("duplicate_delivery"))})
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
