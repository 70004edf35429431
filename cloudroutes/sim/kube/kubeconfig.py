"""A kubeconfig that points a standard client at the emulator.

Written as JSON, which is YAML too (YAML 1.2 is a superset of JSON), so kubectl, client-go, lightkube
and the official Python client all read it, and the emulator needs no YAML library.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def document(*, server: str, token: str | None, context: str) -> dict[str, Any]:
    user: dict[str, Any] = {"token": token} if token is not None else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "preferences": {},
    }


def write(path: str | os.PathLike[str], *, server: str, token: str | None, context: str) -> str:
    """Write it owner-only (it holds a bearer token, as kubectl's own files do) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(document(server=server, token=token, context=context), out, indent=2)
        out.write("\n")
    return str(target)
