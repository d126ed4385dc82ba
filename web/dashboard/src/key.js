// The caller's Comet API key: asked once, kept in this tab's sessionStorage (gone when the tab
// closes), sent only in the Authorization header and connection_init. Never in a URL.
const NAME = "comet-graphql-gateway.dashboard.apiKey";

export function stored() {
  try {
    return sessionStorage.getItem(NAME);
  } catch {
    return null; // storage refused (a sandboxed frame): the key is asked again
  }
}

export function keep(key) {
  try {
    sessionStorage.setItem(NAME, key);
  } catch {
    // kept in memory only, by the caller
  }
}

export function forget() {
  try {
    sessionStorage.removeItem(NAME);
  } catch {
    // nothing was kept
  }
}
