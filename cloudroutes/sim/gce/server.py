"""HTTP plumbing: a stdlib ThreadingHTTPServer that speaks GCE's JSON and records every call.

The order of checks for a request mirrors a real front end: unknown URL, then the write throttle, then
any injected fault, then the project, and only then the API logic (under the state's lock).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cloudroutes.sim.gce import endpoints, errors
from cloudroutes.sim.gce.calls import Call, CallLog
from cloudroutes.sim.gce.faults import RateLimiter
from cloudroutes.sim.gce.request import Request
from cloudroutes.sim.gce.state import World


class Dispatcher:
    """Turns (method, path, query, body) into (status, JSON body); knows nothing about sockets."""

    def __init__(self, world: World, limiter: RateLimiter, calls: CallLog) -> None:
        self.world = world
        self.limiter = limiter
        self.calls = calls

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
        if endpoint.is_write:
            self.limiter.check()
        if fault := self.world.faults.take(endpoint.method_id, in_operation=False):
            raise fault.error()  # reads too: a list or an operation wait can fail as well
        if params["project"] != self.world.project:
            raise errors.not_found(f"projects/{params['project']}")
        if body is not None and not isinstance(body, dict):
            raise errors.ApiError(400, "parseError", "Invalid JSON payload received. Expected an object.")
        request = Request(method_id=endpoint.method_id, params=params, query=query, body=body)
        if endpoint.blocking:
            return endpoint.handler(self.world, request)
        with self.world.lock:
            self.world.advance()
            return endpoint.handler(self.world, request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the google client reuses its connection
    disable_nagle_algorithm = True  # otherwise Nagle + delayed ACK add ~40 ms per request
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per request would drown test and demo output."""

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        super().__init__(address, _Handler)
        self.dispatcher = dispatcher
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._open_lock:
            (self._open.add if add else self._open.discard)(conn)

    def close_connections(self) -> None:
        """Cut kept-alive connections, so a stopped emulator really stops answering."""
        with self._open_lock:
            open_now = list(self._open)
        for conn in open_now:
            with contextlib.suppress(OSError):  # the peer may have closed it already
                conn.shutdown(socket.SHUT_RDWR)


class HttpServer:
    """Runs a `_Server` on a background thread."""

    def __init__(self, dispatcher: Dispatcher, host: str, port: int) -> None:
        self._server = _Server((host, port), dispatcher)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        # A short poll interval keeps stop() fast (tests start and stop one emulator each); the cost is
        # an idle wake-up every 20 ms.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="gce-sim", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()
