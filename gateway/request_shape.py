"""What a GraphQL request may carry, checked before anything runs: over HTTP, a body (or a GET
parameter) that is not JSON, or JSON of another shape, is the client's mistake (400,
BAD_USER_INPUT); over a websocket, such a message closes the connection with 4400, as
graphql-transport-ws asks. Neither reaches the executor."""

from __future__ import annotations

from typing import Any

import orjson


class Refused(Exception):
    """A request refused before it runs: its HTTP status and the reason told to the client."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


def refusal(exc: Exception) -> Refused | None:
    """`exc` as a refusal, if it is one: ours, or one of strawberry's views. Those raise an
    exception with an int `status_code` and a str `reason` (cross_web's HTTPException today, a
    class of strawberry's own before); it is recognised by that shape, not imported, so that
    the gateway does not depend on strawberry's internal dependency."""
    if isinstance(exc, Refused):
        return exc
    status, reason = getattr(exc, "status_code", None), getattr(exc, "reason", None)
    if isinstance(status, int) and 400 <= status < 500 and isinstance(reason, str):
        return Refused(status, reason)
    return None


# Each field of an operation, and what it may be (`None` is always allowed: "not given").
FIELDS: tuple[tuple[str, type, str], ...] = (
    ("query", str, "a string"),
    ("operationName", str, "a string"),
    ("variables", dict, "an object"),
    ("extensions", dict, "an object"),
)


def decode(data: str | bytes, what: str) -> Any:
    """JSON text as a value. orjson refuses what `json` would crash on (nesting deeper than
    1,024 levels: a RecursionError) or accept wrongly (invalid UTF-8, NaN, Infinity)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Refused(400, f"{what} is not valid JSON: {exc}") from None


def check_operation(data: object, where: str = "") -> dict[str, Any]:
    """One operation: an object whose fields have their types."""
    if not isinstance(data, dict):
        raise _refused(f"{where}a GraphQL operation must be a JSON object, not {_kind(data)}.")
    for name, kind, article in FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, kind):
            raise _refused(f"{where}the GraphQL operation's `{name}` must be {article} or "
                           f"null, if provided, not {_kind(value)}.")
    return data


def check_body(data: object) -> dict[str, Any] | list[dict[str, Any]]:
    """A POST body: one operation, or a batch (a non-empty list of operations)."""
    if not isinstance(data, list):
        return check_operation(data)
    if not data:
        raise _refused("An empty batch: send at least one operation.")
    return [check_operation(item, f"operation {i} of the batch: ")
            for i, item in enumerate(data)]


def message_problem(message: object) -> str | None:
    """What is wrong with a graphql-transport-ws message, if anything (for a 4400 close)."""
    if not isinstance(message, dict):
        return f"A message must be a JSON object, not {_kind(message)}."
    if message.get("type") in ("subscribe", "complete") and not isinstance(message.get("id"),
                                                                           str):
        return "A message's `id` must be a string."
    if message.get("type") == "subscribe":
        try:
            payload = check_operation(message.get("payload"), "the payload: ")
        except Refused as exc:
            return exc.reason[:120]  # a close reason fits in 123 bytes
        if not payload.get("query"):
            return "The payload has no `query`."
    return None


def _refused(message: str) -> Refused:
    return Refused(400, message[:1].upper() + message[1:])


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)
