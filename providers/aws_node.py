"""The VM's half on AWS: read this instance's own subnet from its tags, as `node-cidr` does at boot.

The subnet lives on the instance (tags written by `apply` before any route), so a VM that boots
can configure its bridge without talking to anything but EC2 and its metadata service.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping
from ipaddress import ip_network

from cloudroutes.errors import ConfigError, NotAssigned, NotFound
from cloudroutes.model import IPNetwork
from cloudroutes.providers.aws import CIDR_TAG, CIDR_TAG_V6
from cloudroutes.providers.aws_api import Ec2Api

DEFAULT_METADATA = "http://169.254.169.254"


def node_subnets(instance: str | None, *, metadata: str = "", settings: Mapping[str, str]) -> tuple[IPNetwork, ...]:
    """`instance`: an instance id; without it, this VM's own, from the metadata service.
    `settings`: region, endpoint, emulator ("true"), profile; the region falls back to AWS_REGION,
    AWS_DEFAULT_REGION, then the metadata service."""
    base = metadata or DEFAULT_METADATA
    instance = instance or imds_get(base, "/latest/meta-data/instance-id")
    region = settings.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    region = region or imds_get(base, "/latest/meta-data/placement/region")
    api = Ec2Api(
        region,
        profile=settings.get("profile", ""),
        endpoint=settings.get("endpoint", ""),
        emulator=settings.get("emulator", "").lower() == "true",
    )
    try:
        reservations = api.read("describe_instances", InstanceIds=[instance])["Reservations"]
    except NotFound:
        raise ConfigError(f"instance {instance} not found in {region}") from None
    tags = {t["Key"]: t["Value"] for r in reservations for i in r["Instances"] for t in i.get("Tags", [])}
    subnets = tuple(ip_network(tags[key]) for key in (CIDR_TAG, CIDR_TAG_V6) if key in tags)
    if not subnets:
        raise NotAssigned(f"{instance} has no subnet yet (tag {CIDR_TAG} not set); retry after cloudroutes apply")
    return subnets


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
        request = urllib.request.Request(f"{base}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(response.read().decode()).strip()
    except OSError as exc:
        raise ConfigError(f"instance metadata service at {base} did not answer {path}: {exc}") from None
