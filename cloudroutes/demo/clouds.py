"""The embedded clouds the demo runs against, each seeded with the same story's cast.

The product is pointed at them by values in its config (an endpoint, `emulator = true` for the
dummy credentials), built through the provider registry like any run: nothing in the process
environment changes, and nothing here names a provider class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cloudroutes import config as config_mod
from cloudroutes.demo.story import World
from cloudroutes.kubernetes import provider_for

if TYPE_CHECKING:
    from cloudroutes.sim.kube.cluster import NodeRegistry

AWS_CONFIG = """\
provider = "aws"
[cluster]
name = "demo"
cidr = "10.244.0.0/16"
[aws]
region = "{region}"
vpc_id = "{vpc_id}"
endpoint = "{endpoint}"
emulator = true
"""


def aws_world(nodes: int = 6, *, kubernetes: str = "off") -> World:
    """A VPC with two AZ route tables tagged for the cluster, foreign routes, six nodes (one multi-ENI);
    with `kubernetes` publish or adopt, a Node object per instance in an embedded Kubernetes API."""
    from cloudroutes.sim.ec2 import Ec2Sim, seed

    sim = Ec2Sim().start()
    ec2 = sim.client()
    seeded = seed.cluster(ec2, cluster="demo", nodes=nodes)
    nodes_api = _registry(kubernetes)
    if nodes_api is not None:
        nodes_api.register_ec2(ec2, seeded.instance_ids)
    text = AWS_CONFIG.format(vpc_id=seeded.vpc_id, region=sim.region, endpoint=sim.endpoint)
    text += nodes_api.config_text() if nodes_api else ""
    cfg = config_mod.from_text(text, source="demo")

    def churn() -> str:
        victim = seeded.instance_ids[0]
        ec2.terminate_instances(InstanceIds=[victim])
        born = seed.launch(ec2, seeded, 2)
        if nodes_api is not None:
            nodes_api.remove(victim)
            nodes_api.register_ec2(ec2, born)
        return f"Terminated {victim}; launched {', '.join(born)}."

    def foreign_intact() -> bool:
        tables = ec2.describe_route_tables(RouteTableIds=seeded.table_ids)["RouteTables"]
        present = {
            (r.get("DestinationCidrBlock"), r.get("GatewayId") or r.get("VpcPeeringConnectionId"))
            for t in tables
            for r in t["Routes"]
        }
        return all((dest, target) in present for dest, target in seeded.foreign.items())

    return World(
        config=cfg,
        config_text=text,
        provider=provider_for(cfg),
        churn=churn,
        foreign_intact=foreign_intact,
        stop=_stopping(sim.stop, nodes_api),
    )


GCE_CONFIG = """\
provider = "gce"
[cluster]
name = "demo"
cidr = "10.244.0.0/16"
[gce]
project = "demo-project"
network = "default"
fix_forwarding = true
endpoint = "{endpoint}"
emulator = true
"""


def gce_world(nodes: int = 6, *, kubernetes: str = "off") -> World:
    """Network 'default' with a subnet and the internet default route, nodes over two zones; with
    `kubernetes` publish or adopt, a Node object per instance in an embedded Kubernetes API."""
    from cloudroutes.sim.gce import ComputeSim, seed_demo

    sim = ComputeSim(project="demo-project", op_seconds=0.05).start()
    seed_demo(sim, nodes)
    nodes_api = _registry(kubernetes)
    if nodes_api is not None:
        nodes_api.register_compute(sim.project, sim.instances())
    text = GCE_CONFIG.format(endpoint=sim.endpoint) + (nodes_api.config_text() if nodes_api else "")
    cfg = config_mod.from_text(text, source="demo")
    born = iter(range(nodes + 1, nodes + 100))

    def churn() -> str:
        sim.delete_instance("us-central1-a", "node-1")
        names = [f"node-{next(born)}" for _ in range(2)]
        for name, zone in zip(names, ("us-central1-a", "us-central1-b"), strict=True):
            sim.add_instance(name, zone=zone, labels={"cloudroutes-cluster": "demo"})
        if nodes_api is not None:
            nodes_api.remove("node-1")
            nodes_api.register_compute(sim.project, [i for i in sim.instances() if i["name"] in names])
        return f"Deleted us-central1-a/node-1; created {', '.join(names)}."

    def foreign_intact() -> bool:
        return any(r["name"] == "default-route-internet" and r["destRange"] == "0.0.0.0/0" for r in sim.routes())

    return World(
        config=cfg,
        config_text=text,
        provider=provider_for(cfg),
        churn=churn,
        foreign_intact=foreign_intact,
        stop=_stopping(sim.stop, nodes_api),
    )


def _registry(mode: str) -> NodeRegistry | None:
    if mode == "off":
        return None
    from cloudroutes.sim.kube.cluster import NodeRegistry

    return NodeRegistry(mode)


def _stopping(stop_cloud: Callable[[], None], nodes_api: NodeRegistry | None) -> Callable[[], None]:
    def stop() -> None:
        stop_cloud()
        if nodes_api is not None:
            nodes_api.stop()

    return stop
