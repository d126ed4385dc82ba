// Live values over graphql-transport-ws (the graphql-ws client), on the gateway's own origin.
// Browsers cannot set headers on a websocket: the key goes in connection_init's payload.
import { createClient } from "graphql-ws/client";

export class Live {
  constructor(url, key) {
    this.client = createClient({
      url: new URL(url, location.href).href.replace(/^http/, "ws"),
      connectionParams: { Authorization: key },
      lazy: true,
      lazyCloseTimeout: 10000, // a new view subscribes again on the same websocket
      retryAttempts: 5,
    });
    this.stop = null;
  }

  // Replaces the current subscription; `onUpdate(update)` per pushed value list.
  follow(query, variables, { onUpdate, onError }) {
    this.unfollow();
    this.stop = this.client.subscribe({ query, variables }, {
      next: (message) => {
        if (message.errors) onError(message.errors.map((e) => e.message).join("; "));
        if (message.data) onUpdate(message.data.metricUpdates);
      },
      error: (error) => onError(error && error.message ? error.message
        : `the live connection closed (${error && error.code ? error.code : "?"})`),
      complete: () => {},
    });
  }

  unfollow() {
    if (this.stop) this.stop();
    this.stop = null;
  }

  close() {
    this.unfollow();
    this.client.dispose();
  }
}
