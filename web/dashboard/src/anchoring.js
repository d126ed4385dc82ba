// The running experiments followed live, their lines anchored again on the gateway's points:
// the subscription's first poll sets where its values start, some time after the view's answer,
// so what is logged in between is asked for once that poll is surely past, from each line's
// last two points the gateway sent (charts.js `anchorStep`) on.
//
// Why an anchor rather than subscribing before the view's query: a running experiment's
// series may come from the gateway's cache, up to `runningCacheSeconds` old, so the view's
// answer can be older than any subscription's baseline, and the points logged in between
// would be lost. The anchor asks for an answer younger than the view's (it waits that long),
// of the charted running experiments only, each line from about its own anchor step on (see
// `ranges`), in requests cut to the gateway's bounds like the view's (plan.js), at the chart's
// points. Its cost: the gateway reads those
// experiments' full series once more (Comet has no step range; the answer holds the range).
// `page`: what of the page this uses (see series.js), and `liveNote(text, kind)`,
// `count(name, n)` (the charts' data attributes a test reads). `where`: the view's
// `{workspace, project}`, bound when it was asked (never read from the page's state later: the
// page may show another project by then).
import LIVE from "../queries/live.graphql";
import { anchor, anchorStep, extend, line } from "./charts.js";
import { oneAtATime, sleep } from "./dom.js";
import { lengthOf, ranges, requestsOf } from "./plan.js";
import { cutWhenRefused, linesOf } from "./series.js";

export function stopLive(page) {
  if (page.state.live) page.state.live.unfollow();
  if (page.state.stopAnchoring) page.state.stopAnchoring();
}

// Follows the charted running experiments live (the subscription), anchoring their lines once.
export function follow(page, where) {
  const { state, bounds } = page;
  const running = new Set(state.rows.filter((r) => r.running).map((r) => r.key));
  // Not those the gateway refused (no line to go on), and no more than one chart takes.
  const keys = (state.chosen || []).filter((k) => running.has(k) && !state.failed.has(k))
    .slice(0, bounds.chartExperiments);
  if (!keys.length || !state.metrics.length || !state.live) {
    page.liveNote(keys.length ? "" : "no running experiment charted");
    return;
  }
  page.liveNote(`live: ${keys.length} running`, "on");
  const seriesAt = performance.now(); // when the series drawn were answered (at the latest)
  // The subscription's first poll sets where its values start, some time after the view's
  // answer: what is logged in between comes from the gateway once that poll is surely past
  // (the first value pushed says so; else a while after subscribing).
  const anchoring = { done: false, timer: 0 };
  // One anchor in flight at a time: a websocket that flaps (reconnects while an anchor is
  // asked) must not start overlapping ones, each re-reading the running experiments' full
  // series; reconnects meanwhile make one more, from the latest baseline.
  const anchorFrom = oneAtATime((since) => anchorLines(page, where, keys, since));
  const anchorOnce = () => {
    if (anchoring.done) return;
    anchoring.done = true;
    clearTimeout(anchoring.timer);
    anchorFrom(seriesAt);
  };
  anchoring.timer = setTimeout(anchorOnce, (2 * state.interval + 1) * 1000);
  state.stopAnchoring = () => { anchoring.done = true; clearTimeout(anchoring.timer); };
  state.live.follow(LIVE, { experimentKeys: keys, metrics: state.metrics,
                            intervalSeconds: state.interval }, {
    onUpdate: (update) => {
      anchorOnce();
      const lines = linesOf(state, update.metricName);
      if (!lines.has(update.experimentKey)) { // its first value of this metric: a new line
        lines.set(update.experimentKey, line({ steps: [], values: [] }));
      }
      if (!extend(lines.get(update.experimentKey), update)) return;
      state.liveUpdates += 1;
      page.count("liveUpdates", state.liveUpdates);
      page.draw();
    },
    onError: (message) => page.liveNote(`live: ${message}`, "error"),
    // graphql-ws subscribed again on a new connection: its baseline is new, and what was
    // logged while it was away comes from the gateway, once that baseline is surely past.
    onReconnect: () => anchorFrom(performance.now() + (state.interval + 1) * 1000),
  });
}

// The running experiments' lines from their last points the gateway sent on: per metric from
// its own anchor step, in requests within the bounds, not downsampled, smoothed as the view
// is. `since`: when the series drawn were answered, or the subscription (re)started.
async function anchorLines(page, where, keys, since) {
  const { state, bounds } = page;
  const request = state.request;
  // An answer from after the view's cached one (a running experiment's series live that long
  // in the gateway's cache): else it could be the view's answer again, without the gap.
  const wait = since + bounds.runningCacheSeconds * 1000 + 250 - performance.now();
  if (wait > 0) await sleep(wait, request && request.signal);
  if (request !== state.request || !request || request.signal.aborted) return;
  const lineOf = (metric, key) => (state.series.get(metric) || new Map()).get(key);
  const rows = new Map(state.rows.map((r) => [r.key, r]));
  const length = (key, metric) => lengthOf(rows.get(key), metric);
  // Never more than the chart's points a line: a range wider than them comes downsampled.
  const points = state.points;
  for (const range of ranges(state.metrics, keys, lineOf, anchorStep, Math.ceil(points / 2))) {
    const queue = requestsOf(range, points, page.lists(), length, bounds);
    while (queue.length) {
      const group = queue.shift();
      const weight = page.weight(); // the one asked: the slider may be released meanwhile
      let result;
      try {
        result = await page.ask(where, { metrics: range.metrics, experimentKeys: group,
                                  points, smoothing: weight,
                                  stepMin: range.from }, request, "series");
      } catch (error) {
        if (error.name !== "AbortError") page.liveNote(`live: ${error.message || error}`, "error");
        return;
      }
      if (request !== state.request || request.signal.aborted) return;
      const refused = cutWhenRefused(group, result, queue);
      if (refused) {
        if (!refused.cut) page.liveNote(`live: ${refused.message}`, "error");
        continue;
      }
      if (weight !== page.weight()) {
        // Its average is the old weight's, and its points (the gap) cannot be dropped: asked
        // again at the new weight (once per release of the slider, at most).
        queue.unshift(group);
        continue;
      }
      takeAnchor(page, result.data.project.metricChart, range.from, points, weight);
    }
  }
  state.anchors = (state.anchors || 0) + 1;
  page.count("anchors", state.anchors);
  page.draw();
}

// `points`: asked a line; as many came: maybe downsampled, so no two consecutive points to
// derive the smoothing's state from.
// `weight`: the smoothing the answer was asked with.
function takeAnchor(page, chart, from, points, weight) {
  for (const entry of chart) {
    for (const series of entry.metrics) {
      const lines = linesOf(page.state, series.metricName);
      const fresh = line(series, weight);
      const target = lines.get(entry.experimentKey);
      const exact = fresh.steps.length < points; // every point of the range
      lines.set(entry.experimentKey, target
        ? anchor(target, fresh, from, from == null && exact, from != null && exact) : fresh);
    }
  }
}
