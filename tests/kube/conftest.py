"""The Node adapter meets the embedded Kubernetes API server through a kubeconfig the server wrote,
as kubectl would: nothing between the adapter and the wire is mocked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudroutes.providers.kube import KubeNodes
from cloudroutes.ratelimit import TokenBucket
from cloudroutes.sim.kube import KubeSim
from tests.sim import kube_schema

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
AWS = {f"node-{n}": f"aws:///us-east-1{'ab'[n % 2]}/i-00000000000000{n:03d}" for n in range(1, 6)}


class Sleeps:
    """The write bucket's sleep, recorded instead of slept: the bucket's clock stands still."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sim() -> Iterator[KubeSim]:
    with KubeSim(validator=kube_schema.problems) as server:
        for name, provider_id in AWS.items():
            server.add_node(name, provider_id, labels={"pool": "workers"})
        yield server
        assert server.schema_failures == []


@pytest.fixture
def kubeconfig(sim: KubeSim, tmp_path: Path) -> str:
    return sim.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def ledger(kubeconfig: str, sleeps: Sleeps) -> Iterator[KubeNodes]:
    bucket = TokenBucket(burst=10, rate=5.0, clock=lambda: 0.0, sleep=sleeps)
    nodes = KubeNodes(kubeconfig=kubeconfig, writes=bucket, clock=lambda: NOW)
    yield nodes
    nodes.close()
