// One uPlot chart per metric, one line per chosen experiment. The series come at the chart's
// pixel width (the query's `points`); smoothing is drawn over the raw line, which stays
// visible, faint, behind it. Each chart says what it drew in data attributes (the browser
// test reads them): `data-lines` counts uPlot's experiment series.
import uPlot from "uplot";
import { formatNumber, h } from "./dom.js";
import { goOn, smooth, stateAfter, stateFrom, stateLater } from "./smooth.js";

const HEIGHT = 240;

export class Chart {
  constructor(metric) {
    this.metric = metric;
    this.plot = null;
    this.shape = "";
    this.note = h("p", { className: "note", role: "status" });
    this.node = h("figure", { className: "chart", dataset: { metric, lines: "0" } },
      h("figcaption", {}, metric), this.note);
  }

  // `lines`: [{key, name, colour (#rrggbb), steps, values}] (steps ascending); draws them at `width`.
  // `note`: what the chart lacks and why (the gateway refused some series), or "".
  draw(lines, smoothing, width, note = "") {
    this.note.textContent = note;
    this.note.hidden = !note;
    const drawn = lines.filter((l) => l.steps.length > 0);
    const tables = [];
    const series = [{ label: "step" }];
    for (const line of drawn) {
      const shown = smoothedOf(line, smoothing);
      tables.push([line.steps, shown]);
      series.push({ label: line.name, stroke: line.colour, width: 1.5,
                    points: { show: false }, value: (u, v) => formatNumber(v) });
      if (smoothing > 0) {
        tables.push([line.steps, line.values]);
        series.push({ label: `${line.name} (raw)`, stroke: `${line.colour}40`,
                      width: 1, points: { show: false }, value: (u, v) => formatNumber(v) });
      }
    }
    const data = tables.length ? uPlot.join(tables) : [[]];
    const shape = `${series.map((s) => s.label).join("\n")}\n${width}`;
    if (this.plot && shape === this.shape) {
      this.plot.setData(data);
    } else {
      if (this.plot) this.plot.destroy();
      this.plot = new uPlot({
        width, height: HEIGHT, series,
        scales: { x: { time: false } },
        axes: [{ label: "step" }, { size: 64, values: (u, ticks) => ticks.map(formatNumber) }],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      }, data, this.node);
      this.shape = shape;
      this.node.plot = this.plot; // what it draws, for a test (or a person's devtools) to read
      this.plot.root.querySelectorAll(".u-legend .u-series").forEach((row, i) => {
        if (series[i] && series[i].label.endsWith(" (raw)")) row.classList.add("raw");
      });
    }
    const experimentLines = this.plot.series.filter(
      (s, i) => i > 0 && s.show && !s.label.endsWith(" (raw)")).length;
    Object.assign(this.node.dataset, {
      lines: String(experimentLines),
      points: drawn.map((l) => l.steps.length).join(","), // per line, in the lines' order
      colours: drawn.map((l) => l.colour).join(","),
      keys: drawn.map((l) => l.key).join(","),
      width: String(width),
    });
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.node.remove();
  }
}

// A metric's series of one experiment, without the points that have no step (they cannot be
// placed on a step axis), ready for uPlot.join; with the gateway's `smoothed` (at `weight`)
// when it was asked. `ema`: where the average stands after its last point, when known (see
// smooth.js), for the points logged after it.
export function line(series, weight = null) {
  const steps = [];
  const values = [];
  const smoothed = series.smoothed && weight > 0 ? [] : null;
  (series.steps || []).forEach((step, i) => {
    if (step == null) return;
    steps.push(step);
    values.push(series.values[i] ?? null);
    if (smoothed) smoothed.push(series.smoothed[i] ?? null);
  });
  // `served`: how many of its points the gateway sent (the live ones come after them).
  return { steps, values, smoothed, weight: smoothed ? weight : null, ema: null,
           served: steps.length };
}

// Where a live line is anchored again: its last two points the gateway sent (the first
// is the one before the last, so that the answer from there has two consecutive points of
// the full series to go on smoothing from); null: the whole series.
export function anchorStep(target) {
  return target && target.served >= 2 ? target.steps[target.served - 2] : null;
}

// `target` with `fresh` merged in: the gateway's points from step `from` on (every point from
// there: a step range not downsampled), in place of what the line had from there, the live
// points logged after them kept. The line is then the gateway's up to fresh's last point, its
// smoothing state known exactly (see smooth.js; `whole`: fresh is the whole series, its count
// known; `consecutive`: fresh is every point of its range, not downsampled). Points logged
// between the view's answer and
// the subscription's first poll come this way.
export function anchor(target, fresh, from, whole = false, consecutive = from != null) {
  const kept = from == null ? 0 : target.steps.findIndex((s) => s >= from);
  const cut = kept < 0 ? target.steps.length : kept;
  const end = fresh.steps.length ? fresh.steps[fresh.steps.length - 1] : -Infinity;
  const after = [];
  for (let i = cut; i < target.steps.length; i++) if (target.steps[i] > end) after.push(i);
  const smoothed = fresh.smoothed && (cut === 0 || (target.smoothed
    && target.weight === fresh.weight && target.smoothed.length >= cut))
    ? [...(cut ? target.smoothed.slice(0, cut) : []), ...fresh.smoothed] : null;
  // The state the line had, at its last point sent, carried over to fresh's last: exact when
  // it was (a count), never replaced by a guess from two points.
  const known = smoothed && consecutive && cut > 0 && target.ema && target.weight === fresh.weight
    && cut <= target.served ? target.ema : null;
  const carried = known ? finiteCount(fresh.values, fresh.smoothed)
    - finiteCount(target.values.slice(cut, target.served), target.smoothed.slice(cut)) : 0;
  target.steps = [...target.steps.slice(0, cut), ...fresh.steps, ...after.map((i) => target.steps[i])];
  target.values = [...target.values.slice(0, cut), ...fresh.values,
                   ...after.map((i) => target.values[i])];
  target.served = cut + fresh.steps.length;
  target.smoothed = smoothed;
  target.weight = smoothed ? fresh.weight : null;
  const last = smoothed ? lastOf(fresh.smoothed) : undefined;
  target.ema = !smoothed ? null
    : known && carried >= 0 && last != null ? stateLater(known, carried, last, fresh.weight)
      : emaOf(fresh, whole, consecutive);
  return target;
}

// The values that count in the average: finite, and smoothed by the gateway.
function finiteCount(values, smoothed) {
  return values.filter((v, i) => v != null && Number.isFinite(v) && smoothed[i] != null).length;
}

// Where the average stands after the last point of a whole series (its count known).
export function wholeState(drawn) {
  return drawn.smoothed ? emaOf(drawn, true, false) : null;
}

function emaOf(fresh, whole, ranged) {
  const finite = [];
  fresh.values.forEach((v, i) => {
    if (v != null && Number.isFinite(v) && fresh.smoothed[i] != null) finite.push(i);
  });
  if (!finite.length) return null;
  const last = finite[finite.length - 1];
  if (whole) return stateAfter(fresh.smoothed[last], finite.length, fresh.weight);
  if (!ranged || finite.length < 2) return null; // downsampled: not consecutive points
  const before = finite[finite.length - 2];
  return stateFrom(fresh.smoothed[before], fresh.smoothed[last], fresh.values[last],
                   fresh.weight);
}

// What a line draws at smoothing `weight`: the gateway's average over the whole series when
// it has it at this weight (going on in the page over the live points logged since), else the
// page's own over the points it has (the slider's preview, until the gateway's comes).
export function smoothedOf(target, weight) {
  if (!(weight > 0)) return target.values.slice();
  if (target.weight !== weight || !target.smoothed) return smooth(target.values, weight);
  const known = target.smoothed.length;
  if (known >= target.values.length) return target.smoothed.slice();
  let state = target.ema;
  if (!state) { // not known yet: the last average as if its debiasing were done (long series)
    const last = lastOf(target.smoothed);
    state = { biased: last ?? 0, power: last == null ? 1 : 0 };
  }
  return [...target.smoothed, ...goOn(state, target.values.slice(known), weight)];
}

// The last value of `list` that is not null (Array.prototype.findLast is ES2023: the bundle
// targets ES2020).
export function lastOf(list) {
  for (let i = list.length - 1; i >= 0; i--) if (list[i] != null) return list[i];
  return undefined;
}

// Appends live values after the last step already drawn.
export function extend(target, update) {
  const last = target.steps.length ? target.steps[target.steps.length - 1] : -Infinity;
  let added = 0;
  update.steps.forEach((step, i) => {
    if (step == null || step <= last) return;
    target.steps.push(step);
    target.values.push(update.values[i] ?? null);
    added += 1;
  });
  return added;
}
