"""One table from EC2 error codes to cloudroutes error kinds, and the function that applies it."""

from __future__ import annotations

from cloudroutes import errors

CODES: dict[str, type[errors.CloudError]] = {
    # Throttling: per account and region token buckets; back off and try again.
    "RequestLimitExceeded": errors.Throttled,
    "Throttling": errors.Throttled,
    "ThrottlingException": errors.Throttled,
    "EC2ThrottledException": errors.Throttled,
    "TooManyRequestsException": errors.Throttled,
    # The service's own trouble.
    "InternalError": errors.Transient,
    "InternalFailure": errors.Transient,
    "ServiceUnavailable": errors.Transient,
    "Unavailable": errors.Transient,
    # The cloud's uniqueness rule is our compare-and-swap: someone else holds that destination.
    "RouteAlreadyExists": errors.Conflict,
    "IncorrectState": errors.Conflict,
    "IncorrectInstanceState": errors.Conflict,
    # Gone.
    "InvalidRoute.NotFound": errors.NotFound,
    "InvalidRouteTableID.NotFound": errors.NotFound,
    "InvalidInstanceID.NotFound": errors.NotFound,
    "InvalidNetworkInterfaceID.NotFound": errors.NotFound,
    "InvalidVpcID.NotFound": errors.NotFound,
    # Hard limits: retrying cannot help.
    "RouteLimitExceeded": errors.QuotaExceeded,
    "RouteTableLimitExceeded": errors.QuotaExceeded,
    "TagLimitExceeded": errors.QuotaExceeded,
    # Malformed or impossible requests.
    "InvalidParameterValue": errors.Invalid,
    "InvalidParameterCombination": errors.Invalid,
    "InvalidParameter": errors.Invalid,
    "MissingParameter": errors.Invalid,
    "InvalidInstanceID": errors.Invalid,
    "InvalidInstanceID.Malformed": errors.Invalid,
    "InvalidRouteTableId.Malformed": errors.Invalid,
    # Credentials and permissions.
    "UnauthorizedOperation": errors.Denied,
    "AccessDenied": errors.Denied,
    "AccessDeniedException": errors.Denied,
    "AuthFailure": errors.Denied,
    "OptInRequired": errors.Denied,
    "InvalidClientTokenId": errors.Denied,
    "SignatureDoesNotMatch": errors.Denied,
    "ExpiredToken": errors.Denied,
}


def classify(exc: BaseException) -> errors.CloudroutesError:
    """Map a botocore exception to our kind; unknown 4xx are Invalid, unknown 5xx Transient."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        kind = CODES.get(code) or (errors.Transient if status >= 500 else errors.Invalid)
        return kind(f"{code}: {error.get('Message', '')}", code=code)
    if isinstance(exc, bx.NoCredentialsError):
        return errors.ConfigError("no AWS credentials found (boto3's standard chain: env, profile, instance role)")
    if isinstance(exc, bx.NoRegionError):
        return errors.ConfigError("no AWS region: set aws.region or AWS_DEFAULT_REGION")
    if isinstance(
        exc, (bx.EndpointConnectionError, bx.ConnectionClosedError, bx.ReadTimeoutError, bx.ConnectTimeoutError)
    ):
        return errors.Transient(f"connection problem: {exc}")
    if isinstance(exc, bx.ResponseParserError):
        return errors.Transient(f"unreadable response: {exc}")
    if isinstance(exc, bx.ParamValidationError):
        return errors.Invalid(str(exc))
    return errors.CloudError(f"{type(exc).__name__}: {exc}")
