"""`reconcile --interval ... --metrics-port N`: /metrics for Prometheus, /healthz for a liveness probe.

/healthz answers 200 while the last converged pass is younger than three intervals (counted from
the start until the first one), 503 once it is older: a reconciler that keeps failing, or that
hangs, is worth a restart and an alert; one slow pass is not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from cloudroutes.errors import ConfigError
from cloudroutes.metrics import Metrics

STALE_AFTER_INTERVALS = 3


class Health:
    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._since = clock()
        self._lock = threading.Lock()

    def succeeded(self) -> None:
        with self._lock:
            self._since = self._clock()

    def check(self) -> tuple[bool, str]:
        """(healthy, why) as of now."""
        with self._lock:
            age = self._clock() - self._since
        limit = STALE_AFTER_INTERVALS * self._interval
        if age < limit:
            return True, f"ok: last converged pass (or start) {age:.0f}s ago\n"
        return False, f"stale: no converged pass for {age:.0f}s (limit {limit:.0f}s)\n"


def serve(port: int, metrics: Metrics, health: Health) -> ThreadingHTTPServer:
    """Start answering on every address, port `port`, in a daemon thread; `shutdown()` ends it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, metrics.exposition(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                healthy, why = health.check()
                self._answer(200 if healthy else 503, why.encode(), "text/plain; charset=utf-8")
            else:
                self._answer(404, b"not found: try /metrics or /healthz\n", "text/plain; charset=utf-8")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every few seconds would drown the log: not logged."""

    try:
        server = ThreadingHTTPServer(("", port), Handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on port {port} for --metrics-port: {exc.strerror}") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="cloudroutes-metrics", daemon=True).start()
    return server
