"""What every model is: a frozen msgspec Struct read from camelCase JSON (see `decoding`).

A model's fields are named in snake_case; each reads the camelCase JSON key of the same name
unless `alias()` names another. Fields without a default are required; the rest are `None`
(or their default) when missing or null. Unknown keys are ignored, so that Comet may add
fields without breaking the gateway. `Finite` is a float that refuses NaN and the infinities
(GraphQL's Float has neither).

Metric values are the exception: Comet sends them as text, and a run whose loss diverged
logs "NaN" or "Infinity". A field typed `Reading` keeps each value as it came, a JSON number
(an integer stays one, within 64 bits) or its text, for the schema to show both ways
(`schema.metrics`).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, dataclass_transform

import msgspec

# `int` is spelled out for msgspec, which would otherwise turn 3 into 3.0 (its text "3.0"); an
# integer beyond 64 bits becomes a float, as it always has (`decoding`), since neither the
# answer's JSON encoder nor a Float takes it.
Reading = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] | float | str
Finite = Annotated[float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)]


# Restated for type checkers, which do not carry a Struct's class options over to subclasses.
@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(msgspec.field,))
class Model(msgspec.Struct, frozen=True, kw_only=True, rename="camel", gc=False):
    """The base of every answer's model.

    `gc=False`: an answer is a tree built from JSON, it can hold no reference cycle, so the
    garbage collector need not track (nor walk) its thousands of objects.
    """


def alias(key: str, default: Any = None) -> Any:
    """A field that reads JSON key `key` instead of its camelCase name."""
    return msgspec.field(default=default, name=key)
