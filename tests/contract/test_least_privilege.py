"""Least privilege, shipped and enforced, on every cloud.

The shipped AWS policy (terraform-examples/aws/iam-policy.json) and GCE custom role
(terraform-examples/gce/cloudroutes-role.yaml) are all the engine gets: the EC2 sim in IAM mode (a
user with only that policy, its own access key), the Compute emulator in permission mode. A converge
under exactly that converges; without any one part of it the run stops naming the permission it
lacked (exit 1), and a rerun with the part restored finishes the job.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from . import aws_cloud, gce_cloud
from .clouds import Cloud, assert_routed

Cli = Callable[..., Any]
DENIED = re.compile(r"^(?:error: )?permission denied: (\S+)$", re.M)
"""The line a refusal prints: alone on its line, the permission last."""

GRANTS = [pytest.param("aws", sid, id=f"aws-{sid}") for sid in aws_cloud.statements()] + [
    pytest.param("gce", permission, id=f"gce-{permission}") for permission in gce_cloud.role_permissions()
]


def world_needing_every_grant(cloud: Cloud) -> tuple[list[str], str]:
    """New nodes (claims, forwarding, routes), a route of ours bent to the wrong node (replace) and one
    to a VM that is gone (delete): one converge needs every write the shipped grants allow."""
    nodes = cloud.add_nodes(3)
    gone = cloud.add_nodes(1)[0]
    cloud.add_route("10.244.9.0/24", to=gone)
    cloud.terminate(gone)
    cloud.record(nodes[0], "10.244.5.0/24")
    cloud.add_route("10.244.5.0/24", to=nodes[1])
    cloud.exercise_every_grant()
    return nodes, cloud.write_config()


def test_a_converge_under_exactly_the_shipped_grants_converges_and_destroys(cloud: Cloud, cli: Cli) -> None:
    nodes, config = world_needing_every_grant(cloud)
    env = cloud.restrict()
    cloud.reset_calls()

    applied = cli("apply", "-c", config, "--yes", **env)

    assert applied.exit_code == 0, applied.output
    assert_routed(cloud, nodes)
    assert cloud.pod_cidrs()[nodes[0]] == "10.244.5.0/24"
    assert all(cloud.forwarding(n) for n in nodes)
    assert {"record", "forwarding", "route.create", "route.delete"} <= set(cloud.writes())

    destroyed = cli("destroy", "-c", config, "--yes", **env)

    assert destroyed.exit_code == 0, destroyed.output
    assert cloud.pod_cidrs() == {}
    assert all(routes == {} for routes in cloud.routes().values())


@pytest.mark.parametrize(("cloud", "grant"), GRANTS, indirect=["cloud"])
def test_without_any_one_grant_the_run_names_it_and_a_rerun_with_it_finishes(
    cloud: Cloud, cli: Cli, grant: str
) -> None:
    nodes, config = world_needing_every_grant(cloud)

    refused = cli("apply", "-c", config, "--yes", **cloud.restrict(without=grant))

    assert refused.exit_code == 1, refused.output
    named = set(DENIED.findall(refused.output))
    assert named, refused.output
    assert named <= cloud.grants()[grant], f"named {named}, the missing part allows {cloud.grants()[grant]}"

    rerun = cli("apply", "-c", config, "--yes", **cloud.restrict())

    assert rerun.exit_code == 0, rerun.output
    assert_routed(cloud, nodes)


def test_a_refused_write_is_listed_once_in_the_json_report(cloud: Cloud, cli: Cli) -> None:
    nodes = cloud.add_nodes(2)
    config = cloud.write_config()
    route_grant = next(
        g for g, allows in cloud.grants().items() if allows & {"ec2:CreateRoute", "compute.routes.create"}
    )

    result = cli("apply", "-c", config, "--yes", "-o", "json", **cloud.restrict(without=route_grant))

    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert len(report["denied"]) == 1 and report["denied"][0].startswith("permission denied: ")
    failed = Counter(r["error_kind"] for r in report["results"] if r["outcome"] != "done")
    assert failed == {"denied": len(cloud.tables()) * len(nodes)}
