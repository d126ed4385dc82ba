"""Where the upstream's answers become the exception tree: aiohttp's exceptions (the one place
that translates them) and Comet's error answers, by status and body."""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import aiohttp

from . import errors
from .config import ApiKey
from .endpoints import Endpoint
from .redirects import RefusedAddress


@contextlib.contextmanager
def map_transport_errors(endpoint: str) -> Iterator[None]:
    """Translate aiohttp's exceptions into the upstream tree: the one place that does."""
    try:
        yield
    except errors.UpstreamError:
        raise
    except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
        raise errors.Timeout(f"{endpoint}: no answer in time", endpoint=endpoint) from exc
    except aiohttp.ClientConnectorDNSError as exc:
        if any(isinstance(arg, RefusedAddress) for arg in exc.args):  # (key, os_error)
            raise errors.BadResponse(f"{endpoint}: the upstream redirected to a non-public "
                                     "address; not followed", endpoint=endpoint) from exc
        raise errors.Unavailable(f"{endpoint}: connection failed ({type(exc).__name__})",
                                 endpoint=endpoint) from exc
    except aiohttp.ClientPayloadError as exc:
        raise errors.Unavailable(f"{endpoint}: the answer was cut short",
                                 endpoint=endpoint) from exc
    except aiohttp.ClientResponseError as exc:  # includes ContentTypeError
        raise errors.BadResponse(f"{endpoint}: malformed answer ({type(exc).__name__})",
                                 endpoint=endpoint, status=getattr(exc, "status", None)) from exc
    except (aiohttp.InvalidUrlRedirectClientError, aiohttp.NonHttpUrlRedirectClientError,
            aiohttp.TooManyRedirects) as exc:
        raise errors.BadResponse(f"{endpoint}: a redirect that cannot be followed "
                                 f"({type(exc).__name__})", endpoint=endpoint) from exc
    except aiohttp.InvalidURL as exc:
        raise errors.BadRequest(f"{endpoint}: invalid upstream URL", endpoint=endpoint) from exc
    except (aiohttp.ClientError, ConnectionError, OSError) as exc:
        raise errors.Unavailable(f"{endpoint}: connection failed ({type(exc).__name__})",
                                 endpoint=endpoint) from exc


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None when absent or
    not a finite number (`inf`, `1e400`, `nan`: no wait anyone could honour)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for(endpoint: Endpoint, status: int, body: bytes, retry_after: str | None,
              key: ApiKey) -> errors.UpstreamError:
    """The exception for a non-success answer, keeping Comet's `msg` and `sdk_error_code`."""
    msg: str | None = None
    code: int | None = None
    comet = False  # whether the body is Comet's JSON error, `{"msg", "code", ...}`
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            comet = "msg" in data or "code" in data
            msg = str(data["msg"]) if data.get("msg") is not None else None
            code = int(data["sdk_error_code"]) if data.get("sdk_error_code") is not None else None
    except (ValueError, TypeError):
        pass
    if msg:
        msg = msg.replace(key.reveal(), "***")[:500]
    text = f"{endpoint.name}: HTTP {status}" + (f": {msg}" if msg else "")
    kw: dict[str, Any] = {"endpoint": endpoint.name, "status": status, "msg": msg,
                          "sdk_error_code": code}
    if status in endpoint.missing and comet:
        return errors.NotFound(text, **kw)
    if status == 404 or 300 <= status < 400:
        # A listing or account endpoint names nothing that could be missing; an HTML page is
        # not Comet's answer; Comet's REST API does not redirect where bytes are not due.
        return errors.BadResponse(
            f"{text}: not an answer Comet gives here (is COMET_GATEWAY_UPSTREAM_URL Comet's "
            "root URL?)", **kw)
    if status == 401:
        return errors.Unauthenticated(text, **kw)
    if status == 403:
        return errors.Forbidden(text, **kw)
    if status == 429:
        return errors.RateLimited(text, retry_after=retry_after_seconds(retry_after), **kw)
    if status >= 500:
        return errors.Unavailable(text, retry_after=retry_after_seconds(retry_after)
                                  if status == 503 else None, **kw)
    return errors.BadRequest(text, **kw)

