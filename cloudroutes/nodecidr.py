"""The half of the bootstrap that runs on the VM: read this VM's own subnet from the cloud ledger.

The subnet lives on the instance (AWS tag, GCE label), written by `apply` before any route,
so a VM that boots can configure its bridge (cbr0) without talking to anything but its cloud.
"""

from __future__ import annotations

import json
import os
import urllib.request
from ipaddress import ip_network
from typing import Any

from cloudroutes.errors import CloudroutesError, ConfigError, NotFound
from cloudroutes.model import IPNetwork

DEFAULT_IMDS = "http://169.254.169.254"
DEFAULT_GCE_METADATA = "http://metadata.google.internal"
FORMATS = ("plain", "docker", "cni")


class NotAssigned(CloudroutesError):
    """The VM has no subnet yet: a boot script should wait and retry."""

    exit_code = 3


def imds_get(base: str, path: str, *, timeout: float = 2.0) -> str:
    """IMDSv2 (token first), falling back to v1 where tokens are not offered."""
    headers: dict[str, str] = {}
    try:
        token_request = urllib.request.Request(
            f"{base}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        )
        with urllib.request.urlopen(token_request, timeout=timeout) as response:
            headers["X-aws-ec2-metadata-token"] = response.read().decode()
    except OSError:
        pass
    try:
        with urllib.request.urlopen(
            urllib.request.Request(f"{base}{path}", headers=headers), timeout=timeout
        ) as response:
            return str(response.read().decode()).strip()
    except OSError as exc:
        raise ConfigError(f"instance metadata service at {base} did not answer {path}: {exc}") from None


def aws_subnets(instance_id: str | None, *, region: str = "", imds: str = DEFAULT_IMDS) -> tuple[IPNetwork, ...]:
    from cloudroutes.providers.aws import CIDR_TAG, CIDR_TAG_V6
    from cloudroutes.providers.aws_api import Ec2Api

    instance_id = instance_id or imds_get(imds, "/latest/meta-data/instance-id")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    if not region:
        region = imds_get(imds, "/latest/meta-data/placement/region")
    api = Ec2Api(region)
    try:
        reservations = api.call("describe_instances", InstanceIds=[instance_id])["Reservations"]
    except NotFound:
        raise ConfigError(f"instance {instance_id} not found in {region}") from None
    instances = [i for r in reservations for i in r["Instances"]]
    tags = {t["Key"]: t["Value"] for i in instances for t in i.get("Tags", [])}
    subnets = tuple(ip_network(tags[key]) for key in (CIDR_TAG, CIDR_TAG_V6) if key in tags)
    if not subnets:
        raise NotAssigned(f"{instance_id} has no subnet yet (tag {CIDR_TAG} not set); retry after cloudroutes apply")
    return subnets


def gce_metadata(base: str, path: str, *, timeout: float = 2.0) -> str:
    request = urllib.request.Request(f"{base}/computeMetadata/v1/{path}", headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(response.read().decode()).strip()
    except OSError as exc:
        raise ConfigError(f"metadata server at {base} did not answer {path}: {exc}") from None


def gce_subnets(
    instance: str | None, *, project: str = "", endpoint: str = "", metadata: str = DEFAULT_GCE_METADATA
) -> tuple[IPNetwork, ...]:
    """`instance` is zone/name; without it, this VM's own, from the metadata server."""
    from cloudroutes.providers import gce_names as names
    from cloudroutes.providers.gce_api import ComputeApi

    if instance:
        zone, _, name = instance.rpartition("/")
        if not zone:
            raise ConfigError("on GCE --instance-id takes zone/name, e.g. us-central1-a/node-1")
    else:
        zone = gce_metadata(metadata, "instance/zone").rsplit("/", 1)[-1]
        name = gce_metadata(metadata, "instance/name")
    project = project or os.environ.get("CLOUDROUTES_GCE_PROJECT") or gce_metadata(metadata, "project/project-id")
    api = ComputeApi(project, endpoint or os.environ.get("CLOUDROUTES_GCE_ENDPOINT", ""))
    try:
        found = api.call("instances.get", api.instances.get, project=project, zone=zone, instance=name)
    except NotFound:
        raise ConfigError(f"instance {zone}/{name} not found in project {project}") from None
    labels = dict(found.labels)
    subnets = tuple(
        s
        for key, version in ((names.CIDR_LABEL, 4), (names.CIDR_LABEL_V6, 6))
        if (s := names.parse_label(labels.get(key), version))
    )
    if not subnets:
        raise NotAssigned(
            f"{zone}/{name} has no subnet yet (label {names.CIDR_LABEL} not set); retry after cloudroutes apply"
        )
    return subnets


def render(subnets: tuple[IPNetwork, ...], fmt: str) -> str:
    """plain: one CIDR per line; docker: a daemon.json fragment; cni: a bridge plugin config."""
    if fmt == "plain":
        return "\n".join(str(s) for s in subnets)
    v4 = next((s for s in subnets if s.version == 4), None)
    if fmt == "docker":
        doc: dict[str, Any] = {"bip": f"{_gateway(v4)}/{v4.prefixlen}"} if v4 else {}
        v6 = next((s for s in subnets if s.version == 6), None)
        if v6:
            doc |= {"ipv6": True, "fixed-cidr-v6": str(v6)}
        return json.dumps(doc, indent=2)
    if fmt == "cni":
        ranges = [[{"subnet": str(s), "gateway": _gateway(s)}] for s in subnets]
        routes = [{"dst": "0.0.0.0/0" if s.version == 4 else "::/0"} for s in subnets]
        config = {
            "cniVersion": "1.0.0",
            "name": "cloudroutes",
            "type": "bridge",
            "bridge": "cbr0",
            "isGateway": True,
            "ipMasq": False,  # the point of routed subnets: pods keep their own address on the wire
            "ipam": {"type": "host-local", "ranges": ranges, "routes": routes},
        }
        return json.dumps(config, indent=2)
    raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")


def _gateway(subnet: IPNetwork | None) -> str:
    """The bridge takes the first address of the node's subnet."""
    assert subnet is not None
    return str(subnet.network_address + 1)
