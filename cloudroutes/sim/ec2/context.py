"""What IAM sees of an EC2 request: the resources an action authorizes and the condition keys EC2 sets.

From AWS's Service Authorization Reference for EC2
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html): route writes
authorize the route table (ec2:ResourceTag/*, ec2:Vpc); CreateTags and DeleteTags each tagged
resource (its tags, aws:TagKeys, and for CreateTags aws:RequestTag/*); ModifyNetworkInterfaceAttribute
the interface (its tags, ec2:Vpc, ec2:Subnet); Describe* and Service Quotas' GetServiceQuota only "*".
Every request carries ec2:Region. An action not listed here is authorized against "*", as moto does.

Keys EC2 has that are not set here (so a policy conditioned on them is denied, never allowed by
accident): ec2:Attribute*, ec2:RouteTableID, ec2:NetworkInterfaceID, aws:ResourceTag/* on resources
other than those above, and every global key but ec2:Region (aws:SourceIp, aws:PrincipalTag/*, ...).

Never here: the evaluation (iam.py), HTTP, or changes to moto's state.
"""

from __future__ import annotations

from collections.abc import Mapping

from moto.core import DEFAULT_ACCOUNT_ID

from cloudroutes.sim.ec2.backend import backend
from cloudroutes.sim.ec2.iam import Resource

Params = Mapping[str, str]
ROUTE_WRITES = frozenset({"CreateRoute", "ReplaceRoute", "DeleteRoute"})
TAG_WRITES = frozenset({"CreateTags", "DeleteTags"})
_TYPES = {
    # EC2 id prefix -> IAM resource type
    "i-": "instance",
    "rtb-": "route-table",
    "eni-": "network-interface",
    "vpc-": "vpc",
    "subnet-": "subnet",
    "igw-": "internet-gateway",
    "sg-": "security-group",
}


def resources(region: str, action: str, params: Params) -> tuple[Resource, ...]:
    """Each resource `action` with these query parameters is authorized against."""
    base: dict[str, tuple[str, ...]] = {"ec2:region": (region,)}
    if action in ROUTE_WRITES:
        return (_route_table(region, params.get("RouteTableId", ""), base),)
    if action in TAG_WRITES:
        return tuple(_tagged(region, action, rid, params, base) for rid in _numbered(params, "ResourceId"))
    if action == "ModifyNetworkInterfaceAttribute":
        return (_interface(region, params.get("NetworkInterfaceId", ""), base),)
    return (Resource(arn="*", context=base),)


def arn(region: str, kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{region}:{DEFAULT_ACCOUNT_ID}:{kind}/{resource_id}"


def _route_table(region: str, table_id: str, base: dict[str, tuple[str, ...]]) -> Resource:
    table = backend(region).route_tables.get(table_id)
    vpc = {"ec2:vpc": (arn(region, "vpc", table.vpc_id),)} if table is not None else {}
    return Resource(arn=arn(region, "route-table", table_id), context={**base, **_tags(region, table_id), **vpc})


def _interface(region: str, eni_id: str, base: dict[str, tuple[str, ...]]) -> Resource:
    eni = backend(region).enis.get(eni_id)
    where: dict[str, tuple[str, ...]] = {}
    if eni is not None and eni.subnet is not None:
        where = {
            "ec2:vpc": (arn(region, "vpc", eni.subnet.vpc_id),),
            "ec2:subnet": (arn(region, "subnet", eni.subnet.id),),
        }
    return Resource(arn=arn(region, "network-interface", eni_id), context={**base, **_tags(region, eni_id), **where})


def _tagged(region: str, action: str, resource_id: str, params: Params, base: dict[str, tuple[str, ...]]) -> Resource:
    keys = [params[f"Tag.{n}.Key"] for n in _indices(params, "Tag", ".Key")]
    request: dict[str, tuple[str, ...]] = {"aws:tagkeys": tuple(keys)} if keys else {}
    if action == "CreateTags":
        for n in _indices(params, "Tag", ".Key"):
            request[f"aws:requesttag/{params[f'Tag.{n}.Key']}".lower()] = (params.get(f"Tag.{n}.Value", ""),)
    kind = next((t for prefix, t in _TYPES.items() if resource_id.startswith(prefix)), "resource")
    return Resource(arn=arn(region, kind, resource_id), context={**base, **_tags(region, resource_id), **request})


def _tags(region: str, resource_id: str) -> dict[str, tuple[str, ...]]:
    """The resource's own tags, under both names IAM gives them."""
    found = dict(backend(region).tags.get(resource_id) or {})
    return {f"{scope}:resourcetag/{k}".lower(): (v,) for k, v in found.items() for scope in ("ec2", "aws")}


def _numbered(params: Params, name: str) -> list[str]:
    return [params[f"{name}.{n}"] for n in _indices(params, name, "")]


def _indices(params: Params, name: str, suffix: str) -> list[int]:
    """The N of every `name.N<suffix>` query parameter, in order (EC2 lists are 1-based)."""
    found = []
    for key in params:
        head, _, rest = key.partition(".")
        number, _, tail = rest.partition(".")
        if head == name and number.isdigit() and (f".{tail}" if tail else "") == suffix:
            found.append(int(number))
    return sorted(found)
