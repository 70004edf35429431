"""demo, sim and lab refuse in one line with exit 2 when they cannot start: a missing extra, a port in use.

Each runs the real CLI in a subprocess, as a user would after `pip install cloudroutes`. A plain
install is played by a meta-path finder that refuses the extra's module (moto, pyroute2): this
suite's own environment has every extra installed, so hiding one is the only way to lack it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

WITHOUT = """\
import os
import sys

REFUSED = frozenset(sys.argv[1].split(","))

class Refuse:
    \"\"\"Plays a plain install: these modules are not there.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in REFUSED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Refuse())
# And no root: were the extra check to go, `lab up` would stop at "needs root" instead of building
# namespaces on a machine whose lab may be someone else's.
os.geteuid = lambda: 65534
sys.argv = ["cloudroutes", *sys.argv[2:]]
from cloudroutes.cli import main
main()
"""


def run_without(modules: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, modules, *args], capture_output=True, text=True, timeout=120, stdin=None
    )


@pytest.mark.parametrize(
    ("missing", "args", "extra"),
    [
        pytest.param("moto", ["demo"], "sim", id="demo"),
        pytest.param("moto", ["demo", "--provider", "aws", "-o", "json"], "sim", id="demo-json"),
        pytest.param("moto", ["sim", "aws", "--port", "0"], "sim", id="sim-aws"),
        pytest.param("pyroute2", ["lab", "up", "--state-dir", "/nonexistent/lab"], "lab", id="lab-up-no-pyroute2"),
        pytest.param("moto", ["lab", "up", "--state-dir", "/nonexistent/lab"], "lab", id="lab-up-no-moto"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(missing, args, extra):
    result = run_without(missing, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"error: {missing} is not installed: install cloudroutes[{extra}] (pip install 'cloudroutes[{extra}]')\n"
    )
    assert result.stdout == ""


def test_what_needs_no_extra_still_runs_without_them():
    result = run_without("moto,pyroute2", "demo", "--provider", "gce", "--nodes", "2", "-o", "json")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def port_in_use() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize("cloud", ["aws", "gce"])
def test_a_port_in_use_is_one_line_exit_2(cloud, port_in_use):
    result = subprocess.run(
        [sys.executable, "-m", "cloudroutes", "sim", cloud, "--port", str(port_in_use)],
        capture_output=True,
        text=True,
        timeout=60,  # were the sim to start anyway, it would serve until this ends it
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{port_in_use}: Address already in use "
        "(pick another --port, or 0 for a free one)\n"
    )
    assert result.stdout == ""
