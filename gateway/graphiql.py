"""GraphiQL, opened with a working example query and (for the demo) the key in its headers."""

from __future__ import annotations

import json
import logging

from strawberry.http.ides import get_graphql_ide_html

log = logging.getLogger("gateway.graphiql")

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


def graphiql_html(api_key: str | None = None) -> str:
    """Strawberry's GraphiQL page with our example query and default headers."""
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
