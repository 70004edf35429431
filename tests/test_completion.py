"""Shell completion and --help: every config key is a flag of its own that both can show.

Completion runs as the shell runs it: the installed `cloudroutes` script in a subprocess, told what
was typed through _CLOUDROUTES_COMPLETE, COMP_WORDS and COMP_CWORD (what the bash script that
`cloudroutes --install-completion` writes does on every <Tab>).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cloudroutes import config
from cloudroutes.cli.options import KEYS_PANEL

Cli = Callable[..., Any]
SCRIPT = Path(sys.executable).parent / "cloudroutes"
KEY_FLAGS = [key.flag for key in config.KEYS.values() if key.section]
CONFIG_COMMANDS = ("plan", "apply", "status", "destroy")


def complete(*typed: str) -> list[str]:
    """What bash would be offered after typing `cloudroutes <typed...>` and <Tab> (the last word is
    the one being completed)."""
    env = {
        **os.environ,
        "_CLOUDROUTES_COMPLETE": "complete_bash",
        "COMP_WORDS": " ".join(["cloudroutes", *typed]),
        "COMP_CWORD": str(len(typed)),
    }
    result = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_completion_offers_every_aws_key_flag_to_apply() -> None:
    offered = complete("apply", "--aws-")
    assert offered == [flag for flag in KEY_FLAGS if flag.startswith("--aws-")]
    assert "--aws-profile" in offered and "--aws-region" in offered


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_completion_offers_every_key_flag_to_each_config_command(command: str) -> None:
    offered = complete(command, "--")
    assert set(KEY_FLAGS) <= set(offered)
    assert {"--config", "--output", "--set", "--provider"} <= set(offered)


def test_completion_offers_commands_and_schema_names() -> None:
    assert complete("sch") == ["schema"]
    assert complete("schema", "") == ["plan", "apply", "status", "destroy", "reconcile", "error"]


def test_the_root_offers_completion_installation(cli: Cli) -> None:
    result = cli("--help")
    assert "--install-completion" in result.output and "--show-completion" in result.output


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_help_lists_every_key_flag_in_its_panel(cli: Cli, command: str) -> None:
    result = cli(command, "--help", COLUMNS="200")
    assert result.exit_code == 0
    panel = result.output[result.output.index(KEYS_PANEL) :]
    missing = [flag for flag in KEY_FLAGS if f"{flag} " not in panel]
    assert missing == []
    assert "CLOUDROUTES_AWS_PROFILE" in panel and "default: 24" in panel


def test_a_key_flag_given_twice_with_two_values_is_refused(cli: Cli) -> None:
    """Real options keep every value given, so the last one does not silently win."""
    result = cli("plan", "--cluster-cidr", "10.244.0.0/16", "--cluster-cidr", "10.245.0.0/16", "--provider", "aws")
    assert result.exit_code == 2
    assert "cluster.cidr given twice with different values" in result.output
