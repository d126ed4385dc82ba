"""The endpoint table: paths that no parameter can leave, and what a 404 means per endpoint."""

from __future__ import annotations

import pytest

from gateway.upstream import endpoints as ep


@pytest.mark.parametrize(("template_id", "path"), [
    ("abc123", "template/abc123/download"),
    ("x?experimentKey=injected&assetId=z#",
     "template/x%3FexperimentKey%3Dinjected%26assetId%3Dz%23/download"),
    ("a/../b", "template/a%2F..%2Fb/download"),
    ("%2E%2E", "template/%252E%252E/download"),
    ("...", "template/.../download"),
    ("é ü", "template/%C3%A9%20%C3%BC/download"),
    ("a\r\nHost: x", "template/a%0D%0AHost%3A%20x/download"),
])
def test_path_parameters_are_one_escaped_segment(template_id: str, path: str) -> None:
    assert ep.PANEL_DOWNLOAD.url_path(templateId=template_id) == path


@pytest.mark.parametrize("template_id", ["", ".", ".."])
def test_what_no_segment_can_hold_is_refused(template_id: str) -> None:
    with pytest.raises(ValueError, match="not a valid templateId"):
        ep.PANEL_DOWNLOAD.url_path(templateId=template_id)


def test_parameters_must_be_exactly_the_templates() -> None:
    with pytest.raises(ValueError):
        ep.PANEL_DOWNLOAD.url_path()
    with pytest.raises(ValueError):
        ep.PANEL_DOWNLOAD.url_path(templateId="a", other="b")
    with pytest.raises(ValueError):
        ep.WORKSPACES.url_path(templateId="a")
    assert ep.WORKSPACES.url_path() == "workspaces"


def test_listings_and_the_account_name_nothing_that_could_be_missing() -> None:
    listings = {ep.WORKSPACES, ep.ACCOUNT_DETAILS, ep.PROJECTS, ep.PROJECTS_PAGE,
                ep.REGISTRY_MODEL_COUNT, ep.PANELS, ep.DASHBOARD_TEMPLATES,
                ep.MULTI_METRIC_CHART}
    for endpoint in listings:
        assert 404 not in endpoint.missing, endpoint.name
    for endpoint in set(ep.ALL) - listings - {ep.REGISTRY_MODELS}:
        assert 404 in endpoint.missing, endpoint.name  # every lookup: 404 is "no such thing"
    assert ep.REGISTRY_MODELS.missing == frozenset({400})
    assert all(e.missing <= {400, 404} for e in ep.ALL)
