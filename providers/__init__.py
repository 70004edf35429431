"""Cloud adapters behind one small contract, found by name and imported on first use.

The registry holds dotted paths, not classes, so `cloudroutes --help` never pays for a cloud
SDK import (google.cloud.compute_v1 alone costs over a second).
"""

from __future__ import annotations

import importlib
from typing import Any

from cloudroutes.providers.base import Provider

__all__ = ["REGISTRY", "Provider", "create"]

REGISTRY: dict[str, str] = {
    "aws": "cloudroutes.providers.aws:AwsProvider",
    "gce": "cloudroutes.providers.gce:GceProvider",
}


def create(name: str, config: Any) -> Provider:
    try:
        path = REGISTRY[name.lower()]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    module_name, _, class_name = path.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    provider: Provider = cls(config)
    return provider
