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
      on: {
        connected: (socket, payload, wasRetry) => {
          if (wasRetry && this.reconnected) this.reconnected();
        },
      },
    });
    this.stop = null;
    this.reconnected = null;
  }

  // Replaces the current subscription; `onUpdate(update)` per pushed value list;
  // `onReconnect()` when the client subscribed again on a new connection (values logged
  // while it was away are not pushed: the new subscription's baseline is after them).
  follow(query, variables, { onUpdate, onError, onReconnect }) {
    this.unfollow();
    this.reconnected = onReconnect || null;
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
    this.reconnected = null;
  }

  close() {
    this.unfollow();
    this.client.dispose();
  }
}
