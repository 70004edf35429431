"""Compute Engine calls: the google-cloud-compute clients, counted pages, and operation waits.

Every write returns an Operation. We wait with `operations.wait` (the server holds the call until
DONE or about two minutes), from as many threads as the executor runs, but every wait or poll
spends a token from one shared bucket: the Kubernetes GCE provider learned (k/k#64630) that
unbudgeted polling burns the project's read quota. `ExtendedOperation.result()` is not used: its
built-in poller ignores the client's endpoint (see reference/feasibility.md).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from cloudroutes.errors import CloudroutesError
from cloudroutes.providers.gce_errors import classify
from cloudroutes.ratelimit import TokenBucket

PAGE_SIZE = 500


class ComputeApi:
    def __init__(self, project: str, endpoint: str = "", *, poll_burst: int = 5, poll_rate: float = 5.0) -> None:
        """`poll_burst`/`poll_rate`: operation waits across all threads (limits.op_poll_*)."""
        from google.cloud import compute_v1

        self.project = project
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._polls = TokenBucket(burst=poll_burst, rate=poll_rate)
        options: dict[str, Any] = {}
        if endpoint:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials

            # An emulator: anonymous credentials, so no real token is ever sent to it.
            options = {"credentials": AnonymousCredentials(), "client_options": ClientOptions(api_endpoint=endpoint)}
        try:
            self.routes = compute_v1.RoutesClient(**options)
            self.instances = compute_v1.InstancesClient(**options)
            self.networks = compute_v1.NetworksClient(**options)
            self.subnetworks = compute_v1.SubnetworksClient(**options)
            self.projects = compute_v1.ProjectsClient(**options)
            self.global_ops = compute_v1.GlobalOperationsClient(**options)
            self.zone_ops = compute_v1.ZoneOperationsClient(**options)
        except Exception as exc:
            raise classify(exc) from exc

    def _count(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1

    def call(self, name: str, method: Callable[..., Any], **request: Any) -> Any:
        self._count(name)
        try:
            return method(**request)
        except CloudroutesError:
            raise
        except Exception as exc:
            raise classify(exc) from exc

    def pages(self, name: str, method: Callable[..., Any], **request: Any) -> Iterator[Any]:
        """Each page fetched is one call: the pager fetches lazily, so count as it goes."""
        try:
            pager = method(**request)
            self._count(name)
            for number, page in enumerate(pager.pages):
                if number:
                    self._count(name)
                yield page
        except CloudroutesError:
            raise
        except Exception as exc:
            raise classify(exc) from exc

    def wait(self, operation: Any, *, zone: str = "") -> Any:
        """Block until the operation is DONE and return it. A failed wait call raises; the error a DONE
        operation carries is the caller's to read (`operation_error`): only that one is final."""
        from google.cloud import compute_v1

        done = compute_v1.Operation.Status.DONE
        while operation.status != done:
            self._polls.take()
            if zone:
                operation = self.call(
                    "zoneOperations.wait", self.zone_ops.wait, project=self.project, zone=zone, operation=operation.name
                )
            else:
                operation = self.call(
                    "globalOperations.wait", self.global_ops.wait, project=self.project, operation=operation.name
                )
        return operation
