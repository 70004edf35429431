"""What the fabric (the VPC router namespace) should hold for a given cloud state, and the diff to get there.

Pure: no I/O. fabric_kernel.py reads and writes the kernel; this module only decides.

How AWS behaviour maps onto Linux routing in crlab-fab:
- a route whose target is a running instance (by InstanceId or by its NetworkInterfaceId) with
  the source/destination check off -> `dst via <instance address>`;
- a route whose target is stopped, terminated, unknown, or still has the check on -> `blackhole`
  (AWS shows such a route as blackhole, or delivers to an ENI that then drops the packet);
- no route -> nothing: the kernel answers "network unreachable";
- source/destination check on for VM i -> two rules on VM i's fabric link: packets from its own
  address look up the main table as usual; anything else it sends is dropped.

GCE arrives here already in those words (cloudview.view_from_gce): a route of the network with a
nextHopInstance is a route to that instance; canIpForward false is the check on (a VM that may not
forward neither receives nor sends for addresses not its own); GCE's stopped (TERMINATED) is
"stopped", and a deleted instance is no instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network

from cloudroutes.sim.lab import names
from cloudroutes.sim.lab.cloudview import CloudInstance, CloudRoute, CloudView
from cloudroutes.sim.lab.names import VmSpec

# Cloud routes into these are never copied: the underlay (VM to VM) must always work, and a
# fabric route for a VM's own /32 would replace the link route the lab depends on.
PROTECTED = (names.SUBNET_CIDR, IPv4Network("169.254.0.0/16"))


class RuleAction(StrEnum):
    LOOKUP_MAIN = "lookup-main"
    BLACKHOLE = "blackhole"


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricRoute:
    destination: IPv4Network
    gateway: IPv4Address | None = None  # None: blackhole


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricRule:
    priority: int
    iif: str
    action: RuleAction
    source: IPv4Address | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricState:
    routes: frozenset[FabricRoute] = frozenset()
    rules: frozenset[FabricRule] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricDiff:
    set_routes: tuple[FabricRoute, ...] = ()
    delete_routes: tuple[FabricRoute, ...] = ()
    add_rules: tuple[FabricRule, ...] = ()
    delete_rules: tuple[FabricRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.set_routes or self.delete_routes or self.add_rules or self.delete_rules)


def desired_fabric(view: CloudView, vms: Sequence[VmSpec]) -> FabricState:
    by_address = {vm.address: vm for vm in vms}
    routes = frozenset(
        FabricRoute(destination=route.destination, gateway=_next_hop(_target(route, view), by_address))
        for route in view.routes
        if (route.instance_id or route.eni_id) and not _protected(route.destination)
    )
    rules = frozenset(
        rule for vm in vms if _check_on(_instance_at(view, vm.address)) for rule in source_check_rules(vm)
    )
    return FabricState(routes=routes, rules=rules)


def source_check_rules(vm: VmSpec) -> tuple[FabricRule, FabricRule]:
    priority = names.RULE_BASE + 2 * vm.index
    return (
        FabricRule(priority=priority, iif=vm.fabric_link, source=vm.address, action=RuleAction.LOOKUP_MAIN),
        FabricRule(priority=priority + 1, iif=vm.fabric_link, action=RuleAction.BLACKHOLE),
    )


def diff(current: FabricState, desired: FabricState) -> FabricDiff:
    """Only what changed: a route is identified by its destination, so a changed target is one replace."""
    wanted = {route.destination for route in desired.routes}
    return FabricDiff(
        set_routes=_by_route(desired.routes - current.routes),
        delete_routes=_by_route(r for r in current.routes if r.destination not in wanted),
        add_rules=_by_rule(desired.rules - current.rules),
        delete_rules=_by_rule(current.rules - desired.rules),
    )


def _protected(destination: IPv4Network) -> bool:
    return any(destination.overlaps(net) for net in PROTECTED)


def _target(route: CloudRoute, view: CloudView) -> CloudInstance | None:
    for instance in view.instances:
        if route.instance_id == instance.instance_id or (route.eni_id and route.eni_id in instance.eni_ids):
            return instance
    return None


def _next_hop(target: CloudInstance | None, by_address: dict[IPv4Address, VmSpec]) -> IPv4Address | None:
    if target is None or target.state != "running" or target.source_dest_check:
        return None
    return target.private_ip if target.private_ip in by_address else None


def _instance_at(view: CloudView, address: IPv4Address) -> CloudInstance | None:
    alive = [i for i in view.instances if i.private_ip == address and i.state not in ("terminated", "shutting-down")]
    return alive[0] if alive else None


def _check_on(instance: CloudInstance | None) -> bool:
    # No instance behind a VM: nothing in the cloud says its traffic may pass, so keep the AWS default (on).
    return instance is None or instance.source_dest_check


def _by_route(routes: Iterable[FabricRoute]) -> tuple[FabricRoute, ...]:
    return tuple(sorted(routes, key=lambda r: (r.destination, str(r.gateway))))


def _by_rule(rules: Iterable[FabricRule]) -> tuple[FabricRule, ...]:
    return tuple(sorted(rules, key=lambda r: (r.priority, r.iif, str(r.source), r.action)))
