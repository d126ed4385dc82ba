"""Typed, frozen answers from JSON: one declaration per shape, one parser for all of them.

A model is a frozen dataclass whose fields are named in snake_case; each reads the camelCase
JSON key of the same name unless `alias()` names another. Fields without a default are
required; the rest are `None` when missing. Unknown keys are ignored, so that Comet may add
fields without breaking the gateway. Values are coerced where Comet is loose (numbers sent as
strings); anything else of the wrong shape raises `ShapeError`. A `float` is always finite.

Metric values are the exception: Comet sends them as text, and a run whose loss diverged
logs "NaN" or "Infinity". A field typed `float | str` (`Reading`) keeps each value as it
came, a JSON number or its text, for the schema to show both ways (`schema.metrics`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
from collections.abc import Callable
from typing import Any, TypeVar, Union, dataclass_transform, get_args, get_origin, get_type_hints

T = TypeVar("T")
Converter = Callable[[Any], Any]
Reading = float | str  # a metric value as Comet sent it: a JSON number, or text


class ShapeError(ValueError):
    """The JSON does not have the shape of the model (the client turns it into BadResponse)."""


@dataclass_transform(frozen_default=True, kw_only_default=True)
def model(cls: type[T]) -> type[T]:
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)


def alias(key: str, default: Any = None) -> Any:
    """A field that reads JSON key `key` instead of its camelCase name."""
    return dataclasses.field(default=default, metadata={"json": key})


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict | list):  # structured metadata: keep it as its JSON text
        return json.dumps(value, sort_keys=True)
    raise ShapeError(f"expected a string, got {type(value).__name__}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ShapeError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if number.is_integer():
                    return int(number)
    raise ShapeError(f"expected an integer, got {value!r:.40}")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ShapeError("expected a number, got a boolean")
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
    if number is None or not math.isfinite(number):  # GraphQL's Float has no NaN, no Infinity
        raise ShapeError(f"expected a finite number, got {value!r:.40}")
    return number


def _to_reading(value: Any) -> Reading:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ShapeError(f"expected a number or its text, got {type(value).__name__}")
    return value


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value in (0, 1):
        return bool(value)
    raise ShapeError(f"expected a boolean, got {value!r:.40}")


_NONE = type(None)
_FAST_ITEMS: dict[Any, frozenset[type]] = {
    int: frozenset({int}), float: frozenset({float, int}), str: frozenset({str}),
    int | None: frozenset({int, _NONE}), float | None: frozenset({float, int, _NONE}),
    str | None: frozenset({str, _NONE}), Reading | None: frozenset({float, int, str, _NONE}),
}


def _converter(tp: Any) -> Converter:
    if tp is Any:
        return lambda v: v
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        if set(inner) == set(get_args(Reading)):
            return lambda v: None if v is None else _to_reading(v)
        if len(inner) != 1:
            raise TypeError(f"unsupported union {tp}")
        convert = _converter(inner[0])
        return lambda v: None if v is None else convert(v)
    if origin in (tuple, list):
        item_type = get_args(tp)[0]
        item = _converter(item_type)
        # Long lists of numbers (metric series) are common: when every item already has
        # a right type, take them as they are instead of converting one by one.
        fits = _FAST_ITEMS.get(item_type)

        def sequence(value: Any) -> tuple[Any, ...]:
            if not isinstance(value, list):
                raise ShapeError(f"expected a list, got {type(value).__name__}")
            if fits is not None and set(map(type, value)) <= fits:
                return tuple(value)
            return tuple(item(v) for v in value)

        return sequence
    if origin is dict:
        value_of = _converter(get_args(tp)[1])

        def mapping(value: Any) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise ShapeError(f"expected an object, got {type(value).__name__}")
            return {str(k): value_of(v) for k, v in value.items()}

        return mapping
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return functools.partial(parse, tp)
    simple = {str: _to_str, int: _to_int, float: _to_float, bool: _to_bool}
    if tp in simple:
        return simple[tp]
    raise TypeError(f"no converter for {tp}")


@functools.cache
def _fields(cls: type) -> list[tuple[str, str, Converter, bool]]:
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append((f.name, f.metadata.get("json", camel(f.name)), _converter(hints[f.name]),
                    required))
    return out


def parse(cls: type[T], data: Any) -> T:
    """Build a `cls` from a JSON object, or raise ShapeError naming the bad field."""
    if not isinstance(data, dict):
        raise ShapeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    values = {}
    for name, key, convert, required in _fields(cls):  # type: ignore[arg-type]
        raw = data.get(key)
        if raw is None:
            if required:
                raise ShapeError(f"{cls.__name__}: missing {key}")
            continue
        try:
            values[name] = convert(raw)
        except ShapeError as exc:
            raise ShapeError(f"{cls.__name__}.{key}: {exc}") from None
    return cls(**values)


def parse_list(cls: type[T], data: Any, key: str) -> tuple[T, ...]:
    """The list under `key` of a JSON object, each item a `cls` (a missing list is empty)."""
    if not isinstance(data, dict):
        raise ShapeError(f"expected an object holding {key!r}")
    items = data.get(key)
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ShapeError(f"{key}: expected a list")
    return tuple(parse(cls, item) for item in items)


def field_of(data: Any, key: str, convert: Callable[[Any], T]) -> T | None:
    """One optional field of a JSON object (`{"notes": "..."}` and the like)."""
    if not isinstance(data, dict):
        raise ShapeError(f"expected an object holding {key!r}")
    value = data.get(key)
    try:
        return None if value is None else convert(value)
    except ShapeError as exc:
        raise ShapeError(f"{key}: {exc}") from None


as_str, as_int = _to_str, _to_int
