"""The response cache: what its two stores share (single flight is in `shared`).

Every entry is keyed by a hash of the caller's API key, the endpoint and the request
(`cache_key`), so that no key ever receives an entry another key's call filled. Only JSON
answers are cached; streamed downloads never pass through here.

A store is a `ResponseCache`: in process (`memory_cache.MemoryCache`, the default) or in Redis
(`redis_cache.RedisCache`, shared by every worker and gateway that uses the same server). Both
are bounded in bytes, whatever clients ask for, and neither keeps a value over its
`max_value_bytes` (by default 1/`VALUE_SHARE` of the in-process budget).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson

from .config import ApiKey
from .endpoints import Endpoint

VERSION = "v1"  # bump when the cached representation changes

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
VALUE_SHARE = 16  # by default, a value over 1/16 of the budget is not cached


class ResponseCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def get_many(self, keys: Sequence[str], expected_bytes: int = 0
                       ) -> list[bytes | None]:
        """Each key's value (None for a miss), in few round trips; `expected_bytes`: a guess
        of each value's size, so that no command carries too many bytes."""
        ...

    async def set_many(self, items: Sequence[tuple[str, bytes, float]]) -> None:
        """(key, value, ttl) each, in one round trip."""
        ...

    async def close(self) -> None: ...


def cache_key(api_key: ApiKey, endpoint: Endpoint, query: Mapping[str, str],
              body: Any, tag: str = "") -> str:
    """The entry's key; `tag` tells entries of one request apart by their experiment's state
    (see `lifetimes`)."""
    request = orjson.dumps([endpoint.method, endpoint.path, sorted(query.items()), body],
                           option=orjson.OPT_SORT_KEYS)  # json takes 20 times as long
    digest = hashlib.sha256(request).hexdigest()
    return f"cgw:{VERSION}:{api_key.fingerprint}:{endpoint.name}:{digest}" + (
        f":{tag}" if tag else "")


def owner_of(key: str) -> str:
    """The fingerprint of the API key an entry belongs to (`cache_key`'s third part); "" for
    an entry of nobody's."""
    parts = key.split(":", 3)
    return parts[2] if len(parts) == 4 and parts[0] == "cgw" else ""

