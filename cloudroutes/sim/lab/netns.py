"""Run a little Python inside a named network namespace without a subprocess.

A thread may join another network namespace with setns(2) on its own: the rest of the process
stays where it is. A socket (or a netlink socket, or an open /proc/sys/net file) belongs to the
namespace it was created in for its whole life, so a one-shot thread that enters the namespace,
creates the socket and leaves hands the caller a socket that lives in that namespace and can be
used from any thread. That is cheaper than `ip netns exec python ...` (no interpreter start) and
keeps no thread behind.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def run_in(namespace: str, fn: Callable[[], T]) -> T:
    """Call `fn` in a fresh thread that has joined `namespace`; return its result or raise its error."""
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            target = os.open(NETNS_DIR / namespace, os.O_RDONLY)
        except OSError as exc:
            error.append(exc)
            return
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(target)
            try:
                result.append(fn())
            finally:
                _setns(home)  # not strictly needed (the thread ends), but never leave a thread astray
        except BaseException as exc:
            error.append(exc)
        finally:
            os.close(target)
            os.close(home)

    thread = threading.Thread(target=body, name=f"netns-{namespace}")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def socket_in(namespace: str, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """An IPv4 socket that lives in `namespace`."""
    return run_in(namespace, lambda: socket.socket(socket.AF_INET, kind))


def write_sysctls(namespace: str, values: Mapping[str, str]) -> None:
    """Set net sysctls ("net.ipv4.ip_forward": "1") of `namespace`.

    /proc/sys/net shows the namespace of the task that opens the file, so the write happens in
    the namespace's thread; no `sysctl` binary and no subprocess are needed.
    """

    def write() -> None:
        for key, value in values.items():
            Path("/proc/sys", *key.split(".")).write_text(value)

    run_in(namespace, write)
