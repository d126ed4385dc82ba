"""The redirect policy: public addresses only away from home, Locations that make sense."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gateway.upstream import errors
from gateway.upstream.redirects import (
    PublicResolver,
    RedirectPolicy,
    RefusedAddress,
    is_public,
    redirected_method,
)

HOME = URL("http://127.0.0.1:5001/comet")


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:4700::6810:84e5", True), ("8.8.8.8", True),
    ("127.0.0.1", False), ("127.8.9.10", False), ("::1", False), ("10.1.2.3", False),
    ("172.16.0.1", False), ("192.168.1.1", False), ("169.254.169.254", False),
    ("fe80::1%eth0", False), ("fc00::1", False), ("100.64.0.1", False), ("0.0.0.0", False),
    ("::", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("224.0.0.1", False), ("255.255.255.255", False), ("not an address", False),
])
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


class Answers(AbstractResolver):
    """A resolver that answers what it is told (a rebinding DNS server answers a new address
    on every lookup)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": a, "port": port, "family": family, "proto": 0,
                 "flags": 0} for a in self.answers.pop(0)]

    async def close(self) -> None:
        return None


async def test_the_resolver_keeps_public_addresses_only() -> None:
    resolver = PublicResolver(inner=Answers(["127.0.0.1", "93.184.216.34"], ["10.0.0.1"],
                                            ["93.184.216.34"], ["127.0.0.1"]))
    assert [r["host"] for r in await resolver.resolve("storage.example", 443)] == [
        "93.184.216.34"]
    with pytest.raises(RefusedAddress):
        await resolver.resolve("storage.example", 443)
    # rebinding: public when asked once, loopback the next time; each answer is checked
    assert [r["host"] for r in await resolver.resolve("rebind.example", 80)] == [
        "93.184.216.34"]
    with pytest.raises(RefusedAddress):
        await resolver.resolve("rebind.example", 80)


async def test_trusted_hosts_may_be_private() -> None:
    resolver = PublicResolver(["MinIO.internal."], inner=Answers(["10.0.0.7"]))
    assert [r["host"] for r in await resolver.resolve("minio.internal", 9000)] == ["10.0.0.7"]


def location(value: str | None, current: URL = HOME / "api/rest/v2/x") -> URL:
    headers = CIMultiDictProxy(CIMultiDict({} if value is None else {"Location": value}))
    return RedirectPolicy.of(HOME, (), 5).location(current, 302, headers, "asset")


def test_locations_are_made_absolute() -> None:
    assert location("/_storage/a?sig=1") == URL("http://127.0.0.1:5001/_storage/a?sig=1")
    assert location("b") == URL("http://127.0.0.1:5001/comet/api/rest/v2/b")
    assert location("https://s3.example/k#frag") == URL("https://s3.example/k")
    assert location("//cdn.example/k") == URL("http://cdn.example/k")


@pytest.mark.parametrize("value", [None, "", "file:///etc/passwd", "gopher://h/",
                                   "javascript:alert(1)", "http://user:pw@127.0.0.1:5001/x",
                                   "http://:pw@s3.example/x", "http://[::1"])
def test_locations_that_make_no_sense_are_upstream_faults(value: str | None) -> None:
    with pytest.raises(errors.BadResponse):
        location(value)


def test_addresses_written_in_urls_are_checked_away_from_home() -> None:
    policy = RedirectPolicy.of(HOME, ["10.0.0.7"], 5)
    assert policy.is_home(URL("http://127.0.0.1:5001/elsewhere"))
    assert not policy.is_home(URL("http://127.0.0.1:5002/comet"))
    assert not policy.is_home(URL("https://127.0.0.1:5001/comet"))
    for away in ("http://127.0.0.1:5002/", "http://[::1]/", "http://169.254.169.254/",
                 "http://0.0.0.0:5001/", "http://[::ffff:7f00:1]/"):
        with pytest.raises(errors.BadResponse):
            policy.check_away(URL(away), "asset")
    policy.check_away(URL("http://10.0.0.7:9000/bucket"), "asset")  # trusted
    policy.check_away(URL("https://93.184.216.34/bucket"), "asset")
    policy.check_away(URL("https://storage.example/bucket"), "asset")  # the resolver's job


def test_methods_change_as_browsers_change_them() -> None:
    assert redirected_method(303, "POST") == "GET"
    assert redirected_method(302, "POST") == "GET"
    assert redirected_method(307, "POST") == "POST"
    assert redirected_method(302, "GET") == "GET"
