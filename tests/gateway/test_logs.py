"""The log redaction: what looks like a key is masked in every record, at every level."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from gateway import cut_off
from gateway.logs import configure, redact

KEY = "demoAliceKey7Hq2Zp9Lm4Xw1"


@pytest.mark.parametrize("text", [
    f"< authorization: {KEY}",
    f"< Authorization: Bearer {KEY}",
    f"headers: [(b'host', b'x'), (b'authorization', b'{KEY}')]",
    f"{{'Authorization': '{KEY}', 'other': 1}}",
    f'{{"type": "connection_init", "payload": {{"authorization": "Bearer {KEY}"}}}}',
    f'{{\\"Authorization\\": \\"{KEY[:10]}\\\\r\\\\n{KEY[10:]}\\"}}',  # escaped, in a repr
    f"GET /graphql?api_key={KEY}&x=1",
    f"Authorization={KEY[:17]}...",  # cut short
    # the websockets library's frame lines: the elided middle can drop the name
    f"< TEXT '{{\"type\": \"connection_init\", \"payload\": {{\"Author...{KEY[8:]}\"}}}}' "
    "[86 bytes]",
])
def test_keys_are_masked(text: str) -> None:
    masked = redact(text)
    assert not any(KEY[i:i + 8] in masked for i in range(len(KEY) - 7)), masked
    assert "***" in masked


def test_other_text_is_left_alone() -> None:
    text = "experiment 0123456789abcdef0123456789abcdef: Authorization header missing"
    assert redact(text) == text


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The gateway's logging, as `serve` sets it up at DEBUG, written to a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure("json", "debug")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_every_record_is_redacted_messages_arguments_and_tracebacks(
        captured: io.StringIO) -> None:
    logging.getLogger("tests.wire").debug("< %s: %s", "authorization", KEY)
    logging.getLogger("some.library").info("connecting with %r", {"Authorization": KEY})
    try:
        raise ValueError(f"bad header value: Authorization={KEY}")
    except ValueError:
        logging.getLogger("gateway").debug("failed", exc_info=True)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert len(lines) == 3 and "Traceback" in lines[2]["exc"]
    assert KEY[:8] not in json.dumps(lines) and KEY[-8:] not in json.dumps(lines)


def test_uvicorns_unfinished_answer_line_is_dropped_only_for_cuts_made_on_purpose() -> None:
    """A request the gateway cut off (a stalled reader) has said why at WARNING; uvicorn's
    ERROR for the unfinished answer is dropped for it, and kept for any other request."""
    def unfinished() -> logging.LogRecord:
        return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                                 cut_off.UNFINISHED, None, None)

    def passes(work: Callable[[], None]) -> bool:
        def request() -> bool:
            cut_off.watch()
            work()
            return cut_off.ExpectedCutOff().filter(unfinished())
        return contextvars.Context().run(request)

    assert passes(lambda: None)  # unfinished for another reason: still logged
    assert not passes(cut_off.mark)
    assert contextvars.Context().run(cut_off.ExpectedCutOff().filter, unfinished())
