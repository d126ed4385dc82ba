"""Automatic persisted queries, Apollo's protocol: a client sends a query's SHA-256 instead of
its text; the first time, the gateway answers PERSISTED_QUERY_NOT_FOUND and the client sends
both, which the gateway checks and keeps. Works over GET, so a CDN can cache the answers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from strawberry.http import GraphQLRequestData

from .upstream.cache import ResponseCache

# Seconds a query stays known after it was last sent in full. Forgetting costs a client one
# round trip (PERSISTED_QUERY_NOT_FOUND, then the query again); remembering costs the store up to
# MAX_QUERY_BYTES per registration, fleet-wide in Redis. One hour, as Netflix DGS's default.
TTL = 3600.0
# The longest query text stored, in UTF-8 bytes: the gateway's query length limit (64 KiB). A
# longer one is still answered, only not kept, so its hash stays unknown.
MAX_QUERY_BYTES = 64 * 1024

SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")

class PersistedQueryNotFound(Exception):
    """The hash is unknown here: the client should send the query with it."""


class PersistedQueryMismatch(ValueError):
    """The query sent does not hash to the hash sent with it."""


class PersistedQueries:
    """The store of persisted queries. A query is kept only once `accepts` says it parses
    and validates, so that nobody can fill the store with text the gateway would refuse."""

    def __init__(self, store: ResponseCache, accepts: Callable[[str], bool]) -> None:
        self._store = store
        self._accepts = accepts

    @staticmethod
    def _hash_of(extensions: dict[str, Any] | None) -> str | None:
        persisted = (extensions or {}).get("persistedQuery")
        if not isinstance(persisted, dict):
            return None
        digest = persisted.get("sha256Hash")
        if persisted.get("version") != 1 or not isinstance(digest, str) \
                or not SHA256_HEX.fullmatch(digest):
            raise PersistedQueryMismatch("persistedQuery needs version 1 and a sha256Hash of "
                                         "64 hexadecimal digits")
        return digest.lower()

    async def resolve(self, data: GraphQLRequestData) -> GraphQLRequestData:
        """The request with its query filled in from the store, or kept there."""
        digest = self._hash_of(data.extensions)
        if digest is None:
            return data
        key = f"cgw:apq:{digest}"
        if data.query:
            if hashlib.sha256(data.query.encode()).hexdigest() != digest:
                raise PersistedQueryMismatch("provided sha does not match query")
            if self._accepts(data.query):
                await self._store.set(key, data.query.encode(), TTL)
            return data
        stored = await self._store.get(key)
        if stored is None:
            raise PersistedQueryNotFound
        data.query = stored.decode()
        return data

    async def close(self) -> None:
        await self._store.close()
