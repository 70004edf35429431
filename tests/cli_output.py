"""Reading what the CLI printed: the shapes every refusal and prompt must have."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

REFUSING_COMMANDS = (["plan"], ["apply", "--yes"], ["status", "--check"])


def one_line(text: str) -> bool:
    return text.strip() != "" and "\n" not in text.strip()


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def assert_refused(
    cli: Callable[..., Any], config: str, says: str, commands: Sequence[list[str]] = REFUSING_COMMANDS
) -> None:
    """Every command that reads the config refuses it: exit 2, one line, saying why."""
    for command in commands:
        result = cli(*command, "--config", config)
        assert result.exit_code == 2, result.output
        assert says in result.output, result.output
        assert one_line(result.output), result.output
