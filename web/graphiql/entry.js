// GraphiQL for the gateway, bundled with esbuild into gateway/static/graphiql/. The page
// that loads it (gateway/graphiql.py) passes the endpoint, the example query and the default
// headers in a JSON <script id="gateway-config"> element.
import React from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import "graphiql/graphiql.css";

const config = JSON.parse(document.getElementById("gateway-config").textContent);
const fetcher = createGraphiQLFetcher({
  url: config.url,
  subscriptionUrl: new URL(config.url, location.href).href.replace(/^http/, "ws"),
});

createRoot(document.getElementById("graphiql")).render(
  <GraphiQL
    fetcher={fetcher}
    defaultQuery={config.query}
    defaultHeaders={config.headers}
    isHeadersEditorEnabled={true}
    shouldPersistHeaders={false}
  />,
);
