"""moto's in-process EC2 state, found by region: the lookups the rules, the read lag and the sim share.

The sim always runs moto in this process, so it may read moto's objects directly. Never here: a rule,
an answer or a change to moto's state; only finding things, with EC2's NotFound error when they are
missing.
"""

from __future__ import annotations

from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends

from cloudroutes.sim.ec2.errors import Ec2Error


def backend(region: str) -> Any:
    return ec2_backends[DEFAULT_ACCOUNT_ID][region]


def table(region: str, table_id: str) -> Any:
    found = backend(region).route_tables.get(table_id)
    if found is None:
        raise Ec2Error("InvalidRouteTableID.NotFound", f"The routeTable ID '{table_id}' does not exist")
    return found


def instance(region: str, instance_id: str) -> Any:
    for reservation in backend(region).reservations.values():
        for candidate in reservation.instances:
            if candidate.id == instance_id:
                return candidate
    raise Ec2Error("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")


def interface_owner(region: str, interface_id: str) -> str | None:
    """The instance an interface is attached to, if any."""
    eni = backend(region).enis.get(interface_id)
    return eni.instance.id if eni is not None and eni.instance is not None else None
