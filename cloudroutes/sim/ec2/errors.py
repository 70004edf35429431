"""EC2's error answer: the exception a rule or fault raises, and the XML body EC2 sends for it.

Never here: the rules that decide to raise (rules.py, sim.py's faults) or any other HTTP plumbing
(server.py).
"""

from __future__ import annotations

import uuid
from http import HTTPStatus


class Ec2Error(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def status_line(self) -> str:
        return f"{self.status} {HTTPStatus(self.status).phrase}"

    def body(self) -> bytes:
        """EC2's query-API error document, which botocore turns into a ClientError with this code."""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{self.code}</Code><Message>{_xml(self.message)}</Message></Error>"
            f"</Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
        ).encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
