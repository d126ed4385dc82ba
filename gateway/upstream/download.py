"""A streamed binary answer, and a redirect handed back instead of followed."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from .mapping import map_transport_errors


@dataclass(frozen=True)
class Redirect:
    """`get-asset` with `allow301`, not followed: where the bytes are (an http(s) URL)."""

    location: str


class Download:
    """A streamed binary answer. Iterate `chunks()`; nothing is read until then."""

    def __init__(self, response: aiohttp.ClientResponse, endpoint: str, chunk_size: int) -> None:
        self._response = response
        self._endpoint = endpoint
        self._chunk_size = chunk_size
        self.content_type: str = response.headers.get("Content-Type",
                                                       "application/octet-stream")
        length = response.headers.get("Content-Length")
        self.content_length: int | None = int(length) if length and length.isdigit() else None
        with warnings.catch_warnings():  # aiohttp warns of a malformed header: it is absent
            warnings.simplefilter("ignore")
            disposition = response.content_disposition  # parsed, `filename*` decoded
        self.disposition: str | None = disposition.type if disposition else None
        self.filename: str | None = disposition.filename if disposition else None

    async def chunks(self) -> AsyncIterator[bytes]:
        with map_transport_errors(self._endpoint):
            async for chunk in self._response.content.iter_chunked(self._chunk_size):
                yield chunk

    async def read(self) -> bytes:
        """The whole body: for small answers and tests only."""
        return b"".join([chunk async for chunk in self.chunks()])

