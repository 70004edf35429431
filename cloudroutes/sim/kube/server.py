"""HTTP plumbing: a stdlib ThreadingHTTPServer that speaks the Kubernetes API's JSON and records calls.

The order of checks mirrors the API server's filter chain: authentication (401), the path (404) and
method (405), then any injected fault, then the handler under the store's lock. Every body the
emulator answers with, success or Status, is checked against the schema validator first.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cloudroutes.sim import loopback
from cloudroutes.sim.kube import api_nodes, errors
from cloudroutes.sim.kube.api_nodes import Request
from cloudroutes.sim.kube.calls import Call, CallLog
from cloudroutes.sim.kube.faults import Faults
from cloudroutes.sim.kube.store import Store

_PATH = re.compile(r"/api/v1/nodes(?:/(?P<name>[^/]+)(?:/(?P<sub>status))?)?")
_VERBS = {("GET", False): "list", ("GET", True): "get", ("PATCH", True): "patch"}

Answer = tuple[int, dict[str, Any], dict[str, str]]


class Dispatcher:
    """Turns (method, path, query, headers, body) into (status, JSON body, headers); knows no sockets."""

    def __init__(self, store: Store, faults: Faults, calls: CallLog, token: str | None) -> None:
        self.store = store
        self.faults = faults
        self.calls = calls
        self.token = token

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes) -> Answer:
        verb, sub, extra, body = "", "", {}, None
        try:
            body = _json(raw)
            req = self._request(method, path, query, headers, body)
            verb, sub = req.verb, req.subresource
            status, payload = 200, self._answer(req)
        except errors.ApiError as exc:
            status, payload = exc.code, exc.status()
            extra = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
        except Exception as exc:  # an emulator bug: answer like the API server would, but say so loudly
            traceback.print_exc(file=sys.stderr)
            failure = errors.internal(f"emulator bug: {exc!r}")
            status, payload = failure.code, failure.status()
        status, payload = self._checked(status, payload)
        ctype = headers.get("content-type", "")
        self.calls.record(
            Call(
                method=method,
                path=path,
                query=query,
                verb=verb,
                subresource=sub,
                content_type=ctype,
                body=body,
                status=status,
                response=payload,
            )
        )
        return status, payload, extra

    def _request(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any) -> Request:
        if self.token is not None and headers.get("authorization", "") != f"Bearer {self.token}":
            raise errors.unauthorized()
        found = _PATH.fullmatch(path)
        if found is None:
            raise errors.unknown_path()
        name = unquote(found.group("name") or "")
        verb = _VERBS.get((method, bool(name)))
        if verb is None or (verb == "list" and found.group("sub")):
            raise errors.method_not_allowed()
        ctype = headers.get("content-type", "").split(";")[0].strip()
        sub = found.group("sub") or ""
        return Request(verb=verb, subresource=sub, name=name, query=query, content_type=ctype, body=body)

    def _answer(self, req: Request) -> dict[str, Any]:
        if fault := self.faults.take(req.verb, req.subresource):
            raise fault.error(req.name)
        with self.store.lock:
            if req.verb == "list":
                return api_nodes.list_nodes(self.store, req)
            if req.verb == "get":
                return api_nodes.get_node(self.store, req)
            return api_nodes.patch_node(self.store, self.faults, req)

    def _checked(self, status: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            self.store.check(payload, who="returned")
        except errors.ApiError as exc:
            return exc.code, exc.status()
        return status, payload


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise errors.bad_request(f"invalid JSON in the request body: {exc}") from None


class _Handler(loopback.QuietHandler):
    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, payload, extra = self.server.dispatcher.handle(self.command, url.path, query, headers, raw)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(dispatcher: Dispatcher, host: str, port: int) -> loopback.HttpServer:
    return loopback.HttpServer(_Handler, dispatcher, host, port, name="kube-sim")
