"""The upstream's exception tree: every failure of a call to the Comet REST API is one of these.

    UpstreamError                     any failed call; .endpoint, .status, .msg, .sdk_error_code
    ├── Unauthenticated               401: no key, or a key Comet does not know
    ├── Forbidden                     403: the key may not see this
    ├── NotFound                      a lookup's 404 (or Comet's 400 for an unknown key or id),
    │                                 with Comet's JSON error: the named thing does not exist
    ├── RateLimited                   429 that could not be waited out; .retry_after (seconds)
    ├── Unavailable                   5xx after the retries, connection refused or reset
    │   └── Timeout                   no answer within the call's timeout or deadline
    │       └── DeadlineExceeded      the caller's own deadline (its operation's) passed first
    ├── BadResponse                   an answer that is not what the endpoint promises:
    │                                 non-JSON where JSON is due, a body of the wrong shape,
    │                                 a 404 from a listing or as an HTML page, a redirect
    │                                 that may not be followed (see `redirects`)
    ├── BadRequest                    any other 4xx: the request itself was wrong (or a path
    │                                 parameter no URL can hold: not sent); not retried
    └── BudgetExceeded                not sent: the caller's budget of calls is spent

aiohttp's own exceptions never leave the transport: `mapping.map_transport_errors` is the one
place where they are translated, and `mapping.error_for` the one that reads error answers.
No message ever holds the caller's API key.
"""

from __future__ import annotations


class UpstreamError(Exception):
    """A call to the Comet REST API failed."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None,
                 msg: str | None = None, sdk_error_code: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        self.msg = msg  # Comet's own `msg`, when it sent one
        self.sdk_error_code = sdk_error_code


class Unauthenticated(UpstreamError):
    """401: the API key is missing or unknown."""


class Forbidden(UpstreamError):
    """403: the API key may not read this resource."""


class NotFound(UpstreamError):
    """The thing a lookup named does not exist: Comet's 404, or its 400 for an unknown
    experiment key, asset id or name (see `Endpoint.missing`)."""


class RateLimited(UpstreamError):
    """429 whose `Retry-After` did not fit the call's deadline (or was absent)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Unavailable(UpstreamError):
    """The upstream did not answer usefully: 5xx after retries, refused or reset connections.
    A 503 may say when to come back (`retry_after`, seconds)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Timeout(Unavailable):
    """No answer within the per-call timeout or the overall deadline."""


class DeadlineExceeded(Timeout):
    """The caller's deadline (its whole operation's) passed before the answer came."""


class BudgetExceeded(UpstreamError):
    """Not sent: the caller (one GraphQL operation) has spent its budget of upstream calls."""


class BadResponse(UpstreamError):
    """The answer is not what the endpoint promises (not JSON, or not the documented shape)."""


class AnswerTooLarge(BadResponse):
    """The answer is longer than the gateway reads (`max_answer_bytes`): asking for less, in
    several calls, may fit."""


class BadRequest(UpstreamError):
    """Any other 4xx: the request was wrong. Never retried."""
