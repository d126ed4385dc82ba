"""Which host names the gateway answers to, by default and as configured."""

from __future__ import annotations

import pytest

from gateway.hosts import host_of, host_policy
from gateway.settings import Settings


@pytest.mark.parametrize(("header", "host"), [
    ("example.com", "example.com"), ("Example.COM:8000", "example.com"), ("[::1]:8000", "::1"),
    ("[::1]", "::1"), ("localhost.", "localhost"), ("127.0.0.1:80", "127.0.0.1"),
    ("", None), (None, None), ("::1", None), ("[::1", None), ("[nothost]:80", None),
    ("a:b", None), ("user@example.com", None), ("a b", None), ("a/b", None), (":80", None),
    ("[::1]x", None),
])
def test_host_headers_are_parsed_strictly(header: str | None, host: str | None) -> None:
    assert host_of(header) == host


def test_the_default_list() -> None:
    policy = host_policy("", None, "127.0.0.1", env_key=False)
    assert policy.patterns == ("localhost", "127.0.0.1", "::1") and policy.warning is None
    policy = host_policy("", "https://Gateway.Example/x", "10.0.0.5", env_key=True)
    assert policy.patterns == ("localhost", "127.0.0.1", "::1", "gateway.example", "10.0.0.5")
    assert not policy.allows("attacker.example") and policy.allows("gateway.example")
    assert host_policy("", "https://gw.example", "0.0.0.0", env_key=True).patterns[-1] == \
        "gw.example"


def test_a_wildcard_bind_with_no_names_accepts_any_host_but_says_so() -> None:
    for bind in ("0.0.0.0", "::", ""):
        policy = host_policy("", None, bind, env_key=False)
        assert policy.any_host and policy.warning and "any Host" in policy.warning
        with pytest.raises(ValueError, match="COMET_GATEWAY_ALLOWED_HOSTS"):
            host_policy("", None, bind, env_key=True)


def test_an_explicit_list_is_the_list() -> None:
    policy = host_policy("gw.example, *.corp.example", None, "0.0.0.0", env_key=True)
    assert policy.allows("gw.example") and policy.allows("a.corp.example")
    assert not policy.allows("corp.example") and not policy.allows("localhost")
    assert not policy.allows("evilcorp.example")
    star = host_policy("*", None, "0.0.0.0", env_key=True)
    assert star.any_host and star.warning and "DNS rebinding" in star.warning
    assert host_policy("*", None, "0.0.0.0", env_key=False).warning is None
    for bad in ("*example.com", "a.*.com", "**"):
        with pytest.raises(ValueError):
            host_policy(bad, None, "127.0.0.1", env_key=False)


def test_settings_refuse_the_environments_key_for_any_host() -> None:
    with pytest.raises(ValueError, match="COMET_GATEWAY_ALLOWED_HOSTS"):
        Settings(host="0.0.0.0", use_env_api_key=True, env_api_key="k")
    Settings(host="0.0.0.0", use_env_api_key=True, env_api_key="k", allowed_hosts="gw.example")
    Settings(host="0.0.0.0")  # no key of its own: any host, with a warning
