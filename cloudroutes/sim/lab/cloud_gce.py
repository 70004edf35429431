"""The lab's GCE cloud: start the embedded Compute Engine, seed the lab's network, read back what the fabric follows.

The same VMs as on AWS (vm1.. at 10.0.1.11..), as instances of one zone in the "default" network,
labelled as the product selects its nodes, with canIpForward off, as GCE creates them by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloudroutes.sim.lab import names
from cloudroutes.sim.lab.cloudview import CloudView, view_from_gce
from cloudroutes.sim.lab.names import VmSpec

SUBNETWORK = "lab"


def seed(sim: Any, vms: Sequence[VmSpec]) -> tuple[str, ...]:
    """Network, subnet, one instance per VM; returns each VM's instance id (zone/name)."""
    sim.add_network(names.GCE_NETWORK)
    sim.add_subnetwork(names.GCE_NETWORK, region=names.GCE_REGION, name=SUBNETWORK, cidr=str(names.SUBNET_CIDR))
    label, cluster = names.GCE_CLUSTER_LABEL
    for vm in vms:
        sim.add_instance(
            vm.name,
            zone=names.GCE_ZONE,
            network=names.GCE_NETWORK,
            ip=str(vm.address),
            labels={label: cluster},
            can_ip_forward=False,
        )
    return tuple(f"{names.GCE_ZONE}/{vm.name}" for vm in vms)


class ComputeLabCloud:
    """The embedded Compute Engine emulator, read in-process: a look costs no HTTP call."""

    def __init__(self, vms: Sequence[VmSpec]) -> None:
        from cloudroutes.sim.gce import ComputeSim

        self._sim = ComputeSim(project=names.GCE_PROJECT).start()
        try:
            self._instance_ids = seed(self._sim, vms)
        except BaseException:
            self._sim.stop()
            raise

    @property
    def endpoint(self) -> str:
        return str(self._sim.endpoint)

    def observe(self) -> CloudView:
        view = view_from_gce(self._sim.routes(), self._sim.instances(), names.GCE_NETWORK)
        # The emulator logs every HTTP call (the product's and the VMs'); the lab never reads the log.
        self._sim.reset_calls()
        return view

    def lab_fields(self) -> dict[str, str]:
        return {
            "provider": "gce",
            "project": names.GCE_PROJECT,
            "network": names.GCE_NETWORK,
            "region": names.GCE_REGION,
        }

    def vm_ids(self) -> tuple[tuple[str, str], ...]:
        return tuple((instance_id, "") for instance_id in self._instance_ids)

    def node_ids(self) -> tuple[tuple[str, str], ...]:
        # On GCE a Node is named like its instance; the instance id here is zone/name.
        return tuple(
            (name, f"gce://{names.GCE_PROJECT}/{zone}/{name}")
            for zone, name in (i.split("/", 1) for i in self._instance_ids)
        )

    def stop(self) -> None:
        self._sim.stop()
