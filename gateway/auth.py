"""The caller's API key, read from a request the one way every route reads it, and checked here
and only here (HTTP headers and websocket `connection_init` payloads alike)."""

from __future__ import annotations

from typing import Any

from .errors import GatewayError
from .settings import Settings
from .upstream import ApiKey
from .upstream.config import MAX_KEY_LENGTH, SENDABLE_KEY


class MalformedKey(GatewayError):
    """The key given cannot be a Comet API key (it could not even be sent as a header).

    UNAUTHENTICATED, as a key Comet does not know would be: the request carries no usable
    credentials, and clients already handle that code by asking for another key."""

    code = "UNAUTHENTICATED"

    def __init__(self) -> None:  # the message never repeats the key
        super().__init__(f"The API key is malformed: a Comet API key is 1 to {MAX_KEY_LENGTH} "
                         "visible ASCII characters, with no spaces or control characters.")


def api_key(headers: Any, settings: Settings) -> ApiKey:
    """The caller's key, as Comet takes it (`Authorization: <key>`; a `Bearer ` is dropped).

    Raises MalformedKey for a key that could not be sent upstream; no key at all is an empty
    one (the environment's key, in environment-key mode), which the transport refuses."""
    given = headers.get("authorization")
    if given is not None and not isinstance(given, str):
        raise MalformedKey
    raw = (given or "").strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    if raw and not SENDABLE_KEY.fullmatch(raw):
        raise MalformedKey
    if not raw and settings.use_env_api_key and settings.env_api_key:
        raw = settings.env_api_key.strip()  # checked when the settings were read
    return ApiKey(raw)
