"""How Google's failures become cloudroutes errors: tables, and the classify() that applies them.

The tables are complete by construction: tests/gce/test_errors.py walks the installed
google.api_core.exceptions and google.auth.exceptions and fails on a class no table names (an
upgrade added one) or on a name the SDK no longer has (one was renamed).

- REASONS: the reason inside a Compute error body (or a failed operation's code) -> kind. It
  decides first: a 403 may be a passing rate limit, a hard quota or a missing permission.
- API_KINDS: every google.api_core exception class (one per HTTP status) -> kind.
- AUTH_FIXES / AUTH_KINDS: every google.auth exception class -> the fix (a ConfigError) or kind.

Classes are looked up by module and name along the exception's MRO, never as attributes of
the SDK: google.auth has classes named OSError and TimeoutError, and a class an upgrade renames
cannot turn classify() itself into an AttributeError.
"""

from __future__ import annotations

import re
from typing import Any

from cloudroutes import errors

REASONS: dict[str, type[errors.CloudError]] = {
    # 403s are told apart by reason: a rate limit passes, a quota does not.
    "rateLimitExceeded": errors.Throttled,
    "userRateLimitExceeded": errors.Throttled,
    "RATE_LIMIT_EXCEEDED": errors.Throttled,
    "quotaExceeded": errors.QuotaExceeded,
    "QUOTA_EXCEEDED": errors.QuotaExceeded,
    "alreadyExists": errors.Conflict,
    "RESOURCE_ALREADY_EXISTS": errors.Conflict,
    "conditionNotMet": errors.Conflict,
    "CONDITION_NOT_MET": errors.Conflict,
    "resourceNotReady": errors.Conflict,
    "RESOURCE_NOT_READY": errors.Conflict,
    "notFound": errors.NotFound,
    "RESOURCE_NOT_FOUND": errors.NotFound,
    "forbidden": errors.Denied,
    "insufficientPermissions": errors.Denied,
    "invalid": errors.Invalid,
    "badRequest": errors.Invalid,
    "backendError": errors.Transient,
    "internalError": errors.Transient,
}

UNAUTHENTICATED = frozenset({"Unauthorized", "Unauthenticated"})
"""401: the credentials themselves are refused, whatever the reason says: a ConfigError."""

API_KINDS: dict[str, type[errors.CloudError]] = {
    # Bases: a status the SDK has no class for lands here; _status_kind() decides by its number.
    "GoogleAPIError": errors.Transient,
    "GoogleAPICallError": errors.Transient,
    "ClientError": errors.Invalid,
    "ServerError": errors.Transient,
    # 3xx: the client follows none, so the endpoint is not the API it expects.
    "Redirection": errors.Invalid,
    "MovedPermanently": errors.Invalid,
    "NotModified": errors.Invalid,
    "TemporaryRedirect": errors.Invalid,
    "ResumeIncomplete": errors.Invalid,
    # 4xx.
    "BadRequest": errors.Invalid,
    "InvalidArgument": errors.Invalid,
    "OutOfRange": errors.Invalid,
    "MethodNotAllowed": errors.Invalid,
    "LengthRequired": errors.Invalid,
    "RequestRangeNotSatisfiable": errors.Invalid,
    "FailedPrecondition": errors.Conflict,
    "Unauthorized": errors.Denied,  # see UNAUTHENTICATED
    "Unauthenticated": errors.Denied,
    "Forbidden": errors.Denied,
    "PermissionDenied": errors.Denied,
    "NotFound": errors.NotFound,
    "Conflict": errors.Conflict,
    "AlreadyExists": errors.Conflict,
    "Aborted": errors.Conflict,
    "PreconditionFailed": errors.Conflict,
    "TooManyRequests": errors.Throttled,
    "ResourceExhausted": errors.Throttled,
    "Cancelled": errors.Transient,
    # 5xx.
    "InternalServerError": errors.Transient,
    "Unknown": errors.Transient,
    "DataLoss": errors.Transient,
    "BadGateway": errors.Transient,
    "ServiceUnavailable": errors.Transient,
    "GatewayTimeout": errors.Transient,
    "DeadlineExceeded": errors.Transient,
    "RetryError": errors.Transient,
    "MethodNotImplemented": errors.Invalid,
    # Client-side misuse and uploads (unused by Compute, listed so the table stays complete).
    "DuplicateCredentialArgs": errors.Invalid,
    "AsyncRestUnsupportedParameterError": errors.Invalid,
    "UnseekableStreamError": errors.Invalid,
    "ResumableTransferError": errors.Transient,
    "TransferStalledError": errors.Transient,
    "UploadCancelledError": errors.Transient,
    "MissingStatusHeaderError": errors.Transient,
}

ADC_LOGIN = "run `gcloud auth application-default login`"
NO_CREDENTIALS = (
    f"no usable Google credentials: {ADC_LOGIN} (or set GOOGLE_APPLICATION_CREDENTIALS to a key file) ({{detail}})"
)
STALE_CREDENTIALS = f"Google credentials could not be used or refreshed: {ADC_LOGIN} ({{detail}})"
MTLS = "client certificate (mTLS) set-up failed: check GOOGLE_API_USE_CLIENT_CERTIFICATE ({detail})"
REJECTED = f"Google rejected the credentials: {ADC_LOGIN} ({{detail}})"

AUTH_FIXES: dict[str, str] = {
    "GoogleAuthError": STALE_CREDENTIALS,
    "RefreshError": STALE_CREDENTIALS,
    "ReauthFailError": STALE_CREDENTIALS,
    "ReauthSamlChallengeFailError": STALE_CREDENTIALS,
    "UserAccessTokenError": STALE_CREDENTIALS,
    "OAuthError": STALE_CREDENTIALS,
    "DefaultCredentialsError": NO_CREDENTIALS,
    "MalformedError": NO_CREDENTIALS,
    "InvalidResource": NO_CREDENTIALS,
    "InvalidOperation": NO_CREDENTIALS,
    "InvalidValue": NO_CREDENTIALS,
    "InvalidType": NO_CREDENTIALS,
    "OSError": NO_CREDENTIALS,
    "MutualTLSChannelError": MTLS,
    "ClientCertError": MTLS,
}

AUTH_KINDS: dict[str, type[errors.CloudError]] = {
    # The token endpoint (or the metadata server) did not answer in time: a passing failure.
    "TransportError": errors.Transient,
    "TimeoutError": errors.Transient,
    "ResponseError": errors.Transient,
}

PERMISSIONS: dict[str, str] = {
    "projects.get": "compute.projects.get",
    "subnetworks.aggregatedList": "compute.subnetworks.list",
    "instances.aggregatedList": "compute.instances.list",
    "instances.setLabels": "compute.instances.setLabels",
    "instances.update": "compute.instances.update",
    "routes.list": "compute.routes.list",
    "routes.get": "compute.routes.get",
    "routes.insert": "compute.routes.create",
    "routes.delete": "compute.routes.delete",
    "instances.get": "compute.instances.get",
    "globalOperations.list": "compute.globalOperations.list",
    "zoneOperations.list": "compute.zoneOperations.list",
}
"""The IAM permission each Compute method we call needs, for a 403 whose message names none."""

_API = "google.api_core.exceptions"
_AUTH = "google.auth.exceptions"
_REQUIRED = re.compile(r"Required '([\w.]+)' permission")


def kind_for(status: int, reason: str) -> type[errors.CloudError]:
    """For a failed operation, which carries a status number and a code but no exception class."""
    from google.api_core import exceptions as gx

    return REASONS.get(reason) or _status_kind(gx.exception_class_for_http_status(status).__name__, status)


def classify(exc: BaseException, *, method: str = "") -> errors.CloudroutesError:
    """Map a google-api-core, google-auth or requests exception to our kind. `method`: the Compute
    method that failed (routes.insert), to name the permission a 403 lacked."""
    module, name = sdk_class(exc)
    if module == _API:
        return _api_error(exc, name, method)
    if module == _AUTH and name in AUTH_FIXES:
        return errors.ConfigError(AUTH_FIXES[name].format(detail=f"{name}: {exc}"))
    if module == _AUTH and name in AUTH_KINDS:
        return AUTH_KINDS[name](f"{name}: {exc}")
    if _is_connection_error(exc):
        return errors.Transient(f"connection problem: {exc}")
    return errors.CloudError(f"{type(exc).__name__}: {exc}")


def sdk_class(exc: BaseException) -> tuple[str, str]:
    """(module, name) of the nearest Google exception class in the exception's ancestry."""
    found = next((c for c in type(exc).__mro__ if c.__module__ in (_API, _AUTH)), None)
    return (found.__module__, found.__name__) if found else ("", "")


def _api_error(exc: BaseException, name: str, method: str) -> errors.CloudroutesError:
    status = int(getattr(exc, "code", 0) or 0)
    found = [e for e in (getattr(exc, "errors", None) or []) if isinstance(e, dict)]
    reason = next((str(e.get("reason", "")) for e in found), "") or str(getattr(exc, "reason", "") or "")
    text = str(getattr(exc, "message", "") or exc)
    if name in UNAUTHENTICATED or status == 401:
        return errors.ConfigError(REJECTED.format(detail=f"{status} {reason}: {text}"))
    kind = REASONS.get(reason) or _status_kind(name, status)
    code = reason or str(status or name)
    if kind is errors.Denied:
        return kind(f"permission denied: {permission(text, method) or f'{reason or status}: {text}'}", code=code)
    head = " ".join(part for part in (str(status or name), reason) if part)
    return kind(f"{head}: {text}", code=code)


def _status_kind(name: str, status: int) -> type[errors.CloudError]:
    """A class of its own decides; a base class (a status the SDK has no class for) goes by number."""
    if name in ("GoogleAPICallError", "ClientError", "ServerError", "Redirection") and status:
        return errors.Transient if status >= 500 else errors.Invalid
    return API_KINDS.get(name, errors.CloudError)


def permission(message: str, method: str = "") -> str:
    """The permission a 403 lacked: from Google's message when it names one, else from the method."""
    named = _REQUIRED.search(message)
    return named.group(1) if named else PERMISSIONS.get(method, "")


def operation_error(operation: Any) -> errors.CloudError | None:
    """An operation can end DONE and still have failed: that is the error it is."""
    failures = list(operation.error.errors) if operation.error else []
    if not failures:
        return None
    status = int(getattr(operation, "http_error_status_code", 0) or 0)
    code = str(failures[0].code)
    message = "; ".join(str(f.message) for f in failures)
    return kind_for(status, code)(f"operation {operation.name} failed: {code}: {message}", code=code)


def _is_connection_error(exc: BaseException) -> bool:
    import requests

    return isinstance(exc, (requests.ConnectionError, requests.Timeout))
