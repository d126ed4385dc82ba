"""The GraphQL schema: one module per resource family, assembled here."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from .errors import ErrorCodes
from .query import Query
from .scalars import SCALARS

schema = strawberry.Schema(query=Query, extensions=[ErrorCodes],
                           config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS))


def sdl() -> str:
    """The schema as SDL: what `comet-gateway schema` prints and schema.graphql holds."""
    return schema.as_str() + "\n"
