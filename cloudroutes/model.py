"""The values the engine reasons about: what the cloud holds, and what should change.

Pure data, no I/O and no cloud SDK. Providers translate cloud objects (ENI ids, self links,
route names) into these values and back; the engine never sees a cloud id except as an
opaque `ref` it hands back unread.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import NewType

NodeName = NewType("NodeName", str)
"""A VM as the engine knows it: the AWS instance id, the GCE instance name."""

TableKey = NewType("TableKey", str)
"""A place routes live: an AWS route table id, a GCE network name."""

IPNetwork = IPv4Network | IPv6Network
IPAddress = IPv4Address | IPv6Address


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """Who we are and what we carve: every decision of the engine is made against this."""

    name: str = field(metadata={"example": "prod-eu"})
    """Marks what is ours in the cloud (table tags, route names and descriptions)."""
    # The config key is `cluster.cidr` (one range, or a list for dual-stack): metadata tells config.py.
    cidrs: tuple[IPNetwork, ...] = field(metadata={"key": "cidr", "one_or_many": True, "example": "10.244.0.0/16"})
    """At most one range per family."""
    node_mask: int = 24
    node_mask_v6: int = 64
    reserved: tuple[IPNetwork, ...] = ()
    """Inside the cluster ranges, never handed out (a service range, a peered network)."""

    def mask_for(self, cidr: IPNetwork) -> int:
        return self.node_mask if cidr.version == 4 else self.node_mask_v6


class NodeState(enum.StrEnum):
    RUNNING = "running"
    PENDING = "pending"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    name: NodeName
    state: NodeState
    launched_at: datetime
    """Tie-break when two nodes claim one subnet: the earlier launch keeps it."""
    address: IPAddress | None = None
    forwarding: bool
    """AWS: source/destination check off on the primary interface; GCE: canIpForward."""
    recorded: tuple[IPNetwork, ...] = ()
    """Subnets recorded on the VM (tag or label): the ledger a node reads at boot."""
    display: str = ""
    """A human name (the Name tag), only for reports."""
    ref: str = ""
    """The provider's handle for this VM (AWS: its primary interface; GCE: zone, name and label
    fingerprint), copied into every action that targets the node; opaque to the engine."""


class Target(enum.StrEnum):
    """Who a route's VM is when it is not a node of this cluster (Route.node is None): the provider
    looks the VM up, because a live VM that is not our node may be someone else's next hop."""

    GONE = "gone"
    """No such VM any more (terminated, deleted): the route delivers nowhere."""
    DEPARTED = "departed"
    """A live VM that records a subnet but is no longer selected as a node: it left this cluster."""
    UNRECORDED = "unrecorded"
    """A live VM that never held a subnet (a firewall, a NAT instance): someone else's next hop."""
    OTHER_CLUSTER = "other-cluster"
    """A live VM of another cluster (Route.target_cluster names it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    table: TableKey
    destination: IPNetwork
    node: NodeName | None
    """The node the route delivers to, or None when the target is not a live node."""
    to_vm: bool
    """The target is a VM or its interface (not a gateway, peering, NAT, VPN, TGW, ...)."""
    target: Target = Target.GONE
    """When `node` is None and `to_vm`: what the VM is. Read only then."""
    target_cluster: str = ""
    """For Target.OTHER_CLUSTER: the name of the cluster the VM belongs to."""
    marked: bool = True
    """Carries this cluster's marker (GCE: name prefix and description; AWS: managed table)."""
    exact: bool = True
    """Points at the node's canonical next hop (AWS: its primary interface); False means re-point."""
    blackhole: bool = False
    hop: str = ""
    """The target as the cloud names it, only for reports."""
    ref: str = ""
    """The provider's handle for this route (e.g. a GCE route name); opaque to the engine."""
    counted: bool = True
    """Counts toward the table's route quota (AWS: not the local or propagated routes)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    key: TableKey
    routes: tuple[Route, ...] = ()
    limit: int | None = None
    """How many counted routes the table may hold in all (the route quota); None: unknown."""
    quota_hint: str = ""
    """Which quota to raise when capacity runs out, in the cloud's own words."""
    per_family: bool = False
    """The limit counts IPv4 and IPv6 routes each on their own (AWS), not together (GCE)."""


class KubeMode(enum.StrEnum):
    OFF = "off"
    PUBLISH = "publish"
    """cloudroutes assigns; each Node object is told its podCIDR (once: the API server keeps it)."""
    ADOPT = "adopt"
    """The Node objects' podCIDRs (kube-controller-manager's node IPAM) are the assignment."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeObject:
    """A Kubernetes Node, as the engine sees it: a second ledger beside the cloud's."""

    name: str
    vm: NodeName | None
    """The VM it runs on, from spec.providerID; None when it names none of this cloud's VMs."""
    pod_cidrs: tuple[IPNetwork, ...] = ()
    routed: bool | None = None
    """Its NetworkUnavailable condition as the route controller writes it: True for RouteCreated,
    False for NoRouteCreated, None when no route controller wrote it."""
    ref: str = ""
    """The ledger's handle for this Node (its resourceVersion among others); opaque to the engine."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """One consistent snapshot of the cloud: the only read of a pass."""

    nodes: tuple[Node, ...]
    tables: tuple[Table, ...]
    occupied: tuple[IPNetwork, ...] = ()
    """Ranges the network itself uses (VPC CIDRs, subnet ranges): pod subnets must avoid them."""
    node_objects: tuple[NodeObject, ...] = ()
    """Kubernetes Node objects, when [kubernetes] mode is not off."""
    api_calls: dict[str, int] = field(default_factory=dict, compare=False)
    """Calls the observation cost, by operation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    """The outcome of ipam: which subnets each node should hold."""

    subnets: dict[NodeName, tuple[IPNetwork, ...]]
    left_out: tuple[NodeName, ...] = ()
    """Nodes that got no subnet in some family because the range is exhausted."""
    moved: tuple[NodeName, ...] = ()
    """Nodes whose claim lost a conflict and were given a new block."""


class ActionKind(enum.StrEnum):
    CLAIM = "claim"
    UNCLAIM = "unclaim"
    ENABLE_FORWARDING = "enable-forwarding"
    CREATE = "create"
    REPLACE = "replace"
    DELETE = "delete"
    PUBLISH = "publish"
    """Tell a Node object its podCIDRs (spec.podCIDR, spec.podCIDRs)."""
    MARK_ROUTED = "mark-routed"
    """NetworkUnavailable False, reason RouteCreated: every route of the node is in place."""
    MARK_UNROUTED = "mark-unrouted"
    """NetworkUnavailable True, reason NoRouteCreated: a route of the node is missing."""


ACTION_ORDER = (
    ActionKind.ENABLE_FORWARDING,
    ActionKind.CLAIM,
    ActionKind.PUBLISH,
    ActionKind.MARK_UNROUTED,
    ActionKind.DELETE,
    ActionKind.REPLACE,
    ActionKind.CREATE,
    ActionKind.MARK_ROUTED,
    ActionKind.UNCLAIM,
)
NODE_OBJECT_KINDS = frozenset({ActionKind.PUBLISH, ActionKind.MARK_ROUTED, ActionKind.MARK_UNROUTED})
"""Actions on Kubernetes Node objects, not on the cloud."""
"""The order a plan lists its actions in, which is also their causal order on one node: a
node's forwarding and claim come before its routes, deletes before creates, unclaims last.
The executor keeps that order per node and per destination, not as phases across the cluster."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    kind: ActionKind
    node: NodeName | None = None
    table: TableKey | None = None
    destination: IPNetwork | None = None
    subnets: tuple[IPNetwork, ...] = ()
    """For claim: every subnet the node holds (one tag write per node, all families at once)."""
    previous: tuple[IPNetwork, ...] = ()
    """For claim: what the VM recorded before, so a family dropped from the cluster loses its record."""
    ref: str = ""
    """The handle of what the action changes when it is not the VM: a route's (delete, replace), a
    Node object's name (publish, mark); opaque to the engine."""
    node_ref: str = ""
    """The target node's provider handle (Node.ref): the action carries what the provider needs."""
    reason: str = ""

    def describe(self) -> str:
        target = self.destination or ", ".join(map(str, self.subnets)) or ""
        where = f" in {self.table}" if self.table else f" on Node {self.ref}" if self.kind in NODE_OBJECT_KINDS else ""
        who = f" -> {self.node}" if self.node else ""
        return f"{self.kind} {target}{who}{where}".replace("  ", " ").strip()


class ProblemKind(enum.StrEnum):
    EXHAUSTED = "exhausted"
    QUOTA = "quota"
    FORWARDING_OFF = "forwarding-off"
    FOREIGN = "foreign"
    PODCIDR_CONFLICT = "podcidr-conflict"
    """A Node object holds other podCIDRs than its VM's, or two Nodes hold one: not routed, exit 1."""
    UNMATCHED = "unmatched"
    """A Node with no VM, a VM with no Node, a Node with no podCIDR yet: reported, exit 0."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    kind: ProblemKind
    message: str
    blocking: bool = True
    """A blocking problem keeps the run from converging (exit 1); foreign routes only inform."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    actions: tuple[Action, ...]
    problems: tuple[Problem, ...] = ()
    owned_routes: int = 0
    """Routes of ours before the plan: the base of the blast-radius guard."""

    @property
    def empty(self) -> bool:
        return not self.actions

    @property
    def blocked(self) -> bool:
        return any(p.blocking for p in self.problems)

    def count(self, kind: ActionKind) -> int:
        return sum(1 for a in self.actions if a.kind is kind)


class Outcome(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    CONFLICT = "conflict"
    """Someone else changed the cloud under us: the engine observes and plans again."""
    SKIPPED = "skipped"
    """Not attempted because an action it depends on failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResult:
    action: Action
    outcome: Outcome
    error_kind: str = ""
    error: str = ""
    attempts: int = 1
    elapsed_s: float = 0.0
