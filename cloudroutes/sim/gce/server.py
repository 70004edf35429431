"""HTTP plumbing: a stdlib ThreadingHTTPServer that speaks GCE's JSON and records every call.

The order of checks for a request mirrors a real front end: unknown URL, then the caller's permissions
(in permission mode), then the write throttle, then any injected fault, then the project, and only then
the API logic (under the state's lock).
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cloudroutes.sim import loopback
from cloudroutes.sim.gce import endpoints, errors
from cloudroutes.sim.gce.calls import Call, CallLog
from cloudroutes.sim.gce.faults import RateLimiter
from cloudroutes.sim.gce.permissions import Permissions
from cloudroutes.sim.gce.request import Request
from cloudroutes.sim.gce.state import World


class Dispatcher:
    """Turns (method, path, query, body) into (status, JSON body); knows nothing about sockets."""

    def __init__(self, world: World, limiter: RateLimiter, calls: CallLog, permissions: Permissions) -> None:
        self.world = world
        self.limiter = limiter
        self.calls = calls
        self.permissions = permissions

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        try:
            status, payload = 200, self._answer(method, path, query, body)
        except errors.ApiError as exc:
            status, payload = exc.status, exc.body()
        except Exception as exc:  # an emulator bug: answer like GCE would, but say so loudly
            traceback.print_exc(file=sys.stderr)
            failure = errors.internal(f"Internal error in the emulator: {exc!r}")
            status, payload = failure.status, failure.body()
        self.calls.record(Call(method, path, query, body, status, payload))
        return status, payload

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        endpoint, params = endpoints.match(method, path)
        self.permissions.check(endpoint.method_id, params, body)
        if endpoint.is_write:
            self.limiter.check()
        if fault := self.world.faults.take(endpoint.method_id, in_operation=False):
            raise fault.error()  # reads too: a list or an operation wait can fail as well
        if failure := self.world.faults.chaos(endpoint.method_id, is_write=endpoint.is_write):
            raise failure
        if params["project"] != self.world.project:
            raise errors.not_found(f"projects/{params['project']}")
        if body is not None and not isinstance(body, dict):
            raise errors.ApiError(400, "parseError", "Invalid JSON payload received. Expected an object.")
        request = Request(method_id=endpoint.method_id, params=params, query=query, body=body)
        if endpoint.blocking:
            return endpoint.handler(self.world, request)
        with self.world.lock:
            self.world.advance()
            answer = endpoint.handler(self.world, request)
        if endpoint.is_write:
            self.world.faults.landed()
        return answer


class _Handler(loopback.QuietHandler):
    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            status, payload = 400, errors.ApiError(400, "parseError", "Invalid JSON payload received.").body()
        else:
            status, payload = self.server.dispatcher.handle(self.command, url.path, query, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(dispatcher: Dispatcher, host: str, port: int) -> loopback.HttpServer:
    return loopback.HttpServer(_Handler, dispatcher, host, port, name="gce-sim")
