"""guards: preflight refusals and the blast-radius guard, as rows."""

from __future__ import annotations

import pytest

from cloudroutes import guards
from cloudroutes.errors import PreflightError
from cloudroutes.model import ActionKind, Cluster, Plan

from .test_planner import DUAL, V4, create, delete, make_plan, observe, route

# -- preflight -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occupied", "the_cluster"),
    [
        pytest.param(("10.0.0.0/8",), V4, id="a VPC range containing the cluster range"),
        pytest.param(("10.244.7.0/24",), V4, id="a subnet inside the cluster range"),
        pytest.param(("10.0.0.0/16", "fd00:10:0:80::/64"), DUAL, id="an IPv6 subnet inside the IPv6 range"),
    ],
)
def test_preflight_refuses_a_cluster_range_the_network_uses(occupied: tuple[str, ...], the_cluster: Cluster) -> None:
    with pytest.raises(PreflightError, match="overlaps"):
        guards.preflight(observe([], occupied=occupied), the_cluster)


def test_preflight_accepts_disjoint_ranges() -> None:
    guards.preflight(observe([], occupied=("10.0.0.0/16", "172.16.0.0/12", "fd00:20::/56")), DUAL)


# -- mass delete guard ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deletes", "owned", "fraction", "refused"),
    [
        pytest.param(0, 0, 0.5, False, id="nothing deleted"),
        pytest.param(1, 1, 0.0, False, id="a single delete always passes"),
        pytest.param(2, 4, 0.5, False, id="exactly the limit passes"),
        pytest.param(3, 4, 0.5, True, id="one over the limit is refused"),
        pytest.param(2, 2, 0.5, True, id="every route of a small cluster is refused"),
        pytest.param(2, 2, 1.0, False, id="fraction 1 allows everything"),
        pytest.param(2, 10, 0.0, True, id="fraction 0 allows a single delete only"),
        pytest.param(50, 100, 0.5, False, id="half of a large cluster passes"),
        pytest.param(51, 100, 0.5, True, id="just over half of a large cluster is refused"),
    ],
)
def test_mass_delete_guard(deletes: int, owned: int, fraction: float, refused: bool) -> None:
    actions = (*tuple(delete("rt-a", f"10.244.{i}.0/24") for i in range(deletes)), create("rt-a", "10.245.0.0/24", "x"))
    message = guards.mass_delete(Plan(actions=actions, owned_routes=owned), fraction)
    assert (message is not None) == refused
    if message:
        assert f"plan deletes {deletes} of {owned} routes" in message and "--allow-mass-delete" in message


def test_an_empty_node_list_trips_the_guard() -> None:
    # A wrong node filter observes no nodes: every route of ours looks dead.
    observed = observe([], [route("rt-a", f"10.244.{i}.0/24", f"n{i}") for i in range(4)])
    got = make_plan(observed)
    assert got.count(ActionKind.DELETE) == 4 and got.owned_routes == 4
    assert guards.mass_delete(got, 0.5) is not None
