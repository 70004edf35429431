"""The GCE encodings (route names, the ownership marker, subnet labels). Pure: no emulator.

The error table's tests live in test_errors.py."""

from __future__ import annotations

import re
from ipaddress import IPv4Network, IPv6Network, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudroutes.config import _NAME as CLUSTER_NAME
from cloudroutes.providers import gce_names as names

GCE_NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")

clusters = st.from_regex(CLUSTER_NAME, fullmatch=True)
long_clusters = st.from_regex(r"[a-z0-9][-a-z0-9]{38}[a-z0-9]", fullmatch=True)
v4 = st.builds(lambda a, p: IPv4Network((a, p), strict=False), st.integers(0, 2**32 - 1), st.integers(0, 32))
v6 = st.builds(lambda a, p: IPv6Network((a, p), strict=False), st.integers(0, 2**128 - 1), st.integers(0, 128))
# Shapes a random draw rarely hits: IPv4-mapped and -compatible, zero runs, the last group set.
v6_special = st.sampled_from(
    [
        "::/0",
        "::ffff:0:0/96",
        "::ffff:10.244.0.0/120",
        "::10.244.0.0/120",
        "fd00::/64",
        "fd00:0:0:1::/64",
        "::1/128",
        "2001:db8::1:0:0:1/128",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
        "1:0:0:1::/64",
    ]
).map(ip_network)
networks = st.one_of(v4, v6, v6_special)


# -- route names ---------------------------------------------------------------------------


@given(cluster=st.one_of(clusters, long_clusters), destination=networks)
def test_route_names_are_valid_gce_names_of_at_most_63_characters(cluster, destination):
    name = names.route_name(cluster, destination)
    assert len(name) <= 63 and GCE_NAME.fullmatch(name), name
    assert name == names.route_name(cluster, destination), "deterministic"
    assert names.is_marked(name, names.marker(cluster), cluster)


def test_a_40_character_cluster_name_fits():
    cluster = "a" * 39 + "z"
    name = names.route_name(cluster, ip_network("fd00:10:244:ffff::/64"))
    assert len(name) <= 63 and GCE_NAME.fullmatch(name)
    assert cluster in name and cluster in names.marker(cluster), "the full cluster name, not a prefix"


@given(cluster=clusters, a=v4, b=v6)
def test_ipv4_and_ipv6_destinations_never_share_a_name(cluster, a, b):
    assert names.route_name(cluster, a) != names.route_name(cluster, b)


@pytest.mark.parametrize(
    ("v4_dest", "v6_dest"),
    [
        ("10.244.0.0/24", "::ffff:10.244.0.0/120"),  # the same address bits, IPv4-mapped
        ("10.244.0.0/24", "::10.244.0.0/120"),
        ("0.0.0.0/0", "::/0"),
    ],
)
def test_look_alike_ipv4_and_ipv6_destinations_get_two_names(v4_dest, v6_dest):
    assert names.route_name("prod", ip_network(v4_dest)) != names.route_name("prod", ip_network(v6_dest))


SHARED_39 = "c" * 39
PAIRS = [
    pytest.param("prod", "prod-eu", id="prod-vs-prod-eu"),
    pytest.param(SHARED_39, SHARED_39 + "d", id="39-vs-40-sharing-39"),
    pytest.param(SHARED_39[:-1] + "a", SHARED_39[:-1] + "b", id="40-vs-40-sharing-38"),
    pytest.param("a" * 39 + "1", "a" * 39 + "2", id="40-vs-40-sharing-39"),
]


@pytest.mark.parametrize(("one", "other"), PAIRS)
@pytest.mark.parametrize("destination", ["10.244.3.0/24", "fd00:10:244:3::/64"])
def test_clusters_sharing_a_long_prefix_neither_collide_nor_claim_each_other(one, other, destination):
    dest = ip_network(destination)
    assert names.route_name(one, dest) != names.route_name(other, dest)
    for mine, theirs in ((one, other), (other, one)):
        route = names.route_name(theirs, dest)
        assert not names.is_marked(route, names.marker(theirs), mine), f"{theirs}'s route is not {mine}'s"
        assert names.is_marked(route, names.marker(theirs), theirs)


@given(one=clusters, other=clusters, destination=networks)
def test_a_route_is_marked_for_its_own_cluster_only(one, other, destination):
    route, description = names.route_name(one, destination), names.marker(one)
    assert names.is_marked(route, description, other) == (one == other)


def test_the_marker_needs_both_the_name_prefix_and_the_description():
    dest = ip_network("10.244.3.0/24")
    assert not names.is_marked(names.route_name("prod", dest), "someone else's", "prod")
    assert not names.is_marked("manual-route", names.marker("prod"), "prod")


# -- subnet labels -------------------------------------------------------------------------


@given(subnet=networks)
def test_label_encoding_round_trips_and_is_a_valid_label(subnet):
    key, value = names.label_key(subnet), names.label_value(subnet)
    assert LABEL_KEY.fullmatch(key) and LABEL_VALUE.fullmatch(value), (key, value)
    assert key == (names.CIDR_LABEL if subnet.version == 4 else names.CIDR_LABEL_V6)
    assert names.parse_label(value, subnet.version) == subnet
    assert names.parse_label(value, 10 - subnet.version) is None, "the family comes from the key"


def test_label_examples_from_the_docstring():
    assert names.label_value(ip_network("10.244.3.0/24")) == "10-244-3-0_24"
    assert names.label_value(ip_network("fd00:10:244:3::/64")) == "fd00-10-244-3--_64"
    assert names.parse_label("fd00-10-244-3--_64", 6) == ip_network("fd00:10:244:3::/64")


@pytest.mark.parametrize("value", [None, "", "garbage", "10-244-3-1_24", "10-244-3-0", "300-0-0-0_8", "10-244-3-0_33"])
def test_unreadable_labels_read_as_nothing(value):
    assert names.parse_label(value, 4) is None
