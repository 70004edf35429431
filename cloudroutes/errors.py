"""Every error cloudroutes raises, and what each means for the run.

    CloudroutesError
    ├── ConfigError          bad usage, config or input; caught before any write (exit 2)
    │   └── PreflightError   the cloud refutes the config: VPC missing, CIDR overlap, ... (exit 2)
    ├── GuardError           the plan trips a safety guard (mass delete) (exit 2)
    ├── NotAssigned          node-cidr: this VM has no subnet yet; a boot script waits and asks again (exit 3)
    └── CloudError           a cloud call failed (exit 1 once the pass ends)
        ├── Throttled        rate limited: retry after backing off
        ├── Transient        5xx, timeouts, dropped connections: retry after backing off
        ├── Conflict         someone else changed the cloud: observe and plan again, never retry blindly
        ├── NotFound         the object is gone
        ├── QuotaExceeded    a hard limit: retrying cannot help
        ├── Invalid          the cloud rejected the request as malformed
        └── Denied           missing credentials or permissions

Providers map their SDK's errors onto CloudError kinds in one `classify()` each and raise
`from` the original, so the cause survives for logs but no caller depends on SDK types.
Messages are cut to MAX_MESSAGE characters: cloud payloads can be long and must never
drag a secret into a log line.
"""

from __future__ import annotations

MAX_MESSAGE = 300

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PENDING = 3


class CloudroutesError(Exception):
    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        message = " ".join(message.split())
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(CloudroutesError):
    exit_code = EXIT_USAGE


class PreflightError(ConfigError):
    pass


class GuardError(CloudroutesError):
    exit_code = EXIT_USAGE


class NotAssigned(CloudroutesError):
    exit_code = EXIT_PENDING


class CloudError(CloudroutesError):
    kind = "error"

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
