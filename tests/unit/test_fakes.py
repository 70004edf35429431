"""The fake cloud itself: what it observes is what it was given, and what it was told to do."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from cloudroutes.errors import Conflict, NotFound, QuotaExceeded
from cloudroutes.model import Action, ActionKind, NodeName, TableKey
from tests.fakes import FakeProvider, node, route

A0 = ip_network("10.244.0.0/24")


def test_from_observed_round_trips() -> None:
    fake = FakeProvider(
        nodes=[node("a", recorded=["10.244.0.0/24"])],
        tables={"rt-a": [route("rt-a", A0, "a")]},
        limits={"rt-a": 50},
        occupied=["10.0.0.0/16"],
    )
    observed = fake.observe()
    assert FakeProvider.from_observed(observed).observe() == observed
    assert fake.api_calls == {"observe": 1}


def test_a_route_to_a_terminated_node_shows_no_target() -> None:
    fake = FakeProvider(nodes=[node("a")], tables={"rt-a": [route("rt-a", A0, "a")]})
    fake.terminate("a")
    [r] = fake.observe().tables[0].routes
    assert (r.node, r.blackhole) == (None, True)


@pytest.mark.parametrize(
    ("action", "error"),
    [
        pytest.param(
            Action(kind=ActionKind.CREATE, table=TableKey("rt-a"), destination=A0, node=NodeName("a")),
            Conflict,
            id="create over an existing destination",
        ),
        pytest.param(
            Action(
                kind=ActionKind.REPLACE,
                table=TableKey("rt-a"),
                destination=ip_network("10.244.1.0/24"),
                node=NodeName("a"),
            ),
            Conflict,
            id="replace of a missing route",
        ),
        pytest.param(
            Action(kind=ActionKind.DELETE, table=TableKey("rt-a"), destination=ip_network("10.244.1.0/24")),
            NotFound,
            id="delete of a missing route",
        ),
        pytest.param(
            Action(kind=ActionKind.CREATE, table=TableKey("rt-x"), destination=A0, node=NodeName("a")),
            NotFound,
            id="a missing table",
        ),
        pytest.param(
            Action(
                kind=ActionKind.CREATE,
                table=TableKey("rt-a"),
                destination=ip_network("10.244.1.0/24"),
                node=NodeName("a"),
            ),
            QuotaExceeded,
            id="a full table",
        ),
    ],
)
def test_the_cloud_rules_it_keeps(action: Action, error: type[Exception]) -> None:
    fake = FakeProvider(nodes=[node("a")], tables={"rt-a": [route("rt-a", A0, "a")]}, limits={"rt-a": 1})
    before = fake.observe()
    with pytest.raises(error):
        fake.execute(action)
    assert fake.observe() == before and fake.calls == [action]
