"""GraphiQL, opened with a working example query and (for the demo) the key in its headers.

Served from the gateway's own package (`static/graphiql/`, built from `web/graphiql` by `make`
and by setup.py into every wheel and sdist), so that it works without internet access; without
the bundle, the CDN page, and a warning in the log.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

log = logging.getLogger("gateway.graphiql")
BUNDLE = Path(__file__).resolve().parent / "static" / "graphiql"
STATIC_PATH = "/graphiql/static"

EXAMPLE_QUERY = """# comet-graphql-gateway: one query, a whole nested graph.
# Send your Comet API key in the Headers tab: {"Authorization": "<your key>"}
# Run with Ctrl-Enter; explore the schema with the Docs button.
query Overview {
  viewer {
    userName
    defaultWorkspace {
      name
      projects(first: 3) {
        totalCount
        edges {
          node {
            name
            numberOfExperiments
            experiments(first: 5, orderBy: {field: START_TIME, direction: DESC}) {
              edges {
                node {
                  key
                  name
                  startTime
                  tags
                  metricSummary(name: "loss") { valueCurrent valueMin }
                  metricSeries(names: ["loss"]) { metricName steps values }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""


def bundled() -> bool:
    return (BUNDLE / "graphiql.js").is_file() and (BUNDLE / "graphiql.css").is_file()


def local_html(api_key: str | None = None) -> str:
    """The page of the bundled GraphiQL: no request leaves the gateway."""
    config = {"url": "/graphql", "query": EXAMPLE_QUERY,
              "headers": json.dumps({"Authorization": api_key or "<your Comet API key>"},
                                    indent=2)}
    # `</` would end the script element early: escape it inside the JSON.
    payload = json.dumps(config).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>comet-graphql-gateway</title>
  <link rel="stylesheet" href="{STATIC_PATH}/graphiql.css">
  <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script id="gateway-config" type="application/json">{payload}</script>
  <script src="{STATIC_PATH}/graphiql.js"></script>
</body>
</html>
"""


def graphiql_html(api_key: str | None = None) -> str:
    """The bundled GraphiQL when it was built, else strawberry's CDN page."""
    if bundled():
        return local_html(api_key)
    return cdn_html(api_key)


def cdn_html(api_key: str | None = None) -> str:
    """Strawberry's GraphiQL page (from a CDN) with our example query and default headers."""
    page = get_graphql_ide_html("graphiql")
    headers = {"Authorization": api_key or "<your Comet API key>"}
    swaps = [
        ("parameters.q || EXAMPLE_QUERY", f"parameters.q || {json.dumps(EXAMPLE_QUERY)}"),
        ("React.useState(parameters.headers)",
         f"React.useState(parameters.headers || {json.dumps(json.dumps(headers, indent=2))})"),
    ]
    for old, new in swaps:
        if old not in page:  # a newer strawberry page: serve it as it is
            log.warning("GraphiQL page changed upstream; serving it without the example")
            return page
        page = page.replace(old, new)
    return page.replace("<title>Strawberry GraphiQL</title>",
                        "<title>comet-graphql-gateway</title>")
