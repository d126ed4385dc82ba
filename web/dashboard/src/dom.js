// A few lines instead of a framework. No `style` attribute is ever written: the page's
// Content-Security-Policy allows only its own stylesheet (classes, and CSSOM from uPlot).

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "className" || name === "value" || name === "checked") node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export function formatNumber(value) {
  if (value == null || value === "") return "";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e5 || size < 1e-3)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

export function formatDuration(ms) {
  if (ms == null) return "";
  const minutes = Math.round(ms / 60000);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// `fn` (async) with at most one call in flight: a call made meanwhile runs once the one in
// flight is done, with the latest call's arguments (however many were made, one more run).
export function oneAtATime(fn) {
  let running = null;
  let next = null;
  const run = (...args) => {
    if (running) {
      next = args;
      return running;
    }
    running = Promise.resolve().then(() => fn(...args)).finally(() => {
      running = null;
      if (next) {
        const later = next;
        next = null;
        run(...later);
      }
    });
    return running;
  };
  return run;
}

// Resolves after `ms`, or at once when `signal` aborts.
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); });
  });
}
