"""Answers the gateway cuts off on purpose, and the one line uvicorn logs for each.

A client that stops reading an answer in parts or a download is cut off after the stall
timeout (an upstream that breaks off a download, too): the body is left unfinished so that the
client sees a cut-off answer rather than a complete-looking one. uvicorn then logs, at ERROR,
"ASGI callable returned without completing response." — for a client's own doing, which the
gateway already logs at WARNING with its reason. Left in, any client could write ERROR lines at
will, and an operator's alert on errors would fire for nothing.

So every HTTP request carries a marker in its context (`watch`, from the outermost of the
gateway's middleware, never reset: uvicorn logs in that same task's context after the app
returns), set when the gateway cuts its answer off (`mark`); `ExpectedCutOff` drops uvicorn's
line for a marked request only. An answer left unfinished for any other reason still logs it.
"""

from __future__ import annotations

import contextvars
import logging

UNFINISHED = "ASGI callable returned without completing response."

_MARKER: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "cut_off", default=None)


def watch() -> None:
    """Give the current request a marker of its own (its tasks share it: a list, not a flag,
    since a context copied into a child task would not carry a flag set there back)."""
    _MARKER.set([False])


def mark() -> None:
    """The current request's answer is cut off on purpose."""
    marker = _MARKER.get()
    if marker is not None:
        marker[0] = True


class ExpectedCutOff(logging.Filter):
    """Drops uvicorn's "returned without completing response" for answers cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != UNFINISHED or not record.name.startswith("uvicorn"):
            return True
        marker = _MARKER.get()
        return not (marker is not None and marker[0])
