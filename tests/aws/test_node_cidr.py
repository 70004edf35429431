"""`node-cidr` on a VM: the instance id from a metadata service (a real HTTP server on loopback
standing in for 169.254.169.254), the subnet from the instance's tag in the embedded cloud."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cloudroutes.sim.ec2 import seed


@pytest.fixture
def imds():
    instance = {"id": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):  # IMDSv2 token
            self._send("token-1")

        def do_GET(self):
            if (
                self.path == "/latest/meta-data/instance-id"
                and self.headers.get("X-aws-ec2-metadata-token") == "token-1"
            ):
                self._send(instance["id"])
            else:
                self.send_error(404)

        def _send(self, text: str) -> None:
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield instance, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_node_cidr_reads_its_own_subnet(world, cli, imds):
    instance, url = imds
    (node,) = seed.launch(world.ec2, world.seed, 1)
    instance["id"] = node

    assert cli("node-cidr", "--imds", url).exit_code == 3, "not assigned yet: wait and retry"
    assert cli("apply", "--yes", "-c", world.write_config()).exit_code == 0

    plain = cli("node-cidr", "--imds", url)
    assert plain.exit_code == 0 and plain.output.strip() == "10.244.0.0/24"
    docker = json.loads(cli("node-cidr", "--imds", url, "--format", "docker").output)
    assert docker == {"bip": "10.244.0.1/24"}
    cni = json.loads(cli("node-cidr", "--instance-id", node, "--format", "cni").output)
    assert cni["bridge"] == "cbr0" and cni["ipMasq"] is False
    assert cni["ipam"]["ranges"] == [[{"subnet": "10.244.0.0/24", "gateway": "10.244.0.1"}]]


def test_node_cidr_rejects_an_unknown_format(cli):
    result = cli("node-cidr", "--instance-id", "i-1", "--format", "yaml")
    assert result.exit_code == 2 and "--format" in result.output
