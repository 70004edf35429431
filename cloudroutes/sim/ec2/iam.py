"""IAM's decision on one request, for what moto leaves out: resources and conditions.

moto (5.x) authenticates a request (access key, signature) and matches a policy's Effect and Action,
but it authorizes every EC2 call against the resource "*" and evaluates no Condition of an identity
policy: its one operator, StringEquals, is fed only sts:ExternalId on AssumeRole
(moto/iam/access_control.py, moto/iam/policy_conditions.py). A statement scoped to route tables or
conditioned on a tag therefore never allows anything there. This module decides as IAM does
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html) for the
identity policies of one principal: an explicit Deny wins, else some Allow must match every resource
the action authorizes.

Evaluated: Effect, Action / NotAction, Resource / NotResource (ARN wildcards per colon-separated
part), and the Condition operators in OPERATORS with the ForAllValues: / ForAnyValue: prefixes and the
IfExists suffix. A policy using any other operator is refused (Unsupported), never guessed. Not
modelled: policy variables, permission boundaries, SCPs, session and resource-based policies.

Never here: which resources and condition keys an action brings (context.py), HTTP or moto.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Context = Mapping[str, tuple[str, ...]]
"""Condition keys (lower case: IAM compares key names without case) -> the request's values."""


class Unsupported(ValueError):
    """The policy uses something this evaluator does not model: refusing beats a wrong answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """One resource an action authorizes, with the condition keys EC2 sets for it."""

    arn: str
    context: Context


def denied(policies: Iterable[Any], action: str, resources: Sequence[Resource]) -> Resource | None:
    """The first resource `action` may not touch under these policies (JSON text or parsed), else None."""
    statements = [s for policy in policies for s in _statements(policy)]
    for resource in resources:
        matching = [s for s in statements if _applies(s, action, resource)]
        if any(s.get("Effect") == "Deny" for s in matching) or not any(s.get("Effect") == "Allow" for s in matching):
            return resource
    return None


def _statements(policy: Any) -> list[dict[str, Any]]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _applies(statement: Mapping[str, Any], action: str, resource: Resource) -> bool:
    if "NotAction" in statement:
        acts = not any(_glob(p, action, fold=True) for p in _listed(statement["NotAction"]))
    else:
        acts = any(_glob(p, action, fold=True) for p in _listed(statement.get("Action", [])))
    if "NotResource" in statement:
        on = not any(arn_like(p, resource.arn) for p in _listed(statement["NotResource"]))
    else:
        on = any(arn_like(p, resource.arn) for p in _listed(statement.get("Resource", [])))
    return acts and on and conditions_hold(statement.get("Condition", {}), resource.context)


def conditions_hold(block: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    """Every operator, every key under it: all must hold (values listed under one key: any)."""
    lowered = {k.lower(): v for k, v in context.items()}
    return all(
        _holds(operator, key, _listed(expected), lowered.get(key.lower()))
        for operator, keys in block.items()
        for key, expected in keys.items()
    )


def _holds(operator: str, key: str, expected: list[str], actual: tuple[str, ...] | None) -> bool:
    quantifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    if base == "Null":
        return (actual is None) == (str(expected[0]).lower() == "true")
    if base not in OPERATORS or quantifier not in ("", "ForAllValues", "ForAnyValue"):
        raise Unsupported(f"condition operator {operator} (on {key}) is not evaluated by the sim")
    match, negated = OPERATORS[base]
    if actual is None:
        return if_exists or negated or quantifier == "ForAllValues"
    hits = [any(match(str(e), a) for e in expected) for a in actual]
    if quantifier == "ForAllValues":
        return all(hit != negated for hit in hits)
    if quantifier == "ForAnyValue":
        return any(hit != negated for hit in hits)
    return not any(hits) if negated else any(hits)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _glob(pattern: str, text: str, *, fold: bool = False) -> bool:
    """IAM's wildcards: * any run of characters, ? any one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if fold else 0) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """An ARN pattern matches part by part (partition, service, region, account, resource)."""
    if pattern == "*":
        return True
    wanted, got = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(got) and all(_glob(w, g) for w, g in zip(wanted, got, strict=True))


def _bool(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


Match = Callable[[str, str], bool]
OPERATORS: dict[str, tuple[Match, bool]] = {
    # operator: (how one expected value matches one request value, negated)
    "StringEquals": (lambda e, a: e == a, False),
    "StringNotEquals": (lambda e, a: e == a, True),
    "StringEqualsIgnoreCase": (lambda e, a: e.lower() == a.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda e, a: e.lower() == a.lower(), True),
    "StringLike": (lambda e, a: _glob(e, a), False),
    "StringNotLike": (lambda e, a: _glob(e, a), True),
    "ArnEquals": (arn_like, False),
    "ArnLike": (arn_like, False),
    "ArnNotEquals": (arn_like, True),
    "ArnNotLike": (arn_like, True),
    "Bool": (_bool, False),
}
