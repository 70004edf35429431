"""Kubernetes API calls for Node objects: credentials found as kubectl finds them, counted calls, a write budget.

lightkube (imported lazily: `cloudroutes --help` never loads it) reads the kubeconfig or the in-cluster
service account and builds the HTTP client with its TLS and authentication (tokens, token files that
rotate, client certificates, exec plugins). The three REST calls on top are ours: a list page, a get,
a patch. That keeps every page counted, the Status object and Retry-After of a failure in hand, and the
patch media type explicit, which the Node adapter's semantics rest on.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloudroutes import errors
from cloudroutes.providers.base import ApiError, api_error
from cloudroutes.providers.kube_errors import CONFIG_HINT, classify, from_response
from cloudroutes.ratelimit import TokenBucket

if TYPE_CHECKING:
    from lightkube.config.kubeconfig import KubeConfig, SingleConfig

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
NODES = "/api/v1/nodes"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
# Paths inside a kubeconfig that are relative to the file they are written in.
_RELATIVE = {"cluster": ("certificate-authority",), "user": ("client-certificate", "client-key", "tokenFile")}


def resolve(
    kubeconfig: str = "",
    context: str = "",
    *,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    service_account: Path = SERVICE_ACCOUNT,
) -> tuple[SingleConfig, str]:
    """kubectl's order: an explicit kubeconfig, then KUBECONFIG (files merged, first wins), then
    ~/.kube/config, then the in-cluster service account. Returns the config and where it came from."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    try:
        if kubeconfig:
            return _from_files([kubeconfig], context, "[kubernetes] kubeconfig")
        if env.get("KUBECONFIG"):
            return _from_files([p for p in env["KUBECONFIG"].split(os.pathsep) if p], context, "KUBECONFIG")
        if (home / ".kube" / "config").is_file():
            return _from_files([str(home / ".kube" / "config")], context, "~/.kube/config")
        if env.get("KUBERNETES_SERVICE_HOST") and (service_account / "token").is_file():
            return _in_cluster(env, service_account), "the in-cluster service account"
    except errors.ConfigError:
        raise
    except Exception as exc:  # a file that parses but is no kubeconfig: wrong types, missing keys
        what = " ".join(str(exc).split()) or type(exc).__name__
        raise errors.ConfigError(f"Kubernetes configuration: {what}; {CONFIG_HINT}") from exc
    raise errors.ConfigError(
        "no Kubernetes credentials: no kubeconfig (KUBECONFIG, ~/.kube/config) and not inside a cluster"
        f" (KUBERNETES_SERVICE_HOST and a service account token); {CONFIG_HINT}"
    )


def _from_files(paths: list[str], context: str, origin: str) -> tuple[SingleConfig, str]:
    from lightkube.config.kubeconfig import KubeConfig

    found = [Path(p).expanduser() for p in paths if Path(p).expanduser().is_file()]
    if not found:
        raise errors.ConfigError(f"kubeconfig {', '.join(paths)} not found (from {origin}); {CONFIG_HINT}")
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    for path in found:
        _merge(merged, _read(path), path.parent)
    config = KubeConfig.from_dict(merged, fname=found[0])
    where = f"{found[0]}" + (f" (+{len(found) - 1} more)" if len(found) > 1 else "")
    return _select(config, context, where), f"kubeconfig {where}"


def _read(path: Path) -> dict[str, Any]:
    import yaml

    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise errors.ConfigError(f"kubeconfig {path} is not valid YAML: {first}; {CONFIG_HINT}") from None
    if not isinstance(document, dict):
        raise errors.ConfigError(f"kubeconfig {path} holds no kubeconfig document; {CONFIG_HINT}")
    return document


def _merge(merged: dict[str, Any], document: dict[str, Any], base: Path) -> None:
    """kubectl's merge of several files: the first file to name a cluster, context or user wins."""
    for section, inner in (("clusters", "cluster"), ("contexts", "context"), ("users", "user")):
        taken = {entry["name"] for entry in merged[section]}
        for entry in document.get(section) or []:
            if isinstance(entry, dict) and entry.get("name") not in taken:
                body = dict(entry.get(inner) or {})
                for key in _RELATIVE.get(inner, ()):
                    if body.get(key) and not Path(body[key]).is_absolute():
                        body[key] = str(base / body[key])
                merged[section].append({"name": entry["name"], inner: body})
    if not merged.get("current-context") and document.get("current-context"):
        merged["current-context"] = document["current-context"]


def _select(config: KubeConfig, context: str, where: str) -> SingleConfig:
    from lightkube.config.models import User

    name = context or config.current_context
    if not name:
        raise errors.ConfigError(f"kubeconfig {where} has no current-context; set [kubernetes] context")
    if name not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none"
        raise errors.ConfigError(f"context {name!r} is not in kubeconfig {where} (contexts: {known})")
    ctx = config.contexts[name]
    if ctx.cluster not in config.clusters:
        raise errors.ConfigError(f"context {name!r} names cluster {ctx.cluster!r}, which kubeconfig {where} lacks")
    if ctx.user and ctx.user not in config.users:
        raise errors.ConfigError(f"context {name!r} names user {ctx.user!r}, which kubeconfig {where} lacks")
    single = config.get(context_name=name)
    if single is None:  # get() returns None only when given a default, which it is not
        raise errors.ConfigError(f"context {name!r} is not usable in kubeconfig {where}")
    if single.user is None:  # a context without a user: anonymous, as kubectl treats it
        single = single._replace(user=User())
    return single


def _in_cluster(env: Mapping[str, str], account: Path) -> SingleConfig:
    """What client-go's rest.InClusterConfig builds: https to the service host, the account's CA, and
    its token read from the file (re-read when a 401 says it rotated)."""
    from lightkube.config.kubeconfig import KubeConfig
    from lightkube.config.models import Cluster, User

    host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    cluster = Cluster(server=f"https://{host}:{port}", certificate_auth=str(account / "ca.crt"))
    config = KubeConfig.from_one(
        cluster=cluster, user=User(token_file=str(account / "token")), context_name="in-cluster"
    )
    return _select(config, "", "in-cluster")


def _operation(method: str, path: str) -> str:
    """nodes.list, nodes.get, nodes.patch, nodes.patchStatus: the name a call is counted under."""
    rest = path.removeprefix(NODES).strip("/").split("/")
    if rest == [""]:
        return "nodes.list" if method == "GET" else f"nodes.{method.lower()}"
    verb = {"GET": "get", "PATCH": "patch"}.get(method, method.lower())
    return f"nodes.{verb}Status" if rest[1:] == ["status"] else f"nodes.{verb}"


class KubeApi:
    """One HTTP client to one API server. Every PATCH first takes a token from the write bucket."""

    def __init__(self, config: SingleConfig, *, writes: TokenBucket, source: str = "", timeout: float = 10.0) -> None:
        import httpx2
        from lightkube.config.client_adapter import Client, ConnectionParams

        self.source = source
        self.calls: Counter[str] = Counter()
        self.errors: Counter[ApiError] = Counter()
        self._lock = threading.Lock()
        self._writes = writes
        try:
            self._http = Client(config, ConnectionParams(timeout=httpx2.Timeout(timeout)))
        except Exception as exc:
            raise classify(exc) from exc
        # Counted as sent, so a request an auth plugin repeats after a 401 counts twice, as it should.
        self._http.event_hooks = {"request": [self._count]}

    def _count(self, request: Any) -> None:
        with self._lock:
            self.calls[_operation(request.method, request.url.path)] += 1

    def _failed(self, method: str, path: str, error: BaseException) -> None:
        with self._lock:
            self.errors[api_error(_operation(method, path), error)] += 1

    def close(self) -> None:
        self._http.close()

    def list_page(self, *, limit: int, token: str = "", selector: str = "") -> dict[str, Any]:
        params = {"limit": str(limit)}
        if token:
            params["continue"] = token
        if selector:
            params["labelSelector"] = selector
        return self._send("GET", NODES, params=params)

    def get(self, name: str) -> dict[str, Any]:
        return self._send("GET", f"{NODES}/{name}")

    def patch(self, name: str, body: Mapping[str, Any], *, media_type: str, status: bool = False) -> dict[str, Any]:
        self._writes.take()
        path = f"{NODES}/{name}" + ("/status" if status else "")
        return self._send("PATCH", path, content=json.dumps(body).encode(), media_type=media_type)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        media_type: str = "",
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "User-Agent": "cloudroutes"}
        if media_type:
            headers["Content-Type"] = media_type
        try:
            response = self._http.request(method, path, params=params, content=content, headers=headers)
        except Exception as exc:
            error = classify(exc)
            self._failed(method, path, error)
            raise error from exc
        if response.status_code >= 400:
            refused = from_response(response.status_code, response.content, response.headers)
            self._failed(method, path, refused)
            raise refused
        try:
            payload = response.json()
        except ValueError as exc:
            raise errors.Transient(f"the Kubernetes API answered {method} {path} with no JSON") from exc
        if not isinstance(payload, dict):
            raise errors.Transient(f"the Kubernetes API answered {method} {path} with no JSON object")
        return payload
