"""Benchmarks: `make bench`. Prints a markdown table; BENCHMARKS.md records a run.

Everything runs against the embedded EC2 cloud on loopback, with AWS's own mutating-call token
bucket (burst 50, 5/s) switched on in the sim where the write rate is the point, so the numbers
show what a real account's limit does to each strategy. Wall times are this machine's; call
counts are deterministic.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network

from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from cloudroutes import config as config_mod
from cloudroutes import engine, planner, providers
from cloudroutes.model import Node, NodeName, NodeState, Observed, Table, TableKey
from cloudroutes.sim.ec2 import Ec2Sim, seed

AWS_BUCKET = (50, 5.0)


def cluster_config(vpc_id: str, limits: str = "") -> config_mod.Config:
    text = (
        f'provider = "aws"\n[cluster]\nname = "bench"\ncidr = "10.244.0.0/16"\n'
        f'[aws]\nregion = "us-east-1"\nvpc_id = "{vpc_id}"\n[limits]\n{limits}'
    )
    return config_mod.from_text(text)


def seeded(nodes: int, *, bucket: tuple[int, float] | None, azs: int = 1) -> tuple[Ec2Sim, seed.Seed]:
    sim = Ec2Sim(route_limit=1000).start()
    os.environ.update(sim.env())
    vpc = seed.vpc(sim.client(), cluster="bench", azs=azs)
    seed.launch(sim.client(), vpc, nodes)
    sim.reset_calls()
    sim.set_write_bucket(bucket)
    return sim, vpc


def converge(nodes: int, limits: str, label: str, azs: int = 1) -> dict[str, object]:
    sim, vpc = seeded(nodes, bucket=AWS_BUCKET, azs=azs)
    cfg = cluster_config(vpc.vpc_id, limits)
    provider = providers.create("aws", cfg)
    started = time.monotonic()
    report = engine.apply(provider, cfg, engine.make_plan(provider, cfg))
    elapsed = time.monotonic() - started
    throttled = sum(1 for c in sim.writes() if c.status == 503)
    row = {
        "scenario": label,
        "nodes": nodes,
        "tables": azs,
        "converged": report.converged,
        "seconds": round(elapsed, 1),
        "write calls sent": len(sim.writes()),
        "throttled (503)": throttled,
    }
    sim.stop()
    return row


def kubernetes_style(nodes: int) -> dict[str, object]:
    """The Kubernetes AWS cloud provider's call pattern per route (anchors-k8s.md §3), re-created:
    DescribeInstances + ModifyInstanceAttribute + DescribeRouteTables (all tables) + CreateRoute,
    up to 200 in flight, no client-side rate limit, failures left to the next 10 s pass."""
    import boto3

    sim, vpc = seeded(nodes, bucket=AWS_BUCKET)
    ec2 = boto3.client(
        "ec2",
        endpoint_url=sim.endpoint,
        region_name=sim.region,
        aws_access_key_id="sim",
        aws_secret_access_key="sim",
        config=BotoConfig(retries={"mode": "standard"}, max_pool_connections=200),
    )
    ids = vpc.instance_ids
    pending = {iid: f"10.244.{n}.0/24" for n, iid in enumerate(ids)}
    started, passes = time.monotonic(), 0

    def one(iid: str) -> bool:
        try:
            ec2.describe_instances(InstanceIds=[iid])
            ec2.modify_instance_attribute(InstanceId=iid, SourceDestCheck={"Value": False})
            ec2.describe_route_tables()
            ec2.create_route(RouteTableId=vpc.table_ids[0], DestinationCidrBlock=pending[iid], InstanceId=iid)
            return True
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "RouteAlreadyExists"

    while pending and passes < 30:
        passes += 1
        with ThreadPoolExecutor(max_workers=200) as pool:
            done = dict(zip(list(pending), pool.map(one, list(pending)), strict=True))
        pending = {iid: cidr for iid, cidr in pending.items() if not done[iid]}
        if pending:
            time.sleep(10)  # the route controller's reconcile period
    row = {
        "scenario": "Kubernetes AWS provider call pattern (re-created)",
        "nodes": nodes,
        "tables": 1,
        "converged": not pending,
        "seconds": round(time.monotonic() - started, 1),
        "write calls sent": len(sim.writes()),
        "throttled (503)": sum(1 for c in sim.writes() if c.status == 503),
    }
    sim.stop()
    return row


def gce_converge(nodes: int, concurrency: int, op_seconds: float, poll_rate: float = 5.0) -> dict[str, object]:
    """GCE writes are operations that take time: waiting on them concurrently is what pipelines them."""
    from cloudroutes import providers
    from cloudroutes.sim.gce import ComputeSim, seed_demo

    sim = ComputeSim(project="bench", op_seconds=op_seconds).start()
    seed_demo(sim, nodes)
    cfg = config_mod.from_text(
        f'provider = "gce"\n[cluster]\nname = "demo"\ncidr = "10.244.0.0/16"\n'
        f'[gce]\nproject = "bench"\nfix_forwarding = true\nendpoint = "{sim.endpoint}"\n'
        f"op_poll_rate = {poll_rate}\nop_poll_burst = {int(poll_rate)}\n[limits]\nconcurrency = {concurrency}\n"
    )
    provider = providers.create("gce", cfg)
    started = time.monotonic()
    report = engine.apply(provider, cfg, engine.make_plan(provider, cfg))
    row = {
        "nodes": nodes,
        "operation time": f"{op_seconds} s",
        "concurrency": concurrency,
        "op waits/s": poll_rate,
        "converged": report.converged,
        "seconds": round(time.monotonic() - started, 1),
        "writes": len(sim.writes()),
        "operation waits": sum(n for op, n in report.api_calls.items() if op.endswith("Operations.wait")),
    }
    sim.stop()
    return row


def reads_per_pass(nodes: int) -> dict[str, object]:
    sim, vpc = seeded(nodes, bucket=None, azs=2)
    # Setting the cluster up is not what is measured here: no client-side write limit for it.
    cfg = cluster_config(vpc.vpc_id, "write_burst = 100000\nwrite_rate = 100000.0\n")
    provider = providers.create("aws", cfg)
    engine.apply(provider, cfg, engine.make_plan(provider, cfg))
    sim.reset_calls()
    started = time.monotonic()
    planned = engine.make_plan(provider, cfg)
    row = {
        "nodes": nodes,
        "read calls": len(sim.calls),
        "write calls": len(sim.writes()),
        "plan empty": planned.plan.empty,
        "seconds": round(time.monotonic() - started, 2),
    }
    sim.stop()
    return row


def pure_plan(nodes: int, cidr: str, mask: int) -> dict[str, object]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    observed = Observed(
        nodes=tuple(
            Node(
                name=NodeName(f"n{i:05d}"),
                state=NodeState.RUNNING,
                launched_at=base + timedelta(seconds=i),
                forwarding=True,
            )
            for i in range(nodes)
        ),
        tables=(Table(key=TableKey("t1")), Table(key=TableKey("t2"))),
    )
    key = "node_mask" if ip_network(cidr).version == 4 else "node_mask_v6"
    cfg = config_mod.from_text(f'provider = "aws"\n[cluster]\nname = "b"\ncidr = "{cidr}"\n{key} = {mask}\n')
    started = time.monotonic()
    plan = planner.plan(observed, planner.assign(observed, cfg.cluster), cfg.cluster)
    return {
        "nodes": nodes,
        "cluster": f"{cidr} /{mask}",
        "actions": len(plan.actions),
        "seconds": round(time.monotonic() - started, 2),
    }


def table(rows: list[dict[str, object]]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="skip the slow write-rate scenarios")
    args = parser.parse_args()
    import logging

    logging.getLogger("cloudroutes").setLevel(logging.ERROR)
    print("## Reads per pass (two AZ tables, converged cluster)\n")
    print(table([reads_per_pass(n) for n in (10, 100, 400)]))
    print("\n## Pure assign + plan (no I/O)\n")
    print(table([pure_plan(5000, "10.0.0.0/8", 24), pure_plan(5000, "fd00::/32", 64)]))
    if args.quick:
        return
    n = args.nodes
    print(
        f"\n## Converging {n} new nodes against EC2's own buckets (mutating 50, 5/s; CreateTags 100, 10/s; "
        "ModifyNetworkInterfaceAttribute 100, 5/s)\n"
    )
    unlimited = "write_burst = 100000\nwrite_rate = 100000.0\nbackoff_max = 2.0"
    rows = [
        converge(n, "", "cloudroutes (default client buckets)"),
        converge(n, "", "cloudroutes (default client buckets)", azs=2),
        converge(n, unlimited, "cloudroutes, client route bucket off", azs=2),
        kubernetes_style(n),
    ]
    print(table(rows))
    print("\n## GCE: converging 20 nodes whose every write is a 0.5 s operation\n")
    print(table([gce_converge(20, 16, 0.5), gce_converge(20, 16, 0.5, poll_rate=20.0), gce_converge(20, 1, 0.5)]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
