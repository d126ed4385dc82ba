"""The dashboard page at `/dashboard`: a project's experiments as a table and its metrics as
charts, live while experiments run, over this gateway's own GraphQL endpoint.

Served from the package (`static/dashboard/`, built from `web/dashboard` at set-up, never from a
CDN) under a Content-Security-Policy that lets the page load and connect to this origin only.
The GraphQL documents it sends are `web/dashboard/queries/*.graphql`. Without the bundle, the
page says how to build it (503) and the log says so at start-up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .schema.answer_size import VALUES_PER_FIELD
from .schema.metrics import MAX_CHART_EXPERIMENTS, MAX_CHART_METRICS
from .schema.resolution import MAX_POINTS
from .settings import Settings

BUNDLE = Path(__file__).resolve().parent / "static" / "dashboard"
PATH = "/dashboard"
STATIC_PATH = "/dashboard/static"
# Scripts, styles and connections (fetch, and the websocket: 'self' covers ws: and wss: on the
# same host) from this origin only; no inline script or style, no frames, no forms elsewhere.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True, slots=True)
class Bounds:
    """What one GraphQL operation may read of metric series and answer, told to the page so
    that it cuts a view's series and its table into requests that fit (web/dashboard/src/
    plan.js, rows.js), instead of asking for what the gateway refuses. None of it is secret:
    the same numbers are in the errors of a request that passes them (docs/security-and-
    operations.md, The door)."""

    points: int  # the largest `points`
    full_series_bytes: int
    answer_bytes: int
    series_points: int
    answer_values: int
    answer_objects: int
    answer_fields: int
    chart_experiments: int
    chart_metrics: int
    table_rows: int  # the experiments the table reads of a project
    # How old a running experiment's series may be when the gateway answers (its cache): the
    # page anchors its live lines on an answer younger than the view's.
    running_cache_seconds: float

    @classmethod
    def of(cls, settings: Settings) -> Bounds:
        return cls(points=MAX_POINTS, full_series_bytes=settings.max_full_series_bytes,
                   answer_bytes=settings.max_upstream_answer_bytes,
                   series_points=settings.max_series_points,
                   answer_values=VALUES_PER_FIELD * settings.max_answer_fields,
                   answer_objects=settings.max_answer_objects,
                   answer_fields=settings.max_answer_fields,
                   chart_experiments=MAX_CHART_EXPERIMENTS, chart_metrics=MAX_CHART_METRICS,
                   table_rows=settings.dashboard_rows,
                   running_cache_seconds=settings.cache_ttl_running if settings.cache else 0.0)

    def for_page(self) -> dict[str, float]:
        """The bounds under the names the page's JavaScript uses (camelCase)."""
        return {_camel(name): value for name, value in asdict(self).items()}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def bundled() -> bool:
    return (BUNDLE / "dashboard.js").is_file() and (BUNDLE / "dashboard.css").is_file()


def page_html(api_key: str | None = None, bounds: Bounds | None = None) -> str:
    """The page; with `api_key` (the demo's), the key it starts with; `bounds`: the
    gateway's (the settings' defaults when not given)."""
    config: dict[str, object] = {"url": "/graphql",
                                 "bounds": (bounds or Bounds.of(Settings())).for_page()}
    if api_key:
        config["apiKey"] = api_key
    # `</` would end the script element early: escape it inside the JSON.
    payload = json.dumps(config).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Dashboard · comet-graphql-gateway</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{STATIC_PATH}/dashboard.css">
</head>
<body>
  <div id="dashboard">Loading the dashboard…</div>
  <script id="dashboard-config" type="application/json">{payload}</script>
  <script src="{STATIC_PATH}/dashboard.js"></script>
</body>
</html>
"""


MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard not built</title></head>
<body><p>The dashboard's bundle is not built into this install. From a checkout:
<code>make dashboard</code>, then install again.</p></body></html>
"""


def routes(api_key: str | None = None, bounds: Bounds | None = None) -> list[BaseRoute]:
    """The page and its static bundle; `api_key` is the demo's key (None elsewhere), `bounds`
    what the gateway lets one operation read (`Bounds.of(settings)`)."""
    html = page_html(api_key, bounds)

    async def page(request: Request) -> Response:
        if not bundled():
            return HTMLResponse(MISSING, status_code=503, headers=HEADERS)
        return HTMLResponse(html, headers=HEADERS)

    return [Route(PATH, page, methods=["GET"]),
            Mount(STATIC_PATH, StaticFiles(directory=BUNDLE, check_dir=False))]
