"""Errors the gateway itself raises in resolvers (upstream ones live in `upstream.errors`)."""

from __future__ import annotations


class GatewayError(Exception):
    """An expected error with a GraphQL `extensions.code`."""

    code = "INTERNAL"


class BadUserInput(GatewayError):
    """The query's arguments are wrong: a bad cursor, a page too large, a missing argument."""

    code = "BAD_USER_INPUT"
