"""The CLI on what only AWS has: route tables named in the config or found by their cluster tag.

The CLI contract every cloud shares lives in tests/contract/. "No write" is read from the sim's
call log, never assumed from the code path.
"""

from __future__ import annotations

from cloudroutes.sim.ec2 import seed
from tests.cli_output import assert_refused


def test_a_missing_route_table_is_one_line_exit_2_and_no_write(world, cli):
    seed.launch(world.ec2, world.seed, 2)
    config = world.write_config(route_tables='["rtb-0000000000000dead"]')
    world.sim.reset_calls()

    assert_refused(cli, config, "route table")

    assert world.sim.writes() == []


def test_no_managed_route_table_is_refused(make_world, cli):
    world = make_world(tag_tables=False)
    seed.launch(world.ec2, world.seed, 1)
    world.sim.reset_calls()
    result = cli("apply", "--yes", "--config", world.write_config())
    assert result.exit_code == 2 and "no managed route table" in result.output
    assert world.sim.writes() == []
