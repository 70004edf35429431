"""How `reconcile` runs: one pass, or passes on a schedule until SIGTERM.

One pass is exactly `apply --yes` (same plan, guard, executor, exit status). The loop:

- lives through cloud failures: a pass that fails (a read refused, a write throttled to death, a
  preflight refusal, the mass-delete guard) is logged and counted, and the next one comes after a
  backoff (cloudroutes.reconcile). Only an invalid config *at start* ends it, with exit 2.
- SIGTERM (and SIGINT): no new write starts; the writes in flight finish (and GCE operations in
  flight are seen through), then the process exits 0.
- SIGHUP: the config (file, environment, flags) is read again and a pass starts at once. An
  invalid new config is logged and the previous one kept: a typo in a ConfigMap must not stop
  a running reconciler.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

from cloudroutes.cli.converge import converge_pass
from cloudroutes.cli.options import load_config, make_provider
from cloudroutes.cli.output import Output
from cloudroutes.errors import EXIT_FAILED, EXIT_OK


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What the command line said; the config itself is (re)read from it."""

    config: str | None
    sets: list[str] | None
    provider: str | None
    extra: list[str]
    output: Output
    allow_mass_delete: bool
    interval: float | None
    metrics_file: str | None
    metrics_port: int | None


def run(settings: Settings) -> int:
    stop = threading.Event()
    with _on_signals({signal.SIGTERM: lambda: stop.set()}):
        cfg = load_config(settings.config, settings.sets, settings.provider, settings.extra)
        cloud = make_provider(cfg)
        report = converge_pass(
            cloud, cfg, output=settings.output, yes=True, allow_mass_delete=settings.allow_mass_delete, stop=stop
        )
    return EXIT_OK if report.converged else EXIT_FAILED


@contextlib.contextmanager
def _on_signals(handlers: dict[signal.Signals, Callable[[], None]]) -> Iterator[None]:
    """Install handlers for the duration of a block, and put the previous ones back."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread (an embedding host's worker thread: no handlers)
        return
    previous = {number: signal.signal(number, _caller(handler)) for number, handler in handlers.items()}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _caller(handler: Callable[[], None]) -> Callable[[int, FrameType | None], None]:
    return lambda _number, _frame: handler()
