"""classify() against the errors botocore really raises.

Golden cases: EC2's own XML error bodies (and Service Quotas' JSON ones) with their HTTP statuses,
handed to a real botocore client through a `before-send` hook, so botocore's own parser builds
each ClientError (or fails to parse, as it does on a proxy's page); no request leaves the process.
Then every class the installed botocore.exceptions defines must map to a definite kind, so an
SDK upgrade that adds or renames a class fails here, not in a user's cron job.
"""

from __future__ import annotations

import inspect
import json
import socket
import string
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import exceptions as bx
from botocore import parsers
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from cloudroutes import errors
from cloudroutes.providers import aws_errors
from cloudroutes.providers.aws_errors import classify


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Body:
    """The raw body botocore reads an AWSResponse from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def answered(status: int, body: bytes, operation: str = "create_route", service: str = "ec2", **params: Any) -> Any:
    """What a botocore client raises when the endpoint answers `status` and `body`."""
    client = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    ).client(service, config=Config(retries={"total_max_attempts": 1}))
    client.meta.events.register("before-send", lambda request, **_: AWSResponse(request.url, status, {}, _Body(body)))
    params = params or (
        {"RouteTableId": "rtb-0abc", "DestinationCidrBlock": "10.244.1.0/24"} if operation == "create_route" else {}
    )
    with pytest.raises(Exception) as caught:
        getattr(client, operation)(**params)
    return caught.value


def ec2_xml(code: str, message: str) -> bytes:
    """EC2's error body, as the Query protocol answers it."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{code}</Code><Message>{message}</Message>"
        "</Error></Errors><RequestID>4d8c1c2b-0e1a-4f6b-9f0a-2b3c4d5e6f70</RequestID></Response>"
    ).encode()


def quota_json(code: str, message: str) -> bytes:
    """Service Quotas' error body (awsJson1.1)."""
    return json.dumps({"__type": code, "Message": message}).encode()


NOT_AUTHORIZED = (
    "You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/ci is not "
    "authorized to perform: ec2:CreateRoute on resource: arn:aws:ec2:us-east-1:123456789012:route-table/rtb-0abc "
    "because no identity-based policy allows the ec2:CreateRoute action. Encoded authorization failure message: "
    "Bq2f0x8Yw" + "A" * 400
)

GOLDEN = [
    # (EC2 answers status + body to an operation) -> (kind, the one-line message)
    pytest.param(
        503,
        ec2_xml("RequestLimitExceeded", "Request limit exceeded."),
        "create_route",
        errors.Throttled,
        "RequestLimitExceeded: Request limit exceeded.",
        id="throttled",
    ),
    pytest.param(
        500,
        ec2_xml("InternalError", "An internal error has occurred"),
        "describe_vpcs",
        errors.Transient,
        "InternalError: An internal error has occurred",
        id="internal-error",
    ),
    pytest.param(
        503,
        ec2_xml("Unavailable", "The server is overloaded and can't handle the request."),
        "describe_vpcs",
        errors.Transient,
        "Unavailable: The server is overloaded and can't handle the request.",
        id="unavailable",
    ),
    pytest.param(
        400,
        ec2_xml("RouteAlreadyExists", "The route identified by 10.244.1.0/24 already exists."),
        "create_route",
        errors.Conflict,
        "RouteAlreadyExists: The route identified by 10.244.1.0/24 already exists.",
        id="conflict",
    ),
    pytest.param(
        400,
        ec2_xml("InvalidRoute.NotFound", "The route identified by 10.244.1.0/24 does not exist."),
        "create_route",
        errors.NotFound,
        "InvalidRoute.NotFound: The route identified by 10.244.1.0/24 does not exist.",
        id="route-gone",
    ),
    pytest.param(
        400,
        ec2_xml("InvalidRouteTableID.NotFound", "The routeTable ID 'rtb-0abc' does not exist"),
        "create_route",
        errors.NotFound,
        "InvalidRouteTableID.NotFound: The routeTable ID 'rtb-0abc' does not exist",
        id="table-gone",
    ),
    pytest.param(
        400,
        ec2_xml("RouteLimitExceeded", "The maximum number of routes has been reached."),
        "create_route",
        errors.QuotaExceeded,
        "RouteLimitExceeded: The maximum number of routes has been reached.",
        id="route-limit",
    ),
    pytest.param(
        400,
        ec2_xml("InvalidParameterValue", "Value (10.244.1.0/33) for parameter destinationCidrBlock is invalid."),
        "create_route",
        errors.Invalid,
        "InvalidParameterValue: Value (10.244.1.0/33) for parameter destinationCidrBlock is invalid.",
        id="invalid",
    ),
    pytest.param(
        400,
        ec2_xml("SomethingNew", "A code no table knows."),
        "create_route",
        errors.Invalid,
        "SomethingNew: A code no table knows.",
        id="unknown-4xx-is-invalid",
    ),
    pytest.param(
        503,
        ec2_xml("SomethingNew", "A code no table knows."),
        "create_route",
        errors.Transient,
        "SomethingNew: A code no table knows.",
        id="unknown-5xx-is-transient",
    ),
    # Permissions: the IAM action, from AWS's own words when they name it, else from the operation.
    pytest.param(
        403,
        ec2_xml("UnauthorizedOperation", NOT_AUTHORIZED),
        "create_route",
        errors.Denied,
        "permission denied: ec2:CreateRoute",
        id="denied-named",
    ),
    pytest.param(
        403,
        ec2_xml("UnauthorizedOperation", "You are not authorized to perform this operation."),
        "describe_vpcs",
        errors.Denied,
        "permission denied: ec2:DescribeVpcs",
        id="denied-derived",
    ),
    pytest.param(
        400,
        ec2_xml("AccessDenied", "Access Denied"),
        "describe_route_tables",
        errors.Denied,
        "permission denied: ec2:DescribeRouteTables",
        id="access-denied",
    ),
    # A page that is not the API's XML: a proxy's error page, an empty 500, a load balancer's text.
    pytest.param(
        500,
        b"<html><body><h1>500 Internal Server Error</h1></body></html>",
        "describe_vpcs",
        errors.Transient,
        "500: Internal Server Error",
        id="html-500",
    ),
    pytest.param(
        500,
        b"",
        "describe_vpcs",
        errors.Transient,
        "500: Internal Server Error",
        id="empty-500",
    ),
]


@pytest.mark.parametrize(("status", "body", "operation", "kind", "message"), GOLDEN)
def test_ec2_answers(status, body, operation, kind, message):
    raised = answered(status, body, operation)
    assert isinstance(raised, bx.ClientError), "botocore's parser made this error"
    mapped = classify(raised)
    assert (type(mapped), mapped.message) == (kind, message)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(503, b"upstream connect error or disconnect/reset before headers", id="503-plain-text"),
        pytest.param(500, b"Internal Server Error: token=T0KEN", id="500-plain-text"),
        pytest.param(200, b"<html><body>Sign in to the proxy<br></body></html>", id="200-html"),
    ],
)
def test_an_answer_that_is_not_xml_is_transient_and_its_body_is_not_echoed(status, body):
    raised = answered(status, body, "describe_vpcs")
    assert isinstance(raised, parsers.ResponseParserError), "botocore's parser gave up on this body"
    mapped = classify(raised)
    assert type(mapped) is errors.Transient
    assert mapped.message.startswith("the endpoint's answer is not an AWS API response")
    assert body.decode()[:24] not in mapped.message and "T0KEN" not in mapped.message


@pytest.mark.parametrize(
    ("status", "code", "message", "fix"),
    [
        pytest.param(
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
            "AWS rejected the credentials of profile ci: run `aws configure --profile ci`",
            id="auth-failure",
        ),
        pytest.param(
            400,
            "ExpiredToken",
            "The security token included in the request is expired",
            "the AWS session token of profile ci expired: run `aws sso login --profile ci`",
            id="expired",
        ),
        pytest.param(
            400,
            "RequestExpired",
            "Request has expired.",
            "AWS refused a request signed too long ago: check this machine's clock",
            id="clock-skew",
        ),
    ],
)
def test_credentials_refused_by_aws_are_config_errors_naming_the_fix(monkeypatch, status, code, message, fix):
    raised = answered(status, ec2_xml(code, message), "describe_vpcs")
    monkeypatch.setenv("AWS_PROFILE", "ci")  # the profile the failing session used
    mapped = classify(raised)
    assert type(mapped) is errors.ConfigError and mapped.exit_code == errors.EXIT_USAGE
    assert mapped.message.startswith(fix) and message in mapped.message


@pytest.mark.parametrize(
    ("code", "message", "kind", "expected"),
    [
        pytest.param(
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: servicequotas:GetServiceQuota",
            errors.Denied,
            "permission denied: servicequotas:GetServiceQuota",
            id="denied-named",
        ),
        pytest.param(
            "AccessDeniedException",
            "You do not have sufficient access to perform this action.",
            errors.Denied,
            "permission denied: servicequotas:GetServiceQuota",
            id="denied-derived",
        ),
        pytest.param(
            "TooManyRequestsException",
            "Rate exceeded",
            errors.Throttled,
            "TooManyRequestsException: Rate exceeded",
            id="throttled",
        ),
        pytest.param(
            "NoSuchResourceException",
            "The request failed because the specified quota does not exist.",
            errors.NotFound,
            "NoSuchResourceException: The request failed because the specified quota does not exist.",
            id="no-quota",
        ),
    ],
)
def test_service_quotas_answers(code, message, kind, expected):
    raised = answered(400, quota_json(code, message), "get_service_quota", "service-quotas",
                      ServiceCode="vpc", QuotaCode="L-93826ACB")  # fmt: skip
    mapped = classify(raised)
    assert (type(mapped), mapped.message) == (kind, expected)


def test_a_denied_message_fits_one_line_however_long_aws_wrote_it():
    mapped = classify(answered(403, ec2_xml("UnauthorizedOperation", NOT_AUTHORIZED)))
    assert mapped.code == "UnauthorizedOperation" and "\n" not in mapped.message
    assert "Encoded authorization failure" not in mapped.message


@pytest.mark.parametrize(
    ("operation", "service", "action"),
    [
        ("CreateRoute", "", "ec2:CreateRoute"),
        ("ModifyNetworkInterfaceAttribute", "", "ec2:ModifyNetworkInterfaceAttribute"),
        ("GetServiceQuota", "", "servicequotas:GetServiceQuota"),
        ("GetCallerIdentity", "sts", "sts:GetCallerIdentity"),
    ],
)
def test_the_iam_action_is_derived_from_the_operation(operation, service, action):
    assert aws_errors.iam_action(operation, "", service) == action


# -- errors botocore raises before anything is sent ------------------------------------------


def test_a_request_botocore_refuses_to_build_is_invalid():
    client = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1").client(
        "ec2"
    )
    with pytest.raises(bx.ParamValidationError) as caught:
        client.create_route(DestinationCidrBlock="10.244.1.0/24")
    assert type(classify(caught.value)) is errors.Invalid


def test_a_refused_connection_is_transient(free_port):
    client = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1").client(
        "ec2", endpoint_url=f"http://127.0.0.1:{free_port}", config=Config(retries={"total_max_attempts": 1})
    )
    with pytest.raises(bx.EndpointConnectionError) as caught:
        client.describe_vpcs()
    mapped = classify(caught.value)
    assert type(mapped) is errors.Transient and str(free_port) in mapped.message


# -- completeness: every class botocore.exceptions defines ------------------------------------


def botocore_classes() -> dict[str, type[BaseException]]:
    """Exception classes defined in botocore.exceptions (warnings are never raised at us)."""
    return {
        name: cls
        for name, cls in vars(bx).items()
        if inspect.isclass(cls)
        and issubclass(cls, BaseException)
        and not issubclass(cls, Warning)
        and cls.__module__ == bx.__name__
    }


TABLES = {"SDK_FIXES": set(aws_errors.SDK_FIXES), "SDK_KINDS": set(aws_errors.SDK_KINDS), "BY_CODE": aws_errors.BY_CODE}
ELSEWHERE = {"ResponseParserError": parsers}
"""Classes the tables name that live outside botocore.exceptions, and where."""


def test_every_botocore_exception_is_in_exactly_one_table():
    listed = [name for names in TABLES.values() for name in names]
    assert len(listed) == len(set(listed)), f"listed twice: {sorted({n for n in listed if listed.count(n) > 1})}"
    unmapped = set(botocore_classes()) - set(listed)
    assert not unmapped, f"botocore exceptions no table maps (add each to aws_errors): {sorted(unmapped)}"
    stale = set(listed) - set(botocore_classes()) - set(ELSEWHERE)
    assert not stale, f"names botocore.exceptions no longer defines (renamed?): {sorted(stale)}"
    for name, module in ELSEWHERE.items():
        assert inspect.isclass(getattr(module, name, None)), f"{module.__name__}.{name} is gone"


def instance(cls: type[BaseException]) -> BaseException:
    """An instance built as botocore builds it: its message template's fields, its required arguments."""
    arguments = {"error_response": {"Error": {"Code": "X", "Message": "m"}}, "operation_name": "CreateRoute"}
    required = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    fields = {f for _, f, _, _ in string.Formatter().parse(getattr(cls, "fmt", "")) if f}
    return cls(**{name: arguments.get(name, {}) for name in required} | dict.fromkeys(fields, "ci"))


@pytest.mark.parametrize("name", sorted(botocore_classes()))
def test_every_botocore_exception_maps_to_a_definite_kind(name, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "ci")
    mapped = classify(instance(botocore_classes()[name]))
    assert type(mapped) is not errors.CloudError, "the bare fallback"
    if name in aws_errors.SDK_FIXES:
        fix = aws_errors.SDK_FIXES[name].split(" ({detail})")[0].format(profile="ci")
        assert type(mapped) is errors.ConfigError and mapped.message.startswith(fix)
    elif name in aws_errors.SDK_KINDS:
        assert type(mapped) is aws_errors.SDK_KINDS[name]
    assert "\n" not in mapped.message and len(mapped.message) <= errors.MAX_MESSAGE


def test_a_subclass_botocore_makes_per_service_is_classified_by_its_code():
    client = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1").client(
        "service-quotas"
    )
    modeled = client.exceptions.NoSuchResourceException  # made at run time, a ClientError subclass
    error = modeled({"Error": {"Code": "NoSuchResourceException", "Message": "m"}}, "GetServiceQuota")
    assert type(classify(error)) is errors.NotFound


def test_something_that_is_not_botocore_falls_back_to_a_plain_cloud_error():
    mapped = classify(RuntimeError("odd"))
    assert type(mapped) is errors.CloudError and mapped.message == "RuntimeError: odd"
