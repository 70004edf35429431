"""The sim's IAM mode: moto's enforcement switched on, with EC2's own authorization put back.

Switched on, moto authenticates and authorizes every request it answers itself (IAM, STS), through
its documented switch (POST /moto-api/reset-auth). For EC2 and Service Quotas the sim takes the
decision: moto authorizes EC2 against the resource "*" with no condition keys, so a policy scoped to
tagged route tables would be refused outright (see iam.py). The gate authenticates such a request
with moto's own code (the access key from moto's IAM, the SigV4 signature), collects the caller's
policies from moto's IAM, and decides with iam.py over the resources context.py names. A refusal is
EC2's: UnauthorizedOperation, 403, naming the action and the resource (Service Quotas:
AccessDeniedException).

Never here: the policy logic (iam.py), the resources of an action (context.py), HTTP plumbing.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from cloudroutes.sim.ec2 import context, iam
from cloudroutes.sim.ec2.errors import Ec2Error

SERVICES = {"GetServiceQuota": "servicequotas"}
"""IAM prefixes of the non-EC2 actions the sim answers itself."""


class Gate:
    def __init__(self, region: str) -> None:
        self.region = region
        self.on = False

    def switch(self, endpoint: str, *, on: bool) -> None:
        """Enforce (or stop enforcing) from the next request on, in moto and in the sim alike."""
        from moto.ec2.responses import EC2Response

        count = b"0" if on else b"inf"
        # Not a form: Flask would take a form body apart and moto would find no number in it.
        request = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth", data=count, headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(request).close()
        if on:
            # moto would refuse every resource-scoped EC2 statement; the sim has decided before it.
            EC2Response._authenticate_and_authorize_normal_action = _decided_by_the_sim
        elif "_authenticate_and_authorize_normal_action" in EC2Response.__dict__:
            del EC2Response._authenticate_and_authorize_normal_action
        self.on = on

    def check(self, action: str, params: dict[str, str], environ: dict[str, Any], body: bytes) -> None:
        """Raise the cloud's refusal unless the caller may do `action` on every resource it touches."""
        if not self.on:
            return
        service = SERVICES.get(action, "ec2")
        caller, policies = _authenticate(action, environ, body, service)
        resources = context.resources(self.region, action, params) if service == "ec2" else _anywhere(self.region)
        refused = iam.denied(policies, f"{service}:{action}", resources)
        if refused is None:
            return
        if service != "ec2":
            message = f"User: {caller} is not authorized to perform: {service}:{action} on resource: {refused.arn}"
            raise Ec2Error("AccessDeniedException", message, status=400)
        raise Ec2Error(
            "UnauthorizedOperation",
            f"You are not authorized to perform this operation. User: {caller} is not authorized to perform: "
            f"ec2:{action} on resource: {refused.arn} because no identity-based policy allows the ec2:{action} action",
            status=403,
        )


def _anywhere(region: str) -> tuple[iam.Resource, ...]:
    return (iam.Resource(arn="*", context={"ec2:region": (region,)}),)


def _decided_by_the_sim(self: Any, resource: str = "*") -> None:
    """EC2's authorization, in IAM mode: the gate has authenticated and authorized the request."""


def _authenticate(action: str, environ: dict[str, Any], body: bytes, service: str) -> tuple[str, list[Any]]:
    """The caller's ARN and identity policies, as moto's IAM holds them; EC2's refusal for a bad key."""
    from moto.iam.access_control import CreateAccessKeyFailure, IAMRequest, create_access_key
    from werkzeug.exceptions import HTTPException  # what moto raises for a bad key or signature

    headers = _headers(environ)
    try:
        request = IAMRequest(
            account_id=DEFAULT_ACCOUNT_ID,
            method=environ.get("REQUEST_METHOD", "POST"),
            path=environ.get("PATH_INFO") or "/",
            data={},
            body=body,
            headers=headers,
            action=action,
        )
        request.check_signature()
        key_id = headers["Authorization"].split("Credential=", 1)[1].split("/", 1)[0]
        key = create_access_key(account_id=DEFAULT_ACCOUNT_ID, partition="aws", access_key_id=key_id, headers=headers)
    except (HTTPException, CreateAccessKeyFailure, KeyError, IndexError):
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials", 401) from None
    return key.arn, [_document(p) for p in key.collect_policies()]


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers as the client sent them: what the signature was computed over."""
    found = {k[5:].replace("_", "-").title(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        found["Content-Type"] = str(environ["CONTENT_TYPE"])
    if environ.get("CONTENT_LENGTH"):
        found["Content-Length"] = str(environ["CONTENT_LENGTH"])
    return found


def _document(policy: Any) -> Any:
    """An identity policy's JSON: inline policies come as dicts, managed ones as moto Policy objects."""
    versions = getattr(policy, "versions", None)
    if versions is not None:
        return next(v.document for v in versions if v.is_default)
    document = policy["policy_document"] if isinstance(policy, dict) else policy
    return json.loads(document) if isinstance(document, str) else document
