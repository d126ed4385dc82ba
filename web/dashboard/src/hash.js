// The view in the URL's hash, so that a link opens it again: the workspace and project, the
// metrics and experiments charted, the smoothing and the live interval. Never the key.
const INTERVAL = 5; // seconds between the live subscription's polls, unless the link says

// The view `hash` (location.hash) names, with at most `bounds.chartMetrics` metrics.
export function viewOf(hash, bounds) {
  const view = new URLSearchParams(hash.slice(1));
  return {
    workspace: view.get("workspace"),
    project: view.get("project"),
    // A link names the experiments charted (none: the newest few, once the table is known).
    chosen: view.has("experiments") ? view.get("experiments").split(",").filter(Boolean) : null,
    chosenOf: `${view.get("workspace")}\n${view.get("project")}`, // the project `chosen` is of
    metrics: (view.get("metrics") || "").split(",").filter(Boolean).slice(0, bounds.chartMetrics),
    smoothing: Math.min(0.99, Math.max(0, Number(view.get("smoothing")) || 0)),
    interval: Math.max(1, Number(view.get("interval")) || INTERVAL),
  };
}

// The view of `state` into the hash, in place of the page's (no history entry per change).
export function remember(state) {
  const view = new URLSearchParams();
  if (state.workspace) view.set("workspace", state.workspace);
  if (state.project) view.set("project", state.project);
  if (state.metrics.length) view.set("metrics", state.metrics.join(","));
  if (state.chosen !== null) view.set("experiments", state.chosen.join(","));
  if (state.smoothing) view.set("smoothing", String(state.smoothing));
  if (state.interval !== INTERVAL) view.set("interval", String(state.interval));
  history.replaceState(null, "", `#${view}`);
}
