"""One table from Kubernetes API answers to cloudroutes error kinds, and the mapping of client failures.

The API server says what went wrong twice: the HTTP code and the Status object's `reason`
(k8s.io/apimachinery/pkg/apis/meta/v1 StatusReason). The reason decides where it is known; the code
otherwise. A 429 carries Retry-After (API Priority and Fairness sends it): the Throttled raised keeps
it as `retry_after`, for a retry that waits at least that long.
"""

from __future__ import annotations

import json
from typing import Any

from cloudroutes import errors

REASONS: dict[str, type[errors.CloudError]] = {
    "Conflict": errors.Conflict,
    "AlreadyExists": errors.Conflict,
    "NotFound": errors.NotFound,
    "Invalid": errors.Invalid,
    "BadRequest": errors.Invalid,
    "MethodNotAllowed": errors.Invalid,
    "UnsupportedMediaType": errors.Invalid,
    "NotAcceptable": errors.Invalid,
    "RequestEntityTooLarge": errors.Invalid,
    "Unauthorized": errors.Denied,
    "Forbidden": errors.Denied,
    "TooManyRequests": errors.Throttled,
    "Timeout": errors.Transient,
    "ServerTimeout": errors.Transient,
    "InternalError": errors.Transient,
    "ServiceUnavailable": errors.Transient,
    # A continue token past etcd's compaction: listing again from the start succeeds.
    "Expired": errors.Transient,
    "Gone": errors.Transient,
}

STATUSES: dict[int, type[errors.CloudError]] = {
    400: errors.Invalid,
    401: errors.Denied,
    403: errors.Denied,
    404: errors.NotFound,
    405: errors.Invalid,
    409: errors.Conflict,
    410: errors.Transient,
    415: errors.Invalid,
    422: errors.Invalid,
    429: errors.Throttled,
}

CONFIG_HINT = "set [kubernetes] kubeconfig (or KUBECONFIG) to a working kubeconfig, and context to one of its contexts"


class Throttled(errors.Throttled):
    """A 429: `retry_after` is the server's Retry-After in seconds, when it sent one."""

    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


def kind_for(status: int, reason: str) -> type[errors.CloudError]:
    return REASONS.get(reason) or STATUSES.get(status) or (errors.Transient if status >= 500 else errors.CloudError)


def _retry_after(headers: Any) -> float | None:
    try:
        value = float(headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None  # absent, or an HTTP date: the caller's own backoff decides
    return max(value, 0.0)


def from_response(status: int, body: bytes, headers: Any) -> errors.CloudError:
    """The error an answer of `status` (>= 400) is: its Status's reason and message when it sent one."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    reason, message = "", body.decode(errors="replace").strip()[:200]
    if isinstance(payload, dict) and payload.get("kind") == "Status":
        reason, message = str(payload.get("reason") or ""), str(payload.get("message") or "")
    text = f"{status} {reason or 'error'}: {message}".strip()
    kind = kind_for(status, reason)
    if kind is errors.Throttled:
        return Throttled(text, code=reason or str(status), retry_after=_retry_after(headers))
    return kind(text, code=reason or str(status))


def classify(exc: BaseException) -> errors.CloudroutesError:
    """Map a failure below the HTTP answer (no connection, a broken kubeconfig) to our kinds."""
    import httpx2
    import yaml
    from lightkube.core.exceptions import ConfigError as LightkubeConfigError

    if isinstance(exc, errors.CloudroutesError):
        return exc
    if isinstance(exc, (httpx2.TransportError, ConnectionError)):
        return errors.Transient(f"cannot reach the Kubernetes API: {type(exc).__name__}: {exc}")
    if isinstance(exc, (LightkubeConfigError, yaml.YAMLError, KeyError, OSError)):
        return errors.ConfigError(f"Kubernetes configuration: {_describe(exc)} ({CONFIG_HINT})")
    return errors.CloudError(f"Kubernetes API: {type(exc).__name__}: {exc}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc}"
    return " ".join(str(exc).split()) or type(exc).__name__
