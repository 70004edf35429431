"""instances.aggregatedList, list, get, update (canIpForward), setLabels and delete.

update and setLabels use optimistic locking as GCE does: the caller echoes the fingerprint it last
read, and a stale one is a 412, so a read-modify-write never silently overwrites someone else's change.
delete takes no fingerprint (GCE's takes none either): the instance goes when its zonal operation is
DONE, and routes through it stay, warned NEXT_HOP_INSTANCE_NOT_FOUND.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from functools import partial
from types import MappingProxyType
from typing import Any

from cloudroutes.sim.gce import errors, links, model, paging, state
from cloudroutes.sim.gce.request import Request
from cloudroutes.sim.gce.state import World

_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
_ACTIONS = frozenset({"INVALID", "NO_EFFECT", "REFRESH", "RESTART"})


def _instance(world: World, zone: str, name: str) -> model.Instance:
    instance = world.instances.get((zone, name))
    if instance is None:
        raise errors.not_found(links.zone_path(world.project, zone, "instances", name))
    return instance


def _zone_key(rendered: Mapping[str, Any]) -> tuple[str, str]:
    return (rendered["zone"].rsplit("/", 1)[-1], rendered["name"])


def aggregated_list(world: World, req: Request) -> dict[str, Any]:
    rendered = [model.render_instance(world.project, i) for i in world.instances.values()]
    page, token = paging.select(rendered, req.query, fields=model.INSTANCE_FIELDS, key=_zone_key)
    items: dict[str, Any] = {}
    # Every known zone appears on every page; the empty ones carry GCE's NO_RESULTS_ON_PAGE warning.
    for zone in world.known_zones():
        found = [i for i in page if _zone_key(i)[0] == zone]
        scope = f"zones/{zone}"
        items[scope] = {"instances": found} if found else {"warning": paging.no_results(scope)}
    path = f"projects/{world.project}/aggregated/instances"
    body = {"kind": "compute#instanceAggregatedList", "id": path, "items": items, "selfLink": links.link(path)}
    if token:
        body["nextPageToken"] = token
    return body


def list_instances(world: World, req: Request) -> dict[str, Any]:
    zone = req.params["zone"]
    if zone not in world.known_zones():
        raise errors.not_found(links.zone_path(world.project, zone))
    rendered = [model.render_instance(world.project, i) for i in world.instances.values() if i.zone == zone]
    items, token = paging.select(rendered, req.query, fields=model.INSTANCE_FIELDS, key=_zone_key)
    path = links.zone_path(world.project, zone) + "/instances"
    return paging.list_body("compute#instanceList", links.link(path), path, items, token)


def get_instance(world: World, req: Request) -> dict[str, Any]:
    return model.render_instance(world.project, _instance(world, req.params["zone"], req.params["instance"]))


def update_instance(world: World, req: Request) -> dict[str, Any]:
    """PUT semantics: the body is the whole instance, so an absent canIpForward means false.

    Only canIpForward is applied; other fields are accepted and left as they are."""
    rid = state.request_id(dict(req.query))
    if (replayed := world.replay(req.method_id, rid)) is not None:
        return replayed
    zone, name = req.params["zone"], req.params["instance"]
    instance = _instance(world, zone, name)
    body = req.body or {}
    for param in ("minimalAction", "mostDisruptiveAllowedAction"):
        if req.query.get(param, "INVALID") not in _ACTIONS:
            raise errors.invalid_value(param, req.query[param], f"Must be one of {sorted(_ACTIONS)}.")
    if body.get("name", name) != name:
        raise errors.invalid_value("resource.name", body.get("name"), "Must match the instance being updated.")
    if body.get("fingerprint") != instance.fingerprint:
        raise errors.condition_not_met(
            "Supplied fingerprint does not match current fingerprint."
            if body.get("fingerprint")
            else "Required field 'resource.fingerprint' not specified; read the instance and send its fingerprint."
        )
    forward = body.get("canIpForward", False)
    if not isinstance(forward, bool):
        raise errors.invalid_value("resource.canIpForward", forward, "Must be a boolean.")
    return world.start_operation(
        method_id=req.method_id,
        kind="update",
        target_path=links.zone_path(world.project, zone, "instances", name),
        target_id=instance.id,
        apply=lambda: _change(world, zone, name, can_ip_forward=forward),
        zone=zone,
        request_id=rid,
    )


def set_labels(world: World, req: Request) -> dict[str, Any]:
    rid = state.request_id(dict(req.query))
    if (replayed := world.replay(req.method_id, rid)) is not None:
        return replayed
    zone, name = req.params["zone"], req.params["instance"]
    instance = _instance(world, zone, name)
    body = req.body or {}
    if body.get("labelFingerprint") != instance.label_fingerprint:
        raise errors.condition_not_met(
            "Labels fingerprint either invalid or resource labels have changed"
            if body.get("labelFingerprint")
            else "Required field 'labelFingerprint' not specified; read the instance and send its labelFingerprint."
        )
    labels = check_labels(body.get("labels", {}))
    return world.start_operation(
        method_id=req.method_id,
        kind="setLabels",
        target_path=links.zone_path(world.project, zone, "instances", name),
        target_id=instance.id,
        apply=lambda: _change(world, zone, name, labels=MappingProxyType(labels)),
        zone=zone,
        request_id=rid,
    )


def delete_instance(world: World, req: Request) -> dict[str, Any]:
    """A zonal operation like the other writes; a second delete while the first runs is GCE's
    400 resourceNotReady. Meanwhile the instance reads as before (GCE shows it STOPPING)."""
    rid = state.request_id(dict(req.query))
    if (replayed := world.replay(req.method_id, rid)) is not None:
        return replayed
    zone, name = req.params["zone"], req.params["instance"]
    instance = _instance(world, zone, name)
    graceful = req.query.get("noGracefulShutdown", "false")
    if graceful not in ("true", "false"):
        raise errors.invalid_value("noGracefulShutdown", graceful, "Must be a boolean.")
    path = links.zone_path(world.project, zone, "instances", name)
    key = (zone, name)
    if key in world.pending_instance_deletes:
        raise errors.not_ready(path)
    world.pending_instance_deletes.add(key)
    return world.start_operation(
        method_id=req.method_id,
        kind="delete",
        target_path=path,
        target_id=instance.id,
        apply=partial(world.instances.pop, key, None),
        release=partial(world.pending_instance_deletes.discard, key),
        zone=zone,
        request_id=rid,
    )


def check_labels(value: Any) -> dict[str, str]:
    """GCE's label rules: ≤ 64 labels, keys start with a letter, lowercase letters, digits, _ and -."""
    if not isinstance(value, dict) or len(value) > 64:
        raise errors.invalid_value("labels", value, "Must be a map of at most 64 labels.")
    for key, text in value.items():
        if not _LABEL_KEY.fullmatch(key):
            raise errors.invalid_value("labels", key, "Label keys must match [a-z][a-z0-9_-]{0,62}.")
        if not isinstance(text, str) or not _LABEL_VALUE.fullmatch(text):
            raise errors.invalid_value("labels", text, "Label values must match [a-z0-9_-]{0,63}.")
    return dict(value)


def _change(world: World, zone: str, name: str, **changes: Any) -> None:
    """The effect of an update or setLabels; the instance may have vanished while it ran."""
    current = _instance(world, zone, name)
    world.instances[(zone, name)] = dataclasses.replace(current, generation=current.generation + 1, **changes)
