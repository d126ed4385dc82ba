// The dashboard's pure parts, run by node (tests/gateway/test_dashboard_units.py): the
// multipart/mixed reader cut at every byte, the merge of incremental results, TensorBoard's
// smoothing, the table's filter and sort. Prints one JSON line: the names of failed checks.
import { Palette, colour } from "../../web/dashboard/src/colours.js";
import { merge, parts } from "../../web/dashboard/src/graphql.js";
import { groups, lengthOf, pointsPerSeries, ranges, refusal, requestsOf } from "../../web/dashboard/src/plan.js";
import { goOn, smooth, stateAfter, stateFrom } from "../../web/dashboard/src/smooth.js";
import { anchor, anchorStep, extend, line, smoothedOf, wholeState } from "../../web/dashboard/src/charts.js";
import { columns, parseFilter, row, sortRows } from "../../web/dashboard/src/table.js";
import { loadRows, pageSize, rateLimited, retrying, wholeRows } from "../../web/dashboard/src/rows.js";
import { oneAtATime } from "../../web/dashboard/src/dom.js";
import { register } from "node:module";

// anchoring.js and series.js import the page's .graphql documents: as text, as the bundle does.
register("./graphql_text.mjs", import.meta.url);
const { follow } = await import("../../web/dashboard/src/anchoring.js");
const { loadSmoothed } = await import("../../web/dashboard/src/series.js");

const failed = [];
function check(name, ok) {
  if (!ok) failed.push(name);
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// A multipart/mixed body as the gateway writes it (strawberry's MultipartTransport).
const payloads = [
  { data: { project: { name: "p" } }, pending: [{ id: "0", path: ["project"], label: "series" }],
    hasNext: true },
  { incremental: [{ id: "0", data: { metricChart: [{ experimentKey: "k" }] } }],
    completed: [{ id: "0" }], hasNext: false },
];
const body = `---${payloads.map((p) => {
  const json = JSON.stringify(p);
  return `\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${json.length}`
    + `\r\n\r\n${json}\r\n---`;
}).join("")}--\r\n`;
const bytes = new TextEncoder().encode(body);
for (const cut of [1, 2, 3, 7, 64, bytes.length]) {
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += cut) controller.enqueue(bytes.slice(i, i + cut));
      controller.close();
    },
  });
  const got = [];
  for await (const payload of parts(stream, "-")) got.push(payload);
  check(`multipart read in chunks of ${cut} bytes`, same(got, payloads));
}

const result = { data: undefined, errors: [], hasNext: false, parts: 0, pending: new Map() };
payloads.forEach((p) => merge(result, p));
check("deferred data merged at its pending path", same(result.data,
  { project: { name: "p", metricChart: [{ experimentKey: "k" }] } }));
check("the last part ends it", result.hasNext === false && result.parts === 2);
const legacy = { data: undefined, errors: [], hasNext: false, parts: 0, pending: new Map() };
merge(legacy, { data: { a: { b: 1 } }, hasNext: true });
merge(legacy, { incremental: [{ path: ["a"], data: { c: 2 }, errors: [{ message: "x" }] }],
                hasNext: false });
check("a path given with the data (the 2022 format) works too",
      same(legacy.data, { a: { b: 1, c: 2 } }) && legacy.errors.length === 1);

// TensorBoard's debiased EMA: the first value is itself; a gap stays a gap.
const smoothed = smooth([1, 2, null, 4], 0.5);
check("first smoothed value is the value", smoothed[0] === 1);
check("second is debiased", Math.abs(smoothed[1] - (0.25 + 1) / 0.75) < 1e-12);
check("a missing value stays missing", smoothed[2] === null);
check("after a gap the average goes on",
      Math.abs(smoothed[3] - ((0.25 + 1) * 0.5 + 2) / 0.875) < 1e-12);
check("weight 0 is the values", same(smooth([3, 1], 0), [3, 1]));

// Live points go on from the gateway's average: from the count when the whole series came,
// or from two consecutive points of it; either way the average over the whole.
const series = Array.from({ length: 400 }, (_, i) => Math.cos(i / 9) + i / 200);
for (const weight of [0.6, 0.95, 0.99]) {
  const whole = smooth(series, weight);
  const near = (a, b) => a.every((v, i) => Math.abs(v - b[i]) < 1e-9);
  check(`the average goes on from the count (${weight})`, near(
    goOn(stateAfter(whole[299], 300, weight), series.slice(300), weight), whole.slice(300)));
  check(`the average goes on from two points (${weight})`, near(
    goOn(stateFrom(whole[298], whole[299], series[299], weight), series.slice(300), weight),
    whole.slice(300)));
  check(`a short series keeps its debiasing (${weight})`, near(
    goOn(stateFrom(whole[2], whole[3], series[3], weight), series.slice(4, 10), weight),
    whole.slice(4, 10)));
}
const drawn = line({ steps: [1, 2, 3], values: [1, 2, 3], smoothed: [1, 1.5, 2.2] }, 0.5);
check("the gateway's average is drawn as it came", same(smoothedOf(drawn, 0.5), [1, 1.5, 2.2]));
check("another weight: the page's preview", same(smoothedOf(drawn, 0.3), smooth([1, 2, 3], 0.3)));
drawn.steps.push(4);
drawn.values.push(5);
drawn.ema = { biased: 2.2 * (1 - 0.125), power: 0.125 };
check("a live point goes on from the gateway's average",
      Math.abs(smoothedOf(drawn, 0.5)[3] - (2.2 * 0.875 * 0.5 + 2.5) / (1 - 0.0625)) < 1e-12);

// A live line anchored again: the gateway's points from its second-to-last on replace what
// the line had there (a gap filled), the live points after them kept, the smoothing exact.
const full = Array.from({ length: 12 }, (_, i) => 1 / (i + 1));
const whole = smooth(full, 0.9);
const drawnLine = line({ steps: [0, 4, 8], values: [full[0], full[4], full[8]],
                         smoothed: [whole[0], whole[4], whole[8]] }, 0.9); // downsampled
extend(drawnLine, { steps: [11], values: [full[11]] }); // live, after a gap (9, 10)
check("anchored from the second-to-last point sent", anchorStep(drawnLine) === 4);
const tail = line({ steps: [4, 5, 6, 7, 8, 9, 10], values: full.slice(4, 11),
                    smoothed: whole.slice(4, 11) }, 0.9);
anchor(drawnLine, tail, 4);
check("the gap is filled, the live point kept",
      same(drawnLine.steps, [0, 4, 5, 6, 7, 8, 9, 10, 11]));
check("the live point's average is the whole series'",
      Math.abs(smoothedOf(drawnLine, 0.9)[8] - whole[11]) < 1e-12);

// A flat stretch says nothing of the debiasing: the count-based state is kept through an
// anchor (flat 10, then a jump), and two equal averages give no state rather than a guess.
const flat = [...Array(10).fill(0.5), 1, 1, 1];
const flatWhole = smooth(flat, 0.99);
check("two equal averages give no state", stateFrom(flatWhole[8], flatWhole[9], 0.5, 0.99) === null);
const flatLine = line({ steps: [...Array(10).keys()], values: flat.slice(0, 10),
                        smoothed: flatWhole.slice(0, 10) }, 0.99);
flatLine.ema = wholeState(flatLine);
// Anchored when nothing new was logged yet (the gateway's last two points, flat), then live.
anchor(flatLine, line({ steps: [8, 9], values: flat.slice(8, 10),
                        smoothed: flatWhole.slice(8, 10) }, 0.99), 8);
extend(flatLine, { steps: [10, 11, 12], values: [1, 1, 1] });
check("the exact state survives an anchor over a flat stretch",
      smoothedOf(flatLine, 0.99).every((v, i) => Math.abs(v - flatWhole[i]) < 1e-12));

// The live anchor's ranges: a new experiment's line (anchored at step 0) does not pull a
// 6,000-point line of the same metric back to step 0; a line with no anchor is asked whole on
// its own.
const anchors = { a: { loss: 5998, acc: 5998 }, b: { loss: 0, acc: 5990 }, c: { loss: null, acc: 5996 } };
const planned = ranges(["loss", "acc"], ["a", "b", "c"], (metric, key) => anchors[key][metric],
                       (step) => step, 500);
check("lines are asked from their own anchors",
      same(planned, [{ from: null, metrics: ["loss"], keys: ["c"] },
                     { from: 0, metrics: ["loss"], keys: ["b"] },
                     { from: 5998, metrics: ["loss"], keys: ["a"] },
                     { from: 5990, metrics: ["acc"], keys: ["b", "c", "a"] }]));
const far = ranges(["loss"], ["a", "b"], (m, key) => ({ a: 5998, b: 0 })[key], (s) => s, 500);
check("one far-back anchor makes no other line whole", far.every((r) => r.from !== 0
      || same(r.keys, ["b"])));
// A downsampled anchor (as many points as asked) derives no smoothing state from its last two.
const sampled = line({ steps: [0, 1, 2], values: [1, 2, 3], smoothed: [1, 1.5, 2] }, 0.5);
anchor(sampled, line({ steps: [1, 5, 9], values: [2, 4, 9], smoothed: [1.5, 3, 7] }, 0.5), 1,
       false, false);
check("a downsampled anchor guesses no state", sampled.ema === null);

// The table.
const rows = [
  { key: "a", name: "resnet-1", running: true, startTime: "2025-01-02T00:00:00Z",
    parameters: [{ name: "optimizer", valueCurrent: "adam" }, { name: "lr", valueCurrent: "0.1" }],
    metricsSummary: [{ name: "loss", valueCurrent: 0.5, valueMin: 0.2, valueMax: 2 },
                     { name: "lr", valueCurrent: 0.001, valueMin: 0, valueMax: 0.1 }] },
  { key: "b", name: "vit-2", running: false, startTime: "2025-01-03T00:00:00Z",
    parameters: [{ name: "optimizer", valueCurrent: "sgd" }, { name: "lr", valueCurrent: "0.01" }],
    metricsSummary: [{ name: "loss", valueCurrent: 0.3, valueMin: 0.3, valueMax: 1 }] },
  { key: "c", name: "vit-3", running: false, startTime: "2025-01-01T00:00:00Z",
    parameters: [{ name: "optimizer", valueCurrent: "adam" }], metricsSummary: [] },
].map(row);
const cols = columns(rows, "valueCurrent");
const keys = (text) => rows.filter(parseFilter(text, cols)).map((r) => r.key);
check("text anywhere", same(keys("vit"), ["b", "c"]));
check("column = value", same(keys("optimizer=adam"), ["a", "c"]));
check("numbers compare as numbers", same(keys("loss<0.4"), ["b"]));
check("a parameter before a metric of the same name", same(keys("lr>0.05"), ["a"]));
check("metric:name is the metric", same(keys("metric:lr>0.0005"), ["a"]));
check("terms combine", same(keys("optimizer=adam vit"), ["c"]));
check("!= keeps rows without the value", same(keys("loss!=0.5"), ["b", "c"]));
const sorted = (column, descending) => sortRows(rows, cols, { column, descending })
  .map((r) => r.key);
check("sort ascending, blanks last", same(sorted("metric:loss", false), ["b", "a", "c"]));
check("sort descending, blanks still last", same(sorted("metric:loss", true), ["a", "b", "c"]));
check("sort by time", same(sorted("started", true), ["b", "a", "c"]));
const minimum = columns(rows, "valueMin").find((c) => c.id === "metric:loss");
check("the summary picked is the one shown", minimum.value(rows[0]) === 0.2);

// Durations are shown in minutes: a filter's number is minutes (or has a unit), not ms.
const timed = [["short", 10 * 60000], ["hour", 45 * 60000], ["long", 2 * 3600000], ["none", null]]
  .map(([key, durationMillis]) => row({ key, durationMillis }));
const timedCols = columns(timed, "valueCurrent");
const lasting = (text) => timed.filter(parseFilter(text, timedCols)).map((r) => r.key);
check("duration>30 is thirty minutes", same(lasting("duration>30"), ["hour", "long"]));
check("duration<=10 keeps ten minutes", same(lasting("duration<=10"), ["short"]));
const odd = timed.map((r, i) => ({ ...r, durationMillis: [30.4, 30.6, 29.6, null][i] * 60000 }));
const oddCols = columns(odd, "valueCurrent");
check("minutes compare as shown (rounded)",
      same(odd.filter(parseFilter("duration=30", oddCols)).map((r) => r.key), ["short", "long"]));
const nonsense = parseFilter("duration>soon", timedCols);
check("a duration that does not parse is refused, not compared as text",
      same(timed.filter(nonsense).map((r) => r.key), ["short", "hour", "long", "none"])
      && nonsense.refused.length === 1 && nonsense.refused[0].startsWith("duration>soon"));
check("a duration with a unit", same(lasting("duration>1h"), ["long"])
      && same(lasting("duration<900s"), ["short"]) && same(lasting("duration>=45m"), ["hour", "long"]));

// Colours: distinct for any count, each experiment keeping its own.
const many = Array.from({ length: 300 }, (_, i) => colour(i));
check("colours are #rrggbb", many.every((c) => /^#[0-9a-f]{6}$/.test(c)));
check("300 experiments, 300 colours", new Set(many).size === 300);
const palette = new Palette();
const first = ["k0", "k1", "k2"].map((k) => palette.of(k));
Array.from({ length: 20 }, (_, i) => palette.of(`other${i}`));
check("an experiment keeps its colour", same(["k0", "k1", "k2"].map((k) => palette.of(k)), first));
// Distinct to the eye: CIE76 ΔE (sRGB → CIELAB, D65) of at least 10 between any two of the
// first 20 (the palette's nearest pair there is 14).
function lab(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  const f = (t) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const [fx, fy, fz] = [(0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
    0.2126 * r + 0.7152 * g + 0.0722 * b, (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883].map(f);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}
const labs = many.slice(0, 20).map(lab);
const nearest = Math.min(...labs.flatMap((a, i) => labs.slice(0, i).map(
  (b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]))));
check("the first 20 colours are at least ΔE 10 apart", nearest >= 10);
check("the first ten are the usual palette", colour(0) === "#1f77b4" && colour(9) === "#7f7f7f");

// Series requests sized to the gateway's bounds.
const bounds = { points: 10000, fullSeriesBytes: 1e6, answerBytes: 32e6, seriesPoints: 1e7,
                 answerValues: 1e6, chartExperiments: 500, chartMetrics: 50 };
const long = row({ key: "x", metricsSummary: [{ name: "loss", stepCurrent: 999 }] });
check("a length from the last step", lengthOf(long, "loss") === 1000);
check("an unknown length is the longest", lengthOf(undefined, "loss") === 15000);
check("a metric not logged has none", lengthOf(long, "acc") === 0);
const cut = groups(["a", "b", "c", "d", "e"], ["loss"], 500, 2, () => 5000, bounds);
check("groups within half the full-series bytes", same(cut, [["a"], ["b"], ["c"], ["d"], ["e"]]));
check("short series go together",
      same(groups(["a", "b", "c"], ["loss"], 500, 2, () => 100, bounds), [["a", "b", "c"]]));
check("fewer points for many series", pointsPerSeries(2800, 100, 10, 2, bounds) === 1000
      && pointsPerSeries(2800, 4, 3, 2, bounds) === 2800);
const refused = refusal({ data: { project: { metricChart: null } }, errors: [
  { message: "too much", path: ["project", "metricChart"],
    extensions: { code: "QUERY_TOO_COMPLEX" } }] });
check("a refused chart may fit smaller", refused.smaller && refused.missing
      && refused.message === "too much");
check("a chart answered is no refusal",
      refusal({ data: { project: { metricChart: [] } }, errors: [] }) === null);

const refusedFor = (code, message) => refusal({ data: { project: { metricChart: null } },
  errors: [{ message, path: ["project", "metricChart"], extensions: { code } }] }).smaller;
check("only a refusal for size is asked again smaller",
      !refusedFor("UPSTREAM_BAD_RESPONSE", "bad answer")
      && !refusedFor("QUERY_TOO_COMPLEX", "experiments/multi-metric-chart: the operation's deadline passed")
      && !refusedFor("BAD_USER_INPUT", "a chart takes at most 500 experiments"));
const six = Array.from({ length: 601 }, (_, i) => `k${i}`);
check("no group past what one chart takes", same(
  groups(six, ["loss"], 50, 2, () => 10, bounds).map((g) => g.length), [500, 101]));

// The table's pages, sized to the answer's bounds by the rows' columns.
const wide = row({ key: "w", parameters: Array.from({ length: 30 }, (_, i) => ({ name: `p${i}` })),
                   metricsSummary: Array.from({ length: 20 }, (_, i) => ({ name: `m${i}` })) });
const answers = { answerObjects: 25000, answerFields: 100000 };
check("pages of wide rows are smaller", pageSize([wide], answers) === 238
      && pageSize([rows[2]], answers) === 500 && pageSize([], { answerObjects: 2, answerFields: 2 }) === 1);
check("RATE_LIMITED says how long to wait",
      rateLimited({ errors: [{ message: "x", extensions: { code: "RATE_LIMITED", retryAfter: 3 } }] }) === 3
      && rateLimited({ errors: [{ message: "x", extensions: { code: "RATE_LIMITED" } }] }) === 1
      && rateLimited({ errors: [] }) === null);
let asked = 0;
const waited = [];
const last = await retrying(async () => {
  asked += 1;
  return { errors: asked < 3 ? [{ message: "x", extensions: { code: "RATE_LIMITED", retryAfter: 2 } }] : [] };
}, async (seconds) => { waited.push(seconds); });
check("a rate-limited page is asked again after the wait",
      asked === 3 && same(waited, [2, 2]) && last.errors.length === 0);

// A key whose budget stays spent (an hour, says the gateway, for the first 20 answers): 8
// waits at most, of a minute at most each, then the last answer is the page's to say.
let tries = 0;
const waits = [];
const given = await retrying(async () => {
  tries += 1;
  return { errors: tries <= 20 ? [{ message: "x", extensions: { code: "RATE_LIMITED", retryAfter: 3600 } }] : [] };
}, async (seconds) => { waits.push(seconds); });
check("rate-limited answers are waited out 8 times at most, a minute at most each",
      tries === 9 && same(waits, Array(8).fill(60)) && given.errors.length === 1);

// A flapping websocket: reconnects while an anchor is asked start no second one; one more
// runs after it, from the latest reconnect's baseline.
let inFlight = 0;
let most = 0;
const ran = [];
const release = [];
const anchorFrom = oneAtATime(async (since) => {
  inFlight += 1;
  most = Math.max(most, inFlight);
  ran.push(since);
  await new Promise((resolve) => release.push(resolve));
  inFlight -= 1;
});
anchorFrom(1);
anchorFrom(2);
anchorFrom(3);
anchorFrom(4);
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
await settle();
release.shift()();
await settle();
await settle();
check("a flapping websocket anchors one at a time",
      most === 1 && same(ran, [1, 4]) && release.length === 1);
release.shift()();
await settle();
check("and no more once it is done", same(ran, [1, 4]) && inFlight === 0);

// A page refused for size past its 3rd row (the gateway's error at edges index 3, as at
// max_answer_objects=2,000 for 500 rows of scale 6, s7): its 3 whole rows kept, the next page
// from after the 3rd, no larger.
const edge = (i) => ({ cursor: `c${i}`, node: { key: `r${i}`, name: `r${i}`, parameters: [],
                                              metricsSummary: [] } });
const pageOf = (from, n, total, errorAt = null) => ({
  data: { project: { experiments: {
    totalCount: total, pageInfo: { hasNextPage: from + n < total, endCursor: `c${from + n - 1}` },
    edges: Array.from({ length: n }, (_, i) => edge(from + i)) } } },
  errors: errorAt == null ? [] : [{ message: "too many objects", extensions: { code: "QUERY_TOO_COMPLEX" },
                                    path: ["project", "experiments", "edges", errorAt, "node", "parameters"] }] });
const asks = [];
const tablePage = {
  state: { rows: [row(edge(0).node)], total: 9, tableOf: "v", tableRequest: null },
  bounds: { tableRows: 1000, answerObjects: 8, answerFields: 1e6 },
  askRows: async (where, { first, after }) => {
    asks.push([where.project, first, after]);
    const from = after == null ? 0 : Number(after.slice(1)) + 1;
    const n = Math.min(first, 9 - from);
    return pageOf(from, n, 9, asks.length === 1 ? 3 : null); // the first page cut at its 4th row
  },
  note: () => {}, problem: (which, text) => { throw new Error(text); }, rowsRead: () => {}, rowsDone: () => {},
};
await loadRows(tablePage, "v", { workspace: "w", project: "p" },
               { pageInfo: { hasNextPage: true, endCursor: "c0" } }, false);
check("a page refused for size keeps its whole rows and goes on after them",
      same(tablePage.state.rows.map((r) => r.key), ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"])
      && same(asks[0], ["p", 4, "c0"]) && same(asks[1], ["p", 3, "c3"]));

// The slider released while a live line's anchor is asked at the old weight: the anchor's
// answer (the old weight's average) is not taken as the new weight's; it is asked again at
// the new one, and the line is the gateway's average at the new weight, every step kept.
{
  const ALL = Array.from({ length: 30 }, (_, i) => Math.sin(i / 3) + i / 10);
  const [w0, w1] = [0.5, 0.8];
  const seriesOf = (n, vars) => {
    const values = ALL.slice(0, n);
    const averaged = vars.smoothing ? smooth(values, vars.smoothing) : null;
    const at = [...values.keys()].filter((i) => vars.stepMin == null || i >= vars.stepMin);
    return { metricName: "m", steps: at,
             values: vars.values === false ? undefined : at.map((i) => values[i]),
             smoothed: averaged ? at.map((i) => averaged[i]) : null };
  };
  const drawn = line(seriesOf(20, { smoothing: w0 }), w0);
  drawn.ema = wholeState(drawn);
  const state = { series: new Map([["m", new Map([["k", drawn]])]]), failed: new Map(),
    chosen: ["k"], metrics: ["m"], points: 1000, interval: 1, smoothing: w0,
    rows: [{ key: "k", running: true, metrics: { m: { stepCurrent: 19 } } }],
    request: new AbortController(), liveUpdates: 0 };
  let handlers;
  state.live = { follow: (query, variables, on) => { handlers = on; }, unfollow() {} };
  const held = [];
  const anchorsAsked = [];
  const racePage = { state, weight: () => (state.smoothing > 0 ? state.smoothing : null),
    bounds: { runningCacheSeconds: 0, chartExperiments: 500, fullSeriesBytes: 1e9,
              answerBytes: 1e9, seriesPoints: 1e9, answerValues: 1e9 },
    lists: () => 3, plan: (keys) => [keys], draw() {}, note() {}, liveNote() {}, count() {},
    problem() {},
    ask: (where, vars) => {
      const answer = { data: { project: { metricChart: [
        { experimentKey: "k", metrics: [seriesOf(30, vars)] }] } }, errors: [] };
      if (vars.stepMin == null) return Promise.resolve(answer); // the release's
      anchorsAsked.push(vars.smoothing);
      // The first anchor answers only once the slider is released.
      return anchorsAsked.length > 1 ? Promise.resolve(answer)
        : new Promise((resolve) => held.push(() => resolve(answer)));
    } };
  follow(racePage, { workspace: "w", project: "p" });
  handlers.onUpdate({ metricName: "m", experimentKey: "k", steps: [28, 29],
                      values: [ALL[28], ALL[29]] });
  while (!held.length) await new Promise((resolve) => setTimeout(resolve, 20));
  state.smoothing = w1; // released
  await loadSmoothed(racePage, { workspace: "w", project: "p" }, new AbortController());
  held.shift()();
  for (let i = 0; i < 50 && anchorsAsked.length < 2; i++) await settle();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const target = state.series.get("m").get("k");
  const truth = smooth(ALL, w1);
  const worst = Math.max(...smoothedOf(target, w1).map((v, i) => Math.abs(v - truth[i])));
  check("an anchor asked at the old weight is asked again at the new one",
        same(anchorsAsked, [w0, w1]));
  check("and the line is the new weight's average, every step kept",
        target.weight === w1 && worst < 1e-9 && same(target.steps, [...ALL.keys()]));
  state.stopAnchoring();
}

// The slider released while a running experiment's series has grown since it was read (its
// live points after the gateway's): the release's answer (values too) replaces the line's
// points the gateway sent, aligned step by step, the live points after its last kept.
{
  const ALL = Array.from({ length: 40 }, (_, i) => Math.cos(i / 4) + i / 20);
  const answerOf = (n, weight) => {
    const averaged = smooth(ALL.slice(0, n), weight);
    return { metricName: "m", steps: [...Array(n).keys()], values: ALL.slice(0, n),
             smoothed: averaged };
  };
  const [w0, w1] = [0.3, 0.7];
  const running = line(answerOf(20, w0), w0); // read at 20 points, then 5 live ones
  running.ema = wholeState(running);
  running.steps.push(20, 21, 22, 23, 24);
  running.values.push(...ALL.slice(20, 25));
  const state = { series: new Map([["m", new Map([["k", running]])]]), failed: new Map(),
    chosen: ["k"], metrics: ["m"], points: 1000, smoothing: w1,
    rows: [{ key: "k", running: true }] };
  const releasePage = { state, weight: () => state.smoothing, plan: (keys) => [keys],
    draw() {}, note() {},
    // 30 logged by the time the release is answered (more than the live line holds).
    ask: async (where, vars) => ({ errors: [], data: { project: { metricChart: [
      { experimentKey: "k", metrics: [answerOf(30, vars.smoothing)] }] } } }) };
  await loadSmoothed(releasePage, { workspace: "w", project: "p" }, new AbortController());
  const released = state.series.get("m").get("k");
  const direct = answerOf(30, w1);
  check("a release over a grown running series takes its points, step by step",
        same(released.steps, direct.steps) && same(released.values, direct.values)
        && same(smoothedOf(released, w1), direct.smoothed) && released.weight === w1);
}

// A websocket that flaps while the live lines' anchor is asked: two reconnects meanwhile make
// one request in flight at a time (follow's oneAtATime), and one more after it.
{
  const state = { series: new Map([["m", new Map([["k", line({ steps: [0, 1], values: [1, 2] })]])]]),
    failed: new Map(), chosen: ["k"], metrics: ["m"], points: 1000, interval: 0, smoothing: 0,
    rows: [{ key: "k", running: true, metrics: { m: { stepCurrent: 1 } } }],
    request: new AbortController(), liveUpdates: 0 };
  let handlers;
  state.live = { follow: (query, variables, on) => { handlers = on; }, unfollow() {} };
  let inFlight = 0;
  let most = 0;
  let asks = 0;
  const held = [];
  const flapPage = { state, weight: () => null, lists: () => 2, draw() {}, note() {},
    liveNote() {}, count() {}, problem() {},
    bounds: { runningCacheSeconds: 0, chartExperiments: 500, fullSeriesBytes: 1e9,
              answerBytes: 1e9, seriesPoints: 1e9, answerValues: 1e9 },
    ask: async () => {
      asks += 1;
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => held.push(resolve));
      inFlight -= 1;
      return { errors: [], data: { project: { metricChart: [] } } };
    } };
  follow(flapPage, { workspace: "w", project: "p" });
  state.stopAnchoring(); // the first anchor's timer: only the reconnects' here
  handlers.onReconnect();
  handlers.onReconnect();
  while (!held.length) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 1300)); // both reconnects' waits past
  const whileHeld = [asks, most];
  held.shift()();
  while (asks < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  held.shift()();
  await settle();
  check("reconnects while an anchor is asked keep one request in flight",
        same(whileHeld, [1, 1]) && most === 1 && asks === 2);
}

// A page refused for size: its whole rows end before the first row with a list left null,
// an earlier one than the error's (the gateway nulls what it completes after the bound).
{
  const read = { edges: [0, 1, 2, 3, 4].map((i) => ({ cursor: `c${i}`, node: {
    key: `r${i}`, parameters: [], metricsSummary: i === 1 ? null : [] } })) };
  const cutAt = (path) => ({ errors: [{ message: "too many objects", path,
                                        extensions: { code: "QUERY_TOO_COMPLEX" } }] });
  check("rows are whole up to the first null list before the error's",
        wholeRows(cutAt(["project", "experiments", "edges", 3, "node", "parameters"]), read) === 1
        && wholeRows(cutAt(["project", "experiments", "edges", 0, "node", "parameters"]), read) === 0);
}

// An experiment started between two pages: offset cursors give the first page's last row
// again at the top of the next; it is held once.
{
  const shifted = { state: { rows: [0, 1, 2].map((i) => row(edge(i).node)), total: 5,
                             tableOf: "v", tableRequest: null },
                    bounds: { tableRows: 1000, answerObjects: 1e6, answerFields: 1e6 },
                    askRows: async () => pageOf(2, 3, 5), note: () => {},
                    problem: (which, text) => { throw new Error(text); }, rowsRead: () => {},
                    rowsDone: () => {} };
  await loadRows(shifted, "v", { workspace: "w", project: "p" },
                 { pageInfo: { hasNextPage: true, endCursor: "c2" } }, false);
  check("a row read again on the next page is held once",
        same(shifted.state.rows.map((r) => r.key), ["r0", "r1", "r2", "r3", "r4"]));
}

// Keys pressed on the slider while a view loads ask the view again through the page's
// debounced reload, not a view load each (five presses made six view requests).
{
  globalThis.document = { body: { dataset: { view: "loading" } } };
  const { smoothingChosen } = await import("../../web/dashboard/src/slider.js");
  let reloads = 0;
  const sliding = { state: { smoothing: 0 }, showSmoothing: () => {}, remember: () => {},
                    draw: () => {}, reload: () => { reloads += 1; },
                    ask: () => { throw new Error("a view asked at once"); },
                    run: () => { throw new Error("a view asked at once"); } };
  let direct = false;
  for (const value of [0.1, 0.2, 0.3, 0.4, 0.5]) {
    try { smoothingChosen(sliding, value); } catch { direct = true; }
  }
  delete globalThis.document;
  check("the slider pressed while a view loads asks it again through reload",
        reloads === 5 && !direct && sliding.state.smoothing === 0.5);
}

console.log(JSON.stringify({ failed, checks: "done" }));
