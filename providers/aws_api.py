"""EC2 calls: one client, paginated reads, errors mapped at the edge, every HTTP call counted.

boto3's own retries are off: the executor retries by error kind under one write budget, and a
retry hidden inside botocore would spend tokens the bucket never saw.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from cloudroutes.providers.aws_errors import classify

_SDK_CONFIG = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=32)


class Ec2Api:
    def __init__(self, region: str) -> None:
        try:
            session = boto3.session.Session(region_name=region or None)
            self._session = session
            self.ec2 = session.client("ec2", config=_SDK_CONFIG)
        except (BotoCoreError, ClientError) as exc:
            raise classify(exc) from exc
        self.ec2.meta.events.register("before-call.ec2", self._count)
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.ec2, operation)(**params)
            return response
        except (BotoCoreError, ClientError) as exc:
            raise classify(exc) from exc

    def pages(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        try:
            yield from self.ec2.get_paginator(operation).paginate(**params, PaginationConfig={"PageSize": 100})
        except (BotoCoreError, ClientError) as exc:
            raise classify(exc) from exc

    def route_quota(self) -> float | None:
        """Routes per route table from Service Quotas (L-93826ACB), or None when it cannot tell."""
        try:
            client = self._session.client("service-quotas", config=_SDK_CONFIG)
            client.meta.events.register("before-call.service-quotas", self._count)
            quota = client.get_service_quota(ServiceCode="vpc", QuotaCode=ROUTE_QUOTA_CODE)
            return float(quota["Quota"]["Value"])
        except (BotoCoreError, ClientError, KeyError, TypeError, ValueError):
            return None


ROUTE_QUOTA_CODE = "L-93826ACB"
