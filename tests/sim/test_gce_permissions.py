"""The Compute emulator's permission mode: a call outside the granted role gets GCE's 403."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from cloudroutes.sim.gce import ComputeSim, endpoints
from cloudroutes.sim.gce.permissions import REQUIRED

P = "demo-project"
ROUTE = {
    "name": "r1",
    "network": f"projects/{P}/global/networks/default",
    "destRange": "10.244.1.0/24",
    "nextHopInstance": f"projects/{P}/zones/us-central1-a/instances/node-1",
}


@pytest.fixture
def sim() -> Iterator[ComputeSim]:
    with ComputeSim(project=P) as emulator:
        emulator.add_network("default")
        emulator.add_subnetwork("default", region="us-central1", name="nodes", cidr="10.128.0.0/20")
        emulator.add_instance("node-1", zone="us-central1-a")
        yield emulator


def test_every_method_the_emulator_answers_names_its_permissions() -> None:
    assert {e.method_id for e in endpoints.ENDPOINTS} == set(REQUIRED)


def test_a_call_outside_the_role_gets_googles_403_naming_permission_and_resource(sim: ComputeSim) -> None:
    sim.grant_only(["compute.routes.list", "compute.networks.updatePolicy"])

    answer = requests.post(f"{sim.endpoint}/compute/v1/projects/{P}/global/routes", json=ROUTE, timeout=5)

    assert answer.status_code == 403
    message = f"Required 'compute.routes.create' permission for 'projects/{P}/global/routes/r1'"
    assert answer.json() == {
        "error": {
            "code": 403,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": "forbidden"}],
        }
    }
    assert sim.routes() == [], "a refused insert changes nothing"
    assert requests.get(f"{sim.endpoint}/compute/v1/projects/{P}/global/routes", timeout=5).status_code == 200


def test_a_route_insert_needs_the_networks_update_policy_too(sim: ComputeSim) -> None:
    sim.grant_only(["compute.routes.create"])

    answer = requests.post(f"{sim.endpoint}/compute/v1/projects/{P}/global/routes", json=ROUTE, timeout=5)

    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == (
        f"Required 'compute.networks.updatePolicy' permission for 'projects/{P}/global/networks/default'"
    )


def test_without_a_role_every_call_is_allowed_again(sim: ComputeSim) -> None:
    sim.grant_only([])
    assert requests.get(f"{sim.endpoint}/compute/v1/projects/{P}", timeout=5).status_code == 403
    sim.grant_only(None)
    assert requests.get(f"{sim.endpoint}/compute/v1/projects/{P}", timeout=5).status_code == 200
