// graphql-ws clients subscribed to metricUpdates. Prints "connected N" once every client is
// connected, then, after DURATION_MS, one JSON line per client with the updates it received.
// Usage: node subscribe.mjs URL API_KEY KEYS_JSON METRIC CLIENTS DURATION_MS INTERVAL_S
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, key, keysJson, metric, clients, duration, interval] = process.argv.slice(2);
const wsUrl = url.replace(/^http/, "ws");
const QUERY = `subscription($keys: [ID!]!, $metrics: [String!]!, $every: Int) {
  metricUpdates(experimentKeys: $keys, metrics: $metrics, intervalSeconds: $every) {
    experimentKey metricName steps values experiment { id }
  }
}`;
const received = [];
let connected = 0;
const disposers = [];
for (let i = 0; i < Number(clients); i++) {
  const updates = [];
  const errors = [];
  received.push({ updates, errors });
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: key },
    on: {
      connected: () => {
        connected++;
        if (connected === Number(clients)) console.log(`connected ${connected}`);
      },
    },
  });
  disposers.push(client.subscribe(
    { query: QUERY, variables: { keys: JSON.parse(keysJson), metrics: [metric],
                                 every: Number(interval) } },
    { next: (value) => updates.push(value.data ? value.data.metricUpdates : value),
      error: (error) => errors.push(String(error && error.message || JSON.stringify(error))),
      complete: () => {} },
  ));
  disposers.push(() => client.dispose());
}
await new Promise((resolve) => setTimeout(resolve, Number(duration)));
for (const dispose of disposers) dispose();
for (const entry of received) console.log(JSON.stringify(entry));
process.exit(0);
