"""How botocore's failures become cloudroutes errors: tables, and the classify() that applies them.

Four tables, each complete by construction: tests/aws/test_errors.py walks the installed
botocore.exceptions and fails on a class no table names (an SDK upgrade added one) or on a name
botocore no longer has (one was renamed).

- CODES: the error code an AWS answer carries (ClientError) -> kind.
- CREDENTIAL_CODES: codes by which AWS refuses the credentials themselves -> the fix.
- SDK_FIXES: botocore's own failures that the operator fixes (credentials, profile, region,
  SDK settings) -> a ConfigError whose one line names the fix.
- SDK_KINDS: every other botocore failure -> kind.

Classes are looked up by name along the exception's MRO, never as attributes of botocore: a
class an upgrade renames cannot turn classify() itself into an AttributeError. One line per
message, the fix first and botocore's own words last, so the cut at MAX_MESSAGE drops detail,
never the fix.
"""

from __future__ import annotations

import os
import re

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from cloudroutes import errors

SDK_ERRORS = (BotoCoreError, ClientError, ResponseParserError)
"""What a call site catches and hands to classify(): the parser's error is no BotoCoreError."""

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
    "NoSuchResourceException": errors.NotFound,
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
    # Permissions: the message names the IAM action that is missing.
    "UnauthorizedOperation": errors.Denied,
    "AccessDenied": errors.Denied,
    "AccessDeniedException": errors.Denied,
    # Not a permission: the account has not opted in to the region or service.
    "OptInRequired": errors.Denied,
}

# The fixes, each one line; {profile} is the profile in use, {detail} botocore's own words.
CONFIGURE = (
    "run `aws configure --profile {profile}`, or set AWS_PROFILE or credentials "
    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
)
NO_CREDENTIALS = f"no AWS credentials found: {CONFIGURE}"
BAD_CREDENTIALS = "AWS rejected the credentials of profile {profile}: " + CONFIGURE + " ({detail})"
BROKEN_PROFILE = (
    "AWS profile {profile} cannot give credentials: fix it, e.g. `aws configure --profile {profile}` ({detail})"
)
SSO_LOGIN = (
    "the AWS SSO session of profile {profile} is missing or expired: run `aws sso login --profile {profile}` ({detail})"
)
AWS_LOGIN = (
    "the AWS login session of profile {profile} is missing or expired: run `aws login --profile {profile}` ({detail})"
)
EXPIRED = (
    "the AWS session token of profile {profile} expired: run `aws sso login --profile {profile}` "
    "or renew the temporary credentials ({detail})"
)
REGION = "AWS region or endpoint unusable: set aws.region (or AWS_DEFAULT_REGION) and check AWS_ENDPOINT_URL ({detail})"
SETTING = "an AWS SDK setting is invalid: fix it in the AWS config file or the AWS_* environment ({detail})"
INSTALL = "the installed botocore cannot make this call: pip install --upgrade boto3 botocore ({detail})"

CREDENTIAL_CODES: dict[str, str] = {
    "AuthFailure": BAD_CREDENTIALS,
    "InvalidClientTokenId": BAD_CREDENTIALS,
    "UnrecognizedClientException": BAD_CREDENTIALS,
    "SignatureDoesNotMatch": BAD_CREDENTIALS,
    "IncompleteSignature": BAD_CREDENTIALS,
    "MissingAuthenticationToken": BAD_CREDENTIALS,
    "InvalidAccessKeyId": BAD_CREDENTIALS,
    "ExpiredToken": EXPIRED,
    "ExpiredTokenException": EXPIRED,
    "RequestExpired": "AWS refused a request signed too long ago: check this machine's clock ({detail})",
}

SDK_FIXES: dict[str, str] = {
    # No credentials anywhere in the chain, or a profile that does not exist.
    "NoCredentialsError": NO_CREDENTIALS,
    "ProfileNotFound": "AWS profile {profile} not found: " + CONFIGURE,
    # SSO: a profile whose token cache is empty or stale (`aws sso login` fills it).
    "SSOError": SSO_LOGIN,
    "SSOTokenLoadError": SSO_LOGIN,
    "UnauthorizedSSOTokenError": SSO_LOGIN,
    "TokenRetrievalError": SSO_LOGIN,
    "NoAuthTokenError": SSO_LOGIN,
    "UnknownTokenProviderError": SSO_LOGIN,
    # `aws login` sessions.
    "LoginError": AWS_LOGIN,
    "LoginRefreshRequired": AWS_LOGIN,
    "LoginTokenLoadError": AWS_LOGIN,
    "LoginAuthorizationCodeError": AWS_LOGIN,
    "LoginInsufficientPermissions": AWS_LOGIN,
    # A profile that is there but cannot give credentials: credential_process fails, half a key pair, ...
    "CredentialRetrievalError": BROKEN_PROFILE,
    "PartialCredentialsError": BROKEN_PROFILE,
    "UnknownCredentialError": BROKEN_PROFILE,
    "InfiniteLoopConfigError": BROKEN_PROFILE,
    "RefreshWithMFAUnsupportedError": BROKEN_PROFILE,
    "ConfigParseError": BROKEN_PROFILE,
    "ConfigNotFound": BROKEN_PROFILE,
    "InvalidConfigError": BROKEN_PROFILE,
    "MetadataRetrievalError": BROKEN_PROFILE,
    # Region and endpoint.
    "NoRegionError": "no AWS region: set aws.region (--aws-region), AWS_REGION or AWS_DEFAULT_REGION",
    "UnknownRegionError": REGION,
    "InvalidRegionError": REGION,
    "ServiceNotInRegionError": REGION,
    "BaseEndpointResolverError": REGION,
    "EndpointVariantError": REGION,
    "UnknownEndpointError": REGION,
    "UnknownFIPSEndpointError": REGION,
    "EndpointProviderError": REGION,
    "EndpointResolutionError": REGION,
    "UnknownEndpointResolutionBuiltInName": REGION,
    "InvalidEndpointConfigurationError": REGION,
    "InvalidIMDSEndpointError": REGION,
    "InvalidIMDSEndpointModeError": REGION,
    "SSLError": "TLS to the AWS endpoint failed: check AWS_ENDPOINT_URL and AWS_CA_BUNDLE ({detail})",
    # SDK settings from the config file or the environment.
    "InvalidRetryConfigurationError": SETTING,
    "InvalidMaxRetryAttemptsError": SETTING,
    "InvalidRetryModeError": SETTING,
    "InvalidS3UsEast1RegionalEndpointConfigError": SETTING,
    "InvalidSTSRegionalEndpointsConfigError": SETTING,
    "InvalidEndpointDiscoveryConfigurationError": SETTING,
    "InvalidProxiesConfigError": SETTING,
    "InvalidDefaultsMode": SETTING,
    "InvalidChecksumConfigError": SETTING,
    "InvalidS3AddressingStyleError": SETTING,
    "UnsupportedS3ConfigurationError": SETTING,
    "UnsupportedS3AccesspointConfigurationError": SETTING,
    "UnsupportedS3ControlConfigurationError": SETTING,
    # The SDK install itself: missing service data or an optional dependency.
    "DataNotFoundError": INSTALL,
    "UnknownServiceError": INSTALL,
    "ApiVersionNotFoundError": INSTALL,
    "UnknownServiceStyle": INSTALL,
    "UnknownSignatureVersionError": INSTALL,
    "UnsupportedSignatureVersionError": INSTALL,
    "UnsupportedServiceProtocolsError": INSTALL,
    "MissingDependencyException": INSTALL,
    "MD5UnavailableError": INSTALL,
}

SDK_KINDS: dict[str, type[errors.CloudError]] = {
    # The wire: retried like any dropped connection.
    "BotoCoreError": errors.Transient,
    "HTTPClientError": errors.Transient,
    "ConnectionError": errors.Transient,
    "EndpointConnectionError": errors.Transient,
    "ConnectionClosedError": errors.Transient,
    "ReadTimeoutError": errors.Transient,
    "ConnectTimeoutError": errors.Transient,
    "ProxyConnectionError": errors.Transient,
    "ResponseStreamingError": errors.Transient,
    "IncompleteReadError": errors.Transient,
    "ChecksumError": errors.Transient,
    "FlexibleChecksumError": errors.Transient,
    # botocore.parsers: an answer that is not the API's XML or JSON (a proxy's page, a cut body).
    "ResponseParserError": errors.Transient,
    # The client's own retry quota ran dry.
    "CapacityNotAvailableError": errors.Throttled,
    # A request botocore refuses to send as built: retrying cannot help.
    "ValidationError": errors.Invalid,
    "ParamValidationError": errors.Invalid,
    "UnknownKeyError": errors.Invalid,
    "RangeError": errors.Invalid,
    "UnknownParameterError": errors.Invalid,
    "AliasConflictParameterError": errors.Invalid,
    "MissingParametersError": errors.Invalid,
    "UnknownClientMethodError": errors.Invalid,
    "OperationNotPageableError": errors.Invalid,
    "PaginationError": errors.Invalid,
    "InvalidExpressionError": errors.Invalid,
    "WaiterError": errors.Invalid,
    "WaiterConfigError": errors.Invalid,
    "UnseekableStreamError": errors.Invalid,
    "AwsChunkedWrapperError": errors.Invalid,
    "InvalidHostLabelError": errors.Invalid,
    "InvalidDNSNameError": errors.Invalid,
    "UnsupportedS3ArnError": errors.Invalid,
    "UnsupportedS3ControlArnError": errors.Invalid,
    "UnsupportedOutpostResourceError": errors.Invalid,
    "UndefinedModelAttributeError": errors.Invalid,
    "MissingServiceIdError": errors.Invalid,
    "StubResponseError": errors.Invalid,
    "StubAssertionError": errors.Invalid,
    "UnStubbedResponseError": errors.Invalid,
}

BY_CODE = frozenset({"ClientError", "EventStreamError"})
"""Classes that carry the service's own error code: CODES and CREDENTIAL_CODES decide."""

SERVICES: dict[str, str] = {"GetServiceQuota": "servicequotas", "ListServiceQuotas": "servicequotas"}
"""The IAM prefix of the operations cloudroutes calls outside EC2 (EC2's prefix is the default)."""

_KNOWN = frozenset(SDK_FIXES) | frozenset(SDK_KINDS) | BY_CODE
_ACTION_IN_MESSAGE = re.compile(r"not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9]+)")


def classify(exc: BaseException, *, service: str = "", profile: str = "") -> errors.CloudroutesError:
    """Map a botocore exception to our kind. When the caller knows them: `service`, the IAM prefix
    of the call; `profile`, the profile its session uses (else AWS_PROFILE's, else "default")."""
    name = sdk_class(exc)
    if name in BY_CODE:
        return _client_error(exc, service, profile)
    detail = _detail(exc, name)
    if name in SDK_FIXES:
        return errors.ConfigError(SDK_FIXES[name].format(profile=_profile(exc, profile), detail=detail))
    if name in SDK_KINDS:
        return SDK_KINDS[name](detail)
    return errors.CloudError(f"{type(exc).__name__}: {exc}")


def sdk_class(exc: BaseException) -> str:
    """The nearest botocore class a table names, in the exception's ancestry ("" when none). Not
    simply the nearest: a client's modeled errors (NoSuchResourceException) are classes botocore
    makes at run time, under ClientError."""
    return next(
        (c.__name__ for c in type(exc).__mro__ if c.__module__.startswith("botocore.") and c.__name__ in _KNOWN), ""
    )


def _client_error(exc: BaseException, service: str, profile: str) -> errors.CloudroutesError:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    code, text = str(error.get("Code", "")), str(error.get("Message", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in CREDENTIAL_CODES:
        fix = CREDENTIAL_CODES[code].format(profile=_profile(exc, profile), detail=f"{code}: {text}")
        return errors.ConfigError(fix)
    kind = CODES.get(code) or (errors.Transient if status >= 500 else errors.Invalid)
    if kind is errors.Denied and code != "OptInRequired":
        operation = str(getattr(exc, "operation_name", ""))
        return kind(f"permission denied: {iam_action(operation, text, service)}", code=code)
    return kind(f"{code}: {text}", code=code)


def iam_action(operation: str, message: str = "", service: str = "") -> str:
    """The IAM action a refused call needed: from AWS's own words when it names it, else derived
    from the operation (CreateRoute -> ec2:CreateRoute, GetServiceQuota -> servicequotas:...)."""
    named = _ACTION_IN_MESSAGE.search(message)
    if named:
        return named.group(1)
    return f"{service or SERVICES.get(operation, 'ec2')}:{operation}"


def _detail(exc: BaseException, name: str) -> str:
    if name == "ResponseParserError":
        # botocore appends the raw body to this message: a proxy's page, possibly with secrets.
        first = str(exc).split("\n", 1)[0].split(", invalid", 1)[0]
        return f"the endpoint's answer is not an AWS API response ({first})"
    return f"{name}: {exc}"


def _profile(exc: BaseException, given: str) -> str:
    """The profile the failing session used: the one botocore names, the caller's, the environment's."""
    named = getattr(exc, "kwargs", {}).get("profile")
    env = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
    return str(named or given or env or "default")
