"""How plans, applies and statuses look: rich tables for people, JSON for machines.

Values in, text out: nothing here decides anything or calls a cloud.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from cloudroutes.engine import Report
from cloudroutes.errors import Denied
from cloudroutes.model import ACTION_ORDER, NODE_OBJECT_KINDS, Action, ActionResult, Outcome, Plan, Problem, Route
from cloudroutes.status import NodeStatus

_STYLE = {
    "create": "green",
    "claim": "cyan",
    "enable-forwarding": "cyan",
    "publish": "cyan",
    "mark-routed": "green",
    "mark-unrouted": "yellow",
    "replace": "yellow",
    "delete": "red",
    "unclaim": "red",
}


# -- JSON ------------------------------------------------------------------------------------

FORMAT_VERSION = "1.0"
"""Leads every JSON document. The minor number grows when fields are added; the major only when a
field is removed or changes meaning, so a script can refuse a major it does not know."""
SCHEMAS = ("plan", "apply", "status", "destroy", "reconcile", "error")
"""Commands (and the error object) whose JSON has a JSON Schema in cloudroutes/schemas/."""


def document(command: str, provider: str, cluster: str) -> dict[str, Any]:
    """The head every command's JSON starts with."""
    return {"format_version": FORMAT_VERSION, "command": command, "provider": provider, "cluster": cluster}


def error_json(kind: str, message: str) -> dict[str, Any]:
    """What a failed command prints on stdout under --output json (the exit code is unchanged)."""
    return {"format_version": FORMAT_VERSION, "error": {"kind": kind, "message": message}}


def schema_text(name: str) -> str:
    """The JSON Schema (draft 2020-12) of one command's JSON, as shipped in the package."""
    if name not in SCHEMAS:
        raise ValueError(name)
    return resources.files("cloudroutes").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")


def action_json(action: Action) -> dict[str, Any]:
    return {
        "kind": str(action.kind),
        "node": action.node,
        "table": action.table,
        "destination": str(action.destination) if action.destination else None,
        "subnets": [str(s) for s in action.subnets],
        "node_object": action.ref if action.kind in NODE_OBJECT_KINDS else None,
        "reason": action.reason,
    }


def result_json(result: ActionResult) -> dict[str, Any]:
    return {
        **action_json(result.action),
        "outcome": str(result.outcome),
        "error_kind": result.error_kind,
        "error": result.error,
        "attempts": result.attempts,
        "elapsed_s": round(result.elapsed_s, 4),
    }


def problem_json(problem: Problem) -> dict[str, Any]:
    return {"kind": str(problem.kind), "message": problem.message, "blocking": problem.blocking}


def plan_json(plan: Plan, foreign: Iterable[Route]) -> dict[str, Any]:
    """`foreign`: the foreign routes of the observation the plan was made from (ownership.foreign_routes)."""
    return {
        "changes": len(plan.actions),
        # A blocking problem (route quota, exhausted range, forwarding off) stops the plan itself:
        # apply cannot converge however often it runs, which is not a cloud failure to retry.
        "blocked": plan.blocked,
        # Node-object kinds only when there are some: without Kubernetes the summary keeps its shape.
        "summary": {
            str(kind): plan.count(kind) for kind in ACTION_ORDER if kind not in NODE_OBJECT_KINDS or plan.count(kind)
        },
        "actions": [action_json(a) for a in plan.actions],
        "problems": [problem_json(p) for p in plan.problems],
        "foreign_routes": [{"table": r.table, "destination": str(r.destination), "target": r.hop} for r in foreign],
    }


def apply_json(report: Report, *, foreign_before: Iterable[Route], foreign_after: Iterable[Route]) -> dict[str, Any]:
    """`foreign_before`/`_after`: the foreign routes of the first observation and of the read-back."""
    return {
        "converged": report.converged,
        "blocked": report.final.blocked,
        "rounds": report.rounds,
        "writes": report.writes,
        "plan": plan_json(report.first, foreign_before),
        "results": [result_json(r) for r in report.results],
        "remaining": plan_json(report.final, foreign_after),
        "api_calls": dict(sorted(report.api_calls.items())),
        "retries": dict(report.retries),
        "rate_limit_wait_s": round(report.bucket_wait_s, 3),
        "unverified": report.unverified,
        "denied": denied(report),
    }


def denied(report: Report) -> list[str]:
    """Each refusal of the run's writes once ("permission denied: ec2:CreateRoute"): what to grant."""
    return sorted({r.error for r in report.results if r.error_kind == Denied.kind})


def status_json(rows: Iterable[NodeStatus]) -> list[dict[str, Any]]:
    return [
        {
            "node": row.node,
            "name": row.display,
            "state": str(row.state),
            "subnets": [str(s) for s in row.subnets],
            "routes": {"active": row.routes_active, "expected": row.routes_expected},
            "forwarding": row.forwarding,
            "ready": row.ready,
            "issues": list(row.issues),
            "kubernetes": _node_object_json(row),
        }
        for row in rows
    ]


def _node_object_json(row: NodeStatus) -> dict[str, Any] | None:
    """The VM's Kubernetes Node: its name, podCIDRs and NetworkUnavailable ("False": routed)."""
    if not row.node_object:
        return None
    condition = {True: "False", False: "True", None: None}[row.routed]
    return {"node": row.node_object, "pod_cidrs": [str(c) for c in row.pod_cidrs], "network_unavailable": condition}


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False)


# -- text ------------------------------------------------------------------------------------


def print_plan(console: Console, plan: Plan, *, names: Mapping[str, str] | None = None, title: str = "Plan") -> None:
    """`names` maps node ids to human names (AWS Name tags) for the node column."""
    names = names or {}
    if plan.actions:
        table = RichTable(title=title, title_justify="left")
        for column in ("action", "subnet", "node", "where", "why"):
            table.add_column(column)
        for action in plan.actions:
            style = _STYLE.get(str(action.kind), "default")
            subnet = str(action.destination) if action.destination else ", ".join(map(str, action.subnets))
            node = names.get(action.node or "") or action.node or ""
            where = f"Node {action.ref}" if action.kind in NODE_OBJECT_KINDS else action.table or ""
            table.add_row(f"[{style}]{action.kind}[/]", subnet, node, where, action.reason)
        console.print(table)
    counts = ", ".join(f"{plan.count(k)} {k}" for k in ACTION_ORDER if plan.count(k))
    console.print(f"{title}: {counts or 'no changes, the cloud matches the cluster'}.")
    print_problems(console, plan.problems)
    if plan.blocked:
        console.print(f"[red]{blocked_line(plan)}[/]", highlight=False)


def blocked_line(plan: Plan) -> str:
    """Told apart from a cloud failure: nothing failed, the plan itself cannot converge."""
    kinds = ", ".join(sorted({str(p.kind) for p in plan.problems if p.blocking}))
    return (
        f"Blocked ({kinds}): the plan cannot converge until that is fixed; "
        "this is no cloud failure, and a retry cannot help."
    )


def print_problems(console: Console, problems: Iterable[Problem]) -> None:
    for problem in problems:
        colour = "red" if problem.blocking else "dim"
        console.print(f"[{colour}]{problem.kind}: {problem.message}[/]", highlight=False)


def print_apply(console: Console, report: Report) -> None:
    failed = report.failed
    if failed:
        table = RichTable(title="Actions that did not complete", title_justify="left")
        for column in ("action", "outcome", "error"):
            table.add_column(column)
        for result in failed:
            colour = "yellow" if result.outcome is Outcome.CONFLICT else "red"
            table.add_row(result.action.describe(), f"[{colour}]{result.outcome}[/]", result.error)
        console.print(table)
    for refusal in denied(report):
        # One line each, never wrapped: the line a person greps for and the permission to grant.
        console.print(f"[red]{refusal}[/]", highlight=False, soft_wrap=True)
    done = sum(1 for r in report.results if r.outcome is Outcome.DONE)
    calls = ", ".join(f"{op} {n}" for op, n in sorted(report.api_calls.items()))
    retries = sum(report.retries.values())
    console.print(
        f"Applied {done} of {len(report.results)} action(s) in {report.rounds} round(s); "
        f"{retries} retried; API calls: {calls or 'none'}."
    )
    if report.unverified:
        console.print(f"[red]Could not read the cloud back after applying: {report.unverified}[/]", highlight=False)
    elif not report.final.empty:
        console.print(f"[yellow]{len(report.final.actions)} change(s) still pending.[/]")
    print_problems(console, [p for p in report.final.problems if p.blocking])
    if report.final.blocked:
        console.print(f"[red]{blocked_line(report.final)}[/]", highlight=False)
    verdict = "[green]Converged.[/]" if report.converged else "[red]Not converged.[/]"
    console.print(verdict)


def print_status(console: Console, rows: Iterable[NodeStatus]) -> None:
    rows = list(rows)
    kube = any(row.node_object for row in rows)
    table = RichTable(title="Nodes", title_justify="left")
    columns = ("node", "name", "state", "subnet", "routes", "forwarding", "ready")
    for column in columns + (("Node", "podCIDR", "NetworkUnavailable") if kube else ()):
        table.add_column(column)
    for row in rows:
        cells = [
            row.node,
            row.display,
            str(row.state),
            ", ".join(map(str, row.subnets)) or "-",
            f"{row.routes_active}/{row.routes_expected} active",
            "on" if row.forwarding else "[red]off[/]",
            "[green]yes[/]" if row.ready else f"[red]no[/]: {'; '.join(row.issues)}",
        ]
        if kube:
            condition = {True: "False (RouteCreated)", False: "[red]True[/] (NoRouteCreated)", None: "-"}[row.routed]
            cells += [row.node_object or "-", ", ".join(map(str, row.pod_cidrs)) or "-", condition]
        table.add_row(*cells)
    console.print(table)
