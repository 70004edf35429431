"""`--log-format json`: one JSON object per line on stderr, for log pipelines (Loki, Cloud Logging, ELK).

Every line has `time` (RFC 3339, UTC), `level`, `logger` and `message`; a record about one thing
adds what it concerns from the `extra` its caller gave: the action (`action`, `node`, `table`,
`destination`, `outcome`, `error_kind`), the API call (`api_call`), the pass (`pass_result`,
`duration_s`, ...). The message has already been through the redacting filter, as in text mode.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

CONTEXT_FIELDS = (
    "action",
    "node",
    "table",
    "destination",
    "outcome",
    "error_kind",
    "attempts",
    "api_call",
    "pass_result",
    "pass_number",
    "duration_s",
    "next_pass_in_s",
    "exit_code",
)
"""The `extra` keys cloudroutes passes to its log calls; copied onto the line when present."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None and value != "":
                line[name] = value
        if record.exc_text:  # the redacting filter filled and cleaned it
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)
