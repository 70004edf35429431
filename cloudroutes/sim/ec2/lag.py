"""Read lag: EC2's eventual consistency. A write is answered at once; reads show the old state for a while.

AWS documents it (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html): the result
of a call that changes a resource may not be visible at once to the calls that follow, and a Describe
may answer with the old state. With `seconds` > 0 the sim plays that out for the writes cloudroutes makes:

    write                                     lags in (aspect)
    CreateRoute, ReplaceRoute, DeleteRoute    DescribeRouteTables: the table's routes
    CreateTags, DeleteTags                    DescribeRouteTables, DescribeInstances: each rtb-/i- one's tags
    ModifyNetworkInterfaceAttribute,          DescribeInstances: the source/dest flags of the instance
    ModifyInstanceAttribute                   and of its interfaces

How: the write lands in moto at once, and the sim keeps, per resource and aspect, what a read showed just
before each write (a short history, forgotten once older than `seconds`). A read shows each aspect as it
was `seconds` ago and everything else as it is now. Why not hold the write back from moto instead: every
later write and every error would then be decided on a state without the accepted write, so a second
CreateRoute for one destination would succeed where EC2 answers RouteAlreadyExists (the compare-and-swap
cloudroutes relies on), and moto's own checks (DeleteRoute of a route that is not there) could not answer
the write itself. Here every write sees the one true state; only reads are behind.

Filters: a tag filter (tag:K, tag-key, tag-value) is judged on the tags the answer shows, so a resource
whose tags lag stays in or out of a tag-filtered answer as its old tags say; any other filter is judged
on the state now. Other reads (DescribeNetworkInterfaces, DescribeInstanceAttribute, DescribeTags) show
the state now: cloudroutes reads only route tables, instances and VPCs.

Never here: rules, faults or HTTP (rules.py, sim.py, server.py, which hands in a `Reader` of moto).
"""

from __future__ import annotations

import contextlib
import copy
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from moto.ec2.utils import is_tag_filter, tag_filter_matches

from cloudroutes.sim.ec2.backend import interface_owner

Params = dict[str, str]
Reader = Callable[[Params], ET.Element]  # runs a Describe* on moto, bypassing the sim's rules and log
Filters = list[tuple[str, list[str]]]
ROUTES, TAGS, FLAGS = "routes", "tags", "source-dest"
ROUTE_WRITES = frozenset({"CreateRoute", "ReplaceRoute", "DeleteRoute"})
TAG_WRITES = frozenset({"CreateTags", "DeleteTags"})
FLAG_WRITES = frozenset({"ModifyNetworkInterfaceAttribute", "ModifyInstanceAttribute"})


@dataclass(frozen=True, slots=True)
class Kind:
    """A resource kind whose reads can lag, and where its items sit in its Describe answer."""

    describe: str
    id_param: str  # the request's id list, e.g. RouteTableId.1
    id_tag: str  # the item's id element
    prefix: str
    container: str  # from the answer's root to the element holding the items


TABLES = Kind("DescribeRouteTables", "RouteTableId", "routeTableId", "rtb-", "{*}routeTableSet")
INSTANCES = Kind("DescribeInstances", "InstanceId", "instanceId", "i-", "{*}reservationSet/{*}item/{*}instancesSet")
KINDS = {kind.describe: kind for kind in (TABLES, INSTANCES)}


@dataclass(frozen=True, slots=True)
class _Before:
    stamp: float  # when the write landed
    item: ET.Element  # the resource as a read showed it just before


class ReadLag:
    """Off (0 seconds) by default; thread-safe. Writes that lag are serialized so each history is in order."""

    def __init__(self, region: str, clock: Callable[[], float]) -> None:
        self.region, self._clock = region, clock
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._history: dict[tuple[str, str], list[_Before]] = {}

    def set(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"read lag must be 0 or more seconds, not {seconds}")
        with self._lock:
            self.seconds = float(seconds)
            if not seconds:
                self._history.clear()

    def clear(self) -> None:
        with self._lock:
            self._history.clear()

    @contextlib.contextmanager
    def write(self, action: str, params: Params, read: Reader) -> Iterator[Callable[[], None]]:
        """Around one write: yields `commit`, to call once moto accepted it."""
        changes = self._changes(action, params) if self.seconds else []
        if not changes:
            yield lambda: None
            return
        with self._writing:
            before = {rid: item for rid in {rid for rid, _ in changes} if (item := _fetch(rid, read)) is not None}

            def commit() -> None:
                stamp = self._clock()
                with self._lock:
                    for rid, aspect in changes:
                        if rid in before:
                            self._history.setdefault((rid, aspect), []).append(_Before(stamp, before[rid]))

            yield commit

    def rewrite(self, action: str, params: Params, body: bytes, read: Reader) -> bytes:
        """A read's answer with every aspect that lags shown as it was `seconds` ago."""
        kind = KINDS.get(action)
        stale = self._stale(kind) if kind is not None and self.seconds else {}
        if kind is None or not stale:
            return body
        root = ET.fromstring(body)
        tag_filters = [(name, values) for name, values in filters(params) if is_tag_filter(name)]
        shown = set()
        for container, item in _items(root, kind):
            rid = item.findtext(f"{{*}}{kind.id_tag}") or ""
            if rid in stale:
                shown.add(rid)
                _splice(item, stale[rid])
                if not _tags_match(item, tag_filters):
                    container.remove(item)
        # A resource that old tags put in a tag-filtered answer, added once: on the last page.
        if tag_filters and root.find("{*}nextToken") is None:
            for rid in sorted(stale.keys() - shown):
                if TAGS in stale[rid] and _asked_for(params, kind, rid):
                    _add(root, kind, stale[rid], read(_probe(params, kind, rid)), tag_filters)
        _drop_empty_reservations(root)
        namespace = root.tag[1:].partition("}")[0]
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, default_namespace=namespace)

    def _changes(self, action: str, params: Params) -> list[tuple[str, str]]:
        """(resource id, aspect) for each thing this write changes that a read can show."""
        if action in ROUTE_WRITES:
            return [(params.get("RouteTableId", ""), ROUTES)]
        if action in TAG_WRITES:
            ids = [v for k, v in params.items() if k.startswith("ResourceId.")]
            return [(rid, TAGS) for rid in ids if rid.startswith((TABLES.prefix, INSTANCES.prefix))]
        if action in FLAG_WRITES and "SourceDestCheck.Value" in params:
            owner = params.get("InstanceId") or interface_owner(self.region, params.get("NetworkInterfaceId", ""))
            return [(owner, FLAGS)] if owner else []
        return []

    def _stale(self, kind: Kind) -> dict[str, dict[str, ET.Element]]:
        """resource id -> aspect -> the item as it was `seconds` ago, for each aspect written since."""
        horizon = self._clock() - self.seconds
        stale: dict[str, dict[str, ET.Element]] = {}
        with self._lock:
            for (rid, aspect), history in list(self._history.items()):
                history[:] = [b for b in history if b.stamp > horizon]
                if not history:
                    del self._history[rid, aspect]
                elif rid.startswith(kind.prefix):
                    # The first write after the horizon: what stood before it is what stood at the horizon.
                    stale.setdefault(rid, {})[aspect] = history[0].item
        return stale


def filters(params: Params) -> Filters:
    """The request's Filter.N.Name / Filter.N.Value.M pairs, in order."""
    names = {k.split(".")[1]: v for k, v in params.items() if k.startswith("Filter.") and k.endswith(".Name")}
    return [
        (name, [v for k, v in params.items() if k.startswith(f"Filter.{n}.Value.")])
        for n, name in sorted(names.items(), key=lambda pair: int(pair[0]))
    ]


def _fetch(rid: str, read: Reader) -> ET.Element | None:
    kind = TABLES if rid.startswith(TABLES.prefix) else INSTANCES
    items = _items(read({"Action": kind.describe, "Version": "2016-11-15", f"{kind.id_param}.1": rid}), kind)
    return next((item for _, item in items), None)


def _items(root: ET.Element, kind: Kind) -> list[tuple[ET.Element, ET.Element]]:
    """(container, item) for each resource in an answer."""
    return [(container, item) for container in root.iterfind(kind.container) for item in container.iterfind("{*}item")]


def _splice(item: ET.Element, aspects: dict[str, ET.Element]) -> None:
    for aspect, old in aspects.items():
        if aspect == ROUTES:
            _replace(item, old, "routeSet")
        elif aspect == TAGS:
            _replace(item, old, "tagSet")
        else:
            _set_flags(item, old)


def _replace(item: ET.Element, old: ET.Element, name: str) -> None:
    now, then = item.find(f"{{*}}{name}"), old.find(f"{{*}}{name}")
    at = len(item)
    if now is not None:
        at = list(item).index(now)
        item.remove(now)
    if then is not None:
        item.insert(at, copy.deepcopy(then))


def _set_flags(item: ET.Element, old: ET.Element) -> None:
    """The instance's sourceDestCheck and each interface's, as they were."""
    then = _flags(old)
    for owner, flag in _flags(item).items():
        if owner in then:
            flag.text = then[owner].text


def _flags(item: ET.Element) -> dict[str, ET.Element]:
    """The sourceDestCheck elements of an instance item: "" for the instance's own, else by interface id."""
    found = {"": item.find("{*}sourceDestCheck")}
    for eni in item.iterfind("{*}networkInterfaceSet/{*}item"):
        found[eni.findtext("{*}networkInterfaceId") or ""] = eni.find("{*}sourceDestCheck")
    return {owner: flag for owner, flag in found.items() if flag is not None}


class _Tagged:
    """What moto's tag filter reads: an object with get_tags()."""

    def __init__(self, item: ET.Element) -> None:
        self._tags = [
            {"key": tag.findtext("{*}key") or "", "value": tag.findtext("{*}value") or ""}
            for tag in item.iterfind("{*}tagSet/{*}item")
        ]

    def get_tags(self) -> list[dict[str, str]]:
        return self._tags


def _tags_match(item: ET.Element, tag_filters: Filters) -> bool:
    # moto's own matcher, so a lagging answer filters exactly as moto's answer does.
    tagged: Any = _Tagged(item)
    return all(tag_filter_matches(tagged, name, values) for name, values in tag_filters)


def _asked_for(params: Params, kind: Kind, rid: str) -> bool:
    ids = [v for k, v in params.items() if k.startswith(f"{kind.id_param}.")]
    return not ids or rid in ids


def _probe(params: Params, kind: Kind, rid: str) -> Params:
    """The same read for one resource, without tag filters or paging: is it in the answer but for its tags?"""
    kept = {
        k: v
        for k, v in params.items()
        if not k.startswith(("Filter.", f"{kind.id_param}.")) and k not in ("MaxResults", "NextToken")
    }
    others = [(name, values) for name, values in filters(params) if not is_tag_filter(name)]
    for n, (name, values) in enumerate(others, start=1):
        kept[f"Filter.{n}.Name"] = name
        kept.update({f"Filter.{n}.Value.{m}": value for m, value in enumerate(values, start=1)})
    return kept | {f"{kind.id_param}.1": rid}


def _add(root: ET.Element, kind: Kind, aspects: dict[str, ET.Element], probe: ET.Element, tag_filters: Filters) -> None:
    """Move the probe's resource into the answer if its old tags pass the filters."""
    for container, item in _items(probe, kind):
        _splice(item, aspects)
        if not _tags_match(item, tag_filters):
            container.remove(item)
    _drop_empty_reservations(probe)
    top = kind.container.split("/")[0]
    into = root.find(top)
    for source in probe.iterfind(top):
        if into is not None:
            into.extend(list(source))


def _drop_empty_reservations(root: ET.Element) -> None:
    for reservations in root.iterfind("{*}reservationSet"):
        for reservation in list(reservations):
            instances = reservation.find("{*}instancesSet")
            if instances is not None and not len(instances):
                reservations.remove(reservation)
