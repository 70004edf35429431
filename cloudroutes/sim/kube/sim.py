"""`KubeSim`: the embedded Kubernetes API server's public face.

One object owns the store, the fault switches, the call log and the HTTP server. Test-side methods
change the store directly and take the same lock the server takes.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cloudroutes.sim import loopback
from cloudroutes.sim.kube import errors, kubeconfig, patch, validation
from cloudroutes.sim.kube.calls import Call, CallLog
from cloudroutes.sim.kube.faults import Fault, Faults, Race
from cloudroutes.sim.kube.server import Dispatcher, serve
from cloudroutes.sim.kube.store import Store, Validator, timestamp

DEFAULT_TOKEN = "cloudroutes-emulator-token"
DEFAULT_CONTEXT = "cloudroutes-emulator"


class KubeSim(loopback.Served, loopback.LoggedCalls[Call]):
    def __init__(
        self,
        *,
        validator: Validator | None = None,
        token: str | None = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        history: int = 1000,
    ) -> None:
        """`validator(obj) -> problems` checks every object stored or answered (tests pass one built
        from the Node schema). `token`: the bearer token every request must carry (None: no auth).
        `history`: revisions kept for `continue` tokens; older ones answer 410 Expired."""
        self._store = Store(validator=validator, history=history)
        self._faults = Faults()
        self._calls = CallLog()
        self._token = token
        self._host, self._port = host, port

    def _serve(self) -> loopback.HttpServer:
        return serve(Dispatcher(self._store, self._faults, self._calls, self._token), self._host, self._port)

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        *,
        context: str = DEFAULT_CONTEXT,
        token: str | None = None,
        server: str | None = None,
    ) -> str:
        """A kubeconfig whose current context reaches this emulator; `token` overrides the right one
        (a test of a rejected credential), `server` the endpoint (a relay to it, as the lab's VMs reach
        it). Returns the path written."""
        return kubeconfig.write(path, server=server or self.endpoint, token=token or self._token, context=context)

    # --- seeding ----------------------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        provider_id: str,
        *,
        labels: Mapping[str, str] | None = None,
        pod_cidrs: Sequence[str] = (),
        addresses: Iterable[tuple[str, str]] = (),
        conditions: Iterable[Mapping[str, str]] = (),
    ) -> dict[str, Any]:
        """A Node as a kubelet registers it: Ready, the default labels, the providerID. `conditions`
        are added after Ready as given (fields other than lastHeartbeatTime/lastTransitionTime)."""
        now = timestamp()
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        extra = [{"lastHeartbeatTime": now, "lastTransitionTime": now, **c} for c in conditions]
        body: dict[str, Any] = {
            "metadata": {"labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})}},
            "spec": {"providerID": provider_id, **({"podCIDRs": list(pod_cidrs)} if pod_cidrs else {})},
            "status": {
                "conditions": [ready, *extra],
                "addresses": [{"type": t, "address": a} for t, a in addresses]
                or [{"type": "Hostname", "address": name}],
            },
        }
        with self._store.lock:
            if name in self._store.nodes:
                raise ValueError(f"node {name} already exists")
            validation.normalize_pod_cidrs(body)
            named = {**body, "metadata": {**body["metadata"], "name": name}}
            if causes := validation.validate_node(named):
                raise ValueError(f"invalid node {name}: {'; '.join(map(str, causes))}")
            return copy.deepcopy(self._store.new_node(name, body))

    def delete_node(self, name: str) -> None:
        with self._store.lock:
            try:
                self._store.delete(name)
            except errors.ApiError:
                raise KeyError(name) from None

    def patch_node(self, name: str, change: Mapping[str, Any]) -> dict[str, Any]:
        """Another client's merge patch (kube-controller-manager assigning a podCIDR, a CNI setting a
        condition), applied now with the API server's rules; returns the stored Node."""
        with self._store.lock:
            old = self._store.get(name)
            new = patch.merge_patch(old, dict(change))
            validation.normalize_pod_cidrs(new)
            if causes := validation.validate_node_update(new, old):
                raise ValueError(f"invalid change to node {name}: {'; '.join(map(str, causes))}")
            return copy.deepcopy(self._store.put(new))

    # --- faults -----------------------------------------------------------------------------------

    def fail_next(
        self,
        verb: str,
        status: int,
        *,
        subresource: str | None = None,
        message: str = "",
        retry_after: int | None = None,
    ) -> None:
        """Make the next `verb` call ("list", "get", "patch") answer `status` once, with the Status the
        real server sends for it (a 429 carries Retry-After). `subresource`: "status" or "" to aim at
        one of the two, None for whichever comes first."""
        self._faults.add(
            Fault(verb=verb, subresource=subresource, code=status, message=message, retry_after=retry_after)
        )

    def race_next_write(self, name: str, change: Mapping[str, Any] | None = None) -> None:
        """Just before the next write to `name` lands, another client's merge patch lands first (by
        default an annotation), so a write that names the resourceVersion it read gets 409 Conflict."""
        default = {"metadata": {"annotations": {"emulator.cloudroutes/raced": "true"}}}
        self._faults.add_race(Race(name, copy.deepcopy(dict(change or default))))

    # --- observation ------------------------------------------------------------------------------

    def nodes(self) -> list[dict[str, Any]]:
        """Every Node as the server holds it, sorted by name."""
        with self._store.lock:
            return [copy.deepcopy(n) for _, n in sorted(self._store.nodes.items())]

    def node(self, name: str) -> dict[str, Any]:
        with self._store.lock:
            try:
                return copy.deepcopy(self._store.get(name))
            except errors.ApiError:
                raise KeyError(name) from None

    @property
    def resource_version(self) -> str:
        """The store's current revision, as a list's metadata.resourceVersion reports it."""
        with self._store.lock:
            return str(self._store.revision)

    @property
    def schema_failures(self) -> list[str]:
        """Objects the emulator stored or answered that failed the validator: each is an emulator bug."""
        with self._store.lock:
            return list(self._store.schema_failures)
