"""The API server's own rules for a Node, beyond its schema. Pure functions, no I/O.

Copied in meaning from kubernetes/kubernetes: the v1 conversion of podCIDR/podCIDRs
(pkg/apis/core/v1/conversion.go, Convert_v1_NodeSpec_To_core_NodeSpec) and ValidateNode /
ValidateNodeUpdate (pkg/apis/core/validation/validation.go). The messages are theirs, because
clients and people match on them; the best known:

    Node "n1" is invalid: spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from cloudroutes.sim.kube.errors import Cause

PODCIDR_FORBIDDEN = 'node updates may not change podCIDR except from "" to valid'
PROVIDERID_FORBIDDEN = 'node updates may not change providerID except from "" to valid'
_CIDR_INVALID = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_ONE_PER_FAMILY = "may specify no more than one CIDR for each IP family"
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SUBDOMAIN_HINT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _go_quote(value: Any) -> str:
    """How field.Error prints a bad value: %q for a string, %#v for a []string."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(json.dumps(v) for v in value) + "}"
    return json.dumps(value)


def forbidden(field: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", field, f"Invalid value: {_go_quote(value)}: {detail}")


def duplicate(field: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", field, f"Duplicate value: {_go_quote(value)}")


def normalize_pod_cidrs(node: dict[str, Any]) -> None:
    """v1 -> internal -> v1: podCIDRs is the truth, podCIDR its first entry; where both are given and
    differ, podCIDR wins (older clients only know podCIDR). Works in place on a fresh copy."""
    spec = node.setdefault("spec", {})
    single, many = spec.get("podCIDR") or "", spec.get("podCIDRs") or []
    if single and (not many or many[0] != single):
        many = [single]
    if many:
        spec["podCIDRs"], spec["podCIDR"] = list(many), many[0]
    else:
        spec.pop("podCIDRs", None)
        spec.pop("podCIDR", None)


def _family(cidr: str) -> int | None:
    try:
        return ipaddress.ip_network(cidr, strict=False).version
    except ValueError:
        return None


def validate_node(node: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    name = node.get("metadata", {}).get("name", "")
    if not name or len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        causes.append(invalid("metadata.name", name, _SUBDOMAIN_HINT))
    cidrs = node.get("spec", {}).get("podCIDRs") or []
    families = [_family(c) if isinstance(c, str) else None for c in cidrs]
    for n, (cidr, family) in enumerate(zip(cidrs, families, strict=True)):
        if family is None:
            causes.append(invalid(f"spec.podCIDRs[{n}]", cidr, _CIDR_INVALID))
    if len(cidrs) > 1:
        if len(cidrs) > 2 or sorted(f or 0 for f in families) != [4, 6]:
            causes.append(invalid("spec.podCIDRs", cidrs, _ONE_PER_FAMILY))
        seen: list[str] = []
        for n, cidr in enumerate(cidrs):
            if cidr in seen:
                causes.append(duplicate(f"spec.podCIDRs[{n}]", cidr))
            seen.append(cidr)
    return causes


def validate_node_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = validate_node(new)
    old_spec, new_spec = old.get("spec", {}), new.get("spec", {})
    old_cidrs, new_cidrs = old_spec.get("podCIDRs") or [], new_spec.get("podCIDRs") or []
    if old_cidrs and len(old_cidrs) != len(new_cidrs):
        causes.append(forbidden("spec.podCIDRs", PODCIDR_FORBIDDEN))
    elif old_cidrs:  # one error per entry that moved, as upstream compares index by index
        causes.extend(
            forbidden("spec.podCIDRs", PODCIDR_FORBIDDEN) for o, n in zip(old_cidrs, new_cidrs, strict=True) if o != n
        )
    if old_spec.get("providerID") and old_spec.get("providerID") != new_spec.get("providerID"):
        causes.append(forbidden("spec.providerID", PROVIDERID_FORBIDDEN))
    if old_spec.get("externalID") != new_spec.get("externalID"):
        causes.append(forbidden("spec.externalID", "may not be updated"))
    return causes
