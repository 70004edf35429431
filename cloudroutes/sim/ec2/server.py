"""The sim's HTTP face: a WSGI layer in front of moto's server that logs, faults, checks, lags and forwards.

For an EC2 query request, in order: parse the form body; the sim's faults and rules (`Ec2Sim._admit`),
whose EC2 error is answered without moto; else moto answers the (possibly rewritten) request, the call
is logged, what EC2 does beside moto follows a successful write, and a read may be answered as it was a
while ago (lag.py). Service Quotas' GetServiceQuota for the route limit is answered here too. In IAM mode
the gate (gate.py) authenticates and authorizes a request before anything else sees it.

Never here: a rule, a fault or the lag's bookkeeping; only moving requests and answers.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from cloudroutes.sim.ec2.errors import Ec2Error
from cloudroutes.sim.ec2.lag import Reader

if TYPE_CHECKING:
    from cloudroutes.sim.ec2.sim import Ec2Sim

QUOTA_TARGET = "ServiceQuotasV20190624.GetServiceQuota"
StartResponse = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Answer:
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status(self) -> int:
        return int(self.status_line.split()[0])

    @property
    def ok(self) -> bool:
        return self.status < 300

    def send(self, start_response: StartResponse) -> list[bytes]:
        # The body may have been rewritten (read lag), so its length is measured here, not copied.
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        start_response(self.status_line, [*headers, ("Content-Length", str(len(self.body)))])
        return [self.body]


def signed_for(environ: dict[str, Any]) -> str:
    """The service a SigV4 request was signed for (its credential scope), "" when unsigned: IAM's
    and STS's query requests look like EC2's but are none of the sim's business."""
    scope = str(environ.get("HTTP_AUTHORIZATION", "")).partition("Credential=")[2].split(",", 1)[0]
    parts = scope.split("/")
    return parts[3] if len(parts) > 3 else ""


class RulesLayer:
    def __init__(self, sim: Ec2Sim, inner: Any) -> None:
        self.sim, self.inner = sim, inner

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ.get("HTTP_X_AMZ_TARGET") == QUOTA_TARGET:
            return self._route_quota(environ, body, start_response)
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        action = params.get("Action", "")
        if not action or environ.get("REQUEST_METHOD") != "POST" or signed_for(environ) not in ("ec2", ""):
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = BytesIO(body), str(len(body))
            return self.inner(environ, start_response)
        try:
            self.sim.gate.check(action, params, environ, body)
            self.sim._admit(action, params)
        except Ec2Error as exc:
            self.sim.call_log.record(action, params, exc.status)
            return Answer(exc.status_line(), [("Content-Type", "text/xml")], exc.body()).send(start_response)
        read = self._reader(environ)
        lost = None
        with self.sim.lag.write(action, params, read) as commit:
            answer = self._forward(environ, params)
            if answer.ok:
                lost = self.sim._after(action, params)
                commit()
            self.sim.call_log.record(action, params, lost.status if lost else answer.status)
        if lost is not None:
            return Answer(lost.status_line(), [("Content-Type", "text/xml")], lost.body()).send(start_response)
        if answer.ok:
            answer = Answer(answer.status_line, answer.headers, self.sim.lag.rewrite(action, params, answer.body, read))
        return answer.send(start_response)

    def _forward(self, environ: dict[str, Any], params: dict[str, str]) -> Answer:
        """moto's answer to `params`, sent with the headers of the request in hand, buffered."""
        body = urlencode(params).encode()
        inner_environ = {**environ, "wsgi.input": BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start(status_line: str, headers: list[tuple[str, str]], *_: Any) -> None:
            started.append((status_line, headers))

        response = self.inner(inner_environ, start)
        try:
            content = b"".join(response)
        finally:
            if hasattr(response, "close"):
                response.close()
        status_line, headers = started[0] if started else ("500 Internal Server Error", [])
        return Answer(status_line, list(headers), content)

    def _reader(self, environ: dict[str, Any]) -> Reader:
        """Reads moto directly (no rules, faults or log): the lag's view of the state now."""

        def read(params: dict[str, str]) -> ET.Element:
            return ET.fromstring(self._forward(environ, params).body)

        return read

    def _route_quota(self, environ: dict[str, Any], body: bytes, start_response: StartResponse) -> list[bytes]:
        try:
            self.sim.gate.check("GetServiceQuota", {}, environ, body)
            self.sim._admit_quota()
        except Ec2Error as exc:
            # Service Quotas speaks JSON: its errors are {"__type", "message"}, not EC2's XML.
            self.sim.call_log.record("GetServiceQuota", {}, exc.status)
            refusal = json.dumps({"__type": exc.code, "message": exc.message}).encode()
            return Answer(exc.status_line(), [("Content-Type", "application/x-amz-json-1.1")], refusal).send(
                start_response
            )
        quota = {
            "Quota": {
                "ServiceCode": "vpc",
                "QuotaCode": "L-93826ACB",
                "QuotaName": "Routes per route table",
                "Value": float(self.sim.route_limit),
                "Adjustable": True,
            }
        }
        self.sim.call_log.record("GetServiceQuota", {}, 200)
        body = json.dumps(quota).encode()
        return Answer("200 OK", [("Content-Type", "application/x-amz-json-1.1")], body).send(start_response)
