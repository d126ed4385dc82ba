// Where the running experiments' live lines are anchored again on the gateway's points: the
// subscription's first poll sets where its values start, some time after the view's answer,
// so what is logged in between is asked for once that poll is surely past, from each line's
// last two points the gateway sent (charts.js `anchorStep`) on.
//
// Why an anchor rather than subscribing before the view's query: a running experiment's
// series may come from the gateway's cache, up to `runningCacheSeconds` old, so the view's
// answer can be older than any subscription's baseline, and the points logged in between
// would be lost. The anchor asks for an answer younger than the view's (it waits that long),
// of the running experiments only, from each metric's anchor step on (a step range, not the
// whole series), in requests cut to the gateway's bounds like the view's (plan.js).
import { groups, LONGEST } from "./plan.js";

// Per metric, the step its lines go on from: the earliest anchor of the charted running
// experiments' lines, or null (the whole series) when one of them has no two points sent
// yet (its first points are new). Metrics of the same step go in the same requests.
export function ranges(metrics, keys, lineOf, anchorStep) {
  const byStep = new Map();
  for (const metric of metrics) {
    const steps = keys.map((key) => anchorStep(lineOf(metric, key)));
    const from = steps.some((s) => s == null) ? null : Math.min(...steps);
    if (!byStep.has(from)) byStep.set(from, []);
    byStep.get(from).push(metric);
  }
  return [...byStep].map(([from, names]) => ({ from, metrics: names }));
}

// The requests of one range: its experiments in groups within the bounds, each series
// estimated from its row (`length(key, metric)`) less the steps before `from`.
export function requestsOf(range, keys, lists, length, bounds) {
  const since = (key, metric) => {
    const n = length(key, metric);
    return range.from == null ? n : Math.min(LONGEST, Math.max(1, n - range.from) + 100);
  };
  return groups(keys, range.metrics, bounds.points, lists, since, bounds);
}
