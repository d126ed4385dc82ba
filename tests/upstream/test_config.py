"""The upstream URL: a Comet root with its path prefix, whatever users paste."""

from __future__ import annotations

import pytest

from gateway.upstream import UpstreamConfig


@pytest.mark.parametrize(("given", "rest", "probe"), [
    ("https://www.comet.com", "https://www.comet.com/api/rest/v2/",
     "https://www.comet.com/clientlib/isAlive/ver"),
    ("https://www.comet.com/", "https://www.comet.com/api/rest/v2/",
     "https://www.comet.com/clientlib/isAlive/ver"),
    ("https://host/comet", "https://host/comet/api/rest/v2/",
     "https://host/comet/clientlib/isAlive/ver"),
    ("https://host/comet/", "https://host/comet/api/rest/v2/",
     "https://host/comet/clientlib/isAlive/ver"),
    ("https://host/comet/clientlib/", "https://host/comet/api/rest/v2/",
     "https://host/comet/clientlib/isAlive/ver"),
    ("https://host/comet/api/rest/v2", "https://host/comet/api/rest/v2/",
     "https://host/comet/clientlib/isAlive/ver"),
    ("https://host/comet/api/rest/v2/", "https://host/comet/api/rest/v2/",
     "https://host/comet/clientlib/isAlive/ver"),
    ("http://HOST:8080/a%20b/", "http://host:8080/a%20b/api/rest/v2/",
     "http://host:8080/a%20b/clientlib/isAlive/ver"),
    (" https://host/clientlib ", "https://host/api/rest/v2/",
     "https://host/clientlib/isAlive/ver"),
])
def test_the_path_prefix_is_kept(given: str, rest: str, probe: str) -> None:
    config = UpstreamConfig(base_url=given)
    assert (config.rest_root, config.probe_url) == (rest, probe)


@pytest.mark.parametrize("given", ["ftp://host", "host/comet", "https://", "https://u:p@host",
                                   "https://host/?x=1", "https://host/#top", ""])
def test_what_cannot_be_a_root_is_refused(given: str) -> None:
    with pytest.raises(ValueError):
        UpstreamConfig(base_url=given)
