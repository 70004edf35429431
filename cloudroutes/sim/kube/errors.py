"""Kubernetes API errors: one exception type and the `Status` object the API server sends with it.

No I/O here. Messages and details copy k8s.io/apimachinery/pkg/api/errors (NewNotFound, NewConflict,
NewInvalid, NewBadRequest, ...) word for word, because clients match on reasons and people read the
messages: https://github.com/kubernetes/apimachinery/blob/master/pkg/api/errors/errors.go
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RESOURCE = "nodes"
KIND = "Node"

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(frozen=True, slots=True)
class Cause:
    """One field error of a 422, as field.Error renders it: type, `Field`, and `ErrorBody()`."""

    type: str  # FieldValueForbidden, FieldValueInvalid, FieldValueDuplicate, ...
    field: str  # spec.podCIDRs
    body: str  # Forbidden: node updates may not change podCIDR except from "" to valid

    def render(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.body, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.body}"


class ApiError(Exception):
    """An answer other than 2xx: HTTP code, Status reason, message, optional details and Retry-After."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown" if code < 500 else "InternalError")
        self.details = details
        self.retry_after = retry_after

    def status(self) -> dict[str, Any]:
        """The response body: a meta/v1 Status, shaped as the API server writes it."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _node_details(name: str) -> dict[str, Any]:
    return {"name": name, "kind": RESOURCE}


def not_found(name: str) -> ApiError:
    return ApiError(404, f'{RESOURCE} "{name}" not found', details=_node_details(name))


def conflict(name: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {RESOURCE} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiError(409, message, details=_node_details(name))


def invalid(name: str, causes: Sequence[Cause]) -> ApiError:
    """NewInvalid: one message aggregating every cause (deduplicated, bracketed when several)."""
    rendered = list(dict.fromkeys(str(c) for c in causes))
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    details = {"name": name, "kind": KIND, "causes": [c.render() for c in causes]}
    return ApiError(422, f'{KIND} "{name}" is invalid: {summary}', details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized")


def forbidden(name: str, verb: str) -> ApiError:
    who = 'User "system:serviceaccount:kube-system:cloudroutes"'
    scope = f'resource "{RESOURCE}" in API group "" at the cluster scope'
    return ApiError(403, f'{RESOURCE} "{name}" is forbidden: {who} cannot {verb} {scope}', details=_node_details(name))


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "Too many requests, please try again later.",
        details={"retryAfterSeconds": retry_after},
        retry_after=retry_after,
    )


def expired(message: str) -> ApiError:
    return ApiError(410, message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "the server does not allow this method on the requested resource")


def unsupported_media_type(content_type: str) -> ApiError:
    accepted = "application/merge-patch+json, application/strategic-merge-patch+json"
    return ApiError(
        415,
        f"the body of the request was in an unknown format ({content_type or 'none'})"
        f" - accepted media types include: {accepted}",
    )


def unknown_path() -> ApiError:
    return ApiError(404, "the server could not find the requested resource")


def internal(message: str) -> ApiError:
    return ApiError(500, f"Internal error occurred: {message}", details={"causes": [{"message": message}]})


def for_status(code: int, name: str, verb: str, message: str = "", retry_after: int | None = None) -> ApiError:
    """The error an injected fault answers with: the real shape for the codes that have one."""
    if code == 429:
        return too_many_requests(retry_after if retry_after is not None else 1)
    if not message:
        known = {404: not_found, 409: conflict}
        if code in known:
            return known[code](name)
        if code == 403:
            return forbidden(name, verb)
        if code == 401:
            return unauthorized()
    return ApiError(code, message or f"injected fault ({code})", retry_after=retry_after)
