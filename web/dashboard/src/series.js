// The charts' series of a view, asked in groups of experiments that fit in one operation
// (plan.js): each group's answer taken into the page's lines, or cut in two and asked again
// when the gateway refuses it for size, or (one experiment, another refusal) said in the
// charts. `page`: what of the page this uses (main.js builds it): its `state`, `ask(where,
// variables, request, which)` for a series request of the project `where` ({workspace,
// project}), `draw()`, `note(which, text)`, `weight()`.
import { anchor, line, wholeState } from "./charts.js";
import { refusal } from "./plan.js";

// The lines of `metric`, experiment key -> line (made when there are none yet).
export function linesOf(state, metric) {
  if (!state.series.has(metric)) state.series.set(metric, new Map());
  return state.series.get(metric);
}

// A refused group's answer: null when it is not one; else the refusal, the group cut in two
// at the front of `queue` when a smaller request may pass.
export function cutWhenRefused(keys, result, queue) {
  const refused = refusal(result);
  if (!refused || !refused.missing) return null;
  if (refused.smaller && keys.length > 1) {
    const half = Math.ceil(keys.length / 2);
    queue.unshift(keys.slice(0, half), keys.slice(half));
    refused.cut = true;
  }
  return refused;
}

// One group's answer: its series, or why they are not drawn (the group not cut again).
export function takeGroup(page, keys, result, queue) {
  const refused = cutWhenRefused(keys, result, queue);
  if (refused) {
    if (!refused.cut) for (const key of keys) page.state.failed.set(key, refused.message);
    return;
  }
  takeSeries(page, result.data.project);
}

// The groups of `queue` one request after another (the view's own request had the first).
// `variables`: the view's; a group asks for its series only (never the table's first page
// again: with the view's `table: true` each group would read those rows once more).
export async function loadGroups(page, request, queue, variables) {
  for (let asked = 1; queue.length; asked += 1) {
    const keys = queue.shift();
    page.note("series", `Loading the series… (request ${asked + 1})`);
    const result = await page.ask(variables, { ...variables, first: 1, table: false,
                                               experimentKeys: keys }, request, "series");
    if (request.signal.aborted) return;
    takeGroup(page, keys, result, queue);
    page.draw();
  }
}

export function takeSeries(page, project) {
  const { state } = page;
  for (const entry of (project && project.metricChart) || []) {
    for (const series of entry.metrics) {
      const drawn = line(series, page.weight());
      if (drawn.steps.length < state.points) drawn.ema = wholeState(drawn); // not downsampled
      linesOf(state, series.metricName).set(entry.experimentKey, drawn);
    }
  }
}

// The slider released: the gateway's average at the new weight for the lines drawn, and
// nothing else (the subscription and the live lines' anchor stay as they are). A group asks
// for steps and `smoothed` only; for values too when it holds a running experiment, whose
// series may have grown since it was read (its points, chosen from the longer series, then
// differ: the line's points the gateway sent are replaced, its live points after them kept).
// `page`: as for loadGroups, and `plan(keys)` (plan.js `groups` for the view).
export async function loadSmoothed(page, where, request) {
  const { state } = page;
  const weight = page.weight();
  const running = new Set(state.rows.filter((r) => r.running).map((r) => r.key));
  const queue = page.plan((state.chosen || []).filter((k) => !state.failed.has(k)));
  while (queue.length) {
    const keys = queue.shift();
    const values = keys.some((k) => running.has(k));
    const result = await page.ask(where, { metrics: state.metrics, experimentKeys: keys,
                                    points: state.points, smoothing: weight, values },
                                  request, "series");
    if (request.signal.aborted) return;
    if (cutWhenRefused(keys, result, queue)) continue; // its lines keep the page's preview
    for (const entry of result.data.project.metricChart) {
      for (const series of entry.metrics) {
        const target = linesOf(state, series.metricName).get(entry.experimentKey);
        if (target) takeSmoothed(target, series, weight, state.points);
      }
    }
    page.draw();
  }
}

function takeSmoothed(target, series, weight, points) {
  const steps = (series.steps || []).filter((s) => s != null);
  const served = target.steps.slice(0, target.served);
  const whole = steps.length < points; // not downsampled: the count is known
  if (steps.length === served.length && steps.every((s, i) => s === served[i])) {
    const smoothed = (series.steps || []).map((s, i) => (s == null ? undefined
      : series.smoothed[i] ?? null)).filter((v) => v !== undefined);
    target.smoothed = smoothed;
    target.weight = weight;
    target.ema = whole ? wholeState({ values: target.values.slice(0, target.served), smoothed,
                                      weight }) : null;
  } else if (series.values) {
    anchor(target, line(series, weight), null, whole);
  }
}
