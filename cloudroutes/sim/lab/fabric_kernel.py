"""Read and write the fabric namespace's lab routes and rules over netlink (pyroute2).

The lab's routes carry protocol ROUTE_PROTO in the main table and its rules sit in the priority
band [RULE_BASE, RULE_END), so reading them back gives exactly the state fabric.py reasons
about, and applying a diff touches nothing else (not the underlay's link routes).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from functools import partial
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from cloudroutes.sim.lab import names
from cloudroutes.sim.lab.fabric import FabricDiff, FabricRoute, FabricRule, FabricState, RuleAction

_MAIN = 254
_RTN_BLACKHOLE = 6
_FR_ACT_BLACKHOLE = 6


class KernelFabric:
    """A netlink socket in crlab-fab, opened once and reused by the daemon's sync loop."""

    def __init__(self, namespace: str = names.FABRIC_NS) -> None:
        # flags=0: never create the namespace (pyroute2's default would, were it gone);
        # groups=0: no event subscriptions, which a long-lived socket would only pile up unread.
        self._ipr = IPRoute(netns=namespace, flags=0, groups=0)

    def close(self) -> None:
        self._ipr.close()

    def read(self) -> FabricState:
        routes = frozenset(
            _route_from(msg)
            for msg in self._ipr.get_routes(family=socket.AF_INET, table=_MAIN)
            if msg["proto"] == names.ROUTE_PROTO
        )
        rules = frozenset(
            _rule_from(msg)
            for msg in self._ipr.get_rules(family=socket.AF_INET)
            if names.RULE_BASE <= (msg.get_attr("FRA_PRIORITY") or 0) < names.RULE_END
        )
        return FabricState(routes=routes, rules=rules)

    def apply(self, change: FabricDiff) -> list[str]:
        """Apply every step it can; return one line per step that failed (the next pass retries)."""
        # Old rules out before new ones in: a rule changed in place keeps its priority.
        steps: list[tuple[str, Callable[[], None]]] = [
            *((f"del rule {r}", partial(self._rule, "del", r)) for r in change.delete_rules),
            *((f"add rule {r}", partial(self._rule, "add", r)) for r in change.add_rules),
            *((f"del route {r}", partial(self._route, "del", r)) for r in change.delete_routes),
            *((f"replace route {r}", partial(self._route, "replace", r)) for r in change.set_routes),
        ]
        errors: list[str] = []
        for label, step in steps:
            try:
                step()
            except NetlinkError as exc:
                errors.append(f"{label}: {exc}")
        return errors

    def _route(self, verb: str, route: FabricRoute) -> None:
        spec: dict[str, Any] = {
            "dst": str(route.destination),
            "table": _MAIN,
            "proto": names.ROUTE_PROTO,
        }
        if verb != "del":
            spec.update({"gateway": str(route.gateway)} if route.gateway else {"type": "blackhole"})
        self._ipr.route(verb, **spec)

    def _rule(self, verb: str, rule: FabricRule) -> None:
        spec: dict[str, Any] = {"priority": rule.priority, "iifname": rule.iif}
        if rule.action is RuleAction.BLACKHOLE:
            spec["action"] = "FR_ACT_BLACKHOLE"
        else:
            spec["table"] = _MAIN
        if rule.source is not None:
            spec.update(src=str(rule.source), src_len=32)
        self._ipr.rule(verb, **spec)


def _route_from(msg: Any) -> FabricRoute:
    destination = IPv4Network(f"{msg.get_attr('RTA_DST') or '0.0.0.0'}/{msg['dst_len']}")
    gateway = msg.get_attr("RTA_GATEWAY")
    if msg["type"] == _RTN_BLACKHOLE or not gateway:
        return FabricRoute(destination=destination)
    return FabricRoute(destination=destination, gateway=IPv4Address(gateway))


def _rule_from(msg: Any) -> FabricRule:
    source = msg.get_attr("FRA_SRC")
    return FabricRule(
        priority=msg.get_attr("FRA_PRIORITY"),
        iif=msg.get_attr("FRA_IIFNAME") or "",
        action=RuleAction.BLACKHOLE if msg["action"] == _FR_ACT_BLACKHOLE else RuleAction.LOOKUP_MAIN,
        source=IPv4Address(source) if source and msg["src_len"] == 32 else None,
    )
