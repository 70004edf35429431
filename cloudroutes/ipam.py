"""Subnet assignment: cluster ranges + what nodes already hold -> one block per node per family.

Pure: no I/O, no clock. A node keeps the block recorded on its VM (the tag or label it read at
boot to configure its bridge); a route decides only for a node with no record yet (adopting a
cluster another tool built). Two nodes recording one block (a race) settle on the one the route
points at, then on the earlier launch. New nodes get the lowest free blocks. Free blocks are found
by sweeping the sorted taken intervals, never by enumerating the range, so a /32 of IPv6 carved
into /64s costs no more than a /16 of IPv4.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from ipaddress import ip_network

from cloudroutes.model import Assignment, IPNetwork, Node, NodeName


class Evidence(enum.IntEnum):
    """How strongly a node holds a block; lower wins.

    The record is what the node's bridge carries, so while the node lives it decides: a route
    bent by hand at another node is drift to repair in place, never a reason to move two live
    nodes' subnets. A route still breaks a tie between two records of one block, since the
    cloud's uniqueness on the route is the compare-and-swap two racing runs went through."""

    ROUTED_RECORD = 0
    """Recorded on the VM and routed to it (derived by `assign` from a RECORD and a ROUTE claim)."""
    RECORD = 1
    ROUTE = 2
    """Counts only for a node that records no block of that family."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    node: NodeName
    subnet: IPNetwork
    evidence: Evidence


@dataclass(frozen=True, slots=True, kw_only=True)
class Pool:
    """One family's range to carve, and what inside it is never handed out."""

    cidr: IPNetwork
    mask: int
    blocked: tuple[IPNetwork, ...] = ()
    deferred: tuple[IPNetwork, ...] = ()
    """Blocks still routed to a dead target: handed out only when nothing else is free, so a
    freed subnet normally rests for a pass (its route is deleted, not re-pointed at a stranger)."""

    def capacity(self) -> int:
        """Blocks the range holds before exclusions (the cidrset's 2^(mask - prefix))."""
        return 1 << (self.mask - self.cidr.prefixlen)

    def admits(self, subnet: IPNetwork) -> bool:
        return (
            subnet.version == self.cidr.version
            and subnet.prefixlen == self.mask
            and subnet.subnet_of(self.cidr)  # type: ignore[arg-type]  # same family, checked above
            and not any(subnet.overlaps(b) for b in self.blocked if b.version == subnet.version)
        )


def assign(*, nodes: Sequence[Node], claims: Iterable[Claim], pools: Sequence[Pool]) -> Assignment:
    by_name = {node.name: node for node in nodes}
    claims = [c for c in claims if c.node in by_name]
    subnets: dict[NodeName, list[IPNetwork]] = {node.name: [] for node in nodes}
    left_out: set[NodeName] = set()
    moved: set[NodeName] = set()
    for pool in pools:
        kept = _settle_claims(_weigh([c for c in claims if pool.admits(c.subnet)]), by_name)
        claimants = {c.node for c in claims if c.subnet.version == pool.cidr.version}
        newcomers = sorted((n for n in nodes if n.name not in kept), key=_seniority)
        free = free_blocks(pool, taken=kept.values())
        for node in newcomers:
            block = next(free, None)
            if block is None:
                left_out.add(node.name)
                continue
            kept[node.name] = block
            if node.name in claimants:
                moved.add(node.name)
        for name, block in kept.items():
            subnets[name].append(block)
    return Assignment(
        subnets={name: tuple(blocks) for name, blocks in subnets.items()},
        left_out=tuple(sorted(left_out)),
        moved=tuple(sorted(moved)),
    )


def _seniority(node: Node) -> tuple[object, ...]:
    return (node.launched_at, node.name)


def _weigh(claims: list[Claim]) -> list[Claim]:
    """A record backed by a route outranks a bare record; a route speaks only for a node without one."""
    routed = {(c.node, c.subnet) for c in claims if c.evidence is Evidence.ROUTE}
    recorders = {c.node for c in claims if c.evidence is not Evidence.ROUTE}
    weighed = []
    for claim in claims:
        if claim.evidence is Evidence.ROUTE:
            if claim.node not in recorders:
                weighed.append(claim)
        elif (claim.node, claim.subnet) in routed:
            weighed.append(Claim(node=claim.node, subnet=claim.subnet, evidence=Evidence.ROUTED_RECORD))
        else:
            weighed.append(claim)
    return weighed


def _settle_claims(claims: list[Claim], nodes: dict[NodeName, Node]) -> dict[NodeName, IPNetwork]:
    """Each block to one node, each node to one block: strongest evidence, then seniority."""
    ranked = sorted(claims, key=lambda c: (c.evidence, _seniority(nodes[c.node]), int(c.subnet.network_address)))
    holder: dict[IPNetwork, NodeName] = {}
    kept: dict[NodeName, IPNetwork] = {}
    for claim in ranked:
        if claim.subnet in holder or claim.node in kept:
            continue
        holder[claim.subnet] = claim.node
        kept[claim.node] = claim.subnet
    return kept


def free_blocks(pool: Pool, *, taken: Iterable[IPNetwork] = ()) -> Iterator[IPNetwork]:
    """Free blocks, lowest first; the node-sized blocks of deferred ranges come last, when still free."""
    taken = tuple(taken)
    yield from _sweep(pool, (*pool.blocked, *pool.deferred, *taken))
    seen: set[IPNetwork] = set()
    for block in sorted(
        (b for d in pool.deferred for b in _node_blocks(d, pool)), key=lambda b: int(b.network_address)
    ):
        if block in seen or not pool.admits(block):
            continue
        seen.add(block)
        if not any(block.overlaps(t) for t in taken if t.version == block.version):
            yield block


def _node_blocks(stale: IPNetwork, pool: Pool) -> Iterator[IPNetwork]:
    """The node-sized blocks a stale range touches: it may be older than the current node mask."""
    if stale.version != pool.cidr.version or not stale.overlaps(pool.cidr):
        return
    if stale.prefixlen >= pool.mask:
        yield stale.supernet(new_prefix=pool.mask)
    elif (
        pool.mask - stale.prefixlen <= 16
    ):  # a wider stale range: its blocks, but never an enumeration of a /32 of IPv6
        yield from stale.subnets(new_prefix=pool.mask)


def _sweep(pool: Pool, taken: Iterable[IPNetwork]) -> Iterator[IPNetwork]:
    """Free aligned blocks of the pool, lowest first, computed lazily from sorted intervals."""
    size = 1 << (pool.cidr.max_prefixlen - pool.mask)
    start = int(pool.cidr.network_address)
    end = start + pool.cidr.num_addresses
    intervals = sorted(
        (int(net.network_address), int(net.broadcast_address) + 1)
        for net in taken
        if net.version == pool.cidr.version and net.overlaps(pool.cidr)
    )
    cursor = start
    for low, high in (*intervals, (end, end)):
        while cursor + size <= min(low, end):
            yield ip_network((cursor, pool.mask))
            cursor += size
        cursor = max(cursor, start + -(-(high - start) // size) * size)
