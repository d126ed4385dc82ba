"""Which `Host` the gateway answers to: a defence against DNS rebinding.

A page on any site can make a browser send requests to the gateway under the page's own host
name, by pointing that name at the gateway's address (DNS rebinding). The browser then lets
the page read the answers. With `COMET_GATEWAY_USE_ENV_API_KEY`, those answers are Comet's
data read with the gateway's own key; in any mode, `downloadUrl` links are built from `Host`.
So a request whose `Host` is not an allowed name is refused, as Starlette's
`TrustedHostMiddleware` does (`example.com`, `*.example.com`, or `*` for any).

The default list (`COMET_GATEWAY_ALLOWED_HOSTS` unset): the loopback names, the host of
`COMET_GATEWAY_PUBLIC_URL`, and the bind host unless it is a wildcard. A gateway bound to a
wildcard (0.0.0.0) with neither set accepts any host and says so at start-up, except with the
environment's key, where it refuses to start. `/healthz` and `/readyz` answer any host: probes
(Kubernetes, Docker) address the pod or container by IP, and neither tells anything of Comet's
data.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .limits import send_errors

LOOPBACK = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})
EXEMPT_PATHS = ("/healthz", "/readyz")


@dataclass(frozen=True)
class HostPolicy:
    """The allowed host patterns; `any_host` when every host is; `warning` for the log."""

    patterns: tuple[str, ...]
    any_host: bool = False
    warning: str | None = None

    def allows(self, host: str) -> bool:
        if self.any_host:
            return True
        return any(host == p or (p.startswith("*.") and host.endswith(p[1:]))
                   for p in self.patterns)


def _normal(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _pattern(raw: str) -> str:
    pattern = _normal(raw)
    if pattern != "*" and ("*" in pattern[1:] or (pattern.startswith("*")
                                                  and not pattern.startswith("*."))):
        raise ValueError(f"COMET_GATEWAY_ALLOWED_HOSTS: {raw.strip()!r} is not a host name, "
                         "`*.example.com` or `*`")
    return pattern


def host_policy(allowed_hosts: str, public_url: str | None, bind_host: str,
                env_key: bool) -> HostPolicy:
    """The policy the settings give (see the module's docstring); ValueError when the
    environment's key would answer any host."""
    explicit = [_pattern(p) for p in allowed_hosts.split(",") if p.strip()]
    if "*" in explicit:
        warning = ("COMET_GATEWAY_ALLOWED_HOSTS is `*` with COMET_GATEWAY_USE_ENV_API_KEY on: "
                   "any web page a browser on this network opens can read Comet with the "
                   "gateway's key (DNS rebinding)") if env_key else None
        return HostPolicy((), any_host=True, warning=warning)
    if explicit:
        return HostPolicy(tuple(explicit))
    patterns = list(LOOPBACK)
    if public_url:
        public_host = urlsplit(public_url).hostname
        if public_host:
            patterns.append(_normal(public_host))
    wildcard = _normal(bind_host) in {_normal(w) for w in WILDCARD_BINDS}
    if not wildcard:
        patterns.append(_normal(bind_host))
    elif not public_url:
        if env_key:
            raise ValueError(
                "COMET_GATEWAY_USE_ENV_API_KEY on a gateway bound to every address "
                f"({bind_host or 'all'}) needs COMET_GATEWAY_ALLOWED_HOSTS (the host names "
                "callers use) or COMET_GATEWAY_PUBLIC_URL: otherwise any web page could read "
                "Comet with the gateway's key (DNS rebinding)")
        return HostPolicy((), any_host=True, warning=(
            f"bound to {bind_host or 'all addresses'} with neither COMET_GATEWAY_ALLOWED_HOSTS "
            "nor COMET_GATEWAY_PUBLIC_URL set: any Host header is accepted; set one of them "
            "to refuse DNS-rebinding requests"))
    return HostPolicy(tuple(dict.fromkeys(patterns)))


def host_of(value: str | None) -> str | None:
    """The host name of a `Host` header (`name`, `name:port`, `[v6]:port`); None if bad."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("["):
        inside, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        try:
            ipaddress.IPv6Address(inside)
        except ValueError:
            return None
        return _normal(inside)
    if value.count(":") > 1:
        return None  # an IPv6 address must be in brackets
    name, colon, port = value.rpartition(":") if ":" in value else (value, "", "")
    if colon and not port.isdigit():
        return None
    if not name or any(c in name for c in "/\\@ ?#"):
        return None
    return _normal(name)


class AllowedHosts:
    """Refuse (400) requests and websockets whose `Host` the policy does not allow."""

    def __init__(self, app: ASGIApp, policy: HostPolicy,
                 exempt: Collection[str] = EXEMPT_PATHS) -> None:
        self.app = app
        self.policy = policy
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.policy.any_host or scope["type"] not in ("http", "websocket")
                or scope.get("path") in self.exempt):
            await self.app(scope, receive, send)
            return
        host = host_of(Headers(scope=scope).get("host"))
        if host is not None and self.policy.allows(host):
            await self.app(scope, receive, send)
            return
        await send_errors(send, 400, "BAD_USER_INPUT", "this gateway does not answer to that "
                          "host name (see COMET_GATEWAY_ALLOWED_HOSTS)", scope=scope)
