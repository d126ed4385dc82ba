"""The schema edge: every error leaves with an `extensions.code`, mapped here and only here.

Upstream failures keep their meaning (`UPSTREAM_UNAVAILABLE`, `RATE_LIMITED`, ...) and say
which endpoint answered what in `extensions.upstream`; the gateway's own expected errors carry
their code; anything else is masked as `INTERNAL` with the request id, and logged with it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from ..errors import GatewayError
from ..upstream import errors as up

log = logging.getLogger("gateway.errors")

UPSTREAM_CODES: tuple[tuple[type[up.UpstreamError], str], ...] = (
    (up.BudgetExceeded, "QUERY_TOO_COMPLEX"),
    (up.DeadlineExceeded, "QUERY_TOO_COMPLEX"),
    (up.Unauthenticated, "UNAUTHENTICATED"),
    (up.Forbidden, "FORBIDDEN"),
    (up.RateLimited, "RATE_LIMITED"),
    (up.Unavailable, "UPSTREAM_UNAVAILABLE"),
    (up.BadResponse, "UPSTREAM_BAD_RESPONSE"),
    (up.NotFound, "BAD_USER_INPUT"),
    (up.BadRequest, "BAD_USER_INPUT"),
)


def code_for(error: BaseException | None) -> str:
    if error is None:  # parse and validation errors: the query itself is wrong (the limits
        return "BAD_USER_INPUT"  # of `documents` set their own code)
    if isinstance(error, GatewayError):
        return error.code
    for cls, code in UPSTREAM_CODES:
        if isinstance(error, cls):
            return code
    return "INTERNAL"


def cause_of(error: GraphQLError) -> BaseException | None:
    """What an error's code is judged on: its original error, except for the request's own.

    An error located in the document (`nodes`) but not in the answer (no `path`) comes from
    validating the document or coercing its variables, before execution: the request is at
    fault whatever graphql-core gives as the cause (its own GraphQLError, or the ValueError
    of a scalar that refused the value), so it is judged as having none."""
    if error.path is None and error.nodes:
        return None
    return error.original_error


def map_errors(errors: list[GraphQLError], context: object) -> list[GraphQLError]:
    """Every error with its code (idempotent: an error that has one is kept as it is)."""
    request_id = getattr(context, "request_id", "-")
    return [e if "code" in (e.extensions or {}) else _map(e, request_id) for e in errors]


class ErrorCodes(SchemaExtension):
    """Give every error of an operation its code; mask the unexpected ones. (Subscription
    events pass through GatewaySchema.process_errors, which maps them the same way.)"""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        # An answer in parts (no `errors` of its own) has them mapped as each part goes out
        # (see `parts`).
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = map_errors(errors, self.execution_context.context)  # type: ignore[union-attr]


def _map(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    code = code_for(cause_of(error))
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    message = error.message
    if isinstance(original, up.UpstreamError):
        extensions["upstream"] = {"status": original.status, "endpoint": original.endpoint}
        log.info("request %s: %s at %s (upstream %s: %s)", request_id, code, error.path,
                 original.endpoint, original.status)
        if isinstance(original, up.RateLimited) and original.retry_after is not None:
            extensions["retryAfter"] = original.retry_after
    elif code == "INTERNAL":
        # The cause goes to the log under the request id; the traceback only at DEBUG,
        # so that logs stay free of stack traces in normal operation.
        log.error("internal error in request %s at %s: %s", request_id, error.path,
                  type(original).__name__ if original else error.message)
        log.debug("internal error in request %s", request_id, exc_info=original)
        message = f"Internal error (request id {request_id})."
        extensions["requestId"] = request_id
    return GraphQLError(message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path, original_error=None,
                        extensions=extensions)
