"""Fixtures for the lab tests: a lab that always comes down, and boto3 playing the controller."""

from __future__ import annotations

import fcntl
import itertools
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cloudroutes.sim import lab
from cloudroutes.sim.lab import bootagent, topology

POD_CIDR_TAG = "cloudroutes.io/pod-cidr"
LOCK_PATH = "/run/cloudroutes-lab-tests.lock"


@pytest.fixture(scope="session")
def node_cidr_argv() -> tuple[str, ...]:
    """The VMs boot with the product's own `cloudroutes node-cidr`, as a real VM would."""
    return bootagent.DEFAULT_NODE_CIDR_ARGV


@pytest.fixture
def lab_host() -> Iterator[None]:
    """Skip without root and netns; else hold the machine's lab lock for the test.

    The lab's names are machine-wide (one crlab-fab per host) and `down` removes every crlab-*
    namespace, so two test runs at once (two developers' `make test`) would tear down each other's
    lab: the second waits here instead."""
    problem = lab.host_problem()
    if problem:
        print(f"skipping lab test: {problem}")
        pytest.skip(problem)
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def assert_no_lab_left(state_dir: Path) -> None:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert "crlab-" not in listed, listed
    assert topology.root_lab_links() == []
    assert not state_dir.exists()


@pytest.fixture
def lab_up(lab_host: None, tmp_path: Path, node_cidr_argv: tuple[str, ...]) -> Iterator[lab.LabInfo]:
    state_dir = tmp_path / "lab"
    try:
        yield lab.up(nodes=3, state_dir=state_dir, node_cidr_argv=node_cidr_argv)
    finally:
        lab.down(state_dir)  # also when up() or the test failed half-way
    assert_no_lab_left(state_dir)


@dataclass
class Controller:
    """What cloudroutes does to the cloud, done by hand with boto3 (the engine is not ready)."""

    info: lab.LabInfo
    ec2: Any

    @classmethod
    def for_lab(cls, info: lab.LabInfo) -> Controller:
        import boto3

        env = info.environment()
        return cls(
            info,
            boto3.client(
                "ec2",
                endpoint_url=env["AWS_ENDPOINT_URL"],
                region_name=env["AWS_DEFAULT_REGION"],
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            ),
        )

    def pod_cidr(self, vm: lab.VmInfo) -> str:
        return f"10.244.{self.info.vms.index(vm) + 1}.0/24"

    def tag_pod_cidrs(self) -> None:
        for vm in self.info.vms:
            self.ec2.create_tags(Resources=[vm.instance_id], Tags=[{"Key": POD_CIDR_TAG, "Value": self.pod_cidr(vm)}])

    def create_routes(self) -> None:
        for vm in self.info.vms:
            self.ec2.create_route(
                RouteTableId=self.info.route_table_id,
                DestinationCidrBlock=self.pod_cidr(vm),
                NetworkInterfaceId=vm.eni_id,
            )

    def delete_routes(self) -> None:
        for vm in self.info.vms:
            self.ec2.delete_route(RouteTableId=self.info.route_table_id, DestinationCidrBlock=self.pod_cidr(vm))

    def set_source_dest_check(self, vm: lab.VmInfo, on: bool) -> None:
        # Both attributes, as a careful controller would: moto does not keep them in step.
        self.ec2.modify_network_interface_attribute(NetworkInterfaceId=vm.eni_id, SourceDestCheck={"Value": on})
        self.ec2.modify_instance_attribute(InstanceId=vm.instance_id, SourceDestCheck={"Value": on})


@pytest.fixture
def controller(lab_up: lab.LabInfo) -> Controller:
    return Controller.for_lab(lab_up)


def fabric_routes() -> set[str]:
    """The fabric's lab routes as `ip` prints them ("blackhole 10.244.1.0/24", "10.244.1.0/24 via ...")."""
    out = subprocess.run(
        ["ip", "-n", "crlab-fab", "route", "show", "proto", "244"], capture_output=True, text=True, check=True
    ).stdout
    return {
        " ".join(itertools.takewhile(lambda word: word not in ("dev", "proto"), line.split()))
        for line in out.splitlines()
        if line.strip()
    }


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_lab_words() -> set[str]:
    """Every name written in backticks in the README's lab section (`settle.waited_ms` gives both)."""
    text = README.read_text()
    section = text[text.index("\n## The lab\n") :]
    section = section[: section.index("\n## ", 1)]
    return {word for quoted in re.findall(r"`([^`\n]+)`", section) for word in re.findall(r"\w+", quoted)}


def json_fields(doc: Any) -> set[str]:
    """Every key of a JSON document, at any depth (the keys of list items too)."""
    if isinstance(doc, dict):
        return set(doc) | {field for value in doc.values() for field in json_fields(value)}
    if isinstance(doc, list):
        return {field for item in doc for field in json_fields(item)}
    return set()
