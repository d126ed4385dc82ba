"""The upstream layer: the only code that speaks to the Comet REST API.

`Transport` owns the HTTP session (one per application); `CometClient` binds it to one caller's
key and offers one typed method per endpoint; `errors` is the exception tree.
"""

from . import errors
from .budget import Budget
from .client import CometClient
from .config import ApiKey, UpstreamConfig
from .transport import Download, Redirect, Transport

__all__ = ["ApiKey", "Budget", "CometClient", "Download", "Redirect", "Transport", "UpstreamConfig",
           "errors"]
