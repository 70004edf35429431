"""`node-cidr` on an AWS VM: the instance id from the instance metadata service (IMDSv2: a token
first), here a real HTTP server on loopback standing in for 169.254.169.254. The formats and the
exit codes every cloud shares are tested in tests/contract/test_node_cidr.py."""

from __future__ import annotations

import json

import pytest

from cloudroutes.sim.ec2 import seed
from tests.loopback import MetadataHandler, serving


@pytest.fixture
def imds():
    instance = {"id": ""}

    class Handler(MetadataHandler):
        def do_PUT(self):  # IMDSv2 token
            self.answer("token-1")

        def do_GET(self):
            if (
                self.path == "/latest/meta-data/instance-id"
                and self.headers.get("X-aws-ec2-metadata-token") == "token-1"
            ):
                self.answer(instance["id"])
            else:
                self.send_error(404)

    with serving(Handler) as url:
        yield instance, url


def test_node_cidr_reads_its_own_instance_id_from_imds(world, cli, imds):
    instance, url = imds
    (node,) = seed.launch(world.ec2, world.seed, 1)
    instance["id"] = node

    assert cli("node-cidr", "--imds", url).exit_code == 3, "not assigned yet: wait and retry"
    assert cli("apply", "--yes", "-c", world.write_config()).exit_code == 0

    plain = cli("node-cidr", "--imds", url)
    assert plain.exit_code == 0 and plain.output.strip() == "10.244.0.0/24"
    docker = json.loads(cli("node-cidr", "--imds", url, "--format", "docker").output)
    assert docker == {"bip": "10.244.0.1/24"}


def test_node_cidr_rejects_an_unknown_format(cli):
    result = cli("node-cidr", "--instance-id", "i-1", "--format", "yaml")
    assert result.exit_code == 2 and "--format" in result.output
