"""Bad configuration through the real CLI against the embedded EC2: one line, exit 2, no write.

"No write" is read from the sim's call log; the control test shows the same apply does write
when the input is good, so an empty log below means the refusal, not an idle cloud.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudroutes import config
from cloudroutes.sim.ec2 import seed


@pytest.fixture
def seeded(world, tmp_path, monkeypatch):
    seed.launch(world.ec2, world.seed, 2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setattr(config, "SYSTEM_FILE", tmp_path / "etc" / "cloudroutes.toml")
    world.sim.reset_calls()
    return world


def test_control_the_same_apply_writes_when_the_input_is_good(seeded, cli):
    result = cli("apply", "--yes", "-c", seeded.write_config(), "--limits-write-rate", "100")
    assert result.exit_code == 0, result.output
    assert seeded.sim.writes()


def _directory(world, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    (tmp_path / "conf.d").mkdir()
    return ["-c", str(tmp_path / "conf.d")], {}


def _no_file(world, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    (tmp_path / "cloudroutes.toml").unlink(missing_ok=True)
    return [], {}


CASES = {
    "config is a directory": (_directory, "is a directory"),
    "no config anywhere": (_no_file, "no config file found (looked for ./cloudroutes.toml, "),
    "nan rate": (lambda w, t: (["-c", w.write_config(), "--limits-write-rate", "nan"], {}), "must be a finite number"),
    "inf in the file": (
        lambda w, t: (["-c", _append(w, "write_rate = inf\n")], {}),
        "limits.write_rate: invalid value inf: must be a finite number",
    ),
    "unknown variable": (
        lambda w, t: (["-c", w.write_config()], {"CLOUDROUTES_LIMITS_WRITE_RAT": "1"}),
        "CLOUDROUTES_LIMITS_WRITE_RAT is not a cloudroutes setting; did you mean CLOUDROUTES_LIMITS_WRITE_RATE?",
    ),
    "two values for one key": (
        lambda w, t: (
            ["-c", w.write_config(), "--cluster-cidr", "10.244.0.0/16", "--set", "cluster.cidr=10.9.0.0/16"],
            {},
        ),
        "cluster.cidr given twice with different values",
    ),
    "the same flag twice": (
        lambda w, t: (["-c", w.write_config(), "--limits-concurrency", "2", "--limits-concurrency", "3"], {}),
        "limits.concurrency given twice with different values",
    ),
    "reserved outside": (
        lambda w, t: (["-c", w.write_config(), "--cluster-reserved", "192.168.0.0/24"], {}),
        "lies outside every cluster range",
    ),
    "reserved covers the range": (
        lambda w, t: (["-c", w.write_config(), "--cluster-reserved", "10.0.0.0/8"], {}),
        "covers the whole cluster range 10.244.0.0/16",
    ),
    "endpoint not a URL": (
        lambda w, t: (["-c", w.write_config(), "--aws-endpoint", "localhost:5000"], {}),
        "expected an http(s) URL",
    ),
    "output yaml": (lambda w, t: (["-c", w.write_config(), "--output", "yaml"], {}), "--output must be one of"),
}


def _append(world, line: str) -> str:
    path = Path(world.write_config())
    path.write_text(path.read_text() + line)  # the world's config ends in [limits]
    return str(path)


@pytest.mark.parametrize("case", CASES)
def test_bad_configuration_is_one_line_exit_2_and_no_write(seeded, cli, tmp_path, case):
    build, fragment = CASES[case]
    args, env = build(seeded, tmp_path)
    result = cli("apply", "--yes", *args, **env)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert fragment in result.output
    assert seeded.sim.writes() == []
