"""Relay connections for the big lists: opaque offset cursors, `first`/`after`, `totalCount`."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Generic, TypeVar

import strawberry

from ..errors import BadUserInput

T = TypeVar("T")
DEFAULT_PAGE = 50
MAX_PAGE = 500


@strawberry.type(description="Where a page of a connection stands in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    start_cursor: str | None = strawberry.field(description="The cursor of the first item.")
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last item: pass it as `after` for the next page.")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """The offset just after `cursor` (0 without one)."""
    if cursor is None:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "offset" and value.isdigit():
            return int(value) + 1
    except (ValueError, UnicodeDecodeError):
        pass
    raise BadUserInput(f"invalid cursor: {cursor!r}")


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise BadUserInput(f"first must be between 0 and {MAX_PAGE}")
    return first


@strawberry.type
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: T = strawberry.field(description="The item.")


def page_info(offset: int, count: int, total: int) -> PageInfo:
    return PageInfo(
        has_next_page=offset + count < total, has_previous_page=offset > 0,
        start_cursor=encode_cursor(offset) if count else None,
        end_cursor=encode_cursor(offset + count - 1) if count else None)


def edges(items: Sequence[T], offset: int) -> list[Edge[T]]:
    return [Edge(cursor=encode_cursor(offset + i), node=item) for i, item in enumerate(items)]
