"""Every error cloudroutes raises, and what each means for the run.

    CloudroutesError
    ├── ConfigError          bad usage, config or input, or set-up to fix first: credentials, profile,
    │   │                    region, a missing [sim]/[lab] extra, a sim port in use (exit 2)
    │   └── PreflightError   the cloud refutes the config: VPC missing, CIDR overlap, ... (exit 2)
    ├── GuardError           the plan trips a safety guard (mass delete) (exit 2)
    ├── NotAssigned          node-cidr: this VM has no subnet yet; a boot script waits and asks again (exit 3)
    └── CloudError           a cloud call failed (exit 1 once the pass ends)
        ├── Throttled        rate limited: retry after backing off
        ├── Transient        5xx, timeouts, dropped connections, an answer that is no API's: retry
        ├── Conflict         someone else changed the cloud: observe and plan again, never retry blindly
        ├── NotFound         the object is gone
        ├── QuotaExceeded    a hard limit: retrying cannot help
        ├── Invalid          the cloud (or its SDK, before sending) rejected the request as malformed
        └── Denied           a permission is missing: "permission denied: ec2:CreateRoute"

Each class carries a `kind`, the word `--output json` reports as `{"error": {"kind": ...}}`:
`config`, `preflight`, `guard`, `not-assigned`, and a cloud error's own (`throttled`, ...,
`denied`); the CLI adds `usage` (a malformed command line) and `interrupted`.

Providers map their SDK's errors onto these kinds in one `classify()` each and raise `from`
the original, so the cause survives for logs but no caller depends on SDK types. A set-up
problem's one line names the fix (`aws sso login --profile X`, `gcloud auth application-default
login`).

Every message passes through CloudroutesError, so that is where secrets are taken out
(`redact`: a URL's user:password, `token=`/`key=`-like query values) and where it is cut to
one line of at most MAX_MESSAGE characters: cloud payloads can be long and must never drag a
secret into a log line.
"""

from __future__ import annotations

import re

MAX_MESSAGE = 500
"""One line, bounded; long enough for the config discovery error, which names three paths (an
$XDG_CONFIG_HOME deep in a CI runner's workspace among them) before the keys it still needs."""
REDACTED = "***"

# scheme://user:password@host -> scheme://***@host (the user too: it is half of the pair).
_USERINFO = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}://)[^/\s@'\"]+@")
# ?token=..., &X-Amz-Signature=..., &api_key=...: a query value whose name looks like a secret.
# A query string on a line of its own (a SigV4 canonical request, in -v logs) has no "?" before it.
_QUERY_PAIR = re.compile(r"(?m)((?:^|[?&;])[^=&\s#'\"]+=)([^&\s#'\"]+)")
_SECRET_NAME = re.compile(r"(?i)key|token|secret|passw|pwd|signature|credential|sig|auth")
# What an SDK's debug log (-v) shows of a request: headers as a dict ('Authorization': b'AWS4-HMAC...'),
# as lines of a canonical request (x-amz-security-token:...), a bearer token, a SigV4 signature.
_SECRET_HEADERS = r"authorization|proxy-authorization|x-amz-security-token|x-goog-api-key|cookie|set-cookie"
_QUOTED_HEADER = re.compile(rf"(?i)(['\"](?:{_SECRET_HEADERS})['\"]\s*:\s*b?)(['\"])(.*?)\2")
_HEADER_LINE = re.compile(rf"(?im)^(\s*(?:{_SECRET_HEADERS})\s*:\s*)\S.*$")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
_SIGNATURE = re.compile(r"(?i)\b(signature\s*[=:]\s*)[0-9a-f]{16,}")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PENDING = 3


def redact(text: str) -> str:
    """`text` without the secrets a URL can carry (userinfo, secret-looking query values) or an SDK's
    debug log of a request (authorization and token headers, bearer tokens, signatures)."""
    text = _QUOTED_HEADER.sub(rf"\1\2{REDACTED}\2", text)
    text = _HEADER_LINE.sub(rf"\1{REDACTED}", text)
    text = _BEARER.sub(rf"\1{REDACTED}", _SIGNATURE.sub(rf"\1{REDACTED}", text))
    return _QUERY_PAIR.sub(_redact_pair, _USERINFO.sub(rf"\1{REDACTED}@", text))


def _redact_pair(pair: re.Match[str]) -> str:
    name, value = pair.groups()
    return name + (REDACTED if _SECRET_NAME.search(name) else value)


class CloudroutesError(Exception):
    exit_code = EXIT_FAILED
    kind = "error"
    """What went wrong, in one word a script can branch on (`{"error": {"kind": ...}}` under --output json)."""

    def __init__(self, message: str) -> None:
        # Redact before the cut, so half a secret never survives it; the cut bounds the work.
        message = redact(" ".join(message.split())[: 4 * MAX_MESSAGE])
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(CloudroutesError):
    exit_code = EXIT_USAGE
    kind = "config"


class PreflightError(ConfigError):
    kind = "preflight"


class GuardError(CloudroutesError):
    exit_code = EXIT_USAGE
    kind = "guard"


class NotAssigned(CloudroutesError):
    exit_code = EXIT_PENDING
    kind = "not-assigned"


class CloudError(CloudroutesError):
    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code
        """The cloud's own error code (RouteAlreadyExists, quotaExceeded, ...)."""


class Throttled(CloudError):
    kind = "throttled"


class Transient(CloudError):
    kind = "transient"


class Conflict(CloudError):
    kind = "conflict"


class NotFound(CloudError):
    kind = "not-found"


class QuotaExceeded(CloudError):
    kind = "quota-exceeded"


class Invalid(CloudError):
    kind = "invalid"


class Denied(CloudError):
    kind = "denied"


RETRYABLE = (Throttled, Transient)
