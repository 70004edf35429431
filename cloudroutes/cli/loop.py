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
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

from cloudroutes import metrics as metrics_mod
from cloudroutes import reconcile as schedule
from cloudroutes.cli.converge import converge_pass
from cloudroutes.cli.options import load_config, make_provider
from cloudroutes.cli.output import Output
from cloudroutes.cli.serve import Health, serve
from cloudroutes.config import Config
from cloudroutes.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CloudroutesError, ConfigError
from cloudroutes.metrics import Metrics, PassResult
from cloudroutes.providers.base import Provider

log = logging.getLogger("cloudroutes.reconcile")


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
    stop, wake, reload = threading.Event(), threading.Event(), threading.Event()

    def stopping() -> None:
        stop.set()
        wake.set()

    def reloading() -> None:
        reload.set()
        wake.set()

    handlers = {signal.SIGTERM: stopping}
    if settings.interval is not None:
        # Ctrl-C on a loop run by hand stops it as SIGTERM does; a one-shot keeps Python's default.
        handlers |= {signal.SIGINT: stopping, signal.SIGHUP: reloading}
    if settings.metrics_file:
        folder = os.path.dirname(os.path.abspath(settings.metrics_file))
        if not os.path.isdir(folder):
            raise ConfigError(f"--metrics-file: no such directory: {folder}")
    with _on_signals(handlers):
        cfg = load_config(settings.config, settings.sets, settings.provider, settings.extra)
        runner = _Runner(settings, cfg, make_provider(cfg), stop)
        if settings.interval is None:
            return runner.one_shot()
        return runner.loop(settings.interval, wake, reload)


class _Runner:
    """Passes, each recorded in the metrics (and the metrics file) however it ended."""

    def __init__(self, settings: Settings, cfg: Config, cloud: Provider, stop: threading.Event) -> None:
        self.settings = settings
        self.cfg = cfg
        self.cloud = cloud
        self.stop = stop
        self.metrics = Metrics()

    def one_shot(self) -> int:
        if self.settings.metrics_file:  # the alerting clock must survive a failed run: carry it over
            self.metrics.carry_last_success(metrics_mod.last_success_in(self.settings.metrics_file))
        result, error = self.one_pass()
        if error is not None:
            raise error  # one line and the exit status apply gives it
        return EXIT_OK if result == PassResult.CONVERGED else EXIT_FAILED

    def one_pass(self) -> tuple[str, CloudroutesError | None]:
        started = time.monotonic()
        error: CloudroutesError | None = None
        try:
            report = converge_pass(
                self.cloud,
                self.cfg,
                output=self.settings.output,
                yes=True,
                allow_mass_delete=self.settings.allow_mass_delete,
                stop=self.stop,
            )
        except CloudroutesError as exc:
            error = exc
            result = PassResult.REFUSED if exc.exit_code == EXIT_USAGE else PassResult.FAILED
        else:
            self.metrics.record_report(report, self.cfg.cluster)
            result = PassResult.CONVERGED if report.converged else PassResult.FAILED
        self.metrics.record_calls(self.cloud.api_calls, self.cloud.api_errors)
        self.metrics.record_pass(result=result, duration_s=time.monotonic() - started)
        self._write_metrics()
        return result, error

    def _write_metrics(self) -> None:
        if not self.settings.metrics_file:
            return
        try:
            self.metrics.write(self.settings.metrics_file)
        except OSError as exc:  # the pass itself went as it went: say so, but do not fail it for this
            log.error("could not write --metrics-file %s: %s", self.settings.metrics_file, exc.strerror)

    def loop(self, interval: float, wake: threading.Event, reload: threading.Event) -> int:
        health = Health(interval)
        port = self.settings.metrics_port
        server = serve(port, self.metrics, health) if port is not None else None
        if port is not None:
            log.info("serving /metrics and /healthz on port %d", port)
        failures = number = 0
        try:
            while not self.stop.is_set():
                if reload.is_set():
                    reload.clear()
                    self._reload()
                number += 1
                result, error = self.one_pass()
                if result == PassResult.CONVERGED:
                    failures = 0
                    health.succeeded()
                else:
                    failures += 1
                delay = schedule.next_delay(interval, failures, random.uniform)
                _log_pass(number, result, error, delay)
                wake.wait(delay)
                wake.clear()
        finally:
            if server is not None:
                server.shutdown()
        log.info("stopped: the writes in flight finished", extra={"exit_code": EXIT_OK})
        return EXIT_OK

    def _reload(self) -> None:
        try:
            cfg = load_config(self.settings.config, self.settings.sets, self.settings.provider, self.settings.extra)
            cloud = make_provider(cfg)
        except CloudroutesError as exc:
            log.error("SIGHUP: the config is invalid, keeping the previous one: %s", exc.message)
            return
        self.cfg, self.cloud = cfg, cloud
        self.metrics.new_provider()
        log.info("SIGHUP: config read again")


def _log_pass(number: int, result: str, error: CloudroutesError | None, delay: float) -> None:
    fields = {"pass_number": number, "pass_result": result, "next_pass_in_s": round(delay, 1)}
    if error is None:
        level = logging.INFO if result == PassResult.CONVERGED else logging.WARNING
        log.log(level, "pass %d: %s; next in %.1fs", number, result, delay, extra=fields)
    else:
        kind = getattr(error, "kind", "")
        fields["error_kind"] = kind
        said = f"{kind}: " if kind and kind not in error.message.partition(":")[0] else ""
        log.error("pass %d: %s: %s%s; next in %.1fs", number, result, said, error.message, delay, extra=fields)


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
