"""classify() against the errors Google's libraries really raise.

Golden cases: GCE-shaped JSON error bodies with their HTTP statuses, turned into exceptions by
`google.api_core.exceptions.from_http_response`, the function google-cloud-compute's REST
transport raises through. Then every class the installed google.api_core.exceptions and
google.auth.exceptions define must map to a definite kind, so an SDK upgrade that adds or
renames a class fails here, not in a user's cron job. Pure: no emulator, no network.
"""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gx
from google.auth import exceptions as ax
from google.cloud import compute_v1

from cloudroutes import errors
from cloudroutes.providers import gce_errors
from cloudroutes.providers.gce_errors import classify, operation_error

ROUTES_URL = "https://compute.googleapis.com/compute/v1/projects/p/global/routes"


def answered(status: int, body: dict[str, Any] | bytes, method: str = "POST", url: str = ROUTES_URL) -> Any:
    """The exception google-cloud-compute raises when Compute answers `status` and `body`."""
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json" if isinstance(body, dict) else "text/html"
    response.request = requests.Request(method, url).prepare()
    return gx.from_http_response(response)


def gce(status: int, reason: str, message: str) -> dict[str, Any]:
    """Compute's error body: usage limits in their own domain, everything else "global"."""
    domain = "usageLimits" if reason in ("rateLimitExceeded", "quotaExceeded", "userRateLimitExceeded") else "global"
    detail = {"message": message, "domain": domain, "reason": reason}
    return {"error": {"code": status, "message": message, "errors": [detail]}}


ROUTE = "projects/p/global/routes/crt-prod-10-244-1-0-24"
GOLDEN = [
    # (Compute answers status + body to the method) -> (kind, code, the one-line message)
    pytest.param(
        403, gce(403, "rateLimitExceeded", "Rate Limit Exceeded"), "routes.insert",
        errors.Throttled, "rateLimitExceeded", f"403 rateLimitExceeded: POST {ROUTES_URL}: Rate Limit Exceeded",
        id="403-rate-limit-passes",
    ),
    pytest.param(
        403, gce(403, "userRateLimitExceeded", "User Rate Limit Exceeded"), "routes.insert",
        errors.Throttled, "userRateLimitExceeded",
        f"403 userRateLimitExceeded: POST {ROUTES_URL}: User Rate Limit Exceeded", id="403-user-rate-limit",
    ),
    pytest.param(
        403, gce(403, "quotaExceeded", "Quota 'ROUTES' exceeded.  Limit: 250.0 globally."), "routes.insert",
        errors.QuotaExceeded, "quotaExceeded",
        f"403 quotaExceeded: POST {ROUTES_URL}: Quota 'ROUTES' exceeded. Limit: 250.0 globally.",
        id="403-quota-does-not",
    ),
    pytest.param(
        403, gce(403, "forbidden", f"Required 'compute.routes.create' permission for '{ROUTE}'"), "routes.insert",
        errors.Denied, "forbidden", "permission denied: compute.routes.create", id="403-forbidden-named",
    ),
    pytest.param(
        403, gce(403, "forbidden", "The caller does not have permission"), "instances.setLabels",
        errors.Denied, "forbidden", "permission denied: compute.instances.setLabels", id="403-forbidden-derived",
    ),
    pytest.param(
        403, gce(403, "insufficientPermissions", "Request had insufficient authentication scopes."), "routes.delete",
        errors.Denied, "insufficientPermissions", "permission denied: compute.routes.delete", id="403-scopes",
    ),
    pytest.param(
        409, gce(409, "alreadyExists", f"The resource '{ROUTE}' already exists"), "routes.insert",
        errors.Conflict, "alreadyExists",
        f"409 alreadyExists: POST {ROUTES_URL}: The resource '{ROUTE}' already exists",
        id="409-already-exists",
    ),
    pytest.param(
        404, gce(404, "notFound", f"The resource '{ROUTE}' was not found"), "routes.delete",
        errors.NotFound, "notFound", f"404 notFound: POST {ROUTES_URL}: The resource '{ROUTE}' was not found",
        id="404",
    ),
    pytest.param(
        412, gce(412, "conditionNotMet", "Labels fingerprint either invalid or resource labels have changed"),
        "instances.setLabels", errors.Conflict, "conditionNotMet",
        f"412 conditionNotMet: POST {ROUTES_URL}: Labels fingerprint either invalid or resource labels have changed",
        id="412-condition-not-met",
    ),
    pytest.param(
        400, gce(400, "invalid", "Invalid value for field 'resource.destRange': '10.244.1.0/33'."), "routes.insert",
        errors.Invalid, "invalid",
        f"400 invalid: POST {ROUTES_URL}: Invalid value for field 'resource.destRange': '10.244.1.0/33'.",
        id="400-invalid",
    ),
    pytest.param(
        500, gce(500, "internalError", "Internal error. Please try again or contact Google Support."), "routes.insert",
        errors.Transient, "internalError",
        f"500 internalError: POST {ROUTES_URL}: Internal error. Please try again or contact Google Support.",
        id="500-internal",
    ),
    pytest.param(
        503, gce(503, "backendError", "Backend Error"), "routes.list",
        errors.Transient, "backendError", f"503 backendError: POST {ROUTES_URL}: Backend Error", id="503-backend",
    ),
    pytest.param(
        502, b"<html><body>502 Bad Gateway</body></html>", "routes.list",
        errors.Transient, "502", f"502: POST {ROUTES_URL}: <html><body>502 Bad Gateway</body></html>",
        id="502-a-proxy-page",
    ),
    pytest.param(
        418, gce(418, "somethingNew", "A status no class has"), "routes.insert",
        errors.Invalid, "somethingNew", f"418 somethingNew: POST {ROUTES_URL}: A status no class has",
        id="unknown-4xx-is-invalid",
    ),
    pytest.param(
        599, b"", "routes.insert", errors.Transient, "599", f"599: POST {ROUTES_URL}: unknown error",
        id="unknown-5xx-is-transient",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "method", "kind", "code", "message"), GOLDEN)
def test_compute_answers(status, body, method, kind, code, message):
    mapped = classify(answered(status, body), method=method)
    assert (type(mapped), mapped.code, mapped.message) == (kind, code, message)


def test_a_403_that_names_no_permission_and_no_known_method_still_says_denied():
    mapped = classify(answered(403, gce(403, "forbidden", "The caller does not have permission")))
    assert type(mapped) is errors.Denied
    assert (
        mapped.message == "permission denied: forbidden: POST " + ROUTES_URL + ": The caller does not have permission"
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {
                "error": {
                    "code": 401,
                    "message": "Request is missing required authentication credential.",
                    "errors": [{"message": "Login Required.", "domain": "global", "reason": "required"}],
                    "status": "UNAUTHENTICATED",
                }
            },
            id="no-credential",
        ),
        pytest.param(gce(401, "authError", "Invalid Credentials"), id="invalid-credentials"),
        pytest.param(gce(401, "invalid", "Invalid Credentials"), id="a-reason-that-elsewhere-means-invalid"),
    ],
)
def test_a_401_is_a_config_error_naming_the_login(body):
    mapped = classify(answered(401, body), method="routes.list")
    assert type(mapped) is errors.ConfigError and mapped.exit_code == errors.EXIT_USAGE
    assert mapped.message.startswith("Google rejected the credentials: run `gcloud auth application-default login`")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        pytest.param(requests.ConnectionError("reset"), errors.Transient, id="connection"),
        pytest.param(requests.Timeout("slow"), errors.Transient, id="timeout"),
        pytest.param(ValueError("odd"), errors.CloudError, id="anything-else"),
    ],
)
def test_what_is_not_google_s(error, kind):
    assert type(classify(error)) is kind


def test_credentials_that_cannot_be_found_name_the_login(monkeypatch, tmp_path):
    import google.auth

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ax.DefaultCredentialsError) as caught:
        google.auth.default()  # an explicit key file is checked first: no metadata server is asked
    mapped = classify(caught.value)
    assert type(mapped) is errors.ConfigError
    assert mapped.message.startswith("no usable Google credentials: run `gcloud auth application-default login`")


# -- failed operations ----------------------------------------------------------------------


def done_operation(code: str, status: int) -> compute_v1.Operation:
    return compute_v1.Operation(
        name="operation-1",
        status=compute_v1.Operation.Status.DONE,
        error=compute_v1.Error(errors=[compute_v1.Errors(code=code, message="why")]),
        http_error_status_code=status,
    )


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("RATE_LIMIT_EXCEEDED", 403, errors.Throttled),
        ("QUOTA_EXCEEDED", 403, errors.QuotaExceeded),
        ("RESOURCE_ALREADY_EXISTS", 409, errors.Conflict),
        ("CONDITION_NOT_MET", 412, errors.Conflict),
        ("RESOURCE_NOT_READY", 400, errors.Conflict),
        ("RESOURCE_NOT_FOUND", 404, errors.NotFound),
        ("INTERNAL_ERROR", 503, errors.Transient),
        ("INTERNAL_ERROR", 500, errors.Transient),
        ("INVALID_FIELD_VALUE", 400, errors.Invalid),
        ("SOMETHING_NEW", 403, errors.Denied),
    ],
)
def test_an_error_inside_a_done_operation_is_the_error_it_is(code, status, kind):
    failure = operation_error(done_operation(code, status))
    assert type(failure) is kind and failure.code == code
    assert "operation-1" in failure.message


def test_a_done_operation_without_error_is_no_failure():
    assert operation_error(compute_v1.Operation(name="operation-1", status=compute_v1.Operation.Status.DONE)) is None


def test_the_retry_policy_follows_the_reason_not_the_status():
    assert isinstance(classify(answered(403, gce(403, "rateLimitExceeded", "m"))), errors.RETRYABLE)
    assert isinstance(classify(answered(503, gce(503, "backendError", "m"))), errors.RETRYABLE)
    assert not isinstance(classify(answered(403, gce(403, "quotaExceeded", "m"))), errors.RETRYABLE)


# -- completeness: every class the two Google modules define ---------------------------------


def defined_in(module: Any) -> dict[str, type[BaseException]]:
    return {
        name: cls
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == module.__name__
    }


@pytest.mark.parametrize(
    ("module", "tables"),
    [
        pytest.param(gx, [gce_errors.API_KINDS], id="google.api_core"),
        pytest.param(ax, [gce_errors.AUTH_FIXES, gce_errors.AUTH_KINDS], id="google.auth"),
    ],
)
def test_every_google_exception_is_in_exactly_one_table(module, tables):
    listed = [name for table in tables for name in table]
    assert len(listed) == len(set(listed)), f"listed twice: {sorted({n for n in listed if listed.count(n) > 1})}"
    unmapped = set(defined_in(module)) - set(listed)
    assert not unmapped, f"{module.__name__} classes no table maps (add each to gce_errors): {sorted(unmapped)}"
    stale = set(listed) - set(defined_in(module))
    assert not stale, f"names {module.__name__} no longer defines (renamed?): {sorted(stale)}"


def instance(cls: type[BaseException]) -> BaseException:
    required = [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name not in ("self", "args", "kwargs") and p.default is p.empty
    ]
    return cls(*(f"{p.name}-value" for p in required)) if required else cls("m")


CLASSES = [(gx, name) for name in sorted(defined_in(gx))] + [(ax, name) for name in sorted(defined_in(ax))]


@pytest.mark.parametrize(("module", "name"), CLASSES, ids=[f"{m.__name__}.{n}" for m, n in CLASSES])
def test_every_google_exception_maps_to_a_definite_kind(module, name):
    mapped = classify(instance(defined_in(module)[name]), method="routes.insert")
    assert type(mapped) is not errors.CloudError, "the bare fallback"
    if module is ax and name in gce_errors.AUTH_FIXES:
        assert type(mapped) is errors.ConfigError
        assert mapped.message.startswith(gce_errors.AUTH_FIXES[name].split(" ({detail})")[0])
    elif module is ax:
        assert type(mapped) is gce_errors.AUTH_KINDS[name]
    elif name in gce_errors.UNAUTHENTICATED:
        assert type(mapped) is errors.ConfigError
    else:
        assert type(mapped) is gce_errors.API_KINDS[name]
    assert "\n" not in mapped.message and len(mapped.message) <= errors.MAX_MESSAGE


def test_the_cli_without_google_credentials_is_one_line_naming_the_login(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from cloudroutes.cli import app

    for key in [k for k in os.environ if k.startswith("CLOUDROUTES_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    config = tmp_path / "cloudroutes.toml"
    config.write_text('provider = "gce"\n[cluster]\nname = "prod"\ncidr = "10.244.0.0/16"\n[gce]\nproject = "p"\n')
    result = CliRunner().invoke(app, ["plan", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: no usable Google credentials: run `gcloud auth application-default login`")
    assert result.output.strip().count("\n") == 0, "one line"
