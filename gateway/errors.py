"""Errors the gateway itself raises in resolvers (upstream ones live in `upstream.errors`)."""

from __future__ import annotations


class GatewayError(Exception):
    """An expected error with a GraphQL `extensions.code`."""

    code = "INTERNAL"


class BadUserInput(GatewayError):
    """The query's arguments are wrong: a bad cursor, a page too large, a missing argument."""

    code = "BAD_USER_INPUT"


class TooMuchWork(GatewayError):
    """The operation asked more of the gateway's own CPU than its bound allows (the upstream
    budget and the answer's size bound the rest)."""

    code = "QUERY_TOO_COMPLEX"
