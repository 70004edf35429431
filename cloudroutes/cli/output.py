"""Where a command's words go: results on stdout, logs and errors on stderr, errors as exit codes."""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Callable
from typing import NoReturn

import typer
from rich.console import Console

from cloudroutes.errors import EXIT_FAILED, CloudError, CloudroutesError

# Piped or logged output gets room for full ids and CIDRs instead of rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)


class Output(enum.StrEnum):
    text = "text"
    json = "json"


def fail(message: str, code: int) -> NoReturn:
    # One line, never wrapped: cron mails and CI logs grep for it.
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def guarded(body: Callable[[], int]) -> NoReturn:
    """Turn our errors into one line and the documented exit code; never a traceback."""
    try:
        code = body()
    except CloudroutesError as exc:
        prefix = f"{exc.kind}: " if isinstance(exc, CloudError) else ""
        fail(f"{prefix}{exc.message}", exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_FAILED)
    raise typer.Exit(code)
