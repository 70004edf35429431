"""`Ec2Sim`: the embedded EC2 cloud's public face. moto's server on loopback, with AWS's route rules,
faults, read lag and a call log.

    sim = Ec2Sim(route_limit=50).start()
    boto3.client("ec2", endpoint_url=sim.endpoint, ...)   # or os.environ.update(sim.env())
    sim.calls / sim.writes()                               # what reached the cloud, in order
    sim.stop()

Faults are off by default: `latency` seconds before each call, `throttle_rate` (a share of mutating
calls answered RequestLimitExceeded), `write_bucket=(burst, per_second)` to enforce EC2's own
mutating-call token bucket the way AWS does, `read_lag` seconds during which reads show a resource
as it was before a write (EC2's eventual consistency, see lag.py), seeded random faults of every
kind (`set_chaos`, chaos.py) and a tripwire on the Nth write (`trip_after`).

IAM mode (`enforce_iam()`): every request must carry an access key of a user in moto's IAM and pass
that user's policies, EC2 resources and condition keys included (gate.py, iam.py). `add_user()` makes
such a user; the sim's own `client()` then signs as an administrator it made for itself.

Never here: the rules themselves (rules.py), the buckets (buckets.py), the lag's bookkeeping (lag.py)
or the WSGI plumbing (server.py). This object owns them and their switches.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from cloudroutes.sim.chaos import Chaos
from cloudroutes.sim.ec2 import backend, chaos, rules
from cloudroutes.sim.ec2.buckets import WriteBuckets
from cloudroutes.sim.ec2.calls import MUTATING, Call, CallLog
from cloudroutes.sim.ec2.errors import Ec2Error
from cloudroutes.sim.ec2.gate import Gate
from cloudroutes.sim.ec2.lag import ReadLag
from cloudroutes.sim.ec2.server import RulesLayer

REGION = "us-east-1"
SIM_KEYS = {"aws_access_key_id": "sim", "aws_secret_access_key": "sim"}
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


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
        write_latency: float | None = None,
        throttle_rate: float = 0.0,
        write_bucket: tuple[int, float] | None = None,
        read_lag: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 7,
    ) -> None:
        """`clock` is the read lag's time source, so a test can move time instead of sleeping."""
        self.host, self.port, self.region = host, port, region
        self.route_limit = route_limit
        self.latency = latency
        self.write_latency = write_latency
        """Seconds before each mutating call; None: `latency`, as for reads."""
        self.throttle_rate = throttle_rate
        self._lock = threading.Lock()
        self._buckets = WriteBuckets()
        self.set_write_bucket(write_bucket)
        self.lag = ReadLag(region, clock)
        self.set_read_lag(read_lag)
        self._random = random.Random(seed)
        self.faults = chaos.Faults()
        self.call_log = CallLog()
        self.gate = Gate(region)
        self._keys = dict(SIM_KEYS)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = RulesLayer(self, DomainDispatcherApplication(create_backend_app))
        self._checks = rules.checks(route_limit)
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

        if self.gate.on:
            self.gate.switch(self.endpoint, on=False)
        _internal.moto_api_backend.reset()
        self._keys = dict(SIM_KEYS)
        self.lag.clear()
        self.reset_calls()

    def stop(self) -> None:
        if self.gate.on:
            # moto's switch is process-wide: leave it as found for whatever runs next.
            self.gate.switch(self.endpoint, on=False)
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
            "AWS_ACCESS_KEY_ID": self._keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self._keys["aws_secret_access_key"],
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
            config=Config(retries={"total_max_attempts": 1}),
            **self._keys,
        )

    # -- IAM -------------------------------------------------------------------------------

    def enforce_iam(self) -> None:
        """From now on every request needs a key of an IAM user, and that user's policies decide.
        Seed first or after: the sim's own client() keeps working, as an administrator."""
        if self.gate.on:
            return
        self._keys = self.add_user("sim-admin", ADMIN_POLICY)
        self.gate.switch(self.endpoint, on=True)

    def add_user(self, name: str, policy: str | dict[str, Any]) -> dict[str, str]:
        """An IAM user whose only permissions are `policy` (inline), and its own access key, as
        boto3 keyword arguments (aws_access_key_id, aws_secret_access_key)."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        self.set_policy(name, policy)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    def set_policy(self, user: str, policy: str | dict[str, Any]) -> None:
        """Replace the user's permissions with `policy`."""
        document = policy if isinstance(policy, str) else json.dumps(policy)
        self.client("iam").put_user_policy(UserName=user, PolicyName="only", PolicyDocument=document)

    # -- switches --------------------------------------------------------------------------

    def set_write_bucket(self, bucket: tuple[int, float] | None) -> None:
        """Arm (or disarm) EC2's throttling: `bucket` is the mutating bucket (AWS: 50, 5/s); the
        actions EC2 meters apart get their own AWS-sized buckets. Arm it after seeding."""
        self._buckets.arm(bucket)

    def set_read_lag(self, seconds: float) -> None:
        """Reads show what a write changed only `seconds` after it (0: at once, and forget the past).
        Writes made before it is armed are visible at once, so arm it after seeding."""
        self.lag.set(seconds)

    @property
    def read_lag(self) -> float:
        return self.lag.seconds

    def set_chaos(self, profile: Chaos) -> None:
        """Seeded random faults from now on (Chaos() turns them off)."""
        self.faults.set(profile)

    def trip_after(self, writes: int, action: Callable[[], None]) -> None:
        """Call `action` once the `writes`-th write from now on has landed, before its answer leaves."""
        self.faults.trip_after(writes, action)

    def set_launch_time(self, instance_id: str, when: Any) -> None:
        """EC2 reports launch times to the second; tests that need an order set it outright."""
        backend.instance(self.region, instance_id).launch_time = when

    # -- the call log ----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        return self.call_log.calls

    def writes(self) -> list[Call]:
        return self.call_log.writes()

    def count(self, actions: Iterable[str] | None = None) -> dict[str, int]:
        return self.call_log.count(actions)

    def reset_calls(self) -> None:
        self.call_log.clear()

    # -- rules and faults, asked by the WSGI layer for each EC2 call -------------------------

    def _admit(self, action: str, params: dict[str, str]) -> None:
        delay = self.write_latency if action in MUTATING and self.write_latency is not None else self.latency
        if delay:
            time.sleep(delay)
        if failure := self.faults.before(action, write=action in MUTATING):
            raise failure
        if action in MUTATING:
            with self._lock:
                throttled = not self._buckets.take(action) or (
                    self.throttle_rate > 0 and self._random.random() < self.throttle_rate
                )
            if throttled:
                raise chaos.throttled()
        for check in self._checks.get(action, ()):
            check(self.region, params)

    def _admit_quota(self) -> None:
        """GetServiceQuota meets the random faults too (it is a read)."""
        if failure := self.faults.before("GetServiceQuota", write=False):
            raise failure

    def _after(self, action: str, params: dict[str, str]) -> Ec2Error | None:
        """What EC2 does beside moto once a write succeeded; the answer's loss, if chaos loses it."""
        rules.after(self.region, action, params)
        return self.faults.landed() if action in MUTATING else None
