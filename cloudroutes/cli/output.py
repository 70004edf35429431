"""Where a command's words go: results on stdout, logs and errors on stderr, errors as exit codes."""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Callable
from typing import NoReturn

import typer
from rich.console import Console

from cloudroutes.errors import EXIT_FAILED, CloudError, CloudroutesError, redact

# Piped or logged output gets room for full ids and CIDRs instead of rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)


class Output(enum.StrEnum):
    text = "text"
    json = "json"


class LogFormat(enum.StrEnum):
    text = "text"
    json = "json"


def fail(message: str, code: int) -> NoReturn:
    # One line, never wrapped: cron mails and CI logs grep for it. Not every message here went
    # through CloudroutesError (lab errors, --set), so secrets are taken out here too.
    print(f"error: {redact(message)}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


class RedactingFilter(logging.Filter):
    """Takes secrets out of every record a handler writes, whoever logged it (ours or an SDK's):
    the message with its arguments filled in, and the traceback text when there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_HANDLER = "cloudroutes-stderr"
SDK_LOGGERS = ("botocore", "boto3", "urllib3", "google", "google_auth_httplib2", "httpx2", "httpcore")
"""The cloud SDKs' own loggers: quiet by default, at DEBUG with -v (their requests, retries, answers)."""


def setup_logging(verbose: bool, log_format: LogFormat = LogFormat.text) -> None:
    """Logs go to stderr: text by default, one JSON object per line with --log-format json.
    -v: every action (INFO) and the SDKs' debug logs; either way secrets are redacted."""
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a host that already logs (pytest) keeps its handlers
        ours = logging.StreamHandler(sys.stderr)
        ours.set_name(_HANDLER)
        root.addHandler(ours)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    formatter: logging.Formatter
    if log_format is LogFormat.json:
        from cloudroutes.cli.jsonlog import JsonFormatter

        formatter = JsonFormatter()
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    # On the handlers, not a logger: a logger's filter never sees its children's records.
    for handler in root.handlers:
        if handler.get_name() == _HANDLER:
            handler.setFormatter(formatter)
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    # -v: cloudroutes' own debug lines too (every API call it makes, by operation).
    logging.getLogger("cloudroutes").setLevel(logging.DEBUG if verbose else logging.NOTSET)
    for sdk in SDK_LOGGERS:
        logging.getLogger(sdk).setLevel(logging.DEBUG if verbose else logging.WARNING)
    # The embedded clouds' own servers, when they run in this process: their request lines are not ours.
    for server in ("werkzeug", "moto"):
        logging.getLogger(server).setLevel(logging.WARNING)
    # A failed SSO or credential refresh is logged by botocore with a traceback, then raised; the
    # raised error becomes our one line naming the fix, so the log only buries it.
    for told_anyway in ("botocore.credentials", "botocore.tokens"):
        logging.getLogger(told_anyway).setLevel(logging.DEBUG if verbose else logging.ERROR)


def guarded(body: Callable[[], int]) -> NoReturn:
    """Turn our errors into one line and the documented exit code; never a traceback."""
    try:
        code = body()
    except CloudroutesError as exc:
        # The kind leads the line unless the message already says it ("permission denied: ...").
        said = exc.message.partition(":")[0]
        prefix = f"{exc.kind}: " if isinstance(exc, CloudError) and exc.kind not in said else ""
        fail(f"{prefix}{exc.message}", exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_FAILED)
    raise typer.Exit(code)
