"""ipam: one block per node per family; claims kept, conflicts settled, new nodes lowest first."""

from __future__ import annotations

from ipaddress import IPv4Network, ip_network

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudroutes.ipam import Claim, Evidence, Pool, assign, free_blocks
from cloudroutes.model import Assignment, IPNetwork, Node, NodeName
from tests.fakes import node

ROUTE, RECORD = Evidence.ROUTE, Evidence.RECORD
PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def n(text: str) -> IPNetwork:
    return ip_network(text)


def pool(cidr: str, mask: int, *, blocked: tuple[str, ...] = (), deferred: tuple[str, ...] = ()) -> Pool:
    return Pool(cidr=n(cidr), mask=mask, blocked=tuple(map(n, blocked)), deferred=tuple(map(n, deferred)))


def claim(who: str, subnet: str, evidence: Evidence = RECORD) -> Claim:
    return Claim(node=NodeName(who), subnet=n(subnet), evidence=evidence)


def result(
    subnets: dict[str, tuple[str, ...]], left_out: tuple[str, ...] = (), moved: tuple[str, ...] = ()
) -> Assignment:
    return Assignment(
        subnets={NodeName(k): tuple(map(n, v)) for k, v in subnets.items()},
        left_out=tuple(map(NodeName, left_out)),
        moved=tuple(map(NodeName, moved)),
    )


V4 = pool("10.244.0.0/16", 24)
SMALL = pool("10.244.0.0/23", 24)  # two blocks
V6 = pool("fd00:10::/56", 64)

CASES = [
    # new nodes
    pytest.param(
        [node("b", age=0), node("a", age=1)],
        [],
        [V4],
        result({"b": ("10.244.0.0/24",), "a": ("10.244.1.0/24",)}),
        id="new nodes get the lowest blocks, senior node first",
    ),
    pytest.param(
        [node("a"), node("b")],
        [],
        [V4],
        result({"a": ("10.244.0.0/24",), "b": ("10.244.1.0/24",)}),
        id="a launch tie is broken by name",
    ),
    # claims
    pytest.param(
        [node("a"), node("b", age=1)],
        [claim("b", "10.244.7.0/24")],
        [V4],
        result({"a": ("10.244.0.0/24",), "b": ("10.244.7.0/24",)}),
        id="a recorded block is kept even by the newer node",
    ),
    pytest.param(
        [node("a", age=1), node("b", age=0)],
        [claim("a", "10.244.7.0/24", RECORD), claim("b", "10.244.7.0/24", ROUTE)],
        [V4],
        result({"a": ("10.244.7.0/24",), "b": ("10.244.0.0/24",)}, moved=("b",)),
        id="a record beats a route to a node without one, even against seniority",
    ),
    pytest.param(
        [node("a", age=1), node("b", age=0)],
        [claim("a", "10.244.7.0/24", RECORD), claim("a", "10.244.7.0/24", ROUTE), claim("b", "10.244.7.0/24", RECORD)],
        [V4],
        result({"a": ("10.244.7.0/24",), "b": ("10.244.0.0/24",)}, moved=("b",)),
        id="two records of one block: the route holder keeps it, even against seniority",
    ),
    pytest.param(
        [node("a"), node("b", age=1)],
        [
            claim("a", "10.244.0.0/24", RECORD),
            claim("b", "10.244.1.0/24", RECORD),
            claim("b", "10.244.0.0/24", ROUTE),
            claim("b", "10.244.1.0/24", ROUTE),
        ],
        [V4],
        result({"a": ("10.244.0.0/24",), "b": ("10.244.1.0/24",)}),
        id="a route bent at another recording node moves nobody",
    ),
    pytest.param(
        [node("a", age=1), node("b", age=0)],
        [claim("a", "10.244.7.0/24"), claim("b", "10.244.7.0/24")],
        [V4],
        result({"a": ("10.244.0.0/24",), "b": ("10.244.7.0/24",)}, moved=("a",)),
        id="between equal evidence the earlier launch wins",
    ),
    pytest.param(
        [node("b"), node("a")],
        [claim("b", "10.244.7.0/24", ROUTE), claim("a", "10.244.7.0/24", ROUTE)],
        [V4],
        result({"b": ("10.244.0.0/24",), "a": ("10.244.7.0/24",)}, moved=("b",)),
        id="between equal evidence and launch the name wins",
    ),
    pytest.param(
        [node("a"), node("b", age=1)],
        [claim("a", "10.244.0.0/24", RECORD), claim("a", "10.244.5.0/24", ROUTE)],
        [V4],
        result({"a": ("10.244.0.0/24",), "b": ("10.244.1.0/24",)}),
        id="a node's record beats a stray route to it, which frees nothing",
    ),
    pytest.param(
        [node("a"), node("b", age=1)],
        [claim("a", "10.245.0.0/24", RECORD), claim("a", "10.244.5.0/24", ROUTE)],
        [V4],
        result({"a": ("10.244.5.0/24",), "b": ("10.244.0.0/24",)}),
        id="a record outside the range is no record: the route decides",
    ),
    pytest.param(
        [node("a")],
        [claim("a", "10.244.7.0/25")],
        [V4],
        result({"a": ("10.244.0.0/24",)}, moved=("a",)),
        id="a claim of the wrong size is ignored",
    ),
    pytest.param(
        [node("a")],
        [claim("a", "10.245.7.0/24")],
        [V4],
        result({"a": ("10.244.0.0/24",)}, moved=("a",)),
        id="a claim outside the range is ignored",
    ),
    pytest.param(
        [node("a")],
        [claim("a", "10.244.7.0/24")],
        [pool("10.244.0.0/16", 24, blocked=("10.244.6.0/23",))],
        result({"a": ("10.244.0.0/24",)}, moved=("a",)),
        id="a claim on a blocked range is ignored",
    ),
    pytest.param(
        [node("a")],
        [claim("ghost", "10.244.0.0/24", ROUTE)],
        [V4],
        result({"a": ("10.244.0.0/24",)}),
        id="a claim of an unknown node holds nothing",
    ),
    # blocked ranges
    pytest.param(
        [node("a"), node("b", age=1)],
        [],
        [pool("10.244.0.0/16", 24, blocked=("10.244.0.0/23",))],
        result({"a": ("10.244.2.0/24",), "b": ("10.244.3.0/24",)}),
        id="blocked ranges are skipped",
    ),
    pytest.param(
        [node("a")],
        [],
        [pool("10.244.0.0/16", 24, blocked=("10.244.0.128/25",))],
        result({"a": ("10.244.1.0/24",)}),
        id="a block partly covered by a blocked range is skipped",
    ),
    pytest.param(
        [node("a")],
        [],
        [pool("10.244.0.0/16", 24, blocked=("10.0.0.0/16", "fd00::/8"))],
        result({"a": ("10.244.0.0/24",)}),
        id="blocked ranges outside the pool change nothing",
    ),
    pytest.param(
        [node("a")],
        [],
        [pool("10.244.0.0/16", 24, blocked=("10.0.0.0/8",))],
        result({"a": ()}, left_out=("a",)),
        id="a blocked range covering the pool exhausts it",
    ),
    # exhaustion
    pytest.param(
        [node("c", age=2), node("a", age=0), node("b", age=1)],
        [],
        [SMALL],
        result({"c": (), "a": ("10.244.0.0/24",), "b": ("10.244.1.0/24",)}, left_out=("c",)),
        id="the newest node is left out",
    ),
    pytest.param(
        [node("a", age=0), node("b", age=1), node("c", age=2)],
        [claim("c", "10.244.1.0/24")],
        [SMALL],
        result({"a": ("10.244.0.0/24",), "b": (), "c": ("10.244.1.0/24",)}, left_out=("b",)),
        id="a claim survives exhaustion; the newest newcomer is left out",
    ),
    # deferred blocks (stale routes)
    pytest.param(
        [node("a")],
        [],
        [pool("10.244.0.0/16", 24, deferred=("10.244.0.0/24",))],
        result({"a": ("10.244.1.0/24",)}),
        id="a deferred block rests while others are free",
    ),
    pytest.param(
        [node("a"), node("b", age=1)],
        [],
        [pool("10.244.0.0/23", 24, deferred=("10.244.0.0/24",))],
        result({"a": ("10.244.1.0/24",), "b": ("10.244.0.0/24",)}),
        id="a deferred block is handed out last",
    ),
    pytest.param(
        [node("a")],
        [claim("a", "10.244.0.0/24")],
        [pool("10.244.0.0/16", 24, deferred=("10.244.0.0/24",))],
        result({"a": ("10.244.0.0/24",)}),
        id="a node's own record beats a dead route on its block",
    ),
    # IPv6 and dual stack
    pytest.param(
        [node("a"), node("b", age=1)],
        [claim("b", "fd00:10:0:7::/64")],
        [V4, V6],
        result({"a": ("10.244.0.0/24", "fd00:10::/64"), "b": ("10.244.1.0/24", "fd00:10:0:7::/64")}),
        id="dual stack: one block per family",
    ),
    pytest.param(
        [node("a"), node("b", age=1)],
        [],
        [V4, pool("fd00:10::/64", 64)],
        result({"a": ("10.244.0.0/24", "fd00:10::/64"), "b": ("10.244.1.0/24",)}, left_out=("b",)),
        id="dual stack: exhausted in one family only",
    ),
    pytest.param(
        [node("a")],
        [claim("a", "fd00:10:0:7::/64")],
        [V4],
        result({"a": ("10.244.0.0/24",)}),
        id="a claim in a family with no pool moves nothing",
    ),
]


@pytest.mark.parametrize(("nodes", "claims", "pools", "expected"), CASES)
def test_assign(nodes: list[Node], claims: list[Claim], pools: list[Pool], expected: Assignment) -> None:
    assert assign(nodes=nodes, claims=claims, pools=pools) == expected


@pytest.mark.parametrize(
    ("the_pool", "taken", "expected"),
    [
        pytest.param(
            pool("10.244.0.0/22", 24),
            (),
            ("10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"),
            id="all blocks lowest first",
        ),
        pytest.param(
            pool("10.244.0.0/22", 24, blocked=("10.244.1.0/24",)),
            ("10.244.3.0/24",),
            ("10.244.0.0/24", "10.244.2.0/24"),
            id="blocked and taken skipped",
        ),
        pytest.param(
            pool("10.244.0.0/22", 24, deferred=("10.244.0.0/24", "10.244.2.0/24")),
            (),
            ("10.244.1.0/24", "10.244.3.0/24", "10.244.0.0/24", "10.244.2.0/24"),
            id="deferred last, in order",
        ),
        pytest.param(
            pool("10.244.0.0/22", 24, deferred=("10.244.0.0/24",)),
            ("10.244.0.0/24",),
            ("10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"),
            id="a taken deferred block is not handed out",
        ),
        pytest.param(
            pool("10.244.0.0/22", 24, blocked=("10.244.0.0/24",), deferred=("10.244.0.0/24",)),
            (),
            ("10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"),
            id="a blocked deferred block is not handed out",
        ),
        pytest.param(pool("10.244.0.0/24", 24), (), ("10.244.0.0/24",), id="mask equal to the prefix: one block"),
        pytest.param(
            pool("10.244.0.0/22", 23, blocked=("10.244.1.255/32",)),
            (),
            ("10.244.2.0/23",),
            id="one address blocks its whole block",
        ),
    ],
)
def test_free_blocks(the_pool: Pool, taken: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert list(free_blocks(the_pool, taken=map(n, taken))) == list(map(n, expected))


def test_stale_range_of_another_size_is_still_handed_out_last() -> None:
    the_pool = pool("10.244.0.0/23", 24, deferred=("10.244.1.0/25",))
    assert list(free_blocks(the_pool)) == [n("10.244.0.0/24"), n("10.244.1.0/24")]


def test_ipv6_slash32_carved_into_slash64s_is_swept_not_enumerated() -> None:
    # 2^32 blocks: anything that enumerates them would not finish inside a test run.
    big = pool("fd00::/32", 64, blocked=("fd00::/40",), deferred=("fd00:0:ffff:ffff::/64",))
    nodes = [node(f"n{i}", age=i) for i in range(5)]
    claims = [claim("n4", "fd00:0:ffff:fffe::/64", ROUTE)]
    got = assign(nodes=nodes, claims=claims, pools=[big])
    assert big.capacity() == 1 << 32
    assert got == result(
        {
            "n0": ("fd00:0:100::/64",),
            "n1": ("fd00:0:100:1::/64",),
            "n2": ("fd00:0:100:2::/64",),
            "n3": ("fd00:0:100:3::/64",),
            "n4": ("fd00:0:ffff:fffe::/64",),
        }
    )


def test_ipv6_slash32_deferred_block_still_comes_last_when_found_at_the_top() -> None:
    # Everything but the last two blocks is blocked: the sweep crosses 2^32 blocks' worth of range.
    whole, top = n("fd00::/32"), n("fd00:0:ffff:fffe::/63")
    big = Pool(
        cidr=whole,
        mask=64,
        blocked=tuple(whole.address_exclude(top)),  # type: ignore[arg-type]
        deferred=(n("fd00:0:ffff:fffe::/64"),),
    )
    assert list(free_blocks(big)) == [n("fd00:0:ffff:ffff::/64"), n("fd00:0:ffff:fffe::/64")]


def test_free_blocks_is_lazy_on_an_ipv4_slash8() -> None:
    blocks = free_blocks(pool("10.0.0.0/8", 30, blocked=("10.0.0.0/9",)))
    assert [next(blocks) for _ in range(2)] == [n("10.128.0.0/30"), n("10.128.0.4/30")]


# -- properties ----------------------------------------------------------------------------

BASE = IPv4Network("10.244.0.0/18")


@st.composite
def pools_v4(draw: st.DrawFn, *, with_deferred: bool = True) -> Pool:
    """Small IPv4 pools (at most 16 blocks) inside 10.244.0.0/18, with blocked and deferred ranges."""
    prefix = draw(st.integers(20, 24))
    mask = draw(st.integers(prefix, min(prefix + 4, 28)))
    offset = draw(st.integers(0, (1 << (prefix - BASE.prefixlen)) - 1))
    cidr = IPv4Network((int(BASE.network_address) + offset * (1 << (32 - prefix)), prefix))
    blocked = draw(st.lists(_net_in(BASE, 18, 30), max_size=4))
    blocks = list(cidr.subnets(new_prefix=mask))
    deferred = draw(st.lists(st.sampled_from(blocks), max_size=3)) if with_deferred else []
    return Pool(cidr=cidr, mask=mask, blocked=tuple(blocked), deferred=tuple(deferred))


def _net_in(base: IPv4Network, low: int, high: int) -> st.SearchStrategy[IPv4Network]:
    def build(prefix: int, addr: int) -> IPv4Network:
        return IPv4Network((int(base.network_address) + addr, prefix), strict=False)

    return st.builds(build, st.integers(low, high), st.integers(0, base.num_addresses - 1))


@st.composite
def world(
    draw: st.DrawFn, *, single_claims: bool = False, with_claims: bool = True
) -> tuple[list[Node], list[Claim], Pool]:
    the_pool = draw(pools_v4())
    count = draw(st.integers(0, 12))
    nodes = [node(f"n{i:02d}", age=draw(st.integers(0, 4))) for i in range(count)]
    candidates = [
        *list(the_pool.cidr.subnets(new_prefix=the_pool.mask)),
        IPv4Network("10.250.0.0/24"),
        next(the_pool.cidr.subnets(new_prefix=min(the_pool.mask + 1, 32))),
    ]
    claims: list[Claim] = []
    if with_claims:
        for nd in nodes:
            for _ in range(draw(st.integers(0, 1 if single_claims else 2))):
                claims.append(
                    Claim(
                        node=nd.name, subnet=draw(st.sampled_from(candidates)), evidence=draw(st.sampled_from(Evidence))
                    )
                )
    return nodes, claims, the_pool


def _seniority(nd: Node) -> tuple[object, ...]:
    return (nd.launched_at, nd.name)


def _blocks(the_pool: Pool) -> list[IPNetwork]:
    return [
        b
        for b in the_pool.cidr.subnets(new_prefix=the_pool.mask)
        if not any(b.overlaps(x) for x in the_pool.blocked if x.version == b.version)
    ]


@PROPS
@given(world())
def test_blocks_never_overlap_each_other_or_a_blocked_range_and_fit_the_pool(
    w: tuple[list[Node], list[Claim], Pool],
) -> None:
    nodes, claims, the_pool = w
    got = assign(nodes=nodes, claims=claims, pools=[the_pool])
    assert set(got.subnets) == {nd.name for nd in nodes}
    handed = [b for blocks in got.subnets.values() for b in blocks]
    assert all(len(blocks) <= 1 for blocks in got.subnets.values())
    for i, block in enumerate(handed):
        assert block.prefixlen == the_pool.mask and block.subnet_of(the_pool.cidr)  # type: ignore[arg-type]
        assert not any(block.overlaps(b) for b in the_pool.blocked)  # type: ignore[arg-type]
        assert not any(block.overlaps(other) for other in handed[i + 1 :])  # type: ignore[arg-type]


@PROPS
@given(world())
def test_exhaustion_leaves_out_exactly_the_newest_newcomers(w: tuple[list[Node], list[Claim], Pool]) -> None:
    nodes, claims, the_pool = w
    got = assign(nodes=nodes, claims=claims, pools=[the_pool])
    free = len(_blocks(the_pool))
    assert len(got.left_out) == max(0, len(nodes) - free)
    assert set(got.left_out) == {name for name, blocks in got.subnets.items() if not blocks}
    kept_claim = {c.node for c in claims if got.subnets[c.node] == (c.subnet,)}
    newcomers = sorted((nd for nd in nodes if nd.name not in kept_claim), key=_seniority)
    assert set(got.left_out) == {nd.name for nd in newcomers[len(newcomers) - len(got.left_out) :]}


@PROPS
@given(pools_v4(), st.integers(0, 20), st.randoms(use_true_random=False))
def test_exhaustion_without_claims_leaves_out_the_newest(the_pool: Pool, count: int, rnd: object) -> None:
    nodes = [node(f"n{i:02d}", age=i) for i in range(count)]
    rnd.shuffle(nodes)  # type: ignore[attr-defined]
    got = assign(nodes=nodes, claims=[], pools=[the_pool])
    fit = min(count, len(_blocks(the_pool)))
    assert got.left_out == tuple(NodeName(f"n{i:02d}") for i in range(fit, count))
    order = list(free_blocks(the_pool))  # lowest first, deferred last: checked against brute force below
    assert [got.subnets[NodeName(f"n{i:02d}")] for i in range(fit)] == [(b,) for b in order[:fit]]
    assert got.moved == ()


@PROPS
@given(world(single_claims=True))
def test_each_claimed_block_goes_to_its_strongest_claimant(w: tuple[list[Node], list[Claim], Pool]) -> None:
    nodes, claims, the_pool = w
    got = assign(nodes=nodes, claims=claims, pools=[the_pool])
    launched = {nd.name: nd.launched_at for nd in nodes}
    for block in {c.subnet for c in claims if the_pool.admits(c.subnet)}:
        contenders = [c for c in claims if c.subnet == block]
        winner = min(contenders, key=lambda c: (c.evidence, launched[c.node], c.node)).node
        assert got.subnets[winner] == (block,)
        for loser in {c.node for c in contenders} - {winner}:
            assert got.subnets[loser] != (block,)
            assert loser in got.moved or loser in got.left_out
    for c in claims:
        if not the_pool.admits(c.subnet):
            assert got.subnets[c.node] != (c.subnet,)
            assert c.node in got.moved or c.node in got.left_out


@PROPS
@given(world())
def test_rerunning_with_the_result_as_claims_changes_nothing(w: tuple[list[Node], list[Claim], Pool]) -> None:
    nodes, claims, the_pool = w
    first = assign(nodes=nodes, claims=claims, pools=[the_pool])
    ledger = [Claim(node=name, subnet=b, evidence=RECORD) for name, blocks in first.subnets.items() for b in blocks]
    again = assign(nodes=nodes, claims=ledger, pools=[the_pool])
    assert again.subnets == first.subnets
    assert again.left_out == first.left_out
    assert again.moved == ()


@PROPS
@given(world(), st.data())
def test_routes_alone_never_move_a_recorded_node(w: tuple[list[Node], list[Claim], Pool], data: st.DataObject) -> None:
    """Any bending of routes (to another node, to a node that records nothing): every record stands."""
    nodes, claims, the_pool = w
    first = assign(nodes=nodes, claims=claims, pools=[the_pool])
    ledger = [Claim(node=name, subnet=b, evidence=RECORD) for name, blocks in first.subnets.items() for b in blocks]
    if nodes:
        blocks = list(the_pool.cidr.subnets(new_prefix=the_pool.mask))
        names = [nd.name for nd in nodes]
        bent = data.draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(blocks)), max_size=8))
        ledger += [Claim(node=who, subnet=block, evidence=ROUTE) for who, block in bent]
    again = assign(nodes=nodes, claims=ledger, pools=[the_pool])
    for name, blocks in first.subnets.items():
        if blocks:
            assert again.subnets[name] == blocks


@PROPS
@given(world(), st.lists(st.integers(-2, 6), max_size=6), st.sampled_from(Evidence))
def test_adding_nodes_never_moves_existing_nodes(
    w: tuple[list[Node], list[Claim], Pool], new_ages: list[int], evidence: Evidence
) -> None:
    nodes, claims, the_pool = w
    first = assign(nodes=nodes, claims=claims, pools=[the_pool])
    ledger = [Claim(node=name, subnet=b, evidence=evidence) for name, blocks in first.subnets.items() for b in blocks]
    # Newcomers may be older than everyone (a node that joined the selector late): still no move.
    more = [*nodes, *(node(f"new{i}", age=age) for i, age in enumerate(new_ages))]
    second = assign(nodes=more, claims=ledger, pools=[the_pool])
    for name, blocks in first.subnets.items():
        if blocks:
            assert second.subnets[name] == blocks


@PROPS
@given(pools_v4(), st.lists(st.integers(0, 15), max_size=4))
def test_free_blocks_match_brute_force_with_deferred_last(the_pool: Pool, taken_idx: list[int]) -> None:
    blocks = list(the_pool.cidr.subnets(new_prefix=the_pool.mask))
    taken = [blocks[i % len(blocks)] for i in taken_idx]
    free = [b for b in _blocks(the_pool) if b not in taken]
    expected = [b for b in free if b not in the_pool.deferred] + [b for b in free if b in the_pool.deferred]
    assert list(free_blocks(the_pool, taken=taken)) == expected


@PROPS
@given(world())
def test_deferred_blocks_go_only_after_every_other_free_block(w: tuple[list[Node], list[Claim], Pool]) -> None:
    nodes, _claims, the_pool = w
    got = assign(nodes=nodes, claims=[], pools=[the_pool])
    handed = {b for blocks in got.subnets.values() for b in blocks}
    if handed & set(the_pool.deferred):
        assert all(b in handed for b in _blocks(the_pool) if b not in the_pool.deferred)
