"""The embedded EC2 cloud: moto's server on loopback, with AWS's route rules, faults and a call log.

    sim = Ec2Sim(route_limit=50).start()
    boto3.client("ec2", endpoint_url=sim.endpoint, ...)   # or os.environ.update(sim.env())
    sim.calls / sim.writes()                               # what reached the cloud, in order
    sim.stop()

Faults are off by default: `latency` seconds before each call, `throttle_rate` (a share of
mutating calls answered RequestLimitExceeded), or `write_bucket=(burst, per_second)` to
enforce EC2's own mutating-call token bucket the way AWS does.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl, urlencode

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from cloudroutes.sim import ec2_rules as rules

REGION = "us-east-1"
# EC2's own buckets, per account and region (burst, refill per second): route writes share the
# mutating bucket; CreateTags and ModifyNetworkInterfaceAttribute are metered on their own.
AWS_BUCKETS: dict[str, tuple[int, float]] = {
    "CreateTags": (100, 10.0),
    "DeleteTags": (100, 10.0),
    "ModifyNetworkInterfaceAttribute": (100, 5.0),
}
MUTATING = frozenset(
    {
        "CreateRoute",
        "ReplaceRoute",
        "DeleteRoute",
        "CreateTags",
        "DeleteTags",
        "ModifyInstanceAttribute",
        "ModifyNetworkInterfaceAttribute",
    }
)
_QUOTA_TARGET = "ServiceQuotasV20190624.GetServiceQuota"


@dataclass(frozen=True, slots=True)
class Call:
    action: str
    params: dict[str, str]
    status: int


class Ec2Sim:
    """One at a time per process: moto's backends are process-wide."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = REGION,
        route_limit: int = 50,
        latency: float = 0.0,
        throttle_rate: float = 0.0,
        write_bucket: tuple[int, float] | None = None,
        seed: int = 7,
    ) -> None:
        self.host, self.port, self.region = host, port, region
        self.route_limit = route_limit
        self.latency = latency
        self.throttle_rate = throttle_rate
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._bucket: _Bucket | None = None
        self.set_write_bucket(write_bucket)
        self._random = random.Random(seed)
        self._calls: list[Call] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = _RulesLayer(self, DomainDispatcherApplication(create_backend_app))
        self._checks: dict[str, list[Callable[[str, dict[str, str]], None]]] = {
            "CreateRoute": [
                rules.canonical_destination,
                rules.single_interface_target,
                rules.no_vpc_overlap,
                rules.destination_free,
                rules.within_route_limit(route_limit),
            ],
            "ReplaceRoute": [rules.canonical_destination, rules.single_interface_target, rules.no_vpc_overlap],
            "DeleteRoute": [rules.canonical_destination],
            "ModifyInstanceAttribute": [rules.single_interface_attribute],
        }
        rules.install_route_state()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Ec2Sim:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="ec2-sim", daemon=True)
        self._thread.start()
        self.reset()
        return self

    def reset(self) -> None:
        """moto keeps its state per process, not per server: start every sim from an empty cloud."""
        from moto.moto_api import _internal

        _internal.moto_api_backend.reset()
        self.reset_calls()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Ec2Sim:
        return self.start() if self._server is None else self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """What a shell or subprocess needs to talk to this cloud through boto3's standard chain."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "sim",
            "AWS_SECRET_ACCESS_KEY": "sim",
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, service: str = "ec2") -> Any:
        """A boto3 client for seeding and inspection; it never retries, so the call log is exact."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="sim",
            aws_secret_access_key="sim",
            config=Config(retries={"total_max_attempts": 1}),
        )

    def set_write_bucket(self, bucket: tuple[int, float] | None) -> None:
        """Arm (or disarm) EC2's throttling: `bucket` is the mutating bucket (AWS: 50, 5/s); the
        actions EC2 meters apart get their own AWS-sized buckets. Arm it after seeding."""
        with self._lock:
            self._bucket = _Bucket(*bucket) if bucket else None
            self._buckets = {action: _Bucket(*size) for action, size in AWS_BUCKETS.items()} if bucket else {}

    def set_launch_time(self, instance_id: str, when: Any) -> None:
        """EC2 reports launch times to the second; tests that need an order set it outright."""
        rules._instance(self.region, instance_id).launch_time = when

    # -- the call log ----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.action in MUTATING]

    def count(self, actions: Iterable[str] | None = None) -> dict[str, int]:
        wanted = set(actions) if actions is not None else None
        counts: dict[str, int] = {}
        for call in self.calls:
            if wanted is None or call.action in wanted:
                counts[call.action] = counts.get(call.action, 0) + 1
        return counts

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def _record(self, action: str, params: dict[str, str], status: int) -> None:
        with self._lock:
            self._calls.append(Call(action, params, status))

    # -- rules and faults ------------------------------------------------------------------

    def _admit(self, action: str, params: dict[str, str]) -> None:
        if self.latency:
            time.sleep(self.latency)
        if action in MUTATING:
            with self._lock:
                bucket = self._buckets.get(action, self._bucket)
                throttled = (bucket is not None and not bucket.take()) or (
                    self.throttle_rate > 0 and self._random.random() < self.throttle_rate
                )
            if throttled:
                raise rules.Ec2Error("RequestLimitExceeded", "Request limit exceeded.", status=503)
        for check in self._checks.get(action, ()):
            check(self.region, params)

    def _after(self, action: str, params: dict[str, str]) -> None:
        if action in ("ModifyInstanceAttribute", "ModifyNetworkInterfaceAttribute"):
            rules.mirror_source_dest_check(self.region, params)


class _RulesLayer:
    """WSGI middleware: log, fault, check, then hand the (possibly rewritten) request to moto."""

    def __init__(self, sim: Ec2Sim, inner: Any) -> None:
        self.sim, self.inner = sim, inner

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET") == _QUOTA_TARGET:
            return self._route_quota(start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        action = params.get("Action", "")
        if not action or environ.get("REQUEST_METHOD") != "POST":
            return self._forward(environ, start_response, body)
        try:
            self.sim._admit(action, params)
        except rules.Ec2Error as exc:
            self.sim._record(action, params, exc.status)
            return _error(start_response, exc)
        status: list[int] = []

        def recording_start(code: str, headers: Any, *rest: Any) -> Any:
            status.append(int(code.split()[0]))
            return start_response(code, headers, *rest)

        response = list(self._forward(environ, recording_start, urlencode(params).encode()))
        self.sim._record(action, params, status[0] if status else 0)
        if status and status[0] < 300:
            self.sim._after(action, params)
        return response

    def _forward(self, environ: dict[str, Any], start_response: Callable[..., Any], body: bytes) -> Any:
        environ["wsgi.input"] = BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.inner(environ, start_response)

    def _route_quota(self, start_response: Callable[..., Any]) -> list[bytes]:
        import json

        quota = {
            "Quota": {
                "ServiceCode": "vpc",
                "QuotaCode": "L-93826ACB",
                "QuotaName": "Routes per route table",
                "Value": float(self.sim.route_limit),
                "Adjustable": True,
            }
        }
        self.sim._record("GetServiceQuota", {}, 200)
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1")])
        return [json.dumps(quota).encode()]


def _error(start_response: Callable[..., Any], exc: rules.Ec2Error) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{exc.code}</Code><Message>{_xml(exc.message)}</Message></Error></Errors>"
        f"<RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()
    reason = "Service Unavailable" if exc.status == 503 else "Bad Request"
    start_response(f"{exc.status} {reason}", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Bucket:
    """EC2's own mutating-call bucket, so a benchmark can see what a client does at the real limit."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = float(burst), rate
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
