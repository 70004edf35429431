"""Where this machine keeps a filesystem mirror of the hashicorp/aws provider, if anywhere.

There is no registry access here, so the Terraform tests run only against a mirror already on disk.
Looked for, in this order:

1. the directory named by `CLOUDROUTES_TF_PLUGIN_DIR` or `TF_PLUGIN_DIR`;
2. the `filesystem_mirror` paths of the CLI config's `provider_installation` block
   (`TF_CLI_CONFIG_FILE`, else `~/.terraformrc`);
3. Terraform's implied local mirror directories on Unix
   (https://developer.hashicorp.com/terraform/cli/config/config-file#implied-local-mirror-directories):
   `~/.terraform.d/plugins`, `$XDG_DATA_HOME/terraform/plugins` (default `~/.local/share`), and
   `terraform/plugins` under each of `$XDG_DATA_DIRS` (default `/usr/local/share:/usr/share`);
4. any directory up to three levels under `/opt` holding a `registry.terraform.io/hashicorp/aws` tree.

A directory counts when it holds the provider for this platform in either mirror layout:
unpacked (`registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/terraform-provider-aws*`) or
packed (`registry.terraform.io/hashicorp/aws/terraform-provider-aws_<version>_<os>_<arch>.zip`).
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

AWS = Path("registry.terraform.io", "hashicorp", "aws")
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386", "armv7l": "arm"}


@dataclass(frozen=True)
class Found:
    mirror: Path | None
    looked_in: tuple[str, ...]
    """Every place looked at, in order, for the skip message when nothing is found."""

    @property
    def reason(self) -> str:
        return f"no hashicorp/aws provider mirror for {platform_name()} in: " + ", ".join(self.looked_in)


def platform_name() -> str:
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_ARCH.get(machine, machine)}"


def holds_aws(directory: Path, plat: str | None = None) -> bool:
    plat = plat or platform_name()
    tree = directory / AWS
    if not tree.is_dir():
        return False
    unpacked = any(tree.glob(f"*/{plat}/terraform-provider-aws*"))
    packed = any(tree.glob(f"terraform-provider-aws_*_{plat}.zip"))
    return unpacked or packed


def cli_config_mirrors(text: str) -> list[Path]:
    """The `path` of every `filesystem_mirror` block (HCL, read only as far as this needs)."""
    return [Path(m) for m in re.findall(r'filesystem_mirror\s*\{[^}]*?\bpath\s*=\s*"([^"]+)"', text, re.S)]


def candidates(env: Mapping[str, str], home: Path, opt: Path) -> Iterator[tuple[str, Path]]:
    for var in ("CLOUDROUTES_TF_PLUGIN_DIR", "TF_PLUGIN_DIR"):
        if env.get(var):
            yield f"${var}={env[var]}", Path(env[var])
    cli_config = Path(env.get("TF_CLI_CONFIG_FILE") or home / ".terraformrc")
    if cli_config.is_file():
        for path in cli_config_mirrors(cli_config.read_text(errors="replace")):
            yield f"filesystem_mirror {path} ({cli_config})", path
    data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    data_dirs = [Path(d) for d in (env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":") if d]
    for directory in [
        home / ".terraform.d" / "plugins",
        *(d / "terraform" / "plugins" for d in [data_home, *data_dirs]),
    ]:
        yield str(directory), directory
    yield f"{opt}/**/{AWS} (three levels deep)", opt


def _under(opt: Path, depth: int = 3) -> Iterator[Path]:
    if not opt.is_dir():
        return
    level = [opt]
    yield opt
    for _ in range(depth):
        level = sorted(child for parent in level for child in _dirs(parent))
        yield from level


def _dirs(parent: Path) -> list[Path]:
    try:
        return [child for child in parent.iterdir() if child.is_dir() and child.name != "registry.terraform.io"]
    except OSError:
        return []


def find(env: Mapping[str, str] | None = None, home: Path | None = None, opt: Path = Path("/opt")) -> Found:
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    looked: list[str] = []
    for label, directory in candidates(env, home, opt):
        looked.append(label)
        if directory == opt:
            hit = next((d for d in _under(opt) if holds_aws(d)), None)
            if hit is not None:
                return Found(hit, tuple(looked))
        elif holds_aws(directory):
            return Found(directory, tuple(looked))
    return Found(None, tuple(looked))
