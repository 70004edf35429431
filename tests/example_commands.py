"""The cloudroutes command lines inside the shipped examples, and the real CLI parser to judge them.

Each kind of file says its command line its own way: a Kubernetes container's command and args, a
systemd ExecStart=, a GitHub Actions `run:` script, a GitLab `script:` item, a cron.d line, a
Dockerfile's ENTRYPOINT and CMD, a README shell block. `argv_in_*` pull out every cloudroutes
invocation as an argv list; `parse` runs it through the click command typer builds from the real
app, subcommand by subcommand, so an unknown flag, a bad value or a missing command fails here
exactly as it would on the user's machine.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import typer
import typer.main
import yaml

from cloudroutes.cli import app
from cloudroutes.cli.options import key_flags

PROGRAM = "cloudroutes"
Argv = list[str]


def parse(argv: Argv) -> Any:
    """The innermost click context for `argv` (argv[0] is the program). Raises what the CLI would:
    a usage error, typer.Exit from a value parser, ConfigError for an unknown --<section>-<key>."""
    assert Path(argv[0]).name == PROGRAM, argv
    command = typer.main.get_command(app)
    ctx = command.make_context(PROGRAM, list(argv[1:]), resilient_parsing=False)
    while hasattr(ctx.command, "resolve_command"):  # a group: descend into the named subcommand
        name, sub, rest = ctx.command.resolve_command(ctx, [*getattr(ctx, "_protected_args", []), *ctx.args])
        ctx = sub.make_context(name, rest, parent=ctx)
    # Commands that read a config take --<section>-<key> flags, which click leaves in ctx.args.
    key_flags(list(ctx.args))
    return ctx


def accepted(argv: Argv) -> bool:
    """parse() without raising; `--help` (click exits 0 after printing it) counts as accepted."""
    try:
        parse(argv)
    except typer.Exit as stop:
        return stop.exit_code == 0
    return True


def _commands() -> set[str]:
    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def in_shell(text: str) -> Iterator[Argv]:
    """Every `cloudroutes <command> ...` in shell text, up to the first pipe, redirection or `;`."""
    commands = _commands()
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # an unbalanced quote: not a line of ours
            continue
        for i, token in enumerate(tokens[:-1]):
            if Path(token).name == PROGRAM and tokens[i + 1] in commands:
                yield _until_operator(tokens[i:])
                break


def _until_operator(tokens: list[str]) -> Argv:
    argv: Argv = []
    for token in tokens:
        if token and all(c in "();<>|&" for c in token):
            if token[0] in "<>" and argv and argv[-1].isdigit():
                argv.pop()  # `2>&1`: the 2 is a file descriptor, not an argument
            break
        argv.append(token)
    return argv


def argv_in_kubernetes(path: Path, entrypoint: Argv) -> Iterator[Argv]:
    """Each container's command and args; a container without a command runs the image's entrypoint."""
    for doc in yaml.safe_load_all(path.read_text()):
        for pod in _pod_specs(doc or {}):
            for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
                yield [*(container.get("command") or entrypoint), *container.get("args", [])]


def _pod_specs(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = doc.get("spec", {})
    if doc.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    if "template" in spec:
        yield spec["template"]["spec"]


def argv_in_systemd(path: Path) -> Iterator[Argv]:
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in {"ExecStart", "ExecStartPre", "ExecStartPost", "ExecReload", "ExecStop"}:
            yield shlex.split(value.strip().lstrip("-@:+!"))


def argv_in_github_workflow(path: Path) -> Iterator[Argv]:
    workflow = yaml.safe_load(path.read_text())
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            yield from in_shell(step.get("run", ""))


def argv_in_gitlab_ci(path: Path) -> Iterator[Argv]:
    for name, job in yaml.safe_load(path.read_text()).items():
        if isinstance(job, dict) and name not in {"variables", "default", "workflow", "include"}:
            for key in ("before_script", "script", "after_script"):
                yield from in_shell("\n".join(_lines(job.get(key, []))))


def _lines(items: str | Iterable[Any]) -> list[str]:
    return [items] if isinstance(items, str) else [str(item) for item in items]


def argv_in_cron(path: Path) -> Iterator[Argv]:
    """cron.d lines: five time fields, a user, the command (environment lines and comments skipped)."""
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or re.match(r"^\s*\w+\s*=", line):
            continue
        command = line.split(None, 6)[6]
        yield from in_shell(command)


def dockerfile_instructions(path: Path) -> list[dict[str, Any]]:
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(path))
    return list(parser.structure)


def argv_in_dockerfile(path: Path) -> Iterator[Argv]:
    """What `docker run IMAGE` runs: ENTRYPOINT (exec form) followed by CMD (exec form)."""
    found = {
        i["instruction"]: json.loads(i["value"])
        for i in dockerfile_instructions(path)
        if i["instruction"] in ("ENTRYPOINT", "CMD")
    }
    if "ENTRYPOINT" in found:
        yield [*found["ENTRYPOINT"], *found.get("CMD", [])]


def argv_in_markdown(path: Path) -> Iterator[Argv]:
    """Every cloudroutes line of the ```sh blocks."""
    for block in re.findall(r"```sh\n(.*?)```", path.read_text(), re.S):
        yield from in_shell(block)
