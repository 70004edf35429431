"""The cloud, seen from inside the VMs: 169.254.169.254:80 in the fabric, relayed to the real endpoint.

The cloud listens on 127.0.0.1 of the root namespace, which no VM namespace can reach, and the lab
may add nothing to the root namespace. So the daemon opens a listening socket *inside* crlab-fab
(a socket keeps the namespace it was created in) and relays each connection, byte for byte, to
the cloud's endpoint from the daemon's own (root) namespace.

Why a byte relay and not a second WSGI server on moto's app: it serves whatever cloud the daemon
opened (the product's Ec2Sim with the AWS rules it adds in front of moto, or the GCE emulator,
whose API a GCE node reaches at the same address), and it needs nothing from it but its endpoint.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from urllib.parse import urlsplit

from cloudroutes.sim.lab import names, netns

log = logging.getLogger(__name__)


class MetadataRelay:
    def __init__(self, endpoint: str, namespace: str = names.FABRIC_NS, port: int = 80) -> None:
        target = urlsplit(endpoint)
        self._target = (target.hostname or "127.0.0.1", target.port or 80)
        self._listener = netns.socket_in(namespace)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((str(names.METADATA), port))
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._accept_loop, name="metadata-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # shutdown() wakes the blocked accept(); close() alone may not.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # stopped
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=10)
        except OSError as exc:
            log.warning("metadata relay: cannot reach the cloud at %s: %s", self._target, exc)
            client.close()
            return
        upstream.settimeout(None)
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        client.close()
        upstream.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy until EOF, then pass the EOF on (half-close) so HTTP keep-alive and close both work."""
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)
