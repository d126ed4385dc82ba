// The charts' series of a view, asked in groups of experiments that fit in one operation
// (plan.js): each group's answer taken into the page's lines, or cut in two and asked again
// when the gateway refuses it for size, or (one experiment, another refusal) said in the
// charts. `page`: what of the page this uses (main.js builds it): its `state`, `ask(variables,
// request, which)` for a series request, `draw()`, `note(which, text)`, `weight()`.
import { line, wholeState } from "./charts.js";
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
export async function loadGroups(page, request, queue, variables) {
  for (let asked = 1; queue.length; asked += 1) {
    const keys = queue.shift();
    page.note("series", `Loading the series… (request ${asked + 1})`);
    const result = await page.ask({ ...variables, experimentKeys: keys }, request, "series");
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
