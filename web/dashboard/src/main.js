// The gateway's dashboard (/dashboard): pick a workspace and a project, read the experiments'
// table, chart metrics of the chosen experiments, follow the running ones live. Every request
// goes to the gateway that served the page: the GraphQL documents below are the files in
// ../queries/, which the Python test suite runs against the gateway too.
import "uplot/dist/uPlot.min.css";
import "./dashboard.css";
import LIVE from "../queries/live.graphql";
import PROJECT from "../queries/project.graphql";
import PROJECTS from "../queries/projects.graphql";
import WORKSPACES from "../queries/workspaces.graphql";
import { Chart, anchor, anchorStep, extend, line } from "./charts.js";
import { stateAfter } from "./smooth.js";
import { Palette } from "./colours.js";
import { groups, lengthOf, pointsPerSeries, refusal } from "./plan.js";
import { debounce, h, replace } from "./dom.js";
import { execute, Unauthenticated } from "./graphql.js";
import * as apiKey from "./key.js";
import { Live } from "./live.js";
import { SUMMARIES, columns, drawTable, parseFilter, row, sortRows } from "./table.js";

const config = JSON.parse(document.getElementById("dashboard-config").textContent);
// What one GraphQL operation may read and answer (the gateway's settings, see plan.js).
const BOUNDS = { points: 10000, fullSeriesBytes: 16 * 2 ** 20, answerBytes: 32 * 2 ** 20,
                 seriesPoints: 1e7, answerValues: 1e6, runningCacheSeconds: 5, ...config.bounds };
const FIRST_CHOSEN = 5; // experiments charted when a project opens
const PAGE = 500; // experiments per request for the table (the gateway's largest page)
const MAX_PAGES = 20; // the table's rows, at most: sort and filter cover every row loaded

const hash = new URLSearchParams(location.hash.slice(1));
const state = {
  key: null,
  workspace: hash.get("workspace"),
  project: hash.get("project"),
  rows: [],
  total: 0,
  // A link names the experiments charted (none: the newest few, once the table is known).
  chosen: hash.has("experiments") ? hash.get("experiments").split(",").filter(Boolean) : null,
  metrics: (hash.get("metrics") || "").split(",").filter(Boolean),
  smoothing: Math.min(0.99, Math.max(0, Number(hash.get("smoothing")) || 0)),
  interval: Math.max(1, Number(hash.get("interval")) || 5),
  summary: "valueCurrent",
  sort: { column: "started", descending: true },
  series: new Map(), // metric name -> experiment key -> {steps, values}
  failed: new Map(), // experiment key -> why the gateway sent none of its series
  charts: new Map(), // metric name -> Chart
  request: null, // the AbortController of the view's query
  live: null,
  liveUpdates: 0,
  palette: new Palette(), // experiment key -> its colour, for as long as the page is open
};

// --- the page's frame ---------------------------------------------------------------------
const ui = {
  workspace: h("select", { id: "workspace", "aria-label": "workspace", disabled: true,
                           onchange: (e) => pickWorkspace(e.target.value) }),
  project: h("select", { id: "project", "aria-label": "project", disabled: true,
                         onchange: (e) => pickProject(e.target.value) }),
  status: h("span", { id: "status", role: "status" }),
  keyForm: h("form", { id: "key-form", hidden: true, onsubmit: submitKey }),
  keyInput: h("input", { id: "api-key", type: "password", autocomplete: "off",
                         placeholder: "your Comet API key", required: true }),
  filter: h("input", { id: "filter", type: "search", placeholder:
    "filter: text, or column<value (loss<0.5 optimizer=adam duration>30)", oninput: debounce(drawRows, 120) }),
  summary: h("select", { id: "summary", "aria-label": "metric summary",
                         onchange: (e) => { state.summary = e.target.value; drawRows(); } },
    Object.entries(SUMMARIES).map(([v, label]) => h("option", { value: v }, `metrics: ${label}`))),
  count: h("span", { id: "count" }),
  table: h("table", { id: "experiments" }),
  metrics: h("fieldset", { id: "metrics" }),
  smoothing: h("input", { id: "smoothing", type: "range", min: "0", max: "0.99", step: "0.01",
                          value: String(state.smoothing), "aria-label": "smoothing",
                          oninput: (e) => setSmoothing(Number(e.target.value)) }),
  smoothingValue: h("output", { id: "smoothing-value" }, state.smoothing.toFixed(2)),
  live: h("span", { id: "live" }),
  charts: h("div", { id: "charts", dataset: { experiments: "0", liveUpdates: "0" } }),
  hint: h("p", { id: "hint" }),
};
append(ui.keyForm, [
  h("label", { for: "api-key" }, "Comet API key"), ui.keyInput,
  h("button", { type: "submit" }, "Use"),
  h("p", { className: "note" }, "Kept in this tab's sessionStorage only, until the tab closes; "
    + "sent to this gateway in the Authorization header, never in a URL."),
]);
replace(document.getElementById("dashboard"),
  h("header", {},
    h("h1", {}, "Comet dashboard"),
    h("label", {}, "workspace ", ui.workspace),
    h("label", {}, "project ", ui.project),
    ui.status,
    h("button", { id: "forget", type: "button", onclick: () => { apiKey.forget(); ask(""); } },
      "forget key")),
  ui.keyForm,
  h("main", {},
    h("section", { id: "table-view" },
      h("div", { className: "toolbar" }, ui.filter, ui.summary, ui.count),
      h("div", { className: "scroller" }, ui.table)),
    h("section", { id: "chart-view" },
      h("div", { className: "toolbar" }, ui.metrics,
        h("label", { className: "smoothing" }, "smoothing ", ui.smoothing, ui.smoothingValue),
        ui.live),
      ui.hint, ui.charts)));

function append(node, children) {
  for (const child of children) node.append(child);
}

function say(text, kind = "info") {
  ui.status.textContent = text;
  ui.status.className = kind;
}

function mark(name, value) {
  document.body.dataset[name] = value;
}

// --- the key --------------------------------------------------------------------------------
function ask(why) {
  state.key = null;
  if (state.live) state.live.close();
  state.live = null;
  ui.keyForm.hidden = false;
  say(why || "Give a Comet API key to read your workspaces.", why ? "error" : "info");
  mark("view", "key");
  ui.keyInput.focus();
}

function submitKey(event) {
  event.preventDefault();
  const key = ui.keyInput.value.trim();
  if (!key) return;
  apiKey.keep(key);
  ui.keyInput.value = "";
  ui.keyForm.hidden = true;
  start();
}

async function run(query, variables, options) {
  try {
    return await execute(config.url, state.key, query, variables, options);
  } catch (error) {
    if (error instanceof Unauthenticated) {
      apiKey.forget();
      ask(`The gateway did not accept this key (${error.message}).`);
    }
    throw error;
  }
}

function errorsOf(result) {
  return result.errors.map((e) => e.message).join("; ");
}

// --- workspaces and projects ------------------------------------------------------------------
async function start() {
  if (config.apiKey && !apiKey.stored()) apiKey.keep(config.apiKey); // the demo's own key
  state.key = apiKey.stored();
  if (!state.key) return ask("");
  if (state.live) state.live.close();
  state.live = new Live(config.url, state.key);
  say("Loading workspaces…");
  const result = await run(WORKSPACES, {});
  const names = (result.data && result.data.workspaces || []).map((w) => w.name);
  if (!names.length) return say(`No workspace to read. ${errorsOf(result)}`, "error");
  const viewer = result.data.viewer || {};
  replace(ui.workspace, h("option", { value: "", disabled: true }, "pick a workspace"),
    names.map((n) => h("option", { value: n }, n)));
  ui.workspace.disabled = false;
  const first = names.includes(state.workspace) ? state.workspace
    : (viewer.defaultWorkspace && names.includes(viewer.defaultWorkspace.name)
      ? viewer.defaultWorkspace.name : names[0]);
  say(viewer.userName ? `Signed in as ${viewer.userName}.` : "");
  await pickWorkspace(first, state.project);
}

async function pickWorkspace(name, project = null) {
  ui.workspace.value = name;
  state.workspace = name;
  state.project = null;
  ui.project.disabled = true;
  remember();
  const result = await run(PROJECTS, { workspace: name });
  if (state.workspace !== name) return; // picked another meanwhile
  const edges = result.data && result.data.workspace && result.data.workspace.projects
    ? result.data.workspace.projects.edges : [];
  replace(ui.project, h("option", { value: "", disabled: true }, "pick a project"),
    edges.map(({ node }) => h("option", { value: node.name },
      `${node.name} (${node.numberOfExperiments ?? "?"})`)));
  ui.project.value = "";
  ui.project.disabled = false;
  if (result.errors.length) say(errorsOf(result), "error");
  mark("view", "workspace");
  if (project && edges.some(({ node }) => node.name === project)) await pickProject(project);
}

async function pickProject(name) {
  ui.project.value = name;
  const fresh = name !== state.project;
  state.project = name;
  if (fresh) {
    if (state.rows.length) state.chosen = null; // another project: its newest, as it opens
    state.rows = [];
    state.series.clear();
  }
  remember();
  await loadView();
}

// --- the project view: one query, the series deferred -----------------------------------
function chartWidth() {
  const width = ui.charts.clientWidth || document.documentElement.clientWidth - 32;
  const columns = width >= 1100 ? 2 : 1;
  ui.charts.classList.toggle("two", columns === 2);
  return Math.max(200, Math.floor((width - (columns - 1) * 16) / columns));
}

function pointsFor(width) {
  return Math.round(width * Math.min(window.devicePixelRatio || 1, 2));
}

function listsAsked() {
  return state.smoothing > 0 ? 3 : 2; // steps, values and the gateway's smoothed values
}

function smoothingAsked() {
  return state.smoothing > 0 ? state.smoothing : null;
}

// The experiments `keys` in groups of one request each (see plan.js), by what the table says.
function plan(keys) {
  const rows = new Map(state.rows.map((r) => [r.key, r]));
  return groups(keys, state.metrics, state.points, listsAsked(),
                (key, metric) => lengthOf(rows.get(key), metric), BOUNDS);
}

async function loadView() {
  if (!state.project || !state.key) return;
  if (state.request) state.request.abort();
  const request = new AbortController();
  state.request = request;
  if (state.live) state.live.unfollow();
  if (state.stopAnchoring) state.stopAnchoring();
  const chosen = state.chosen || [];
  const charts = state.metrics.length > 0 && chosen.length > 0;
  state.width = chartWidth();
  state.points = pointsPerSeries(pointsFor(state.width), chosen.length, state.metrics.length,
                                 listsAsked(), BOUNDS);
  // The view's request carries the first group's series; the others follow, one by one.
  const first = charts ? plan(chosen)[0] : [];
  const variables = {
    workspace: state.workspace, project: state.project, first: PAGE,
    metrics: state.metrics, experimentKeys: first, points: state.points, charts,
    smoothing: smoothingAsked(),
  };
  mark("view", "loading");
  say("Loading the experiments…");
  const started = performance.now();
  let tableDrawn = false;
  let result;
  try {
    result = await run(PROJECT, variables, {
      signal: request.signal,
      onResult: (partial) => {
        if (request.signal.aborted || !partial.data) return;
        if (!tableDrawn) {
          tableDrawn = true;
          takeTable(partial.data.project);
          mark("tableMs", String(Math.round(performance.now() - started)));
          mark("view", partial.hasNext ? "table" : "ready");
          if (partial.hasNext) say("Loading the series…");
        }
      },
    });
  } catch (error) {
    if (error.name === "AbortError" || request.signal.aborted) return;
    if (!(error instanceof Unauthenticated)) say(String(error.message || error), "error");
    mark("view", "error");
    return;
  }
  if (request.signal.aborted) return;
  mark("parts", String(result.parts));
  mark("seriesMs", String(Math.round(performance.now() - started)));
  if (!result.data || !result.data.project) {
    say(result.errors.length ? errorsOf(result) : "No such project.", "error");
    mark("view", "error");
    return;
  }
  say(result.errors.length ? errorsOf(result) : "", result.errors.length ? "error" : "info");
  if (!charts && state.metrics.length && (state.chosen || []).length) {
    // A link without experiments: the newest, known now that the table is.
    await loadView();
    return;
  }
  if (charts) {
    state.series = new Map();
    state.failed = new Map();
    const queue = [];
    takeGroup(first, result, queue);
    queue.push(...plan(chosen.filter((k) => !first.includes(k)))); // the table known now
    drawCharts();
    await loadGroups(request, queue, variables);
    if (request.signal.aborted) return;
  }
  drawCharts();
  await loadRows(request, result.data.project.experiments, variables);
  if (request.signal.aborted) return;
  mark("view", "ready");
  follow();
}

const reloadView = debounce(loadView, 250);

function takeTable(project) {
  if (!project) return;
  const connection = project.experiments || { edges: [], totalCount: 0 };
  state.rows = connection.edges.map(({ node }) => row(node));
  state.total = connection.totalCount;
  if (state.chosen === null) state.chosen = state.rows.slice(0, FIRST_CHOSEN).map((r) => r.key);
  takeMetricNames();
  remember();
}

function takeMetricNames() {
  const names = new Set(state.rows.flatMap((r) => Object.keys(r.metrics)));
  state.metrics = state.metrics.filter((m) => names.has(m));
  drawMetricPicker([...names].sort());
  drawRows();
}

// The rest of the table, a page at a time after the view's first answer: sorting and
// filtering cover the whole project, not its first page.
async function loadRows(request, connection, variables) {
  let page = connection;
  for (let pages = 1; page && page.pageInfo.hasNextPage && pages < MAX_PAGES; pages += 1) {
    say(`Loading the experiments… ${state.rows.length} of ${state.total}`);
    const result = await run(PROJECT, { ...variables, after: page.pageInfo.endCursor,
                                        charts: false }, { signal: request.signal });
    if (request.signal.aborted) return;
    page = result.data && result.data.project && result.data.project.experiments;
    if (!page) {
      say(errorsOf(result) || "The rest of the experiments could not be read.", "error");
      return;
    }
    state.rows.push(...page.edges.map(({ node }) => row(node)));
    takeMetricNames();
  }
  say("");
}

// One group's answer: its series, or the group cut in two at the front of `queue` when the
// gateway found it too large, or (one experiment, or another error) why it is not drawn.
function takeGroup(keys, result, queue) {
  const refused = refusal(result);
  if (refused && refused.missing) {
    if (refused.smaller && keys.length > 1) {
      const half = Math.ceil(keys.length / 2);
      queue.unshift(keys.slice(0, half), keys.slice(half));
    } else {
      for (const key of keys) state.failed.set(key, refused.message);
    }
    return;
  }
  takeSeries(result.data.project, smoothingAsked());
}

async function loadGroups(request, queue, variables) {
  for (let asked = 1; queue.length; asked += 1) {
    const keys = queue.shift();
    say(`Loading the series… (request ${asked + 1})`);
    const result = await run(PROJECT, { ...variables, table: false, charts: true,
                                        experimentKeys: keys }, { signal: request.signal });
    if (request.signal.aborted) return;
    takeGroup(keys, result, queue);
    drawCharts();
  }
  say(state.failed.size ? `${state.failed.size} experiment(s) not charted: see the charts.`
    : "", state.failed.size ? "error" : "info");
}

function takeSeries(project, weight) {
  for (const entry of (project && project.metricChart) || []) {
    for (const series of entry.metrics) {
      if (!state.series.has(series.metricName)) state.series.set(series.metricName, new Map());
      const drawn = line(series, weight);
      if (drawn.smoothed && drawn.steps.length < state.points) { // the whole series: exact
        const finite = drawn.values.filter((v) => v != null && Number.isFinite(v));
        const last = drawn.smoothed.findLast((v) => v != null);
        if (last != null) drawn.ema = stateAfter(last, finite.length, weight);
      }
      state.series.get(series.metricName).set(entry.experimentKey, drawn);
    }
  }
}

// --- the table ------------------------------------------------------------------------------
function colourOf(key) {
  return state.palette.of(key);
}

function drawRows() {
  const cols = columns(state.rows, state.summary);
  const keep = parseFilter(ui.filter.value, cols);
  const shown = sortRows(state.rows.filter(keep), cols, state.sort);
  drawTable(ui.table, shown, cols, {
    filter: ui.filter.value, sort: state.sort, chosen: new Set(state.chosen), colour: colourOf,
    onSort: (column) => {
      state.sort = { column, descending: state.sort.column === column && !state.sort.descending };
      drawRows();
    },
    onChoose: (key, on) => {
      state.chosen = on ? [...state.chosen, key] : state.chosen.filter((k) => k !== key);
      remember();
      drawRows();
      reloadView();
    },
  });
  ui.count.textContent = `${shown.length} shown of ${state.rows.length}`
    + (state.rows.length < state.total ? ` (${state.total} in the project)` : "")
    + ` · ${state.chosen.length} charted`;
  ui.charts.dataset.experiments = String(state.chosen.length);
}

function drawMetricPicker(names) {
  replace(ui.metrics, h("legend", {}, "metrics"), names.map((name) => h("label", {},
    h("input", { type: "checkbox", value: name, checked: state.metrics.includes(name),
                 onchange: (e) => pickMetric(name, e.target.checked) }), name)));
}

function pickMetric(name, on) {
  state.metrics = on ? [...state.metrics, name] : state.metrics.filter((m) => m !== name);
  remember();
  reloadView();
}

// --- the charts -----------------------------------------------------------------------------
function drawCharts() {
  for (const [metric, chart] of state.charts) {
    if (!state.metrics.includes(metric)) {
      chart.destroy();
      state.charts.delete(metric);
    }
  }
  ui.hint.textContent = !state.metrics.length ? "Pick metrics to chart them."
    : !state.chosen.length ? "Tick experiments in the table to chart them." : "";
  if (!state.chosen.length) return;
  const names = new Map(state.rows.map((r) => [r.key, r.name]));
  for (const metric of state.metrics) {
    let chart = state.charts.get(metric);
    if (!chart) {
      chart = new Chart(metric);
      state.charts.set(metric, chart);
    }
    ui.charts.append(chart.node); // in the order the metrics were picked
    const series = state.series.get(metric) || new Map();
    const lines = state.chosen.filter((k) => series.has(k)).map((key) => ({
      key, name: names.get(key) || key, colour: colourOf(key), ...series.get(key) }));
    const failed = state.chosen.filter((k) => state.failed.has(k) && !series.has(k));
    chart.draw(lines, state.smoothing, state.width, failed.length
      ? `${failed.length} of ${state.chosen.length} experiments not drawn: `
        + `${[...new Set(failed.map((k) => state.failed.get(k)))].join("; ")}` : "");
    chart.node.dataset.requestedPoints = String(state.points);
  }
  // Whether every line draws the gateway's average (not the page's preview), for a test.
  const all = [...state.series.values()].flatMap((m) => [...m.values()]);
  mark("smoothed", state.smoothing > 0 && all.length
    && all.every((l) => l.weight === state.smoothing) ? "server" : "page");
}

// The page's preview at once, then the gateway's average over the whole series.
function setSmoothing(value) {
  state.smoothing = value;
  ui.smoothingValue.textContent = value.toFixed(2);
  remember();
  drawCharts();
  if (value > 0) smoothLater();
}

const smoothLater = debounce(() => loadSeries(), 400);

// The charts' series again (not the table), at the smoothing now chosen.
async function loadSeries() {
  const chosen = state.chosen || [];
  if (!state.project || !state.key || !chosen.length || !state.metrics.length) return;
  if (state.request) state.request.abort();
  const request = new AbortController();
  state.request = request;
  if (state.live) state.live.unfollow();
  if (state.stopAnchoring) state.stopAnchoring();
  mark("view", "loading");
  state.failed = new Map();
  const variables = { workspace: state.workspace, project: state.project, first: PAGE,
                      metrics: state.metrics, points: state.points, smoothing: smoothingAsked() };
  try {
    await loadGroups(request, plan(chosen), variables);
  } catch (error) {
    if (error.name === "AbortError" || request.signal.aborted) return;
    if (!(error instanceof Unauthenticated)) say(String(error.message || error), "error");
    mark("view", "error");
    return;
  }
  if (request.signal.aborted) return;
  drawCharts();
  mark("view", "ready");
  follow();
}

// --- live -----------------------------------------------------------------------------------
function follow() {
  const running = new Set(state.rows.filter((r) => r.running).map((r) => r.key));
  const keys = state.chosen.filter((k) => running.has(k));
  if (!keys.length || !state.metrics.length || !state.live) {
    ui.live.textContent = keys.length ? "" : "no running experiment charted";
    ui.live.className = "";
    return;
  }
  ui.live.textContent = `live: ${keys.length} running`;
  ui.live.className = "on";
  state.seriesAt = performance.now(); // when the series drawn were answered (at the latest)
  // The subscription's first poll sets where its values start, some time after the view's
  // answer: what is logged in between comes from the gateway once that poll is surely past
  // (the first value pushed says so; else a while after subscribing).
  const anchoring = { done: false, timer: 0 };
  const anchorOnce = () => {
    if (anchoring.done) return;
    anchoring.done = true;
    clearTimeout(anchoring.timer);
    anchorLines(keys);
  };
  anchoring.timer = setTimeout(anchorOnce, (2 * state.interval + 1) * 1000);
  state.stopAnchoring = () => { anchoring.done = true; clearTimeout(anchoring.timer); };
  state.live.follow(LIVE, { experimentKeys: keys, metrics: state.metrics,
                            intervalSeconds: state.interval }, {
    onUpdate: (update) => {
      anchorOnce();
      if (!state.series.has(update.metricName)) state.series.set(update.metricName, new Map());
      const series = state.series.get(update.metricName);
      if (!series.has(update.experimentKey)) { // its first value of this metric: a new line
        series.set(update.experimentKey, line({ steps: [], values: [] }));
      }
      if (!extend(series.get(update.experimentKey), update)) return;
      state.liveUpdates += 1;
      ui.charts.dataset.liveUpdates = String(state.liveUpdates);
      drawCharts();
    },
    onError: (message) => {
      ui.live.textContent = `live: ${message}`;
      ui.live.className = "error";
    },
  });
}

// The running experiments' lines from their last points the gateway sent on, in one request
// (a step range, not downsampled, smoothed as the view is).
async function anchorLines(keys) {
  const request = state.request;
  // An answer from after the view's cached one (a running experiment's series live that long
  // in the gateway's cache): else it could be the view's answer again, without the gap.
  const wait = state.seriesAt + BOUNDS.runningCacheSeconds * 1000 + 250 - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  if (request !== state.request) return;
  const lines = state.metrics.flatMap((m) => keys.map((k) => (state.series.get(m) || new Map())
    .get(k)));
  // The earliest of them (a line without two points the gateway sent comes from there too:
  // its first values are new, and the subscription sends them all).
  const froms = lines.map(anchorStep).filter((s) => s != null);
  const from = froms.length ? Math.min(...froms) : null;
  let result;
  try {
    result = await run(PROJECT, {
      workspace: state.workspace, project: state.project, first: PAGE, table: false,
      charts: true, metrics: state.metrics, experimentKeys: keys, points: BOUNDS.points,
      smoothing: smoothingAsked(), stepMin: from }, { signal: request && request.signal });
  } catch (error) {
    if (error.name !== "AbortError") ui.live.textContent = `live: ${error.message || error}`;
    return;
  }
  if (request !== state.request || (request && request.signal.aborted)) return;
  const chart = result.data && result.data.project && result.data.project.metricChart;
  if (!chart) {
    ui.live.textContent = `live: ${errorsOf(result) || "the lines could not be anchored"}`;
    return;
  }
  for (const entry of chart) {
    for (const series of entry.metrics) {
      if (!state.series.has(series.metricName)) state.series.set(series.metricName, new Map());
      const lines = state.series.get(series.metricName);
      const fresh = line(series, smoothingAsked());
      const target = lines.get(entry.experimentKey);
      const whole = from == null && fresh.steps.length < BOUNDS.points; // not downsampled
      lines.set(entry.experimentKey, target ? anchor(target, fresh, from, whole) : fresh);
    }
  }
  state.anchors = (state.anchors || 0) + 1;
  ui.charts.dataset.anchors = String(state.anchors);
  drawCharts();
}

// --- the URL's hash: the view (never the key) ------------------------------------------------
function remember() {
  const view = new URLSearchParams();
  if (state.workspace) view.set("workspace", state.workspace);
  if (state.project) view.set("project", state.project);
  if (state.metrics.length) view.set("metrics", state.metrics.join(","));
  if (state.chosen !== null) view.set("experiments", state.chosen.join(","));
  if (state.smoothing) view.set("smoothing", String(state.smoothing));
  if (state.interval !== 5) view.set("interval", String(state.interval));
  history.replaceState(null, "", `#${view}`);
}

let lastWidth = 0;
new ResizeObserver(debounce(() => {
  const width = chartWidth();
  if (!lastWidth) lastWidth = width;
  if (Math.abs(width - lastWidth) / lastWidth > 0.1 && state.metrics.length) {
    lastWidth = width;
    loadView(); // another resolution: the series again, at the new width
  }
}, 300)).observe(ui.charts);

start().catch((error) => {
  if (!(error instanceof Unauthenticated)) say(String(error.message || error), "error");
});
