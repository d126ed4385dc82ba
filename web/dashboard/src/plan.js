// How the page asks for the series of a view within what one GraphQL operation may read: the
// gateway bounds the full series an operation reads from Comet (COMET_GATEWAY_MAX_FULL_SERIES_
// BYTES), each upstream answer (COMET_GATEWAY_MAX_UPSTREAM_ANSWER_BYTES), the points its views
// read (COMET_GATEWAY_MAX_SERIES_POINTS) and the values its answer holds (10 ×
// COMET_GATEWAY_MAX_ANSWER_FIELDS); the page is told them (the page's config) and cuts the
// chosen experiments into groups, one request each, that stay well within them by an estimate
// from the table (each metric's last step). When the gateway still refuses a group, it is cut
// in two and asked again; one experiment it refuses is not drawn, and its charts say why.

import { isCode, messagesOf } from "./graphql.js";

// Bytes of Comet's full-series JSON a point takes (step, value, timestamp, duration, epoch),
// on the high side; and the longest series Comet keeps of a metric.
export const BYTES_PER_POINT = 64;
export const LONGEST = 15000;
// Share of each bound a group may fill by the estimate: it is rough.
const SHARE = 0.5;
// Points the page holds in all its charts at most: many experiments get fewer points each.
export const PAGE_POINTS = 1000000;
const FEWEST_POINTS = 50;
// Whether a refusal is for size, which a smaller request may not meet: QUERY_TOO_COMPLEX, but
// not the operation's deadline (a smaller request is no faster upstream), nor a bad answer
// from Comet, nor anything else.
function forSize(error) {
  return isCode(error, "QUERY_TOO_COMPLEX") && !/deadline/i.test(error.message);
}

// A metric's points in an experiment, estimated from its row: its last step + 1 (steps count
// from 0 or 1), at most LONGEST; LONGEST when the row does not say.
export function lengthOf(row, metric) {
  const summary = row && row.metrics[metric];
  if (!summary) return row ? 0 : LONGEST;
  const steps = [summary.stepCurrent, summary.stepMin, summary.stepMax]
    .filter((s) => Number.isFinite(s));
  return steps.length ? Math.min(LONGEST, Math.max(1, ...steps.map((s) => s + 1))) : LONGEST;
}

// Points per series: the chart's `points`, fewer when many series are charted, and few
// enough that one experiment's series fit in one answer. `lists`: lists of numbers per series
// asked (steps and values, and smoothed values with smoothing).
export function pointsPerSeries(points, experiments, metrics, lists, bounds) {
  const series = Math.max(1, experiments * metrics);
  const inAnswer = Math.floor((bounds.answerValues * SHARE) / (Math.max(1, metrics) * lists));
  return Math.max(FEWEST_POINTS, Math.min(points, bounds.points, inAnswer,
                                          Math.floor(PAGE_POINTS / series)));
}

// The experiments `keys` cut into groups, in order, each within the bounds by the estimate
// `length(key, metric)` (an experiment alone is a group, whatever its estimate), and of at
// most `bounds.chartExperiments` (what one chart takes).
export function groups(keys, metrics, points, lists, length, bounds) {
  const bytes = Math.min(bounds.fullSeriesBytes, bounds.answerBytes) * SHARE;
  const read = bounds.seriesPoints * SHARE;
  const values = bounds.answerValues * SHARE;
  const out = [];
  let group = null;
  for (const key of keys) {
    const lengths = metrics.map((m) => length(key, m));
    const full = lengths.reduce((a, b) => a + b, 0);
    const shown = lengths.reduce((a, n) => a + Math.min(n, points), 0) * lists;
    if (!group || group.keys.length >= bounds.chartExperiments || group.full + full > read
        || (group.full + full) * BYTES_PER_POINT > bytes
        || group.shown + shown > values) {
      group = { keys: [], full: 0, shown: 0 };
      out.push(group);
    }
    group.keys.push(key);
    group.full += full;
    group.shown += shown;
  }
  return out.map((g) => g.keys);
}

// The errors of a series request about its chart, and whether a smaller request may succeed.
export function refusal(result) {
  const errors = result.errors.filter((e) => !e.path || e.path.includes("metricChart"));
  const project = result.data && result.data.project;
  const missing = !project || project.metricChart == null;
  if (!missing && !errors.length) return null;
  const shown = errors.length ? errors : result.errors;
  return {
    message: messagesOf(shown) || "the gateway sent no series",
    smaller: shown.some(forSize),
    missing,
  };
}

// --- the live lines' anchor (anchoring.js) ---------------------------------------------------
// The requests' ranges: lines of a metric whose anchor steps lie within `window` steps of
// each other go on from the earliest of them (a line is asked again from at most `window`
// steps before its own anchor); a line with no anchor (no two points sent yet: its first
// points are new) is asked whole, with the others that have none. One line's far-back anchor
// (a new experiment's) so never makes another line of the metric come back whole. Ranges of
// the same step and experiments, across metrics, are one. `[{from, metrics, keys}]`.
export function ranges(metrics, keys, lineOf, anchorStep, window) {
  const byRange = new Map();
  const add = (from, metric, cluster) => {
    const id = `${from}\n${cluster.join(",")}`;
    if (!byRange.has(id)) byRange.set(id, { from, metrics: [], keys: cluster });
    byRange.get(id).metrics.push(metric);
  };
  for (const metric of metrics) {
    const anchored = keys.map((key) => ({ key, from: anchorStep(lineOf(metric, key)) }));
    const none = anchored.filter((a) => a.from == null).map((a) => a.key);
    if (none.length) add(null, metric, none);
    const sorted = anchored.filter((a) => a.from != null).sort((a, b) => a.from - b.from);
    let cluster = null;
    for (const a of sorted) {
      if (!cluster || a.from - cluster.from > window) {
        if (cluster) add(cluster.from, metric, cluster.keys);
        cluster = { from: a.from, keys: [] };
      }
      cluster.keys.push(a.key);
    }
    if (cluster) add(cluster.from, metric, cluster.keys);
  }
  return [...byRange.values()];
}

// The requests of one range: its experiments in groups within the bounds, each series
// estimated from its row (`length(key, metric)`) less the steps before `from`, at most
// `points` (the chart's) a line.
export function requestsOf(range, points, lists, length, bounds) {
  const since = (key, metric) => {
    const n = length(key, metric);
    return range.from == null ? n : Math.min(LONGEST, Math.max(1, n - range.from) + 100);
  };
  return groups(range.keys, range.metrics, points, lists, since, bounds);
}
