"""Compute Engine calls: the google-cloud-compute clients, counted pages, and operations learned in batches.

Every write returns an Operation. Waiting on each one from its own thread (`operations.wait`, or
the SDK's `ExtendedOperation.result()`, whose poller also ignores the client's endpoint) ties a
worker to every write for the operation's whole life. Instead the executor keeps writes in
flight and asks `operations()` now and then which of them are DONE: one filtered
`globalOperations.list` / `zoneOperations.list` answers for up to `BATCH` operations, and every
such call spends a token of the poll budget, because the Kubernetes GCE provider learned
(kubernetes/kubernetes#64630) that unbudgeted polling burns the project's read quota.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cloudroutes import retrying
from cloudroutes.errors import CloudroutesError
from cloudroutes.providers.base import ApiError, api_error
from cloudroutes.providers.gce_errors import classify
from cloudroutes.ratelimit import Limiter, TokenBucket

log = logging.getLogger("cloudroutes.providers")

PAGE_SIZE = 500
BATCH = 50
"""Operations asked about in one list call: the filter stays short, the answer one page."""
GLOBAL = "global"


class ComputeApi:
    def __init__(
        self,
        project: str,
        endpoint: str = "",
        *,
        anonymous: bool = False,
        policy: retrying.RetryPolicy | None = None,
        reads: Limiter | None = None,
        polls: Limiter | None = None,
        pool: int = 10,
    ) -> None:
        """`anonymous`: no credentials at all, for an embedded cloud (gce.emulator); never inferred."""
        from google.cloud import compute_v1

        self.project = project
        self.calls: Counter[str] = Counter()
        self.errors: Counter[ApiError] = Counter()
        self._lock = threading.Lock()
        self._policy = policy or retrying.RetryPolicy()
        self._reads: Limiter = reads or TokenBucket(burst=300, rate=20.0)
        self._polls: Limiter = polls or TokenBucket(burst=5, rate=5.0)
        options: dict[str, Any] = {}
        if endpoint:
            from google.api_core.client_options import ClientOptions

            options["client_options"] = ClientOptions(api_endpoint=endpoint)
        if anonymous:
            from google.auth.credentials import AnonymousCredentials

            options["credentials"] = AnonymousCredentials()
        try:
            self.routes = compute_v1.RoutesClient(**options)
            self.instances = compute_v1.InstancesClient(**options)
            self.subnetworks = compute_v1.SubnetworksClient(**options)
            self.projects = compute_v1.ProjectsClient(**options)
            self.global_ops = compute_v1.GlobalOperationsClient(**options)
            self.zone_ops = compute_v1.ZoneOperationsClient(**options)
        except Exception as exc:  # credential discovery raises google.auth errors: mapped in one place
            raise classify(exc) from exc
        for client in (self.routes, self.instances, self.subnetworks, self.projects, self.global_ops, self.zone_ops):
            _size_pool(client, pool)

    def _count(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
        log.debug("calling %s", operation, extra={"api_call": operation})

    def _failed(self, operation: str, error: BaseException) -> None:
        failed = api_error(operation, error)
        with self._lock:
            self.errors[failed] += 1
        log.debug("%s failed: %s (%s)", operation, failed.code, failed.kind, extra={"api_call": operation})

    def write(self, name: str, method: Callable[..., Any], **request: Any) -> Any:
        """One try: the executor retries writes by kind under their own budget."""
        self._count(name)
        try:
            return method(**request)
        except CloudroutesError as exc:
            self._failed(name, exc)
            raise
        except Exception as exc:  # every SDK error is mapped in one place
            error = classify(exc, method=name)
            self._failed(name, error)
            raise error from exc

    def read(self, name: str, method: Callable[..., Any], **request: Any) -> Any:
        return retrying.metered(lambda: self.write(name, method, **request), self._policy, self._reads)

    def pages(self, name: str, method: Callable[..., Any], **request: Any) -> list[Any]:
        """Every page of a list. The pager fetches lazily and cannot resume mid-way, so a failed
        page retries the whole listing (lists here are one or two pages of 500)."""
        return retrying.metered(lambda: list(self._pages(name, method, request)), self._policy, self._reads)

    def _pages(self, name: str, method: Callable[..., Any], request: dict[str, Any]) -> Iterator[Any]:
        try:
            pager = method(**request)
            self._count(name)
            for number, page in enumerate(pager.pages):
                if number:
                    self._count(name)
                yield page
        except CloudroutesError as exc:
            self._failed(name, exc)
            raise
        except Exception as exc:
            error = classify(exc, method=name)
            self._failed(name, error)
            raise error from exc

    def operations(self, handles: Iterable[str]) -> dict[str, Any]:
        """The current state of operations named `scope/name` (scope: a zone, or "global"), by handle,
        in one list call per scope and BATCH operations, each paid for from the poll budget."""
        by_scope: dict[str, list[str]] = defaultdict(list)
        for handle in handles:
            scope, _, name = handle.partition("/")
            by_scope[scope].append(name)
        found: dict[str, Any] = {}
        for scope, names in sorted(by_scope.items()):
            for start in range(0, len(names), BATCH):
                chunk = names[start : start + BATCH]
                for op in self._list_operations(scope, chunk):
                    found[f"{scope}/{op.name}"] = op
        return found

    def _list_operations(self, scope: str, names: list[str]) -> list[Any]:
        selector = " OR ".join(f'(name = "{n}")' for n in names)
        request: dict[str, Any] = {"project": self.project, "filter": selector, "max_results": PAGE_SIZE}
        method: Callable[..., Any]
        if scope == GLOBAL:
            operation, method = "globalOperations.list", self.global_ops.list
        else:
            operation, method = "zoneOperations.list", self.zone_ops.list
            request["zone"] = scope
        pages = retrying.metered(
            lambda: list(self._pages(operation, method, {"request": request})), self._policy, self._polls
        )
        return [op for page in pages for op in page.items]


def _size_pool(client: Any, size: int) -> None:
    """Each client keeps a requests session whose pool holds 10 connections; the executor's workers
    share one client per resource, so past 10 workers urllib3 warns "Connection pool is full" and
    opens a fresh connection per call. The SDK offers no setting for it: the session is reached
    through the REST transport (a private attribute), and left alone if it is not there."""
    session = getattr(getattr(client, "transport", None), "_session", None)
    if session is None or size <= 10:
        return
    from requests.adapters import HTTPAdapter

    for scheme in ("http://", "https://"):
        session.mount(scheme, HTTPAdapter(pool_connections=4, pool_maxsize=size))
