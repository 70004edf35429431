"""metrics: filled from a report and the provider's running call counts; read back with prometheus_client's parser."""

from __future__ import annotations

from ipaddress import ip_network

from prometheus_client.parser import text_string_to_metric_families

from cloudroutes.metrics import Metrics, PassResult
from cloudroutes.model import Action, ActionKind, Cluster, NodeName, Observed, Plan, Table, TableKey
from cloudroutes.providers.base import ApiError
from tests.fakes import node, route

CLUSTER = Cluster(name="c", cidrs=(ip_network("10.244.0.0/16"),))


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    families = text_string_to_metric_families(metrics.exposition().decode())
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def test_calls_count_what_grew_split_into_ok_and_the_clouds_codes() -> None:
    metrics = Metrics()
    throttled = ApiError(operation="CreateRoute", code="RequestLimitExceeded", kind="throttled")
    metrics.record_calls({"CreateRoute": 5, "DescribeVpcs": 1}, {throttled: 2})
    metrics.record_calls({"CreateRoute": 7, "DescribeVpcs": 2}, {throttled: 2})

    got = samples(metrics)

    assert got[("cloudroutes_api_calls_total", frozenset({("operation", "CreateRoute"), ("code", "ok")}))] == 5
    code = frozenset({("operation", "CreateRoute"), ("code", "RequestLimitExceeded")})
    assert got[("cloudroutes_api_calls_total", code)] == 2
    assert got[("cloudroutes_api_calls_total", frozenset({("operation", "DescribeVpcs"), ("code", "ok")}))] == 2
    assert got[("cloudroutes_throttled_total", frozenset())] == 2


def test_a_new_provider_starts_its_running_totals_from_zero() -> None:
    metrics = Metrics()
    metrics.record_calls({"DescribeVpcs": 3}, {})
    metrics.new_provider()
    metrics.record_calls({"DescribeVpcs": 1}, {})
    assert (
        samples(metrics)[("cloudroutes_api_calls_total", frozenset({("operation", "DescribeVpcs"), ("code", "ok")}))]
        == 4
    )


def test_routes_by_table_and_state() -> None:
    observed = Observed(
        nodes=(node("a"), node("b")),
        tables=(
            Table(
                key=TableKey("rt"),
                routes=(
                    route("rt", "10.244.0.0/24", "a"),
                    route("rt", "10.244.1.0/24", "b", exact=False),
                    route("rt", "10.244.2.0/24", None),
                    route("rt", "0.0.0.0/0", None, to_vm=False, marked=False),
                ),
            ),
        ),
    )
    missing = Action(
        kind=ActionKind.CREATE, table=TableKey("rt"), node=NodeName("b"), destination=ip_network("10.244.3.0/24")
    )
    metrics = Metrics()
    metrics.record_state(observed, Plan(actions=(missing,)), CLUSTER)
    metrics.record_pass(result=PassResult.FAILED, duration_s=1.5, now=1234.0)

    got = samples(metrics)

    def routes(state: str) -> float:
        return got[("cloudroutes_routes", frozenset({("table", "rt"), ("state", state)}))]

    assert (routes("active"), routes("misdirected"), routes("missing")) == (1, 2, 1)
    assert got[("cloudroutes_nodes", frozenset())] == 2
    assert got[("cloudroutes_pending_changes", frozenset())] == 1
    assert got[("cloudroutes_converged", frozenset())] == 0
    assert got[("cloudroutes_last_pass_timestamp_seconds", frozenset())] == 1234.0
    assert got[("cloudroutes_last_success_timestamp_seconds", frozenset())] == 0
    assert got[("cloudroutes_passes_total", frozenset({("result", "failed")}))] == 1
