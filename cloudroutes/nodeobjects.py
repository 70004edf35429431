"""Kubernetes Node objects beside the cloud's ledger: who decides the subnets, and what the Nodes are told.

Pure: no I/O. In `publish` mode the cloud's ledger decides (ipam, as without Kubernetes) and each
Node is told its podCIDRs once: the API server lets them change only from empty, so a Node that
holds others is a conflict, reported, and its VM's routes are left as they are. In `adopt` mode
the Nodes' podCIDRs (kube-controller-manager's node IPAM) are the assignment, and the VMs'
records and routes follow. Either way a Node's NetworkUnavailable condition says whether every
route of its VM is in place, as the Kubernetes route controller writes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from cloudroutes.errors import PreflightError
from cloudroutes.model import (
    Action,
    ActionKind,
    Assignment,
    Cluster,
    IPNetwork,
    KubeMode,
    NodeName,
    NodeObject,
    Observed,
    Problem,
    ProblemKind,
)

ROUTE_WRITES = (ActionKind.CREATE, ActionKind.REPLACE)


def preflight(observed: Observed, cluster: Cluster, mode: KubeMode) -> None:
    """adopt: a podCIDR outside the cluster range, or not of the node mask's size, is refused
    before anything is written: routing it would route what the cluster does not own."""
    if mode is not KubeMode.ADOPT:
        return
    for node in observed.node_objects:
        for cidr in node.pod_cidrs:
            pool = next((c for c in cluster.cidrs if c.version == cidr.version), None)
            if pool is None or not cidr.subnet_of(pool):  # type: ignore[arg-type]  # same family
                raise PreflightError(f"Node {node.name}: podCIDR {cidr} lies outside cluster.cidr")
            if cidr.prefixlen != cluster.mask_for(pool):
                raise PreflightError(
                    f"Node {node.name}: podCIDR {cidr} is not a /{cluster.mask_for(pool)} (the cluster's node mask)"
                )


def adopted(observed: Observed) -> tuple[Assignment, list[Problem]]:
    """The Nodes' podCIDRs as the assignment. Two Nodes holding one podCIDR: neither is routed."""
    holders: dict[IPNetwork, list[NodeObject]] = defaultdict(list)
    for node in observed.node_objects:
        for cidr in node.pod_cidrs:
            holders[cidr].append(node)
    shared = {cidr: nodes for cidr, nodes in holders.items() if len(nodes) > 1}
    refused = {n.name for nodes in shared.values() for n in nodes}
    live = {n.name for n in observed.nodes}
    subnets: dict[NodeName, tuple[IPNetwork, ...]] = {n.name: () for n in observed.nodes}
    for node in observed.node_objects:
        if node.vm is not None and node.vm in live and node.name not in refused:
            subnets[node.vm] = node.pod_cidrs
    problems = [
        Problem(
            kind=ProblemKind.PODCIDR_CONFLICT,
            message=f"Nodes {', '.join(sorted(n.name for n in nodes))} all hold podCIDR {cidr}: none of them is routed",
        )
        for cidr, nodes in sorted(shared.items(), key=lambda item: str(item[0]))
    ]
    return Assignment(subnets=subnets), problems


def reconcile(
    observed: Observed, assignment: Assignment, actions: Sequence[Action], mode: KubeMode
) -> tuple[list[Action], list[Problem]]:
    """The plan's actions with the Nodes' own added (publish, mark), and what the Nodes show wrong."""
    if mode is KubeMode.OFF:
        return list(actions), []
    by_vm = {n.vm: n for n in observed.node_objects if n.vm is not None}
    problems = _unmatched(observed, assignment, mode)
    if mode is KubeMode.ADOPT:
        problems += adopted(observed)[1]
    frozen: set[NodeName] = set()
    added: list[Action] = []
    if mode is KubeMode.PUBLISH:
        publishes, held, frozen = _publish(observed, assignment, by_vm)
        added += publishes
        problems += held
    kept = [a for a in actions if a.node not in frozen]
    added += _marks(observed, assignment, kept, by_vm, frozen, mode)
    return [*kept, *added], problems


def _publish(
    observed: Observed, assignment: Assignment, by_vm: dict[NodeName, NodeObject]
) -> tuple[list[Action], list[Problem], set[NodeName]]:
    actions, problems, frozen = [], [], set()
    for vm in observed.nodes:
        node, subnets = by_vm.get(vm.name), assignment.subnets.get(vm.name, ())
        if node is None or not subnets or set(node.pod_cidrs) == set(subnets):
            continue
        if not node.pod_cidrs:
            actions.append(_on(node, ActionKind.PUBLISH, "tell the Node its podCIDR", subnets=subnets))
            continue
        frozen.add(vm.name)
        held, wanted = ", ".join(map(str, node.pod_cidrs)), ", ".join(map(str, subnets))
        problems.append(
            Problem(
                kind=ProblemKind.PODCIDR_CONFLICT,
                message=f"Node {node.name} holds podCIDR {held}, but its VM {vm.name} holds {wanted}: "
                "a podCIDR never changes once set, so both are left as they are and the VM's routes too",
            )
        )
    return actions, problems, frozen


def _marks(
    observed: Observed,
    assignment: Assignment,
    actions: Sequence[Action],
    by_vm: dict[NodeName, NodeObject],
    frozen: set[NodeName],
    mode: KubeMode,
) -> list[Action]:
    """NetworkUnavailable: False once every route of the VM is in place (after the plan's route
    writes for it, if any), True while one is missing. A conflicted Node is never marked routed."""
    pending = {(a.table, a.destination) for a in actions if a.kind in ROUTE_WRITES}
    marks = []
    for vm, node in by_vm.items():
        subnets = assignment.subnets.get(vm, ())
        if vm in frozen or not subnets or (mode is KubeMode.ADOPT and set(node.pod_cidrs) != set(subnets)):
            continue
        needed = {(t.key, s) for t in observed.tables for s in subnets}
        present = {(t.key, r.destination) for t in observed.tables for r in t.routes if r.node == vm and r.exact}
        coming = (needed - present) & pending
        if needed - present - coming:
            if node.routed is not False:
                marks.append(_on(node, ActionKind.MARK_UNROUTED, "a route of the node is missing"))
            continue
        if coming and node.routed:
            marks.append(_on(node, ActionKind.MARK_UNROUTED, "a route of the node is being repaired"))
        if coming or node.routed is not True:
            marks.append(_on(node, ActionKind.MARK_ROUTED, "every route of the node is in place"))
    return marks


def _unmatched(observed: Observed, assignment: Assignment, mode: KubeMode) -> list[Problem]:
    """Normal during scale-up, so reported and never blocking: the others converge."""
    with_node = {n.vm for n in observed.node_objects}
    problems = [_note(f"Node {n.name} runs on no VM of this cluster") for n in observed.node_objects if n.vm is None]
    problems += [_note(f"VM {vm.name} has no Node object yet") for vm in observed.nodes if vm.name not in with_node]
    if mode is KubeMode.ADOPT:
        problems += [
            _note(f"Node {n.name} has no podCIDR yet: its VM is routed once it has one")
            for n in observed.node_objects
            if n.vm is not None and not n.pod_cidrs
        ]
    return problems


def _note(message: str) -> Problem:
    return Problem(kind=ProblemKind.UNMATCHED, message=message, blocking=False)


def _on(node: NodeObject, kind: ActionKind, reason: str, *, subnets: Iterable[IPNetwork] = ()) -> Action:
    return Action(kind=kind, node=node.vm, subnets=tuple(subnets), ref=node.name, node_ref=node.ref, reason=reason)
