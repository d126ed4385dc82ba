"""Upstream answers decoded from their bytes into the typed models, in one pass (msgspec).

Each shape of answer (a model, a list of models under a key, one field) gets its decoder once,
and keeps it. Nearly every answer has the models' types, and msgspec reads it alone, in C, in
its lax mode: numbers sent as text ("205", "1e3") read as numbers, an integral float as an
int, "true" and "false" (any case), 0 and 1 (and "0", "1") as booleans.

Comet is looser than that now and then. An answer that msgspec refuses is read again by the
tolerant path, which accepts what the gateway always has:
- a text field takes a number (its shortest text), a boolean ("true"/"false"), a JSON object
  or list (its JSON text, keys sorted: structured metadata);
- an integer or a float takes the text Python reads as one (" 7 ", "1_000"), an integer any
  integral number;
- a boolean takes 0.0 and 1.0;
- a metric value (`Reading`) keeps its text, its integer within 64 bits, and takes a larger
  integer as a float;
- a null is a missing field: the field's default, or refused when it is required.
There the answer's JSON is decoded as it is, each value the rules accept put into its field's
type, and msgspec's conversion run on the result, which refuses what is still wrong. A
`Finite` float refuses NaN and the infinities.

Anything else is `errors.BadResponse` (UPSTREAM_BAD_RESPONSE), naming the endpoint and the
place in the answer: "experiments: unexpected shape: Expected `str | null`, got `array` - at
`$.experiments[3].experimentName`". Both paths take time linear in the answer's size, which
the transport bounds.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec
import msgspec.inspect as mi

from . import errors

T = TypeVar("T")


class Shape(Generic[T]):
    """How one kind of answer is read: its type, its decoder, and what the client gets."""

    __slots__ = ("_decoder", "_info", "_take", "_type")

    def __init__(self, tp: Any, take: Callable[[Any], T]) -> None:
        self._type = tp
        self._decoder = msgspec.json.Decoder(tp, strict=False)
        self._take = take
        self._info: mi.Type | None = None  # the tolerant path's map of the type, when needed

    def decode(self, content: bytes, endpoint: str) -> T:
        try:
            return self._take(self._decoder.decode(content))
        except msgspec.ValidationError:
            pass  # not quite the models' types: read again, tolerantly
        except msgspec.DecodeError:
            raise _not_json(endpoint) from None
        return self._take(self._tolerant(content, endpoint))

    def _tolerant(self, content: bytes, endpoint: str) -> Any:
        try:
            data = msgspec.json.decode(content)
        except msgspec.ValidationError as exc:  # a number beyond any float
            raise _bad(endpoint, exc) from None
        except msgspec.DecodeError:
            raise _not_json(endpoint) from None
        if self._info is None:
            self._info = mi.type_info(self._type)
        try:
            return msgspec.convert(_loosen(self._info, data), self._type, strict=False)
        except msgspec.ValidationError as exc:
            raise _bad(endpoint, exc) from None


_SHAPES: dict[tuple[Any, ...], Shape[Any]] = {}


def _kept(key: tuple[Any, ...], build: Callable[[], Shape[T]]) -> Shape[T]:
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _SHAPES[key] = build()
    return shape


def one(cls: type[T]) -> Shape[T]:
    """An answer that is one model."""
    return _kept((cls,), lambda: Shape(cls, _itself))


def listing(item: type[T], key: str) -> Shape[tuple[T, ...]]:
    """The list under `key` of an answer (empty when missing or null), each a `item`."""
    return _kept((item, key), lambda: Shape(_envelope(key, types.GenericAlias(tuple, (item, ...))),
                                            _items))


def field(key: str, tp: type[T]) -> Shape[T | None]:
    """One optional field of an answer (`{"notes": "..."}` and the like)."""
    return _kept((key, tp), lambda: Shape(_envelope(key, tp), _value))


def _envelope(key: str, tp: Any) -> type[msgspec.Struct]:
    return msgspec.defstruct(f"Answer_{key}", [("value", tp | None, msgspec.field(
        default=None, name=key))], frozen=True, gc=False)


def _itself(found: Any) -> Any:
    return found


def _items(found: Any) -> Any:
    return found.value or ()


def _value(found: Any) -> Any:
    return found.value


def _not_json(endpoint: str) -> errors.BadResponse:
    return errors.BadResponse(f"{endpoint}: the answer is not JSON", endpoint=endpoint,
                              status=200)


def _bad(endpoint: str, exc: msgspec.ValidationError) -> errors.BadResponse:
    return errors.BadResponse(f"{endpoint}: unexpected shape: {exc}", endpoint=endpoint,
                              status=200)


def _loosen(t: mi.Type, value: Any) -> Any:
    """`value` (decoded JSON) with what the tolerance rules accept put into the type `t`;
    what they do not accept is left for msgspec to refuse."""
    if value is None:
        return None
    if isinstance(t, mi.StructType):
        if isinstance(value, dict):
            for f in t.fields:
                found = value.get(f.encode_name)
                if found is not None:
                    value[f.encode_name] = _loosen(f.type, found)
                elif f.encode_name in value:
                    del value[f.encode_name]  # null: the default, or missing when required
        return value
    if isinstance(t, mi.UnionType):
        inner = [u for u in t.types if not isinstance(u, mi.NoneType)]
        if len(inner) == 1:  # `X | None`
            return _loosen(inner[0], value)
        return _reading(value)
    if isinstance(t, mi.CollectionType):
        return [_loosen(t.item_type, v) for v in value] if isinstance(value, list) else value
    if isinstance(t, mi.DictType):
        if isinstance(value, dict):
            return {k: _loosen(t.value_type, v) for k, v in value.items()}
        return value
    loosen = _SCALARS.get(type(t))
    return value if loosen is None else loosen(value)


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict | list):  # structured metadata: kept as its JSON text
        return json.dumps(value, sort_keys=True)
    return value


def _integer(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return value
            return int(number) if number.is_integer() else value
    return value


def _reading(value: Any) -> Any:
    if type(value) is int and not -(2**63) <= value < 2**63:
        try:
            return float(value)  # beyond any float: left to be refused
        except OverflowError:
            return value
    return value


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)  # NaN and the infinities are refused by `Finite`
        except ValueError:
            return value
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


_SCALARS: dict[type[mi.Type], Callable[[Any], Any]] = {
    mi.StrType: _text, mi.IntType: _integer, mi.FloatType: _number, mi.BoolType: _boolean}
