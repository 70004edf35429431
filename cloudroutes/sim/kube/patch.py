"""The two patch formats the emulator accepts, applied to a Node's JSON. Pure functions, no I/O.

* application/merge-patch+json (RFC 7386): maps merge key by key, `null` deletes, lists are replaced
  whole. Patching `status.conditions` this way replaces every condition.
* application/strategic-merge-patch+json: like a merge patch, but a list follows the patch strategy
  its Go type declares (k8s.io/api/core/v1/types.go): `status.conditions` and `status.addresses` merge
  item by item on their `type` key, `spec.podCIDRs` and `metadata.finalizers` merge as sets, others
  are replaced. The directives `$patch` (replace, delete, merge), `$setElementOrder/<list>`,
  `$deleteFromPrimitiveList/<list>` and `$retainKeys` work as in
  k8s.io/apimachinery/pkg/util/strategicpatch; any other `$` key is refused.
"""

from __future__ import annotations

import copy
from typing import Any

from cloudroutes.sim.kube import errors

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"

Path = tuple[str, ...]

# The Node fields whose patch strategy is `merge`: a merge key for lists of objects, None for sets.
MERGE_LISTS: dict[Path, str | None] = {
    ("metadata", "finalizers"): None,
    ("metadata", "ownerReferences"): "uid",
    ("spec", "podCIDRs"): None,
    ("status", "conditions"): "type",
    ("status", "addresses"): "type",
}

_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = _merge_map(target, patch, ())
    return merged if merged is not None else {}


def _merge_map(target: Any, patch: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """None means the map itself is deleted (`$patch: delete`)."""
    directive = patch.get("$patch", "merge")
    if directive == "delete":
        return None
    plain = {k: v for k, v in patch.items() if not k.startswith("$")}
    if directive == "replace":
        return copy.deepcopy(plain)
    if directive != "merge":
        raise errors.bad_request(f"Unknown patch directive $patch: {directive}")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in plain.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_value(result.get(key), value, (*path, key))
    _apply_directives(result, patch, path)
    return result


def _merge_value(target: Any, patch: Any, path: Path) -> Any:
    if isinstance(patch, dict):
        merged = _merge_map(target, patch, path)
        return {} if merged is None else merged
    if isinstance(patch, list) and path in MERGE_LISTS:
        key = MERGE_LISTS[path]
        current = target if isinstance(target, list) else []
        return _merge_set(current, patch) if key is None else _merge_keyed(current, patch, key, path)
    return copy.deepcopy(patch)


def _merge_set(current: list[Any], patch: list[Any]) -> list[Any]:
    merged: list[Any] = []
    for value in [*current, *patch]:
        if value not in merged:
            merged.append(copy.deepcopy(value))
    return merged


def _merge_keyed(current: list[Any], patch: list[Any], key: str, path: Path) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = [copy.deepcopy(i) for i in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise errors.bad_request(f"map: {item} does not contain declared merge key: {key}")
        at = next((n for n, old in enumerate(result) if isinstance(old, dict) and old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del result[at]
        elif at is None:
            result.append({k: v for k, v in item.items() if not k.startswith("$")})
        else:
            result[at] = _merge_map(result[at], item, path) or {}
    return result


def _apply_directives(result: dict[str, Any], patch: dict[str, Any], path: Path) -> None:
    for key, value in patch.items():
        if key == "$patch":
            continue
        if key.startswith(_ORDER):
            _order(result, key.removeprefix(_ORDER), value, path)
        elif key.startswith(_DELETE_FROM):
            field = key.removeprefix(_DELETE_FROM)
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
        elif key == "$retainKeys":
            for name in [k for k in result if k not in value]:
                del result[name]
        elif key.startswith("$"):
            raise errors.bad_request(f"unknown strategic merge patch directive {key}")


def _order(result: dict[str, Any], field: str, order: list[Any], path: Path) -> None:
    """Listed items first, in the listed order; the rest keep their place after them."""
    items = result.get(field)
    if not isinstance(items, list):
        return
    key = MERGE_LISTS.get((*path, field))

    def ident(item: Any) -> Any:
        return item.get(key) if key is not None and isinstance(item, dict) else item

    rank = {ident(entry): n for n, entry in enumerate(order)}
    result[field] = sorted(items, key=lambda item: rank.get(ident(item), len(rank)))
