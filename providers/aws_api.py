"""EC2 calls: one client, paginated reads, errors mapped at the edge, every HTTP call counted.

boto3's own retries are off: reads are retried here by error kind under the read bucket, writes
by the executor under the write buckets, and a retry hidden inside botocore would spend tokens
no bucket ever saw.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from cloudroutes import retrying
from cloudroutes.errors import Denied
from cloudroutes.providers.aws_errors import SDK_ERRORS, classify
from cloudroutes.providers.base import ApiError, api_error
from cloudroutes.ratelimit import Limiter, TokenBucket

log = logging.getLogger("cloudroutes.providers")

_SDK_CONFIG = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=64)
ROUTE_QUOTA_CODE = "L-93826ACB"
PAGE_SIZES = {
    # The largest page each read allows: a pass over 1,000 nodes stays a handful of calls.
    "describe_instances": 1000,
    "describe_route_tables": 100,
}
EMULATOR_CREDENTIALS = {"aws_access_key_id": "emulator", "aws_secret_access_key": "emulator"}
"""Static dummy keys for an embedded cloud (aws.emulator = true): never a real account's."""


class Ec2Api:
    def __init__(
        self,
        region: str,
        *,
        profile: str = "",
        endpoint: str = "",
        emulator: bool = False,
        policy: retrying.RetryPolicy | None = None,
        reads: Limiter | None = None,
    ) -> None:
        self.calls: Counter[str] = Counter()
        self.errors: Counter[ApiError] = Counter()
        self._lock = threading.Lock()
        self._policy = policy or retrying.RetryPolicy()
        self._reads: Limiter = reads or TokenBucket(burst=100, rate=20.0)
        self._endpoint = endpoint or None
        try:
            credentials = EMULATOR_CREDENTIALS if emulator else {}
            self._session = boto3.session.Session(
                region_name=region or None, profile_name=profile or None, **credentials
            )
            self.ec2 = self._client("ec2")
        except SDK_ERRORS as exc:
            raise classify(exc, profile=profile) from exc

    def _client(self, service: str) -> Any:
        client = self._session.client(service, endpoint_url=self._endpoint, config=_SDK_CONFIG)
        client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}", self._count)
        return client

    @property
    def region(self) -> str:
        return str(self.ec2.meta.region_name)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1
        log.debug("calling %s", model.name, extra={"api_call": model.name})

    def _failed(self, operation: str, error: BaseException) -> None:
        failed = api_error(operation, error)
        with self._lock:
            self.errors[failed] += 1
        log.debug("%s failed: %s (%s)", operation, failed.code, failed.kind, extra={"api_call": operation})

    def write(self, operation: str, **params: Any) -> dict[str, Any]:
        """One try: the executor retries writes by kind under their own budget."""
        try:
            response: dict[str, Any] = getattr(self.ec2, operation)(**params)
            return response
        except SDK_ERRORS as exc:
            error = classify(exc, profile=self._session.profile_name)
            self._failed(self.ec2.meta.method_to_api_mapping.get(operation, operation), error)
            raise error from exc

    def read(self, operation: str, **params: Any) -> dict[str, Any]:
        return retrying.metered(lambda: self.write(operation, **params), self._policy, self._reads)

    def pages(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page, each fetched (and retried) on its own: a throttled third page costs one call."""
        token: str | None = None
        # EC2 refuses a page size beside an explicit id list (the ids bound the answer anyway).
        size = None if {"InstanceIds", "RouteTableIds"} & set(params) else PAGE_SIZES.get(operation)
        while True:
            page = self.read(operation, **params, **({"MaxResults": size} if size else {}), **_token(token))
            yield page
            token = page.get("NextToken")
            if not token:
                return

    def _quota(self, client: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = client.get_service_quota(ServiceCode="vpc", QuotaCode=ROUTE_QUOTA_CODE)
            return answer
        except SDK_ERRORS as exc:
            error = classify(exc)
            self._failed("GetServiceQuota", error)
            raise error from exc

    def route_quota(self) -> float | None:
        """Routes per route table from Service Quotas (L-93826ACB), or None when it cannot tell;
        a refused permission is raised (Denied), never taken for "cannot tell"."""
        try:
            client = self._client("service-quotas")
            quota = retrying.metered(lambda: self._quota(client), self._policy, self._reads)
            return float(quota["Quota"]["Value"])
        except Denied:
            # The shipped policy grants it: a refusal is a policy to fix, not a limit to guess.
            raise
        except Exception:  # any other answer but a number means "unknown": the configured default applies
            return None


def _token(token: str | None) -> dict[str, str]:
    return {"NextToken": token} if token else {}
