"""Running real Terraform: provider mirror discovery, the CLI config, init/plan/apply/destroy.

Provider installation, in order:
1. ``TF_PROVIDER_MIRROR``: a filesystem mirror you name (the folder that holds
   ``registry.terraform.io/``). It must hold hashicorp/aws at the pinned version.
2. A mirror found in the usual places: Terraform's implied local mirror folders
   (``~/.terraform.d/plugins``, ``$XDG_DATA_HOME/terraform/plugins``,
   ``/usr/local/share/terraform/plugins``, ``/usr/share/terraform/plugins``) and one folder level
   below ``/opt``, ``/usr/local`` and ``$HOME``.
3. Otherwise the public registry, as Terraform does by default.

The kit writes its CLI config to ``.state/terraformrc`` (never committed) and points
``TF_CLI_CONFIG_FILE`` at it for the Terraform processes it starts.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from modules.providers import AWS_PROVIDER_VERSION

from .ui import KitError, note

PROVIDER_SUBPATH = Path("registry.terraform.io") / "hashicorp" / "aws" / AWS_PROVIDER_VERSION


def _platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def _holds_provider(root: Path) -> bool:
    candidate = root / PROVIDER_SUBPATH
    if (candidate / _platform()).is_dir():  # unpacked layout
        return True
    packed = root / "registry.terraform.io" / "hashicorp" / "aws"
    return any(packed.glob(f"terraform-provider-aws_{AWS_PROVIDER_VERSION}_{_platform()}.zip"))


def candidate_mirrors() -> list[Path]:
    home = Path.home()
    xdg = Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share"))
    fixed = [home / ".terraform.d" / "plugins", xdg / "terraform" / "plugins",
             Path("/usr/local/share/terraform/plugins"), Path("/usr/share/terraform/plugins")]
    scanned: list[Path] = []
    for parent in (Path("/opt"), Path("/usr/local"), home):
        try:
            scanned += sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            continue
    return fixed + scanned


def find_mirror() -> Path | None:
    explicit = os.environ.get("TF_PROVIDER_MIRROR")
    if explicit:
        root = Path(explicit).expanduser()
        if not _holds_provider(root):
            raise KitError(
                f"TF_PROVIDER_MIRROR={explicit} does not hold hashicorp/aws {AWS_PROVIDER_VERSION} for {_platform()} "
                f"(expected {root / PROVIDER_SUBPATH / _platform()})"
            )
        return root
    for root in candidate_mirrors():
        if _holds_provider(root):
            return root
    return None


def write_cli_config(state_dir: Path, mirror: Path | None) -> Path | None:
    """Write the CLI config for ``mirror``; None means: use the registry (no config needed)."""
    if mirror is None:
        return None
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "terraformrc"
    mirror_s = str(mirror).replace("\\", "/")
    path.write_text(
        "# Written by pipeline-kit (kit/terraform.py); regenerated on every run.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror_s}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )
    return path


@dataclass
class Terraform:
    """Terraform in one working directory (a synthesized stack)."""

    workdir: Path
    cli_config: Path | None
    binary: str = "terraform"

    @classmethod
    def for_stack(cls, workdir: Path, state_dir: Path) -> "Terraform":
        binary = os.environ.get("TERRAFORM", "terraform")
        if shutil.which(binary) is None:
            raise KitError(f"terraform not found on PATH (looked for {binary!r}); install Terraform >= 1.6")
        mirror = find_mirror()
        config = write_cli_config(state_dir, mirror)
        if mirror is not None:
            note(f"providers from the filesystem mirror {mirror}")
        else:
            note("providers from the Terraform registry (no filesystem mirror found; set TF_PROVIDER_MIRROR to use one)")
        return cls(workdir=workdir, cli_config=config, binary=binary)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.cli_config is not None:
            env["TF_CLI_CONFIG_FILE"] = str(self.cli_config)
        elif env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).exists():
            env.pop("TF_CLI_CONFIG_FILE")  # a dangling setting only produces a warning
        env.setdefault("TF_IN_AUTOMATION", "1")
        env.setdefault("CHECKPOINT_DISABLE", "1")
        return env

    def run(self, *args: str, check: bool = True, capture: bool = False,
            ok_codes: Sequence[int] = (0,)) -> subprocess.CompletedProcess:
        """Run ``terraform <args>`` in the working directory, streaming its output unless captured."""
        cmd = [self.binary, f"-chdir={self.workdir}", *args]
        proc = subprocess.run(cmd, env=self.env(), text=True,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.PIPE if capture else None)
        if check and proc.returncode not in ok_codes:
            detail = f":\n{proc.stderr.strip()}" if capture and proc.stderr else ""
            raise KitError(f"terraform {args[0]} failed (exit {proc.returncode}) in {self.workdir}{detail}")
        return proc

    def init(self, *, backend: bool = True, quiet: bool = False) -> None:
        args = ["init", "-input=false", "-reconfigure"]
        if quiet:
            args.append("-no-color")
        if not backend:
            args.append("-backend=false")
        self.run(*args, capture=quiet)

    def plan(self, plan_file: str, *, destroy: bool = False, extra: Sequence[str] = ()) -> bool:
        """Plan into ``plan_file``; True when the plan has changes."""
        args = ["plan", "-input=false", "-detailed-exitcode", f"-out={plan_file}", *extra]
        if destroy:
            args.append("-destroy")
        proc = self.run(*args, ok_codes=(0, 2))
        return proc.returncode == 2

    def apply(self, plan_file: str) -> None:
        self.run("apply", "-input=false", "-auto-approve", plan_file)

    def show_json(self, plan_file: str) -> dict:
        import json

        proc = self.run("show", "-json", plan_file, capture=True)
        return json.loads(proc.stdout)

    def validate(self) -> subprocess.CompletedProcess:
        return self.run("validate", "-no-color", check=False, capture=True)
