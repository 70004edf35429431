"""One table from GCE errors to cloudroutes error kinds, for HTTP errors and failed operations alike."""

from __future__ import annotations

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

STATUSES: dict[int, type[errors.CloudError]] = {
    400: errors.Invalid,
    401: errors.Denied,
    403: errors.Denied,
    404: errors.NotFound,
    409: errors.Conflict,
    412: errors.Conflict,
    429: errors.Throttled,
}


def kind_for(status: int, reason: str) -> type[errors.CloudError]:
    return REASONS.get(reason) or STATUSES.get(status) or (errors.Transient if status >= 500 else errors.CloudError)


def classify(exc: BaseException) -> errors.CloudroutesError:
    """Map a google-api-core, google-auth or requests exception to our kind."""
    from google.api_core import exceptions as gx

    if isinstance(exc, gx.GoogleAPICallError):
        reason = next((str(e.get("reason", "")) for e in (exc.errors or []) if isinstance(e, dict)), "") or str(
            exc.reason or ""
        )
        status = int(exc.code or 0)
        return kind_for(status, reason)(f"{status} {reason}: {exc.message}".strip(), code=reason or str(status))
    if _is_auth_error(exc):
        return errors.ConfigError(f"no Google credentials: {exc} (set up application default credentials)")
    if _is_connection_error(exc):
        return errors.Transient(f"connection problem: {exc}")
    return errors.CloudError(f"{type(exc).__name__}: {exc}")


def operation_error(operation: Any) -> errors.CloudError | None:
    """An operation can end DONE and still have failed: that is the error it is."""
    failures = list(operation.error.errors) if operation.error else []
    if not failures:
        return None
    status = int(getattr(operation, "http_error_status_code", 0) or 0)
    code = str(failures[0].code)
    message = "; ".join(str(f.message) for f in failures)
    return kind_for(status, code)(f"operation {operation.name} failed: {code}: {message}", code=code)


def _is_auth_error(exc: BaseException) -> bool:
    from google.auth import exceptions as ax

    return isinstance(exc, (ax.DefaultCredentialsError, ax.RefreshError))


def _is_connection_error(exc: BaseException) -> bool:
    import requests

    return isinstance(exc, (requests.ConnectionError, requests.Timeout))
