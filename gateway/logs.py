"""Structured logs: one JSON object per line, each carrying the request id it belongs to, and
never a key.

Every record that reaches the gateway's handler, from any logger (uvicorn's, the websockets
library's, aiohttp's, ours) and at any level, is redacted first: its message, its arguments,
its traceback and stack. What looks like a credential is masked: the value after a name such
as `Authorization` or `api_key` (as a header line, a JSON member, a Python repr, a query
parameter: also when cut short), and the payload of a websocket frame as the websockets library
logs it (`< TEXT '...' [86 bytes]`), whose elided middle can hide the name and keep the value.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
from typing import Any

from .cut_off import ExpectedCutOff

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                          default=None)
MASK = "***"

_NAMED_SECRET = re.compile(
    r"""(?ix)
    (?P<name>(?:proxy-)?authorization|x-api-key|api[-_ ]?key|comet[-_]api[-_]key|cookie)
    (?P<sep>[\\"']*\s*[:=,]\s*(?-i:b)?[\\"']*)   # ': '  '": "'  "', b'"  '='  ...
    (?P<value>(?:\\.|[^"'\\\r\n])+)         # up to a quote or the line's end
    """)
_FRAME = re.compile(r"(?m)^(?P<head>[<>] (?:TEXT|BINARY|CONT|PING|PONG|CLOSE) ).+?"
                    r"(?P<tail> \[[^\]\n]*\])?$")


def redact(text: str) -> str:
    """`text` with whatever may be a key masked."""
    text = _NAMED_SECRET.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    return _FRAME.sub(lambda m: f"{m['head']}{MASK}{m['tail'] or ''}", text)


class Redact(logging.Filter):
    """Masks keys in a record's message and arguments (the formatters mask tracebacks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: log what can be shown
            message = f"{record.msg} (unformattable arguments)"
        record.msg, record.args = redact(message), None
        return True


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return redact("\n".join(parts)) if parts else None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        if record.levelno <= logging.DEBUG:
            exc = _exception_text(self, record)
            if exc:
                entry["exc"] = exc
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        request_id = REQUEST_ID.get()
        prefix = f"[{request_id}] " if request_id else ""
        line = f"{record.levelname:<7} {record.name}: {prefix}{record.getMessage()}"
        exc = _exception_text(self, record) if record.levelno <= logging.DEBUG else None
        return f"{line}\n{exc}" if exc else line


def configure(fmt: str = "json", level: str = "info") -> None:
    """Route every logger (uvicorn's too) to stderr in the chosen format, redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ExpectedCutOff())
    handler.addFilter(Redact())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
