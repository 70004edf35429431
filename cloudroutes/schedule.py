"""What each action of a plan waits for: an order kept per node and per destination, not in phases.

Pure: no I/O. A phase barrier across the cluster (all forwarding, then all claims, then all routes)
costs a whole phase's latency for nothing, because clouds meter those writes apart. The safety
order that matters is local:

- A node's route writes wait until its claim has *landed* (the cloud accepted the tag or label
  write); if the claim failed, they are skipped, so a VM's ledger never trails the route table.
  They do not wait for a label *operation* to end on GCE: the route's name, derived from its
  destination, is already the compare-and-swap between racing runs, and a label write that
  fails after being accepted leaves a route to a node that records nothing, which the next
  pass adopts as that node's subnet (routes decide only for a node with no record). Waiting
  would cost a second operation latency per node and buy no safety.
- Writes the provider lists in `node_write_order` wait for the one before to have *finished*
  (GCE: the instance PUT that turns forwarding on, before the label write that changes the
  fingerprint the PUT is guarded by).
- A create or re-point of a destination waits for a delete of that destination in that table to
  have finished, so a subnet that moves is free before it is taken again.
- An unclaim waits for every delete and re-point to have finished: a record goes last.
- A Node object is told its podCIDR once its VM's claim has landed, and marked routed
  (NetworkUnavailable False) only once every route write for its VM has *succeeded*, after any
  mark-unrouted of the same Node: the condition never runs ahead of the routes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from cloudroutes.model import Action, ActionKind, IPNetwork, NodeName, TableKey

ROUTE_WRITES = (ActionKind.CREATE, ActionKind.REPLACE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    action: Action
    after_finished: tuple[int, ...] = ()
    """Indices of steps that must have ended (well or badly) before this one starts."""
    after_landed: tuple[int, ...] = ()
    """Indices of steps the cloud must have accepted first; if one failed, this step is skipped."""
    after_done: tuple[int, ...] = ()
    """Indices of steps that must have ended well first; if one did not, this step is skipped."""


def steps(actions: Sequence[Action], node_write_order: Sequence[ActionKind] = ()) -> tuple[Step, ...]:
    by_node: dict[tuple[NodeName | None, ActionKind], list[int]] = defaultdict(list)
    deletes: dict[tuple[TableKey | None, IPNetwork | None], list[int]] = defaultdict(list)
    for index, action in enumerate(actions):
        by_node[(action.node, action.kind)].append(index)
        if action.kind is ActionKind.DELETE:
            deletes[(action.table, action.destination)].append(index)
    route_changes = [i for i, a in enumerate(actions) if a.kind in (ActionKind.DELETE, ActionKind.REPLACE)]
    built = []
    for action in actions:
        finished: list[int] = []
        landed: list[int] = []
        done: list[int] = []
        if action.kind in node_write_order:
            earlier = node_write_order[: list(node_write_order).index(action.kind)]
            finished += [i for kind in earlier for i in by_node.get((action.node, kind), [])]
        if action.kind in ROUTE_WRITES:
            landed += by_node.get((action.node, ActionKind.CLAIM), [])
            finished += deletes.get((action.table, action.destination), [])
        if action.kind is ActionKind.UNCLAIM:
            finished += route_changes
        if action.kind is ActionKind.PUBLISH:
            landed += by_node.get((action.node, ActionKind.CLAIM), [])
        if action.kind is ActionKind.MARK_ROUTED:
            done += [i for kind in ROUTE_WRITES for i in by_node.get((action.node, kind), [])]
            finished += by_node.get((action.node, ActionKind.MARK_UNROUTED), [])
        built.append(
            Step(
                action=action,
                after_finished=tuple(sorted(finished)),
                after_landed=tuple(sorted(landed)),
                after_done=tuple(sorted(done)),
            )
        )
    return tuple(built)
