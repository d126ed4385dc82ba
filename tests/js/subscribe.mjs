// graphql-ws clients subscribed to metricUpdates. Prints "connected N" once every client is
// connected, then, after DURATION_MS (or as soon as every client has received EXPECTED steps,
// when given), one JSON line per client with the updates it received.
// Usage: node subscribe.mjs URL API_KEY KEYS_JSON METRIC CLIENTS DURATION_MS INTERVAL_S [EXPECTED]
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, key, keysJson, metric, clients, duration, interval, expected] =
  process.argv.slice(2);
let finish;
const finished = new Promise((resolve) => { finish = resolve; });
const steps = (updates) => updates.reduce((n, u) => n + ((u && u.steps) || []).length, 0);
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
    { next: (value) => {
        updates.push(value.data ? value.data.metricUpdates : value);
        // Then a little longer, so that a step sent twice would still be seen.
        if (expected && received.every((r) => steps(r.updates) >= Number(expected))) {
          setTimeout(finish, 1500);
        }
      },
      error: (error) => errors.push(String(error && error.message || JSON.stringify(error))),
      complete: () => {} },
  ));
  disposers.push(() => client.dispose());
}
setTimeout(finish, Number(duration));
await finished;
for (const dispose of disposers) dispose();
for (const entry of received) console.log(JSON.stringify(entry));
process.exit(0);
