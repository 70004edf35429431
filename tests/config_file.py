"""A test world's config: TOML text built from its parts, parsed, or written where the CLI reads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from cloudroutes import config as config_mod
from cloudroutes import providers


def cluster_toml(*, provider: str, cluster: str, cidr: str, node_mask: int) -> str:
    """The top of every world's config; `cidr` is TOML (a quoted string or a list)."""
    return f'provider = "{provider}"\n[cluster]\nname = "{cluster}"\ncidr = {cidr}\nnode_mask = {node_mask}\n'


class ConfigFile:
    """Mixed into a world: `config_text(**overrides)` is the world's own; the rest follows from it."""

    PROVIDER: ClassVar[str]
    path: Any
    config_text: Callable[..., str]

    def config(self, **overrides: Any) -> config_mod.Config:
        return config_mod.from_text(self.config_text(**overrides))

    def write_config(self, **overrides: Any) -> str:
        target = self.path / "cloudroutes.toml"
        target.write_text(self.config_text(**overrides))
        return str(target)

    def provider(self, **overrides: Any) -> providers.Provider:
        return providers.create(self.PROVIDER, self.config(**overrides))
