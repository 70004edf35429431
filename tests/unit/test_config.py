"""config: file < CLOUDROUTES_<SECTION>_<KEY> env < --set; every bad input is a one-line ConfigError."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest

from cloudroutes import config
from cloudroutes.config import AwsConfig, Config, GceConfig, Limits
from cloudroutes.errors import EXIT_USAGE, ConfigError
from cloudroutes.model import Cluster

MINIMAL = """
provider = "aws"
[cluster]
name = "demo"
cidr = "10.244.0.0/16"
"""


@pytest.fixture(autouse=True)
def _no_stray_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load() reads ./cloudroutes.toml by default: run every test in an empty directory."""
    monkeypatch.chdir(tmp_path)


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
    assert got.aws == AwsConfig(route_limit=50)
    assert (got.gce.network, got.gce.priority, got.gce.fix_forwarding) == ("default", 1000, False)
    assert got.limits == Limits(
        write_burst=None,
        write_rate=None,
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


def test_an_env_variable_for_an_unknown_key_is_not_ours_to_judge(tmp_path: Path) -> None:
    # CLOUDROUTES_CONFIG and friends share the prefix; only known names are read.
    assert load(write(tmp_path, MINIMAL), {"CLOUDROUTES_CLUSTER_COLOUR": "blue"}).cluster.name == "demo"


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
        pytest.param(_cluster(cidr="16"), "must be a CIDR string or a list", id="CIDR not a string"),
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
            _cluster(reserved='"10.244.0.0/24"'), "cluster.reserved must be a list of CIDRs", id="reserved not a list"
        ),
        pytest.param(
            _cluster(reserved='["10.244.0.1/24"]'),
            "cluster.reserved: '10.244.0.1/24' has host bits set",
            id="reserved host bits",
        ),
        pytest.param(
            _cluster(name='"Demo"'), "cluster.name 'Demo' must be 1-40 lowercase", id="uppercase cluster name"
        ),
        pytest.param(_cluster(name='"-demo"'), "must be 1-40 lowercase", id="cluster name starts with a dash"),
        pytest.param(_cluster(name='"' + "a" * 41 + '"'), "must be 1-40 lowercase", id="cluster name too long"),
        pytest.param(_cluster(name='"de mo"'), "must be 1-40 lowercase", id="cluster name with a space"),
        pytest.param(_cluster(name=""), "cluster.name '' must be", id="missing cluster name"),
        pytest.param(_cluster(colour='"blue"'), "[cluster]: unknown key 'colour'", id="unknown key"),
        pytest.param(_cluster() + "[routing]\nx = 1\n", "unknown config section or key: routing", id="unknown section"),
        pytest.param(_cluster() + "[aws]\nvpcid = 'vpc-1'\n", "[aws]: unknown key 'vpcid'", id="unknown key in aws"),
        pytest.param(
            _cluster().replace('"aws"', '"azure"'), "provider must be one of aws, gce (got 'azure')", id="bad provider"
        ),
        pytest.param(
            _cluster().replace('provider = "aws"\n', ""),
            "provider must be one of aws, gce (got 'nothing')",
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
            {}, {"aws.node_tags": "role"}, "--set: expected key=value, got 'role'", id="--set map without '='"
        ),
        pytest.param({}, {"limits.write_rate": "fast"}, "write_rate: invalid value 'fast'", id="--set not a number"),
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
            {"CLOUDROUTES_AWS_ROUTE_LIMIT": "many"}, {}, "route_limit: invalid value 'many'", id="env not a number"
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
    message = bad(write(tmp_path, _cluster(cidr='"' + "x" * 500 + '/16"')))
    assert len(message) <= 300 and message.endswith("...")


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
