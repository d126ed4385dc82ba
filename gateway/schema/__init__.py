"""The GraphQL schema: one module per resource family, assembled here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from .errors import ErrorCodes, map_errors
from .execution import BulkLeafExecutionContext
from .query import Query
from .scalars import SCALARS
from .subscription import Subscription


class GatewaySchema(strawberry.Schema):
    """Errors are mapped (and logged, one line each, without tracebacks or keys) by
    `errors.map_errors`, not by strawberry's logger, which logs every traceback."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        # In place: this is the one hook subscription events pass through, and the list
        # is the one their answer carries.
        context = execution_context.context if execution_context else None
        errors[:] = map_errors(errors, context)


def build_schema(limits: Sequence[Callable[[], SchemaExtension]] = (),
                 max_operations: int = 10) -> strawberry.Schema:
    """The schema with the given limits (errors are mapped after them, so last)."""
    return GatewaySchema(
        query=Query, subscription=Subscription, extensions=[*limits, ErrorCodes],
        execution_context_class=BulkLeafExecutionContext,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS,
                                batching_config={"max_operations": max_operations}))


schema = build_schema()


def sdl() -> str:
    """The schema as SDL: what `comet-gateway schema` prints and schema.graphql holds."""
    return schema.as_str() + "\n"
