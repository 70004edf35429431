"""The Node resource: list, get and patch, on the object and on its status subresource.

A patch runs as the API server's update path does: precondition on metadata.resourceVersion (409),
the patch applied to the stored object, the half the subresource may not touch put back (spec for
/status, status for the object), the v1 podCIDR/podCIDRs conversion, the Node rules (422), the schema
(400), and a new resourceVersion only when something changed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from cloudroutes.sim.kube import errors, paging, patch, selectors, validation
from cloudroutes.sim.kube.faults import Faults
from cloudroutes.sim.kube.store import Node, Store


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    verb: str  # list, get, patch
    subresource: str  # "" or "status"
    name: str  # "" for a list
    query: dict[str, str]
    content_type: str
    body: Any


def _as_object(node: Node) -> Node:
    return copy.deepcopy(node)


def list_nodes(store: Store, req: Request) -> dict[str, Any]:
    if req.query.get("watch") in ("true", "1"):
        raise errors.bad_request("the emulator serves no watch: list and get only")
    matches = selectors.parse(req.query.get("labelSelector", ""))
    if req.query.get("fieldSelector"):
        raise errors.bad_request("the emulator supports labelSelector only, not fieldSelector")
    size = paging.limit(req.query)
    revision, after = store.revision, ""
    if token := req.query.get("continue"):
        revision, after = paging.decode(token)
    snapshot = store.at(revision)
    if snapshot is None:
        raise errors.expired(paging.EXPIRED)
    found = [n for name, n in sorted(snapshot.items()) if name > after and matches(n["metadata"].get("labels", {}))]
    page = found[:size] if size else found
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if len(found) > len(page):
        meta["continue"] = paging.encode(revision, page[-1]["metadata"]["name"])
        if not req.query.get("labelSelector"):  # unknown under a selector, so left out (ListMeta docs)
            meta["remainingItemCount"] = len(found) - len(page)
    # Items of a list carry no kind/apiVersion: the list's own say what they are.
    items = [{k: v for k, v in _as_object(n).items() if k not in ("kind", "apiVersion")} for n in page]
    return {"kind": "NodeList", "apiVersion": "v1", "metadata": meta, "items": items}


def get_node(store: Store, req: Request) -> dict[str, Any]:
    return _as_object(store.get(req.name))


def patch_node(store: Store, faults: Faults, req: Request) -> dict[str, Any]:
    if req.content_type not in (patch.MERGE, patch.STRATEGIC):
        raise errors.unsupported_media_type(req.content_type)
    if not isinstance(req.body, dict):
        raise errors.bad_request("json: cannot unmarshal the patch into Go value of type map[string]interface {}")
    old = store.get(req.name)
    if race := faults.take_race(req.name):
        old = store.put(patch.merge_patch(old, race.change))  # another client got there first
    wanted = req.body.get("metadata", {}).get("resourceVersion") if isinstance(req.body.get("metadata"), dict) else None
    if wanted is not None and wanted != old["metadata"]["resourceVersion"]:
        raise errors.conflict(req.name)
    apply = patch.merge_patch if req.content_type == patch.MERGE else patch.strategic_merge_patch
    new = apply(old, req.body)
    _keep_what_is_not_ours(new, old, req)
    validation.normalize_pod_cidrs(new)
    if causes := validation.validate_node_update(new, old):
        raise errors.invalid(req.name, causes)
    if problems := store.problems(new):
        raise errors.bad_request(f'Node in version "v1" cannot be handled as a Node: {"; ".join(problems)}')
    if new == old:
        return _as_object(old)  # a no-op write keeps the resourceVersion, as etcd's guaranteed update does
    return _as_object(store.put(new))


def _keep_what_is_not_ours(new: Node, old: Node, req: Request) -> None:
    """The status subresource writes only status; the object writes all but status. Identity and
    server-set metadata are the server's, whatever the patch says."""
    if req.subresource == "status":
        new["spec"] = copy.deepcopy(old.get("spec", {}))
        new["metadata"] = copy.deepcopy(old["metadata"])
    elif "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    else:
        new.pop("status", None)
    meta = new.setdefault("metadata", {})
    if meta.get("name") != req.name:
        raise errors.bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL ({req.name})"
        )
    for key in ("uid", "creationTimestamp", "resourceVersion"):
        meta[key] = old["metadata"][key]
    new["kind"], new["apiVersion"] = "Node", "v1"
