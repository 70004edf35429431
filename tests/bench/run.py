"""Benchmarks: `make bench`. Prints markdown tables; BENCHMARKS.md records a run with its date and machine.

Everything runs against the embedded clouds on loopback with the real clouds' limits switched on
(tests/bench/aws.py, gce.py say which), side by side with re-creations of the Kubernetes
controllers' call patterns and a serial script, and with the floor the cloud's published limits
allow (floors.py). Wall times are this machine's; call counts are deterministic. Benchmarks are
never timed tests: `make test` asserts call counts and convergence, never seconds.

    python tests/bench/run.py                 # everything but the slowest rows (see --full)
    python tests/bench/run.py --only gce      # one cloud
    python tests/bench/run.py --quick         # reads per pass and the pure core only
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from cloudroutes import config as config_mod
from cloudroutes import planner
from cloudroutes.model import Node, NodeName, NodeState, Observed, Table, TableKey
from tests.bench import aws, floors, gce

Row = dict[str, object]


def pure_plan(nodes: int, cidr: str, mask: int) -> Row:
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


def table(rows: list[Row]) -> str:
    head = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r.get(h, "")) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def section(title: str, rows: list[Callable[[], Row]]) -> None:
    print(f"\n## {title}\n", flush=True)
    done = []
    for make in rows:
        done.append(make())
        print(f"  ... {done[-1]}", file=sys.stderr, flush=True)
    print(table(done), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["aws", "gce"])
    parser.add_argument("--quick", action="store_true", help="reads per pass and the pure core only")
    parser.add_argument("--full", action="store_true", help="also the slowest rows (AWS 1,000 nodes, serial loops)")
    args = parser.parse_args()
    for noisy in ("cloudroutes", "werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    clouds = [args.only] if args.only else ["aws", "gce"]
    print(f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; `python tests/bench/run.py{' --full' if args.full else ''}`")
    section(
        "Reads per pass (a converged cluster, observed once more)",
        [*(lambda n=n: aws.reads_per_pass(n) for n in (10, 100, 1000) if "aws" in clouds),
         *(lambda n=n: gce.reads_per_pass(n) for n in (10, 100, 1000) if "gce" in clouds)],
    )  # fmt: skip
    section(
        "Pure assign + plan (no I/O)",
        [lambda: pure_plan(5000, "10.0.0.0/8", 24), lambda: pure_plan(5000, "fd00::/32", 64)],
    )
    if args.quick:
        return
    if "aws" in clouds:
        for n in (50, 200, *((1000,) if args.full else ())):
            rows: list[Callable[[], Row]] = [lambda n=n: aws.floor_row(n), lambda n=n: aws.cloudroutes(n)]
            if n <= 200:
                rows += [lambda n=n: aws.kubernetes(n), lambda n=n: aws.serial(n)]
            section(f"AWS: {n} new nodes, 2 route tables, EC2's buckets, reads 30 ms, writes 60 ms", rows)
        section(
            "AWS: a noisy neighbour spends half the mutating bucket's refill (2.5/s) during the converge",
            [lambda: aws.floor_row(200), lambda: aws.cloudroutes(200, neighbour=2.5)],
        )
    if "gce" in clouds:
        for operation_s in (4.0, 15.0):
            for n in (50, 100, 250):
                rows = [lambda n=n, s=operation_s: _gce_floor(n, s), lambda n=n, s=operation_s: gce.cloudroutes(n, s)]
                rows += [lambda n=n, s=operation_s: gce.kubernetes(n, s)]
                if args.full and n == 50 and operation_s == 4.0:
                    rows += [lambda n=n, s=operation_s: gce.serial(n, s)]
                section(f"GCE: {n} new nodes, operations of {operation_s:g} s", rows)


def _gce_floor(nodes: int, operation_s: float) -> Row:
    return {
        "strategy": "floor (per-minute write quota, then one operation)",
        "nodes": nodes,
        "operation": f"{operation_s:g} s",
        "seconds": round(floors.gce(2 * nodes, operation_s=operation_s), 1),
        "x floor": 1.0,
        "writes": 2 * nodes,
    }


if __name__ == "__main__":
    main()
