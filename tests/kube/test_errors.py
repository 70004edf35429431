"""Every row of the Kubernetes error table, and the failures below an HTTP answer, mapped to our kinds.

The rows are built as the API server sends them (a Status body, and Retry-After where it sends one);
the end-to-end cases against the emulator are in test_ledger.
"""

from __future__ import annotations

import json
import ssl

import httpx2
import pytest
import yaml
from lightkube.core.exceptions import ConfigError as LightkubeConfigError

from cloudroutes import errors
from cloudroutes.providers import kube_errors


def _status(code: int, reason: str, message: str = "m") -> bytes:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    return json.dumps({**body, "message": message, "reason": reason, "code": code}).encode()


@pytest.mark.parametrize(("reason", "kind"), sorted(kube_errors.REASONS.items()))
def test_every_reason_maps_to_its_kind(reason: str, kind: type[errors.CloudError]) -> None:
    error = kube_errors.from_response(400, _status(400, reason, "why"), {})
    assert type(error) is kind or (kind is errors.Throttled and isinstance(error, kube_errors.Throttled))
    assert error.code == reason
    assert str(error) == f"400 {reason}: why"


@pytest.mark.parametrize(("status", "kind"), sorted(kube_errors.STATUSES.items()))
def test_every_status_without_a_known_reason_maps_by_code(status: int, kind: type[errors.CloudError]) -> None:
    error = kube_errors.from_response(status, b"<html>proxy says no</html>", {})
    assert isinstance(error, kind)
    assert error.code == str(status)
    assert "proxy says no" in str(error)


@pytest.mark.parametrize(
    ("status", "kind"), [(500, errors.Transient), (502, errors.Transient), (418, errors.CloudError)]
)
def test_unlisted_codes(status: int, kind: type[errors.CloudError]) -> None:
    assert type(kube_errors.from_response(status, b"", {})) is kind


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", None)])
def test_retry_after_is_kept_on_the_throttle(header: str, seconds: float | None) -> None:
    error = kube_errors.from_response(429, _status(429, "TooManyRequests"), {"Retry-After": header})
    assert isinstance(error, kube_errors.Throttled)
    assert error.retry_after == seconds
    assert kube_errors.from_response(429, b"", {}).retry_after is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (httpx2.ConnectError("connection refused"), errors.Transient),
        (httpx2.ReadTimeout("timed out"), errors.Transient),
        (httpx2.RemoteProtocolError("peer closed"), errors.Transient),
        (ConnectionResetError(104, "reset by peer"), errors.Transient),
        (LightkubeConfigError("auth-provider not supported"), errors.ConfigError),
        (yaml.YAMLError("bad"), errors.ConfigError),
        (FileNotFoundError(2, "No such file", "/token"), errors.ConfigError),
        (ssl.SSLError("bad certificate"), errors.ConfigError),
        (RuntimeError("surprise"), errors.CloudError),
    ],
)
def test_failures_below_an_answer(failure: BaseException, kind: type[errors.CloudroutesError]) -> None:
    error = kube_errors.classify(failure)
    assert type(error) is kind
    assert "\n" not in str(error)


def test_our_own_errors_pass_through() -> None:
    own = errors.Conflict("already ours")
    assert kube_errors.classify(own) is own
