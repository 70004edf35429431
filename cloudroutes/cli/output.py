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


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # On the handlers, not a logger: a logger's filter never sees its children's records.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A failed SSO or credential refresh is logged by botocore with a traceback, then raised; the
    # raised error becomes our one line naming the fix, so the log only buries it.
    for told_anyway in ("botocore.credentials", "botocore.tokens"):
        logging.getLogger(told_anyway).setLevel(logging.ERROR)


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
