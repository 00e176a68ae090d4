"""Composition root: load every environment, build one stack each, synthesize plain Terraform JSON.

    python main.py                      # every environment → cdktf.out/stacks/<env>/cdk.tf.json
    python main.py --env local          # only some
    python main.py --outdir build/tf    # elsewhere

``EMULATOR_PORT`` overrides the emulator port of environments that deploy onto the emulator.
``PIPELINE_KIT_WORKDIR`` moves the generated files (``cdktf.out/``, ``.state/``) out of the
repository root (the end-to-end tests use it to stay apart from your own local deployment).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def work_root() -> Path:
    """Where generated files go: ``PIPELINE_KIT_WORKDIR`` or the repository root."""
    return Path(os.environ.get("PIPELINE_KIT_WORKDIR") or ROOT).resolve()


def default_outdir() -> Path:
    return work_root() / "cdktf.out"


def _configs(names: list[str]):
    from environments import ConfigError, load_environment

    configs = []
    for name in names:
        cfg = load_environment(name)
        port = os.environ.get("EMULATOR_PORT")
        if port and cfg.on_emulator:
            if not (port.isascii() and port.isdigit()) or not 1024 <= int(port) <= 65535:
                raise ConfigError("EMULATOR_PORT", "", f"must be a port number 1024-65535, got {port!r}")
            cfg = cfg.with_emulator_port(int(port))
        configs.append(cfg)
    return configs


def artifacts_dir() -> Path:
    return work_root() / "build" / "artifacts"


def stack_dir(outdir: Path, env: str) -> Path:
    return outdir / "stacks" / env


def synth(names: list[str], outdir: Path | None = None) -> dict[str, Path]:
    """Synthesize the named environments; returns each stack's Terraform working directory."""
    outdir = Path(outdir or default_outdir()).resolve()
    configs = _configs(names)
    from cdktf import App

    from kit.package import build_all
    from modules.functions import FunctionCode
    from modules.plugins import discover_plugins
    from modules.stack import PipelineStack

    plugins = discover_plugins()
    artifacts = build_all(artifacts_dir(), [p.directory for p in plugins])
    app = App(outdir=str(outdir))
    for cfg in configs:
        workdir = stack_dir(outdir, cfg.name)

        def code_for(name: str) -> FunctionCode:
            a = artifacts[name]
            return FunctionCode(filename=os.path.relpath(a.file, workdir), sha256_b64=a.source_code_hash)

        state_path = None
        if cfg.state.backend == "local":
            state_path = os.path.relpath(work_root() / cfg.state.path, workdir)
        PipelineStack(
            app, cfg.name, config=cfg, plugins=plugins,
            code={p.name: code_for(p.name) for p in plugins},
            local_layer=code_for("powertools-layer") if cfg.on_emulator else None,
            local_state_path=state_path,
        )
    app.synth()
    return {cfg.name: stack_dir(outdir, cfg.name) for cfg in configs}


def main(argv: list[str] | None = None) -> int:
    from environments import ALL_ENVIRONMENTS, ConfigError
    from modules.plugins import ManifestError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", choices=ALL_ENVIRONMENTS,
                        help="environment to synthesize (repeatable; default: all)")
    parser.add_argument("--outdir", type=Path, default=None, help="default: cdktf.out")
    args = parser.parse_args(argv)
    names = args.env or list(ALL_ENVIRONMENTS)
    started = time.perf_counter()
    try:
        dirs = synth(names, args.outdir)
    except (ConfigError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    for name, path in dirs.items():
        print(f"synthesized {name:8s} → {os.path.relpath(path / 'cdk.tf.json')}")
    print(f"synth of {len(dirs)} environment(s) took {elapsed:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
