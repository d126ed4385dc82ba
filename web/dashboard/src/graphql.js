// One GraphQL operation over HTTP, with incremental delivery: a `@defer`red answer comes as
// multipart/mixed (GraphQL over HTTP's incremental delivery draft), and each part is merged
// into the result as it arrives, so that the page can draw what it already has.

const ACCEPT = [
  "multipart/mixed;incrementalSpec=v0.2",
  "multipart/mixed;deferSpec=20220824;q=0.9",
  "application/graphql-response+json;q=0.8",
  "application/json;q=0.7",
].join(", ");

export class Unauthenticated extends Error {}

// Whether a GraphQL error is of `code` (the gateway's `extensions.code`).
export function isCode(error, code) {
  return (error.extensions || {}).code === code;
}

// The messages of errors (a result's by default), as one line.
export function messagesOf(errors) {
  return errors.map((e) => e.message).join("; ");
}

// Runs `query` and calls `onResult({data, errors, hasNext, parts})` after each part (once for
// a plain JSON answer). Resolves with the final result.
export async function execute(url, key, query, variables, { signal, onResult } = {}) {
  const response = await fetch(url, {
    method: "POST",
    signal,
    headers: { "Content-Type": "application/json", Accept: ACCEPT, Authorization: key },
    body: JSON.stringify({ query, variables }),
  });
  const type = response.headers.get("content-type") || "";
  const result = { data: undefined, errors: [], hasNext: false, parts: 0, pending: new Map() };
  const take = (payload) => {
    merge(result, payload);
    if (onResult) onResult(result);
  };
  if (type.startsWith("multipart/mixed")) {
    for await (const payload of parts(response.body, boundaryOf(type))) take(payload);
  } else {
    let payload;
    try {
      payload = await response.json();
    } catch {
      throw new Error(`the gateway answered ${response.status} ${response.statusText}`);
    }
    take(payload);
  }
  if (response.status === 401 || result.errors.some(
    (e) => isCode(e, "UNAUTHENTICATED"))) {
    throw new Unauthenticated(messagesOf(result.errors) || "unauthenticated");
  }
  return result;
}

export function boundaryOf(contentType) {
  const found = /boundary="?([^";,]+)"?/i.exec(contentType);
  return found ? found[1] : "-";
}

// The JSON bodies of a multipart/mixed stream, as they arrive.
export async function* parts(stream, boundary) {
  const delimiter = `--${boundary}`;
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  let buffer = "";
  let started = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    for (;;) {
      if (!started) {
        const at = buffer.indexOf(delimiter);
        if (at < 0) break;
        buffer = buffer.slice(at + delimiter.length);
        started = true;
      }
      if (buffer.startsWith("--")) return; // the closing delimiter
      const next = buffer.indexOf(`\r\n${delimiter}`);
      if (next < 0) break;
      const part = buffer.slice(0, next);
      buffer = buffer.slice(next + 2 + delimiter.length);
      const split = part.indexOf("\r\n\r\n");
      const body = split < 0 ? "" : part.slice(split + 4).trim();
      if (body) yield JSON.parse(body);
    }
    if (done) return;
  }
}

// Merges one payload (a whole result, an initial incremental result or a subsequent one) into
// `result`: deferred data at its path, errors appended, pending fragments remembered.
export function merge(result, payload) {
  result.parts += 1;
  if ("data" in payload && !("incremental" in payload) && result.data === undefined) {
    result.data = payload.data;
  }
  for (const pending of payload.pending || []) result.pending.set(pending.id, pending);
  for (const item of payload.incremental || []) {
    const known = result.pending.get(item.id) || {};
    const path = [...(item.path || known.path || []), ...(item.subPath || [])];
    if (item.errors) result.errors.push(...item.errors);
    if (item.items) {
      const list = at(result.data, path);
      if (Array.isArray(list)) list.push(...item.items);
    } else if (item.data) {
      const target = at(result.data, path);
      if (target && typeof target === "object") deepMerge(target, item.data);
    }
  }
  for (const done of payload.completed || []) {
    if (done.errors) result.errors.push(...done.errors);
  }
  if (payload.errors) result.errors.push(...payload.errors);
  result.hasNext = Boolean(payload.hasNext);
}

function at(root, path) {
  let node = root;
  for (const step of path) {
    if (node == null) return undefined;
    node = node[step];
  }
  return node;
}

function deepMerge(target, source) {
  for (const [name, value] of Object.entries(source)) {
    const mine = target[name];
    if (mine && value && typeof mine === "object" && typeof value === "object"
        && !Array.isArray(mine)) {
      deepMerge(mine, value);
    } else {
      target[name] = value;
    }
  }
}
