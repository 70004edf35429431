"""The AWS route rules moto lacks: each a small function that answers with EC2's error or lets the request by.

moto answers the EC2 API faithfully in shape but skips rules that matter for routes: no routes-per-table
limit, no VPC-CIDR overlap check, destinations stored verbatim, InstanceId targets accepted on
multi-interface instances, a duplicate NetworkInterfaceId route silently overwrites, routes never turn
`blackhole` nor name the instance of their interface, and instance and primary-interface source/dest
checks drift apart. `checks()` says which rules guard which action; `after()` is what EC2 does beside
moto once a write succeeded.

Never here: faults, throttling, the call log or HTTP (sim.py, buckets.py, calls.py, server.py), and
nothing of the cloudroutes engine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from moto.ec2.models.route_tables import Route as MotoRoute

from cloudroutes.sim.ec2.backend import backend, instance, table
from cloudroutes.sim.ec2.errors import Ec2Error

Params = dict[str, str]
Check = Callable[[str, Params], None]


def checks(route_limit: int) -> dict[str, list[Check]]:
    """The rules each action must pass before moto sees it, in order."""
    return {
        "CreateRoute": [
            canonical_destination,
            single_interface_target,
            no_vpc_overlap,
            destination_free,
            within_route_limit(route_limit),
        ],
        "ReplaceRoute": [canonical_destination, single_interface_target, no_vpc_overlap],
        "DeleteRoute": [canonical_destination],
        "ModifyInstanceAttribute": [single_interface_attribute],
    }


def after(region: str, action: str, params: Params) -> None:
    """What EC2 does beside moto once a write succeeded."""
    if action in ("ModifyInstanceAttribute", "ModifyNetworkInterfaceAttribute"):
        mirror_source_dest_check(region, params)


def canonical_destination(region: str, params: Params) -> None:
    """AWS stores 100.68.0.18/18 as 100.68.0.0/18; moto stores it verbatim and later crashes on it."""
    for key in ("DestinationCidrBlock", "DestinationIpv6CidrBlock"):
        if key in params:
            try:
                params[key] = str(ipaddress.ip_network(params[key], strict=False))
            except ValueError:
                raise Ec2Error(
                    "InvalidParameterValue", f"Value ({params[key]}) for parameter {key} is invalid."
                ) from None


def _destination(params: Params) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    text = params.get("DestinationCidrBlock") or params.get("DestinationIpv6CidrBlock")
    return ipaddress.ip_network(text) if text else None


def _table(region: str, params: Params) -> Any:
    return table(region, params.get("RouteTableId", ""))


def no_vpc_overlap(region: str, params: Params) -> None:
    """AWS rejects a route that is equal to or more specific than one of the VPC's CIDRs."""
    dest = _destination(params)
    if dest is None:
        return
    vpc = backend(region).vpcs.get(_table(region, params).vpc_id)
    associations = [*vpc.cidr_block_association_set, *vpc.ipv6_cidr_block_association_set] if vpc else []
    blocks = [a["cidr_block"] for a in associations]
    for block in blocks:
        net = ipaddress.ip_network(block, strict=False)
        if net.version == dest.version and dest.subnet_of(net):  # type: ignore[arg-type]
            raise Ec2Error(
                "InvalidParameterValue",
                f"The destination CIDR block {dest} is equal to or more specific than one of this VPC's CIDR blocks. "
                "This route can target only an interface or an instance.",
            )


def destination_free(region: str, params: Params) -> None:
    """One route per destination per table, whatever the target (moto overwrites ENI routes)."""
    dest = _destination(params)
    for route in _table(region, params).routes:
        existing = route.destination_cidr_block or route.destination_ipv6_cidr_block
        if dest is not None and existing and ipaddress.ip_network(existing, strict=False) == dest:
            raise Ec2Error("RouteAlreadyExists", f"The route identified by {dest} already exists.")


def within_route_limit(limit: int) -> Check:
    def check(region: str, params: Params) -> None:
        dest = _destination(params)
        if dest is None:
            return
        # Enforced separately per family; the local route does not count.
        same_family = [
            r
            for r in _table(region, params).routes
            if not r.local and bool(r.destination_ipv6_cidr_block) == (dest.version == 6)
        ]
        if len(same_family) >= limit:
            raise Ec2Error("RouteLimitExceeded", f"The maximum number of routes has been reached ({limit}).")

    return check


def single_interface_target(region: str, params: Params) -> None:
    """An InstanceId target works only on an instance with exactly one network interface."""
    instance_id = params.get("InstanceId")
    if not instance_id:
        return
    if len(instance(region, instance_id).nics) > 1:
        raise Ec2Error(
            "InvalidInstanceID",
            f"There are multiple interfaces attached to instance '{instance_id}'. "
            "Please specify an interface ID for the operation instead.",
        )


def single_interface_attribute(region: str, params: Params) -> None:
    if "SourceDestCheck.Value" in params:
        single_interface_target(region, params)


def mirror_source_dest_check(region: str, params: Params) -> None:
    """Keep the instance flag and its primary interface's flag in step, as EC2 does."""
    value = params.get("SourceDestCheck.Value")
    if value is None:
        return
    flag = value.lower() == "true"
    if "InstanceId" in params:
        nic = instance(region, params["InstanceId"]).nics.get(0)
        if nic is not None:
            nic.source_dest_check = flag
    elif "NetworkInterfaceId" in params:
        eni = backend(region).enis.get(params["NetworkInterfaceId"])
        if eni is not None and eni.instance is not None and eni.instance.nics.get(0) is eni:
            eni.instance.source_dest_check = str(flag).lower()


def route_state(route: MotoRoute) -> str:
    """`blackhole` when the target is gone or not running, as EC2 reports it."""
    target = route.instance
    if route.interface is not None:
        if route.interface.id not in route.route_table.ec2_backend.enis:
            return "blackhole"
        target = route.interface.instance
        if target is None:
            return "blackhole"
    if target is not None and target.state != "running":
        return "blackhole"
    return "active"


def route_instance_id(route: MotoRoute) -> str | None:
    """EC2 names the instance of an attached interface beside it in a route (moto names only the
    interface): hashicorp/terraform-provider-aws#14197."""
    if route.instance is not None:
        return str(route.instance.id)
    interface = route.interface
    if interface is None or interface.id not in route.route_table.ec2_backend.enis or interface.instance is None:
        return None
    return str(interface.instance.id)


def install_route_state() -> None:
    """moto hard-codes `active` and leaves out an interface's instance; the sim owns moto in this
    process, so it may teach it better."""
    MotoRoute.state = property(route_state)
    MotoRoute.instance_id = property(route_instance_id)
