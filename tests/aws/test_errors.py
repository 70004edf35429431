"""Every EC2 error code in the classify() table maps to its kind, and unknown codes fall back sanely."""

from __future__ import annotations

import pytest
from botocore import exceptions as bx

from cloudroutes import errors
from cloudroutes.providers.aws_errors import CODES, classify


def client_error(code: str, status: int = 400) -> bx.ClientError:
    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return bx.ClientError(response, "CreateRoute")  # type: ignore[arg-type]


@pytest.mark.parametrize(("code", "kind"), sorted(CODES.items()), ids=sorted(CODES))
def test_every_code_in_the_table(code, kind):
    mapped = classify(client_error(code))
    assert type(mapped) is kind and mapped.code == code


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        pytest.param(client_error("SomethingNew", 400), errors.Invalid, id="unknown-4xx-is-invalid"),
        pytest.param(client_error("SomethingNew", 503), errors.Transient, id="unknown-5xx-is-transient"),
        pytest.param(bx.EndpointConnectionError(endpoint_url="http://x"), errors.Transient, id="connection"),
        pytest.param(bx.NoCredentialsError(), errors.ConfigError, id="no-credentials"),
        pytest.param(bx.NoRegionError(), errors.ConfigError, id="no-region"),
    ],
)
def test_fallbacks(error, kind):
    assert type(classify(error)) is kind


def test_throttling_and_conflict_are_what_the_executor_expects():
    assert isinstance(classify(client_error("RequestLimitExceeded", 503)), errors.RETRYABLE)
    assert isinstance(classify(client_error("RouteAlreadyExists")), errors.Conflict)
    assert isinstance(classify(client_error("InvalidRoute.NotFound")), errors.NotFound)
