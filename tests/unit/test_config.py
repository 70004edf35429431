"""config: file < CLOUDROUTES_<SECTION>_<KEY> env < --set; every bad input is a one-line ConfigError."""

from __future__ import annotations

import dataclasses
import os
import re
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudroutes import config
from cloudroutes.cli import app
from cloudroutes.cli import options as cli_options
from cloudroutes.config import AwsConfig, Config, GceConfig, KubernetesConfig, Limits
from cloudroutes.config.values import Kind, kind_of
from cloudroutes.errors import EXIT_USAGE, MAX_MESSAGE, ConfigError
from cloudroutes.model import Cluster, IPNetwork

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
provider = "aws"
[cluster]
name = "demo"
cidr = "10.244.0.0/16"
"""


@pytest.fixture(autouse=True)
def _no_stray_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load() looks in ./, ~/.config and /etc: run every test in an empty directory, with an
    empty home, and /etc's file moved under tmp_path (tests never write to /etc)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(config, "SYSTEM_FILE", tmp_path / "etc" / "cloudroutes.toml")


def write(tmp_path: Path, text: str, name: str = "cloudroutes.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def load(path: str | None = None, env: dict[str, str] | None = None, **overrides: str) -> Config:
    return config.load(path, env=env or {}, overrides={k.replace("__", "."): v for k, v in overrides.items()})


def bad(*args: object, **kwargs: object) -> str:
    """The ConfigError a load raises: one line, exit code 2."""
    with pytest.raises(ConfigError) as caught:
        load(*args, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message and "\n" not in message
    assert caught.value.exit_code == EXIT_USAGE
    return message


def bad_text(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        config.from_text(text)
    message = str(caught.value)
    assert message and "\n" not in message
    return message


# -- defaults and precedence ---------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    got = load(path)
    assert got == Config(
        provider="aws",
        cluster=Cluster(name="demo", cidrs=(ip_network("10.244.0.0/16"),)),
        source=path,
    )
    assert (got.cluster.node_mask, got.cluster.node_mask_v6, got.cluster.reserved) == (24, 64, ())
    assert got.aws == AwsConfig(route_limit=50, profile="", endpoint="", emulator=False)
    assert (got.gce.network, got.gce.priority, got.gce.fix_forwarding, got.gce.emulator) == (
        "default",
        1000,
        False,
        False,
    )
    assert (got.gce.op_poll_burst, got.gce.op_poll_rate) == (5, 5.0)
    assert got.limits == Limits(
        write_burst=None,
        write_rate=None,
        read_burst=None,
        read_rate=None,
        concurrency=16,
        max_attempts=6,
        backoff_max=20.0,
        conflict_rounds=3,
        max_delete_fraction=0.5,
    )


def test_default_path_is_the_working_directory(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL)
    assert load(None).source == "cloudroutes.toml"


def test_no_file_at_all_is_fine_when_env_says_everything() -> None:
    env = {
        "CLOUDROUTES_PROVIDER": "gce",
        "CLOUDROUTES_CLUSTER_NAME": "demo",
        "CLOUDROUTES_CLUSTER_CIDR": "10.244.0.0/16",
    }
    got = load(None, env)
    assert (got.provider, got.cluster.name, got.source) == ("gce", "demo", "")


def test_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL, "elsewhere.toml")
    assert load(None, {"CLOUDROUTES_CONFIG": path}).source == path


FILE = (
    MINIMAL
    + """
node_mask = 25
[limits]
write_rate = 2.0
[gce]
zones = ["z-a"]
"""
)


@pytest.mark.parametrize(
    ("env", "overrides", "expected"),
    [
        pytest.param({}, {}, ("demo", 25, 2.0, ("z-a",), "aws"), id="file only"),
        pytest.param(
            {
                "CLOUDROUTES_CLUSTER_NAME": "env",
                "CLOUDROUTES_CLUSTER_NODE_MASK": "26",
                "CLOUDROUTES_LIMITS_WRITE_RATE": "3.5",
                "CLOUDROUTES_GCE_ZONES": "z-b, z-c",
                "CLOUDROUTES_PROVIDER": "gce",
            },
            {},
            ("env", 26, 3.5, ("z-b", "z-c"), "gce"),
            id="env beats the file",
        ),
        pytest.param(
            {"CLOUDROUTES_CLUSTER_NAME": "env", "CLOUDROUTES_CLUSTER_NODE_MASK": "26"},
            {"cluster.name": "flag", "limits.write_rate": "4", "provider": "gce"},
            ("flag", 26, 4.0, ("z-a",), "gce"),
            id="--set beats env and file",
        ),
    ],
)
def test_precedence(
    tmp_path: Path, env: dict[str, str], overrides: dict[str, str], expected: tuple[object, ...]
) -> None:
    got = config.load(write(tmp_path, FILE), env=env, overrides=overrides)
    assert (got.cluster.name, got.cluster.node_mask, got.limits.write_rate, got.gce.zones, got.provider) == expected


def test_env_and_flags_parse_lists_maps_and_bools(tmp_path: Path) -> None:
    got = load(
        write(tmp_path, MINIMAL),
        {
            "CLOUDROUTES_AWS_NODE_TAGS": "role=node, pool=a",
            "CLOUDROUTES_CLUSTER_RESERVED": "10.244.0.0/24,10.244.1.0/24",
        },
        cluster__cidr="10.244.0.0/16, fd00:10::/56",
        gce__fix_forwarding="yes",
        aws__route_tables="rtb-1,rtb-2",
    )
    assert dict(got.aws.node_tags) == {"role": "node", "pool": "a"}
    assert got.cluster.reserved == (ip_network("10.244.0.0/24"), ip_network("10.244.1.0/24"))
    assert got.cluster.cidrs == (ip_network("10.244.0.0/16"), ip_network("fd00:10::/56"))
    assert got.gce.fix_forwarding is True
    assert got.aws.route_tables == ("rtb-1", "rtb-2")


def test_dual_stack_list_is_sorted_ipv4_first() -> None:
    got = config.from_text(MINIMAL.replace('"10.244.0.0/16"', '["fd00:10::/56", "10.244.0.0/16"]'))
    assert got.cluster.cidrs == (ip_network("10.244.0.0/16"), ip_network("fd00:10::/56"))
    assert got.cluster.mask_for(got.cluster.cidrs[1]) == 64


def test_ipv6_only_cluster_with_its_own_mask() -> None:
    got = config.from_text(MINIMAL.replace('"10.244.0.0/16"', '"fd00:10::/48"') + "node_mask_v6 = 80\n")
    assert got.cluster.cidrs == (ip_network("fd00:10::/48"),) and got.cluster.node_mask_v6 == 80


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("CLOUDROUTES_CLUSTER_COLOUR", "CLOUDROUTES_CLUSTER_CIDR"),
        ("CLOUDROUTES_CLUSTR_NAME", "CLOUDROUTES_CLUSTER_NAME"),
        ("CLOUDROUTES_AWS_VPC", "CLOUDROUTES_AWS_VPC_ID"),
        ("CLOUDROUTES_LIMITS_OP_POLL_RATE", "CLOUDROUTES_GCE_OP_POLL_RATE"),
    ],
)
def test_an_unknown_cloudroutes_variable_is_refused_with_the_closest_key(
    tmp_path: Path, name: str, closest: str
) -> None:
    """A typo in a variable would otherwise be a setting silently not applied."""
    assert bad(write(tmp_path, MINIMAL), {name: "x"}) == f"{name} is not a cloudroutes setting; did you mean {closest}?"


def test_variables_read_elsewhere_are_not_refused(tmp_path: Path) -> None:
    """Every CLOUDROUTES_* name the code reads that is not a config key must be on the allow-list."""
    code = [*ROOT.glob("cloudroutes/**/*.py"), *ROOT.glob("providers/*.py"), *ROOT.glob("tests/**/*.py")]
    code += [*ROOT.glob("terraform-examples/**/*.tf"), ROOT / "Makefile"]
    # The config tests make names up to test the refusal; every other file names what it reads.
    made_up = {Path(__file__).resolve(), ROOT / "tests" / "aws" / "test_cli_config.py"}
    read = set()
    for path in set(code) - made_up:
        # Not inside a longer name: _CLOUDROUTES_COMPLETE (shell completion's variable) is no CLOUDROUTES_* one.
        read |= set(re.findall(r"(?<![A-Za-z0-9_])CLOUDROUTES_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    assert read - {key.env for key in config.KEYS.values()} == config.NOT_SETTINGS
    env = dict.fromkeys(config.NOT_SETTINGS - {"CLOUDROUTES_CONFIG"}, "/somewhere")
    assert load(write(tmp_path, MINIMAL), env).cluster.name == "demo"


# -- bad input -----------------------------------------------------------------------------


def _cluster(**lines: str) -> str:
    body = {"name": '"demo"', "cidr": '"10.244.0.0/16"', **lines}
    return 'provider = "aws"\n[cluster]\n' + "".join(f"{k} = {v}\n" for k, v in body.items() if v)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param(_cluster(cidr='"10.244.0.0/33"'), "'10.244.0.0/33' is not a CIDR", id="invalid CIDR"),
        pytest.param(_cluster(cidr='"banana/16"'), "is not a CIDR", id="not an address"),
        pytest.param(
            _cluster(cidr='"10.244.0.0"'), "needs a prefix length (e.g. 10.244.0.0/24)", id="no prefix length"
        ),
        pytest.param(
            _cluster(cidr='"10.244.1.0/16"'), "has host bits set; did you mean 10.244.0.0/16?", id="host bits set"
        ),
        pytest.param(_cluster(cidr='"fd00:10::1/56"'), "did you mean fd00:10::/56?", id="IPv6 host bits set"),
        pytest.param(_cluster(cidr=""), "cluster.cidr is required", id="missing CIDR"),
        pytest.param(_cluster(cidr="[]"), "cluster.cidr is required", id="empty CIDR list"),
        pytest.param(
            _cluster(cidr="16"), "cluster.cidr: invalid value 16: expected a CIDR or a list", id="CIDR not a string"
        ),
        pytest.param(
            _cluster(cidr='["10.244.0.0/16", "10.245.0.0/16"]'), "at most one IPv4 and one IPv6", id="two IPv4 ranges"
        ),
        pytest.param(
            _cluster(cidr='["fd00:10::/56", "fd00:20::/56"]'), "at most one IPv4 and one IPv6", id="two IPv6 ranges"
        ),
        pytest.param(
            _cluster(cidr='["10.244.0.0/16", "fd00:10::/56", "10.245.0.0/16"]'), "at most one IPv4", id="three ranges"
        ),
        pytest.param(
            _cluster(node_mask="8"),
            "cluster.node_mask /8 does not fit cluster CIDR 10.244.0.0/16: it must be between /16 and /30",
            id="node mask wider than the cluster range",
        ),
        pytest.param(_cluster(node_mask="31"), "between /16 and /30", id="node mask too narrow"),
        pytest.param(
            _cluster(cidr='"fd00:10::/56"', node_mask_v6="48"),
            "cluster.node_mask_v6 /48 does not fit",
            id="IPv6 node mask wider than the range",
        ),
        pytest.param(
            _cluster(cidr='"fd00:10::/56"', node_mask_v6="127"), "between /56 and /126", id="IPv6 node mask too narrow"
        ),
        pytest.param(_cluster(node_mask='"wide"'), "node_mask: invalid value 'wide'", id="node mask not a number"),
        pytest.param(
            _cluster(reserved='"10.244.0.0/24"'),
            "cluster.reserved: invalid value '10.244.0.0/24': expected a list of CIDRs",
            id="reserved not a list",
        ),
        pytest.param(
            _cluster(reserved='["10.244.0.1/24"]'),
            "cluster.reserved: '10.244.0.1/24' has host bits set; did you mean 10.244.0.0/24?",
            id="reserved host bits",
        ),
        pytest.param(
            _cluster(name='"Demo"'), "cluster.name 'Demo' must be 1-40 lowercase", id="uppercase cluster name"
        ),
        pytest.param(_cluster(name='"-demo"'), "must be 1-40 lowercase", id="cluster name starts with a dash"),
        pytest.param(_cluster(name='"' + "a" * 41 + '"'), "must be 1-40 lowercase", id="cluster name too long"),
        pytest.param(_cluster(name='"de mo"'), "must be 1-40 lowercase", id="cluster name with a space"),
        pytest.param(_cluster(name=""), 'cluster.name is required (e.g. "prod-eu")', id="missing cluster name"),
        pytest.param(_cluster(name='""'), "cluster.name is required", id="empty cluster name"),
        pytest.param(_cluster(colour='"blue"'), "[cluster]: unknown key 'colour'", id="unknown key"),
        pytest.param(_cluster() + "[routing]\nx = 1\n", "unknown config section or key: routing", id="unknown section"),
        pytest.param(_cluster() + "[aws]\nvpcid = 'vpc-1'\n", "[aws]: unknown key 'vpcid'", id="unknown key in aws"),
        pytest.param(
            _cluster().replace('"aws"', '"azure"'), "provider must be one of aws, gce (got 'azure')", id="bad provider"
        ),
        pytest.param(
            _cluster().replace('provider = "aws"\n', ""),
            "provider is required: one of aws, gce",
            id="no provider",
        ),
        pytest.param(_cluster() + "[aws]\nroute_limit = 0\n", "route_limit: invalid value 0", id="zero route limit"),
        pytest.param(
            _cluster() + "[aws]\nroute_tables = 'rtb-1'\n",
            "route_tables: invalid value 'rtb-1'",
            id="route tables not a list",
        ),
        pytest.param(_cluster() + "[aws]\nnode_tags = 'a=b'\n", "node_tags: invalid value", id="node tags not a table"),
        pytest.param(_cluster() + "[aws]\nregion = 5\n", "region: invalid value 5", id="region not a string"),
        pytest.param(
            _cluster() + "[gce]\nfix_forwarding = 'yes'\n", "fix_forwarding: invalid value 'yes'", id="bool as a string"
        ),
        pytest.param(
            _cluster() + "[limits]\nmax_attempts = -1\n", "max_attempts: invalid value -1", id="negative limit"
        ),
        pytest.param(_cluster() + "[limits]\nwrite_burst = 0\n", "write_burst: invalid value 0", id="zero write burst"),
        pytest.param(
            _cluster() + "[limits]\nmax_delete_fraction = 1.5\n",
            "max_delete_fraction: invalid value 1.5: must be between 0 and 1",
            id="delete fraction over 1",
        ),
        pytest.param('provider = "aws"\n[cluster\n', "not valid TOML", id="broken TOML"),
    ],
)
def test_bad_file_input_is_one_clear_line(tmp_path: Path, text: str, fragment: str) -> None:
    assert fragment in bad(write(tmp_path, text))
    assert fragment in bad_text(text)


def test_a_section_that_is_not_a_table(tmp_path: Path) -> None:
    assert bad(write(tmp_path, _cluster().replace("[cluster]", "gce = 'x'\n[cluster]"))) == "[gce] must be a table"


def test_zero_delete_fraction_is_allowed() -> None:
    assert config.from_text(_cluster() + "[limits]\nmax_delete_fraction = 0\n").limits.max_delete_fraction == 0.0


@pytest.mark.parametrize(
    ("env", "overrides", "fragment"),
    [
        pytest.param({}, {"cluster.colour": "blue"}, "--set: unknown setting 'cluster.colour'", id="--set unknown key"),
        pytest.param({}, {"routing.x": "1"}, "--set: unknown setting 'routing.x'", id="--set unknown section"),
        pytest.param({}, {"cluster": "x"}, "--set: unknown setting 'cluster'", id="--set without a key"),
        pytest.param(
            {}, {"aws.node_tags": "role"}, "--set aws.node_tags: expected key=value, got 'role'", id="--set map no '='"
        ),
        pytest.param(
            {}, {"limits.write_rate": "fast"}, "--set limits.write_rate: invalid value 'fast'", id="--set not a number"
        ),
        pytest.param(
            {"CLOUDROUTES_CLUSTER_CIDR": "10.244.0.0/16,10.245.0.0/16"},
            {},
            "at most one IPv4",
            id="env two IPv4 ranges",
        ),
        pytest.param(
            {"CLOUDROUTES_CLUSTER_NODE_MASK": "12"}, {}, "does not fit cluster CIDR", id="env mask outside the range"
        ),
        pytest.param({"CLOUDROUTES_PROVIDER": "openstack"}, {}, "got 'openstack'", id="env bad provider"),
        pytest.param(
            {"CLOUDROUTES_AWS_ROUTE_LIMIT": "many"},
            {},
            "CLOUDROUTES_AWS_ROUTE_LIMIT: invalid value 'many': expected a whole number",
            id="env not a number",
        ),
        pytest.param(
            {"CLOUDROUTES_CLUSTER_CIDR": "10.244.0.1/16"}, {}, "did you mean 10.244.0.0/16?", id="env host bits"
        ),
    ],
)
def test_bad_env_and_flag_input_is_one_clear_line(
    tmp_path: Path, env: dict[str, str], overrides: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, MINIMAL), env=env, overrides=overrides)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_missing_explicit_config_file() -> None:
    assert bad("nowhere.toml") == "config file nowhere.toml not found"


def test_missing_config_file_named_by_env() -> None:
    assert bad(None, {"CLOUDROUTES_CONFIG": "gone.toml"}) == "config file gone.toml not found"


def test_unreadable_bytes_are_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "cloudroutes.toml"
    path.write_bytes(b"\xff\xfe provider")
    assert "not valid TOML" in bad(str(path))


def test_long_errors_are_cut_to_one_bounded_line(tmp_path: Path) -> None:
    message = bad(write(tmp_path, _cluster(cidr='"' + "x" * 2000 + '/16"')))
    assert len(message) == MAX_MESSAGE and message.endswith("...")


# -- gaps found while testing ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["maybe", "ture", "2"])
def test_a_boolean_that_is_no_boolean_is_refused(tmp_path: Path, text: str) -> None:
    bad(write(tmp_path, MINIMAL), gce__fix_forwarding=text)


@pytest.mark.parametrize(("priority", "valid"), [(0, True), (65536, False)])
def test_gce_priority_follows_the_gce_range(priority: int, valid: bool) -> None:
    text = _cluster() + f"[gce]\npriority = {priority}\n"
    if valid:
        assert config.from_text(text).gce.priority == priority
    else:
        bad_text(text)


@pytest.mark.parametrize(
    "extra", ["node_mask = 24.5\n", "[limits]\nwrite_burst = 2.9\n"], ids=["node_mask", "write_burst"]
)
def test_fractional_integers_are_refused(extra: str) -> None:
    bad_text(_cluster() + extra)


def test_gce_section_values(tmp_path: Path) -> None:
    text = _cluster().replace('"aws"', '"gce"') + (
        '[gce]\nproject = " p-1 "\nnetwork = "pods"\nzones = ["a", "b"]\nnode_labels = { role = "node" }\n'
        'priority = 900\nfix_forwarding = true\nendpoint = "http://localhost:1"\n'
    )
    got = load(write(tmp_path, text)).gce
    assert got == GceConfig(
        project="p-1",
        network="pods",
        zones=("a", "b"),
        node_labels={"role": "node"},
        priority=900,
        fix_forwarding=True,
        endpoint="http://localhost:1",
    )


# -- the key table comes from the dataclasses --------------------------------------------------


def _sections() -> dict[str, type[Any]]:
    return {"cluster": Cluster, "aws": AwsConfig, "gce": GceConfig, "kubernetes": KubernetesConfig, "limits": Limits}


def test_every_field_is_a_key_and_nothing_else() -> None:
    from_fields = {"provider"} | {
        f"{section}.{f.metadata.get('key', f.name)}"
        for section, cls in _sections().items()
        for f in dataclasses.fields(cls)
    }
    assert set(config.KEYS) == from_fields
    assert config.settings() == {
        section: tuple(f.metadata.get("key", f.name) for f in dataclasses.fields(cls))
        for section, cls in _sections().items()
    }
    cidr = config.KEYS["cluster.cidr"]
    assert (cidr.attr, cidr.env, cidr.flag, cidr.required) == (
        "cidrs",
        "CLOUDROUTES_CLUSTER_CIDR",
        "--cluster-cidr",
        True,
    )


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (str, (Kind.TEXT, False)),
        (bool, (Kind.BOOL, False)),
        (int | None, (Kind.INT, True)),
        (float | None, (Kind.FLOAT, True)),
        (tuple[str, ...], (Kind.LIST, False)),
        (dict[str, str], (Kind.MAP, False)),
        (tuple[IPNetwork, ...], (Kind.CIDRS, False)),
    ],
)
def test_a_type_hint_says_how_a_value_parses(hint: Any, expected: tuple[Kind, bool]) -> None:
    assert kind_of(hint) == expected


def test_a_field_of_a_type_config_cannot_parse_fails_at_import_not_at_run_time() -> None:
    with pytest.raises(TypeError, match="no parser"):
        kind_of(list[int])


def _sample(key: config.Key) -> tuple[str, object]:
    """A valid value for any key, as text and as the field holds it."""
    if "choices" in key.meta:
        choice = key.meta["choices"][-1]
        return choice, choice
    if key.meta.get("url"):
        return "http://127.0.0.1:9", "http://127.0.0.1:9"
    samples: dict[Kind, tuple[str, object]] = {
        Kind.TEXT: ("name-2", "name-2"),
        Kind.BOOL: ("yes", True),
        Kind.INT: ("26", 26),  # fits every int key: node_mask in /16, priority, limits
        Kind.FLOAT: ("0.25", 0.25),
        Kind.LIST: ("a, b", ("a", "b")),
        Kind.MAP: ("k=v, k2=v2", {"k": "v", "k2": "v2"}),
        Kind.CIDRS: ("10.244.3.0/24", (ip_network("10.244.3.0/24"),)),
    }
    return samples[key.kind]


@pytest.mark.parametrize("key", config.KEYS.values(), ids=lambda key: key.dotted)
@pytest.mark.parametrize("via", ["env", "flag"])
def test_every_key_can_be_set_from_env_and_flags(tmp_path: Path, key: config.Key, via: str) -> None:
    text, value = _sample(key)
    path = write(tmp_path, MINIMAL)
    env, overrides = ({key.env: text}, {}) if via == "env" else ({}, {key.dotted: text})
    got = config.load(path, env=env, overrides=overrides)
    holder = getattr(got, key.section) if key.section else got
    assert getattr(holder, key.attr) == value


def test_op_poll_keys_moved_to_gce(tmp_path: Path) -> None:
    assert config.from_text(_cluster() + "[gce]\nop_poll_burst = 2\nop_poll_rate = 1.5\n").gce.op_poll_rate == 1.5
    message = bad(write(tmp_path, _cluster() + "[limits]\nop_poll_rate = 2.0\n"))
    assert message == "[limits]: unknown key 'op_poll_rate': it moved to gce.op_poll_rate"


def test_unknown_keys_name_the_closest_one(tmp_path: Path) -> None:
    assert bad(write(tmp_path, _cluster() + "[aws]\nvpcid = 'vpc-1'\n")).endswith("did you mean aws.vpc_id?")
    assert bad(write(tmp_path, MINIMAL), aws__regoin="x").endswith("did you mean aws.region?")


def test_limits_budgets_are_unset_until_given(tmp_path: Path) -> None:
    got = load(write(tmp_path, MINIMAL + "[limits]\nwrite_burst = 20\nread_rate = 2.5\n")).limits
    assert (got.write_burst, got.write_rate, got.read_burst, got.read_rate) == (20, None, None, 2.5)


# -- AWS region and endpoints ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_region", "env", "expected"),
    [
        pytest.param("", {"AWS_REGION": "eu-west-1"}, "eu-west-1", id="AWS_REGION alone"),
        pytest.param("", {"AWS_DEFAULT_REGION": "eu-west-2"}, "eu-west-2", id="AWS_DEFAULT_REGION alone"),
        pytest.param(
            "", {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2"}, "eu-west-1", id="AWS_REGION first"
        ),
        pytest.param("us-east-2", {"AWS_REGION": "eu-west-1"}, "us-east-2", id="config wins"),
        pytest.param("", {}, "", id="none: boto3 decides"),
    ],
)
def test_aws_region_falls_back_to_the_sdk_variables(
    tmp_path: Path, file_region: str, env: dict[str, str], expected: str
) -> None:
    text = MINIMAL + (f'[aws]\nregion = "{file_region}"\n' if file_region else "")
    assert load(write(tmp_path, text), env).aws.region == expected


@pytest.mark.parametrize("key", ["gce.endpoint", "aws.endpoint"])
@pytest.mark.parametrize(
    "endpoint", ["localhost:8080", "127.0.0.1", "ftp://host/", "http://", "compute.googleapis.com"]
)
def test_an_endpoint_must_be_an_http_url(tmp_path: Path, key: str, endpoint: str) -> None:
    message = bad(write(tmp_path, MINIMAL), **{key.replace(".", "__"): endpoint})
    assert message == f"--set {key}: invalid value {endpoint!r}: expected an http(s) URL, e.g. http://127.0.0.1:8080"


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8080", "https://compute.example.com/compute/v1/", ""])
def test_http_and_https_endpoints_are_taken(tmp_path: Path, endpoint: str) -> None:
    got = load(write(tmp_path, MINIMAL), {"CLOUDROUTES_GCE_ENDPOINT": endpoint, "CLOUDROUTES_AWS_ENDPOINT": endpoint})
    assert got.gce.endpoint == got.aws.endpoint == endpoint


def test_emulator_is_asked_for_never_inferred_from_an_endpoint(tmp_path: Path) -> None:
    env = {"CLOUDROUTES_GCE_ENDPOINT": "http://127.0.0.1:1", "CLOUDROUTES_AWS_ENDPOINT": "http://127.0.0.1:2"}
    got = load(write(tmp_path, MINIMAL), env)
    assert (got.gce.emulator, got.aws.emulator) == (False, False)
    got = load(write(tmp_path, MINIMAL), env | {"CLOUDROUTES_GCE_EMULATOR": "true", "CLOUDROUTES_AWS_EMULATOR": "1"})
    assert (got.gce.emulator, got.aws.emulator) == (True, True)


# -- numbers that are no numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        _cluster() + "[limits]\nwrite_rate = nan\n",
        _cluster() + "[limits]\nwrite_rate = inf\n",
        _cluster() + "[limits]\nbackoff_max = -inf\n",
        _cluster() + "[limits]\nmax_delete_fraction = nan\n",
        _cluster() + "[gce]\nop_poll_rate = +inf\n",
        _cluster() + "[limits]\nwrite_burst = inf\n",
        _cluster(node_mask="nan"),
    ],
)
def test_nan_and_inf_in_the_file_are_refused(text: str) -> None:
    """`write_rate = nan` used to pass every check (nan <= 0 is false) and disable the rate limit."""
    message = bad_text(text)
    assert "invalid value" in message and ("finite" in message or "whole number" in message)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
@pytest.mark.parametrize("via", ["env", "flag"])
def test_nan_and_inf_from_env_and_flags_are_refused(tmp_path: Path, text: str, via: str) -> None:
    env, overrides = (
        ({"CLOUDROUTES_LIMITS_WRITE_RATE": text}, {}) if via == "env" else ({}, {"limits__write_rate": text})
    )
    assert bad(write(tmp_path, MINIMAL), env, **overrides).endswith("must be a finite number")


# -- reserved ranges -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "reserved", "fragment"),
    [
        pytest.param(
            '"10.244.0.0/16"',
            '["192.168.0.0/24"]',
            "cluster.reserved 192.168.0.0/24 lies outside every cluster range (10.244.0.0/16): it reserves nothing",
            id="outside",
        ),
        pytest.param(
            '"10.244.0.0/16"',
            '["10.0.0.0/8"]',
            "cluster.reserved 10.0.0.0/8 covers the whole cluster range 10.244.0.0/16",
            id="covers the range",
        ),
        pytest.param(
            '"10.244.0.0/16"', '["10.244.0.0/16"]', "covers the whole cluster range 10.244.0.0/16", id="is the range"
        ),
        pytest.param(
            '["10.244.0.0/16", "fd00:10::/56"]',
            '["fd00:10::/56"]',
            "covers the whole cluster range fd00:10::/56",
            id="the whole IPv6 range",
        ),
        pytest.param('"10.244.0.0/16"', '["fd00:10::/64"]', "lies outside every cluster range", id="no IPv6 range"),
    ],
)
def test_a_reserved_range_must_lie_inside_a_cluster_range(cidr: str, reserved: str, fragment: str) -> None:
    assert fragment in bad_text(_cluster(cidr=cidr, reserved=reserved))


def test_reserved_ranges_inside_are_taken() -> None:
    got = config.from_text(
        _cluster(cidr='["10.244.0.0/16", "fd00:10::/56"]', reserved='["10.244.0.0/24", "fd00:10::/64"]')
    )
    assert got.cluster.reserved == (ip_network("10.244.0.0/24"), ip_network("fd00:10::/64"))


# -- where the file comes from ---------------------------------------------------------------


def test_a_directory_is_no_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    assert bad(str(tmp_path / "conf.d")) == f"config file {tmp_path / 'conf.d'} is a directory"


def test_an_unreadable_config_file(tmp_path: Path) -> None:
    """Tests run as root, which reads any file whatever its mode; a write-only /proc/sys file is
    one that root cannot read either (proc_sys_permission checks the mode even for root), so
    the read raises a real PermissionError. As another user, a mode-000 file does the same."""
    if os.geteuid() != 0:
        target = Path(write(tmp_path, MINIMAL))
        target.chmod(0)
    else:
        target = next((p for p in Path("/proc/sys/vm").glob("*") if p.stat().st_mode & 0o444 == 0), Path())
        if target == Path():
            pytest.skip("no write-only file under /proc/sys/vm on this kernel")
    assert bad(str(target)) == f"cannot read config file {target}: Permission denied"


def _xdg(tmp_path: Path) -> Path:
    return tmp_path / "xdg" / "cloudroutes" / "cloudroutes.toml"


def _places(tmp_path: Path) -> dict[str, Path]:
    return {
        "named": tmp_path / "named.toml",
        "env": tmp_path / "from-env.toml",
        "cwd": tmp_path / "cloudroutes.toml",
        "xdg": _xdg(tmp_path),
        "etc": config.SYSTEM_FILE,
    }


@pytest.mark.parametrize(
    "present",
    [
        ["named", "env", "cwd", "xdg", "etc"],
        ["env", "cwd", "xdg", "etc"],
        ["cwd", "xdg", "etc"],
        ["xdg", "etc"],
        ["etc"],
    ],
)
def test_the_first_config_that_exists_wins(tmp_path: Path, present: list[str]) -> None:
    places = _places(tmp_path)
    for place in present:
        places[place].parent.mkdir(parents=True, exist_ok=True)
        places[place].write_text(MINIMAL.replace('"demo"', f'"{place}"'))
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "CLOUDROUTES_CONFIG": str(places["env"])}
    if "env" not in present:
        del env["CLOUDROUTES_CONFIG"]
    path = str(places["named"]) if "named" in present else None
    assert load(path, env).cluster.name == present[0]


def test_xdg_default_is_dot_config_in_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    target = home / ".config" / "cloudroutes" / "cloudroutes.toml"
    target.parent.mkdir(parents=True)
    target.write_text(MINIMAL)
    for env in (
        {"HOME": str(home)},
        {"HOME": str(home), "XDG_CONFIG_HOME": ""},
        {"HOME": str(home), "XDG_CONFIG_HOME": "rel"},
    ):
        assert load(None, env).source == str(target)


def test_no_config_anywhere_says_where_it_looked(tmp_path: Path) -> None:
    message = bad(None, {"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert message == (
        f"no config file found (looked for ./cloudroutes.toml, {_xdg(tmp_path)}, {config.SYSTEM_FILE}) "
        "and nothing sets provider, cluster.name, cluster.cidr"
    )
    partly = bad(None, {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "CLOUDROUTES_PROVIDER": "aws"})
    assert partly.endswith("and nothing sets cluster.name, cluster.cidr")


def test_the_cli_help_gives_the_search_order() -> None:
    result = CliRunner().invoke(app, ["plan", "--help"], env={"COLUMNS": "300"})
    text = " ".join(result.output.split())
    assert "CLOUDROUTES_CONFIG, else the first cloudroutes.toml found in the current directory" in text
    assert "$XDG_CONFIG_HOME/cloudroutes (default ~/.config/cloudroutes), /etc/cloudroutes" in text


# -- flags: one value per key, and --output ----------------------------------------------------


def _load_cli(*extra: str, sets: tuple[str, ...] = (), provider: str | None = None) -> Config:
    return cli_options.load_config(None, list(sets), provider, list(extra))


@pytest.mark.parametrize(
    ("extra", "sets", "provider", "message"),
    [
        pytest.param(
            ["--cluster-cidr", "10.1.0.0/16"],
            ["cluster.cidr=10.2.0.0/16"],
            None,
            "cluster.cidr given twice with different values: --cluster-cidr '10.1.0.0/16' "
            "and --set cluster.cidr '10.2.0.0/16'",
            id="flag and --set",
        ),
        pytest.param(
            ["--cluster-cidr", "10.1.0.0/16", "--cluster-cidr=10.2.0.0/16"],
            [],
            None,
            "cluster.cidr given twice with different values: --cluster-cidr '10.1.0.0/16' "
            "and --cluster-cidr '10.2.0.0/16'",
            id="the same flag twice",
        ),
        pytest.param(
            [],
            ["limits.concurrency=2", "limits.concurrency=3"],
            None,
            "limits.concurrency given twice with different values: --set limits.concurrency '2' "
            "and --set limits.concurrency '3'",
            id="--set twice",
        ),
        pytest.param(
            [],
            ["provider=gce"],
            "aws",
            "provider given twice with different values: --set provider 'gce' and --provider 'aws'",
            id="--provider and --set provider",
        ),
    ],
)
def test_one_key_given_two_values_by_flags_is_refused(
    tmp_path: Path, extra: list[str], sets: list[str], provider: str | None, message: str
) -> None:
    write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError) as caught:
        _load_cli(*extra, sets=tuple(sets), provider=provider)
    assert str(caught.value) == message


def test_the_same_value_twice_and_env_then_flag_are_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, MINIMAL)
    monkeypatch.setenv("CLOUDROUTES_CLUSTER_CIDR", "10.3.0.0/16")
    got = _load_cli("--cluster-cidr", "10.1.0.0/16", sets=("cluster.cidr= 10.1.0.0/16",))
    assert got.cluster.cidrs == (ip_network("10.1.0.0/16"),)


def test_a_flag_value_error_names_the_flag(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match=r"^--limits-write-rate: invalid value nan: must be a finite number$"):
        _load_cli("--limits-write-rate", "nan")


@pytest.mark.parametrize("value", ["yaml", "JSONL", ""])
def test_a_bad_output_format_is_one_line_and_exit_2(value: str) -> None:
    result = CliRunner().invoke(app, ["plan", "--output", value])
    assert result.exit_code == EXIT_USAGE
    assert result.output == f"error: --output must be one of text, json (got {value!r})\n"


# -- the README documents every key ------------------------------------------------------------


def _readme_default(key: config.Key) -> str:
    if key.required:
        return "required"
    if key.default is None:
        return "provider's"
    if isinstance(key.default, bool):
        return f"`{str(key.default).lower()}`"
    if isinstance(key.default, str):
        return f'`"{key.default}"`'
    if isinstance(key.default, tuple):
        return "`[]`" if not key.default else f"`{list(key.default)}`"
    if isinstance(key.default, dict):
        return "`{}`" if not key.default else f"`{key.default}`"
    return f"`{key.default}`"


def test_the_readme_lists_every_key_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_.0-9]+)` \| ([^|]+?) \|", readme, flags=re.MULTILINE))
    assert {dotted: rows.get(dotted) for dotted in config.KEYS} == {
        dotted: _readme_default(key) for dotted, key in config.KEYS.items()
    }
