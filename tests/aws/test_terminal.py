"""On a terminal, apply asks before writing: 'n' writes nothing (exit 2), 'y' converges.
A pseudo-terminal stands in for the person at the keyboard."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from cloudroutes.sim.ec2 import seed


def apply_answering(answer: str, config: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        return subprocess.run(
            [sys.executable, "-m", "cloudroutes", "apply", "-c", config],
            stdin=terminal,
            capture_output=True,
            env=env,
            timeout=120,
        )
    finally:
        os.close(controller)
        os.close(terminal)


def test_apply_asks_on_a_terminal(world):
    seed.launch(world.ec2, world.seed, 2)
    config = world.write_config()
    env = {**os.environ, **world.sim.env()}
    world.sim.reset_calls()

    declined = apply_answering("n", config, env)
    assert declined.returncode == 2 and b"change(s)?" in declined.stderr
    assert world.sim.writes() == []

    accepted = apply_answering("y", config, env)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert len(world.pod_cidrs()) == 2
