"""Composition root: load every environment, build one stack each, synthesize plain Terraform JSON.

    python main.py                      # every environment → cdktf.out/stacks/<env>/cdk.tf.json
    python main.py --env local          # only some
    python main.py --outdir build/tf    # elsewhere

``EMULATOR_PORT`` overrides the emulator port of environments that deploy onto the emulator.
``PIPELINE_KIT_WORKDIR`` moves the generated files (``cdktf.out/``, ``.state/``) out of the
repository root (the end-to-end tests use it to stay apart from your own local deployment).
``PIPELINE_KIT_ENVIRONMENTS`` reads the environment files (``<env>.toml``) from another folder
instead of the repository's ``environments/`` (the end-to-end tests deploy ``local`` with
notification subscribers of their own that way).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# jsii on Node 20 prints an end-of-life banner at start-up; the kit supports Node 20.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def work_root() -> Path:
    """Where generated files go: ``PIPELINE_KIT_WORKDIR`` or the repository root."""
    return Path(os.environ.get("PIPELINE_KIT_WORKDIR") or ROOT).resolve()


def default_outdir() -> Path:
    return work_root() / "cdktf.out"


def environments_dir() -> Path | None:
    """Where the environment files are read from: ``PIPELINE_KIT_ENVIRONMENTS`` or (None) the
    repository's ``environments/``."""
    folder = os.environ.get("PIPELINE_KIT_ENVIRONMENTS")
    return Path(folder).resolve() if folder else None


def _configs(names: list[str]):
    from environments import ConfigError, load_environment

    configs = []
    for name in names:
        cfg = load_environment(name, environments_dir())
        port = os.environ.get("EMULATOR_PORT")
        if port and cfg.on_emulator:
            if not (port.isascii() and port.isdigit()) or not 1024 <= int(port) <= 65535:
                raise ConfigError("EMULATOR_PORT", "", f"must be a port number 1024-65535, got {port!r}")
            cfg = cfg.with_emulator_port(int(port))
        configs.append(cfg)
    return configs


CONTRACTS_DIR = ROOT / "lambdas" / "_shared" / "pipeline_shared" / "contracts"


def dataset_names() -> list[str]:
    """The datasets the pipeline knows: one contract each (lambdas/_shared/pipeline_shared/contracts)."""
    return sorted(p.stem for p in CONTRACTS_DIR.glob("*.toml"))


def dataset_specs() -> list:
    """Every dataset contract, loaded and validated (errors name the contract file and field)."""
    from glue.specs import load_specs

    return load_specs(CONTRACTS_DIR)


def check_notification_datasets(configs, known: list[str]) -> None:
    """``[[notifications.events]]`` filters may only name datasets the pipeline knows (the
    contracts): the config loader does not know them, the composition root does."""
    from environments import ConfigError

    for cfg in configs:
        for i, sub in enumerate(cfg.notifications.events):
            unknown = [d for d in sub.datasets if d not in known]
            if unknown:
                raise ConfigError(cfg.source or f"{cfg.name}.toml", f"notifications.events[{i}].datasets",
                                  f"unknown dataset {unknown[0]!r} (known: {', '.join(known) or 'none'})")


def releases_dir() -> Path:
    return work_root() / "build" / "releases"


def stack_dir(outdir: Path, env: str) -> Path:
    return outdir / "stacks" / env


def synth(envs: list, outdir: Path | None = None, release=None) -> dict[str, Path]:
    """Synthesize environments (names, or configs such as a rehearsal) deploying ``release``
    (default: a release built now from the working tree); returns each stack's Terraform
    working directory."""
    import base64

    from environments import EnvironmentConfig

    outdir = Path(outdir or default_outdir()).resolve()
    configs = [e for e in envs if isinstance(e, EnvironmentConfig)]
    configs += _configs([e for e in envs if not isinstance(e, EnvironmentConfig)])
    from cdktf import App

    from kit.release import GLUE_ARTIFACTS, LAYER, build_release
    from kit.ui import KitError
    from modules.functions import FunctionCode
    from modules.plugins import discover_plugins
    from modules.stack import PipelineStack

    plugins = discover_plugins()
    datasets = dataset_specs()
    check_notification_datasets(configs, sorted(d.name for d in datasets))
    release = release or build_release(releases_dir())
    missing = [p.name for p in plugins if p.name not in release.artifacts]
    if missing:
        raise KitError(f"release {release.id} has no artifact for plug-in(s) {', '.join(missing)}: "
                       "it was built from another set of plug-ins; run `make package`")
    outdir.mkdir(parents=True, exist_ok=True)
    app = App(outdir=str(outdir))
    for cfg in configs:
        workdir = stack_dir(outdir, cfg.name)
        bucket = cfg.bucket_name("artifacts")

        def code_for(name: str, bucket: str = bucket) -> FunctionCode:
            ref = release.artifacts[name]
            return FunctionCode(s3_bucket=bucket, s3_key=ref.key,
                                sha256_b64=base64.b64encode(bytes.fromhex(ref.sha256)).decode())

        state_path = None
        if cfg.state.backend == "local":
            state_path = os.path.relpath(work_root() / cfg.state.path, workdir)
        PipelineStack(
            app, cfg.name, config=cfg, plugins=plugins, datasets=datasets,
            artifact_keys={n: release.artifacts[n].key for n in GLUE_ARTIFACTS if n in release.artifacts},
            code={p.name: code_for(p.name) for p in plugins},
            local_layer=code_for(LAYER) if cfg.on_emulator else None,
            local_state_path=state_path,
            release_id=release.id,
        )
    app.synth()
    return {cfg.name: stack_dir(outdir, cfg.name) for cfg in configs}


def main(argv: list[str] | None = None) -> int:
    from environments import ALL_ENVIRONMENTS, ConfigError
    from kit.ui import KitError
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
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    for name, path in dirs.items():
        print(f"synthesized {name:8s} → {os.path.relpath(path / 'cdk.tf.json')}")
    print(f"synth of {len(dirs)} environment(s) took {elapsed:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
