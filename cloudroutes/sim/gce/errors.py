"""GCE-shaped API errors: one exception type and the JSON Google sends with it.

No I/O here. The server turns an `ApiError` into an HTTP response; an operation that fails turns it into
its `error` block. Messages copy GCE's wording where it is known (cloud-api-facts §2), because callers
(and their logs) match on them.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

# GCE files quota and rate errors under "usageLimits"; everything else is "global".
_USAGE_REASONS = frozenset({"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded"})

# A failed *operation* reports UPPER_SNAKE codes instead of the camelCase reasons of an HTTP error.
_OPERATION_CODES = {
    "alreadyExists": "RESOURCE_ALREADY_EXISTS",
    "notFound": "RESOURCE_NOT_FOUND",
    "quotaExceeded": "QUOTA_EXCEEDED",
    "rateLimitExceeded": "RATE_LIMIT_EXCEEDED",
    "invalid": "INVALID_FIELD_VALUE",
    "conditionNotMet": "CONDITION_NOT_MET",
    "resourceNotReady": "RESOURCE_NOT_READY",
    "internalError": "INTERNAL_ERROR",
    "backendError": "INTERNAL_ERROR",
}


class ApiError(Exception):
    """An error the emulated API answers with: HTTP status, GCE reason and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def domain(self) -> str:
        return "usageLimits" if self.reason in _USAGE_REASONS else "global"

    def body(self) -> dict[str, Any]:
        """The response body, shaped exactly as GCE's JSON error."""
        detail = {"message": self.message, "domain": self.domain, "reason": self.reason}
        return {"error": {"code": self.status, "message": self.message, "errors": [detail]}}

    def operation_fields(self) -> dict[str, Any]:
        """The fields a DONE operation carries when this error ended it."""
        code = _OPERATION_CODES.get(self.reason) or re.sub(r"(?<!^)(?=[A-Z])", "_", self.reason).upper()
        return {
            "error": {"errors": [{"code": code, "message": self.message}]},
            "httpErrorStatusCode": self.status,
            "httpErrorMessage": _phrase(self.status),
        }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.upper()
    except ValueError:
        return "ERROR"


def not_found(resource: str) -> ApiError:
    return ApiError(404, "notFound", f"The resource '{resource}' was not found")


def already_exists(resource: str) -> ApiError:
    return ApiError(409, "alreadyExists", f"The resource '{resource}' already exists")


def not_ready(resource: str) -> ApiError:
    return ApiError(400, "resourceNotReady", f"The resource '{resource}' is not ready")


def invalid_value(field: str, value: object, why: str) -> ApiError:
    return ApiError(400, "invalid", f"Invalid value for field '{field}': '{value}'. {why}")


def required(field: str) -> ApiError:
    return ApiError(400, "required", f"Required field '{field}' not specified")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "badRequest", message)


def quota_exceeded(metric: str, limit: float) -> ApiError:
    return ApiError(403, "quotaExceeded", f"Quota '{metric}' exceeded. Limit: {float(limit)} globally.")


def rate_limited() -> ApiError:
    return ApiError(403, "rateLimitExceeded", "Rate Limit Exceeded")


def condition_not_met(message: str) -> ApiError:
    return ApiError(412, "conditionNotMet", message)


def unknown_url(method: str, path: str) -> ApiError:
    return ApiError(404, "notFound", f"The requested URL {method} {path} was not found on this server.")


def internal(message: str) -> ApiError:
    return ApiError(500, "internalError", message)
