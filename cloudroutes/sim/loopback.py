"""What the embedded HTTP APIs (Compute Engine, Kubernetes) share: a quiet keep-alive server on a
background thread that can really stop, and a call log. Standard library only; each API keeps its
own request handling and its own `Call` shape."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Protocol, TypeVar

C = TypeVar("C")
W = TypeVar("W", bound="_Call")
S = TypeVar("S", bound="Served")


class CallLog(Generic[C]):
    """The record of every request an emulator answered, for tests that count or inspect calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[C] = []

    def record(self, call: C) -> None:
        with self._lock:
            self._calls.append(call)

    def snapshot(self) -> list[C]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


class _Call(Protocol):
    @property
    def is_write(self) -> bool: ...


class LoggedCalls(Generic[W]):
    """What a test reads of an emulator's call log: every call, the writes, a fresh start."""

    _calls: CallLog[W]

    @property
    def calls(self) -> list[W]:
        return self._calls.snapshot()

    def writes(self) -> list[W]:
        return [c for c in self._calls.snapshot() if c.is_write]

    def reset_calls(self) -> None:
        self._calls.clear()


class TrackingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], dispatcher: Any) -> None:
        super().__init__(address, handler)
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


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive (client libraries reuse their connections), no Nagle, no request log lines; every
    method goes to `_serve`, which the API's handler writes."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # otherwise Nagle + delayed ACK add ~40 ms per request
    server: TrackingServer

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
        raise NotImplementedError


class HttpServer:
    """Runs a TrackingServer on a background thread, named for the API it serves."""

    def __init__(self, handler: type[QuietHandler], dispatcher: Any, host: str, port: int, *, name: str) -> None:
        self._server = TrackingServer((host, port), handler, dispatcher)
        self._name = name
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        # A short poll interval keeps stop() fast (tests start and stop one emulator each); the cost
        # is an idle wake-up every 20 ms.
        serve: Callable[..., None] = self._server.serve_forever
        self._thread = threading.Thread(target=serve, kwargs={"poll_interval": 0.02}, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()


class Served:
    """The lifecycle an emulator facade shares: start and stop its server, a context manager, its
    port and endpoint. The facade says how to build its server in `_serve()`."""

    _host: str
    _port: int
    _server: HttpServer | None = None

    def _serve(self) -> HttpServer:
        raise NotImplementedError

    def start(self: S) -> S:
        if self._server is None:
            self._server = self._serve()
            self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return self._server.port

    @property
    def endpoint(self) -> str:
        return f"http://{self._host}:{self.port}"
