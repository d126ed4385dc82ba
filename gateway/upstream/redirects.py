"""Where an upstream redirect may lead: the policy, and the resolver that enforces it.

Comet answers some downloads with a redirect to its object storage. A redirect is the upstream
telling the gateway where to connect, so a broken or hostile upstream (or anything that can
forge its answers) could point the gateway at its own network: loopback, the cluster, a cloud
metadata service. Hence:

- the upstream's own origin (scheme, host, port) is followed as configured: it is trusted;
- any other origin must be http(s), must carry no credentials, and is reached through a
  session whose resolver hands out public addresses only. The check is on the addresses the
  connection is made to, not on the name, so that a name that resolves to a public address
  when checked and to 127.0.0.1 when connecting (DNS rebinding) cannot slip through. Hosts
  the operator lists (`private_redirect_hosts`) may be private;
- the API key goes only to the upstream's origin, and never again once a chain has left it;
- a chain has at most `max_redirects` hops.

A redirect that breaks these rules is the upstream's fault: `BadResponse`, never retried.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDictProxy
from yarl import URL

from . import errors

REDIRECTS = frozenset({301, 302, 303, 307, 308})
Origin = tuple[str, str, int | None]


class RefusedAddress(OSError):
    """A redirect target resolved to no address the gateway may connect to."""


def origin_of(url: URL) -> Origin:
    """Scheme, host and port, compared as browsers do (a default port is the same port)."""
    return (url.scheme.lower(), (url.host or "").lower(), url.port)


def is_public(address: str) -> bool:
    """Whether an IP address is on the public internet: not loopback, private, link-local,
    shared (CGNAT), multicast, reserved or unspecified, nor an IPv4 one mapped into IPv6."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _normal(host: str) -> str:
    return host.rstrip(".").lower()


class PublicResolver(AbstractResolver):
    """Resolves as usual, then keeps only public addresses (unless the host is trusted).

    aiohttp connects to exactly the addresses its resolver returns, so no lookup between the
    check and the connection can change the answer."""

    def __init__(self, trusted: Collection[str] = (),
                 inner: AbstractResolver | None = None) -> None:
        self._inner = inner or aiohttp.DefaultResolver()
        self._trusted = frozenset(_normal(h) for h in trusted)

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if _normal(host) in self._trusted:
            return found
        public = [r for r in found if is_public(r["host"])]
        if not public:
            raise RefusedAddress(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class RedirectPolicy:
    """The rules above, for one upstream."""

    home: Origin  # the configured upstream's origin
    trusted_hosts: frozenset[str] = frozenset()  # private redirect targets the operator allows
    max_redirects: int = 5

    @classmethod
    def of(cls, root: URL, trusted_hosts: Collection[str], max_redirects: int
           ) -> RedirectPolicy:
        return cls(origin_of(root), frozenset(_normal(h) for h in trusted_hosts), max_redirects)

    def is_home(self, url: URL) -> bool:
        return origin_of(url) == self.home

    def resolver(self) -> PublicResolver:
        """The resolver for connections away from home (make it inside the running loop)."""
        return PublicResolver(self.trusted_hosts)

    def check_away(self, url: URL, endpoint: str) -> None:
        """An address written into a URL is never resolved: check it here."""
        host = _normal(url.raw_host or "")
        address = _literal(host.strip("[]"))
        if address is not None and host not in self.trusted_hosts and not is_public(address):
            raise errors.BadResponse(f"{endpoint}: the upstream redirected to a non-public "
                                     "address; not followed", endpoint=endpoint)

    def location(self, current: URL, status: int, headers: CIMultiDictProxy[str],
                 endpoint: str) -> URL:
        """Where a redirect answer points, absolute; BadResponse when it points nowhere
        sensible (no Location, not a URL, not http(s), credentials in it)."""
        raw = headers.get("Location")
        if not raw:
            raise errors.BadResponse(f"{endpoint}: HTTP {status} without a Location",
                                     endpoint=endpoint, status=status)
        try:
            target = current.join(URL(raw))
            scheme, host = target.scheme, target.raw_host
        except (TypeError, ValueError):
            raise errors.BadResponse(f"{endpoint}: HTTP {status} to a Location that is not a "
                                     "URL", endpoint=endpoint, status=status) from None
        if scheme not in ("http", "https") or not host:
            raise errors.BadResponse(f"{endpoint}: HTTP {status} to a non-http(s) Location; "
                                     "not followed", endpoint=endpoint, status=status)
        if target.raw_user is not None or target.raw_password is not None:
            raise errors.BadResponse(f"{endpoint}: HTTP {status} to a Location with "
                                     "credentials; not followed", endpoint=endpoint,
                                     status=status)
        return target.with_fragment(None)


def redirected_method(status: int, method: str) -> str:
    """The method of the next hop, as browsers (and aiohttp) do it."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return "GET"
    return method
