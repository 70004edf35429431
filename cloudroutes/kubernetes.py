"""The cloud and the Kubernetes Node objects behind one Provider face.

DESIGN's promise: with Kubernetes the engine sees one more observed source (`Observed.node_objects`)
and a few more action kinds (publish, mark-routed, mark-unrouted), nothing else. This wrapper keeps
it: observe() is the cloud's snapshot plus one paginated list of Nodes; a Node action goes to the
Node ledger, every other action to the cloud. A Node is matched to its VM by spec.providerID, in
the cloud's own scheme (the provider declares it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from ipaddress import ip_network

from cloudroutes import providers, retrying
from cloudroutes.config import Config
from cloudroutes.errors import Invalid
from cloudroutes.model import NODE_OBJECT_KINDS, Action, ActionKind, KubeMode, NodeName, NodeObject, Observed
from cloudroutes.providers.base import ApiError, Budget, Capabilities, Pending, Provider, Settled
from cloudroutes.providers.kube import WRITE_BURST, WRITE_RATE, KubeNode, NodeCondition, NodeLedger, instance_of

NODE_WRITES = Budget(family="kubernetes", burst=WRITE_BURST, rate=WRITE_RATE)
"""client-go's default client-side limit: a controller's fair share of the API server."""


class WithNodeObjects:
    def __init__(self, cloud: Provider, ledger: NodeLedger, *, policy: retrying.RetryPolicy | None = None) -> None:
        self._cloud = cloud
        self._ledger = ledger
        self._policy = policy or retrying.RetryPolicy()
        budgets = dict(cloud.capabilities.write_budgets) | dict.fromkeys(NODE_OBJECT_KINDS, NODE_WRITES)
        self._capabilities = replace(cloud.capabilities, write_budgets=budgets)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def api_calls(self) -> Mapping[str, int]:
        return {**self._cloud.api_calls, **{f"kubernetes.{op}": n for op, n in self._ledger.api_calls.items()}}

    @property
    def api_errors(self) -> Mapping[ApiError, int]:
        ours = {e._replace(operation=f"kubernetes.{e.operation}"): n for e, n in self._ledger.api_errors.items()}
        return {**self._cloud.api_errors, **ours}

    def observe(self) -> Observed:
        observed = self._cloud.observe()
        before = dict(self._ledger.api_calls)
        nodes = retrying.call(self._ledger.list_nodes, self._policy)
        vms = {n.name for n in observed.nodes}
        objects = tuple(_object(node, self._capabilities.provider_id, vms) for node in nodes)
        spent = {f"kubernetes.{op}": n - before.get(op, 0) for op, n in self._ledger.api_calls.items()}
        calls = {**observed.api_calls, **{op: n for op, n in spent.items() if n}}
        return replace(observed, node_objects=objects, api_calls=calls)

    def execute(self, action: Action) -> Pending | None:
        if action.kind not in NODE_OBJECT_KINDS:
            return self._cloud.execute(action)
        node = _kube_node(action)
        match action.kind:
            case ActionKind.PUBLISH:
                self._ledger.publish_pod_cidrs(node, action.subnets)
            case ActionKind.MARK_ROUTED:
                self._ledger.set_network_unavailable(node, False)
            case ActionKind.MARK_UNROUTED:
                self._ledger.set_network_unavailable(node, True)
        return None

    def settle(self, pending: Sequence[Pending]) -> Sequence[Settled]:
        return self._cloud.settle(pending)


def _object(node: KubeNode, scheme: str, vms: set[NodeName]) -> NodeObject:
    found = instance_of(node.provider_id)
    vm = NodeName(found[2]) if found and found[0] == scheme and found[2] in vms else None
    condition = node.network_unavailable
    routed = None
    if condition is not None and condition.reason in ("RouteCreated", "NoRouteCreated"):
        routed = condition.status == "False"
    return NodeObject(name=node.name, vm=vm, pod_cidrs=node.pod_cidrs, routed=routed, ref=_ref(node))


def _ref(node: KubeNode) -> str:
    """What a write to the Node needs back: the adapter's own value, as JSON the engine never reads."""
    condition = node.network_unavailable
    doc = {
        "name": node.name,
        "providerID": node.provider_id,
        "podCIDRs": [str(c) for c in node.pod_cidrs],
        "resourceVersion": node.resource_version,
        "condition": None if condition is None else {"status": condition.status, "reason": condition.reason},
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _kube_node(action: Action) -> KubeNode:
    try:
        doc = json.loads(action.node_ref)
        condition = doc.get("condition")
        return KubeNode(
            name=doc["name"],
            provider_id=doc.get("providerID", ""),
            pod_cidrs=tuple(ip_network(c) for c in doc.get("podCIDRs", [])),
            network_unavailable=None if not condition else NodeCondition(**condition),
            resource_version=doc.get("resourceVersion", ""),
        )
    except (ValueError, KeyError, TypeError):
        raise Invalid(f"{action.describe()}: no usable Node reference") from None


def provider_for(config: Config) -> Provider:
    """The cloud's provider, by name through the registry; with [kubernetes] on, joined by the Nodes."""
    cloud = providers.create(config.provider, config)
    if config.kubernetes.kube_mode is KubeMode.OFF:
        return cloud
    return WithNodeObjects(cloud, providers.ledger(config.kubernetes))
