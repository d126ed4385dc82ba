// The gateway's dashboard (/dashboard): pick a workspace and a project, read the experiments'
// table, chart metrics of the chosen experiments, follow the running ones live. Every request
// goes to the gateway that served the page: the GraphQL documents below are the files in
// ../queries/, which the Python test suite runs against the gateway too.
import "uplot/dist/uPlot.min.css";
import "./dashboard.css";
import PROJECTS from "../queries/projects.graphql";
import WORKSPACES from "../queries/workspaces.graphql";
import { Chart } from "./charts.js";
import { Palette } from "./colours.js";
import { append, debounce, h, replace } from "./dom.js";
import { execute, messagesOf, Unauthenticated } from "./graphql.js";
import { remember, viewOf } from "./hash.js";
import * as apiKey from "./key.js";
import { Live } from "./live.js";
import { coverage } from "./rows.js";
import { setSmoothing, smoothingChosen } from "./slider.js";
import { SUMMARIES, columns, drawTable, parseFilter, sortRows } from "./table.js";
import { askRows, askSeries, listsAsked, loadView, plan, projectId, smoothingAsked, stopView }
  from "./view.js";

const config = JSON.parse(document.getElementById("dashboard-config").textContent);
// What one GraphQL operation may read and answer, and the table's rows at most (the
// gateway's settings, see gateway/dashboard.py, plan.js and rows.js).
const BOUNDS = config.bounds;

const state = {
  key: null,
  ...viewOf(location.hash, BOUNDS), // the view a link names (hash.js)
  rows: [],
  total: 0,
  summary: "valueCurrent",
  sort: { column: "started", descending: true },
  series: new Map(), // metric name -> experiment key -> {steps, values}
  failed: new Map(), // experiment key -> why the gateway sent none of its series
  charts: new Map(), // metric name -> Chart
  request: null, // the AbortController of the view's series
  smoothingRequest: null, // of the gateway's average asked again (the slider released)
  tableRequest: null, // the table's, for as long as its rows are read
  tableOf: null, // the project (workspace and name) whose table is read
  tableLoading: false,
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
                          // The preview while it moves; the gateway asked once, on release.
                          oninput: (e) => setSmoothing(page, Number(e.target.value)),
                          onchange: (e) => smoothingChosen(page, Number(e.target.value)) }),
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

function say(text, kind = "info") {
  ui.status.textContent = text;
  ui.status.className = kind;
}

// What the view is doing and what went wrong, of the table and of the series apart, so that
// one's progress never wipes the other's error.
const notes = { table: "", series: "", tableError: "", seriesError: "" };

function note(which, text) {
  notes[which] = text;
  say(...shown());
}

function problem(which, text) {
  notes[`${which}Error`] = text;
  say(...shown());
}

function shown() {
  const errors = [notes.tableError, notes.seriesError].filter(Boolean);
  const doing = [notes.series, notes.table].filter(Boolean);
  return [[...errors, ...doing].join(" · "), errors.length ? "error" : "info"];
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
  if (!names.length) return say(`No workspace to read. ${messagesOf(result.errors)}`, "error");
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
  stopView(page); // nothing of the last workspace's view may go on: requests, table pages, live
  ui.workspace.value = name;
  state.workspace = name;
  state.project = null;
  ui.project.disabled = true;
  remember(state);
  const result = await run(PROJECTS, { workspace: name });
  if (state.workspace !== name) return; // picked another meanwhile
  const edges = result.data && result.data.workspace && result.data.workspace.projects
    ? result.data.workspace.projects.edges : [];
  replace(ui.project, h("option", { value: "", disabled: true }, "pick a project"),
    edges.map(({ node }) => h("option", { value: node.name },
      `${node.name} (${node.numberOfExperiments ?? "?"})`)));
  ui.project.value = "";
  ui.project.disabled = false;
  if (result.errors.length) say(messagesOf(result.errors), "error");
  mark("view", "workspace");
  if (project && edges.some(({ node }) => node.name === project)) await pickProject(project);
}

async function pickProject(name) {
  ui.project.value = name;
  const fresh = name !== state.project;
  state.project = name;
  if (fresh) {
    // Another project: its newest, as it opens (whether or not the last one's rows came).
    if (state.chosenOf !== projectId(state)) state.chosen = null;
    state.chosenOf = projectId(state);
    if (state.tableRequest) state.tableRequest.abort();
    state.tableOf = null;
    state.rows = [];
    state.series.clear();
    Object.keys(notes).forEach((k) => { notes[k] = ""; });
  }
  remember(state);
  await loadView(page);
}

// --- the project view (view.js) ------------------------------------------------------------
function chartWidth() {
  const width = ui.charts.clientWidth || document.documentElement.clientWidth - 32;
  const columns = width >= 1100 ? 2 : 1;
  ui.charts.classList.toggle("two", columns === 2);
  return Math.max(200, Math.floor((width - (columns - 1) * 16) / columns));
}

const reloadView = debounce(() => loadView(page), 250);

// The metrics to pick from: those of the rows read, and those picked (a link may name one
// that only rows not read yet have).
function takeMetricNames() {
  const names = new Set([...state.metrics, ...state.rows.flatMap((r) => Object.keys(r.metrics))]);
  drawMetricPicker([...names].sort());
  drawRows();
}

// --- the table ------------------------------------------------------------------------------
function colourOf(key) {
  return state.palette.of(key);
}

function drawRows() {
  const chosen = state.chosen || []; // none yet: the project's first page has not come
  const cols = columns(state.rows, state.summary);
  const keep = parseFilter(ui.filter.value, cols);
  const shown = sortRows(state.rows.filter(keep), cols, state.sort);
  drawTable(ui.table, shown, cols, {
    filter: ui.filter.value, sort: state.sort, chosen: new Set(chosen), colour: colourOf,
    onSort: (column) => {
      state.sort = { column, descending: state.sort.column === column && !state.sort.descending };
      drawRows();
    },
    onChoose: (key, on) => {
      state.chosen = on ? [...chosen, key] : chosen.filter((k) => k !== key);
      remember(state);
      drawRows();
      reloadView();
    },
  });
  ui.count.textContent = (keep.refused.length ? `not a filter: ${keep.refused.join(", ")} · ` : "")
    + `${shown.length} shown of ${state.rows.length}`
    + coverage(state.rows.length, state.total, state.tableLoading)
    + ` · ${chosen.length} charted`;
  ui.charts.dataset.experiments = String(chosen.length);
}

function drawMetricPicker(names) {
  replace(ui.metrics, h("legend", {}, "metrics"), names.map((name) => h("label", {},
    h("input", { type: "checkbox", value: name, checked: state.metrics.includes(name),
                 onchange: (e) => pickMetric(name, e.target.checked) }), name)));
}

function pickMetric(name, on) {
  if (on && state.metrics.length >= BOUNDS.chartMetrics) { // what one chart request takes
    problem("series", `At most ${BOUNDS.chartMetrics} metrics are charted at once.`);
    drawMetricPicker([...ui.metrics.querySelectorAll("input")].map((i) => i.value));
    return;
  }
  state.metrics = on ? [...state.metrics, name] : state.metrics.filter((m) => m !== name);
  remember(state);
  reloadView();
}

// --- the charts -----------------------------------------------------------------------------
function drawCharts() {
  const chosen = state.chosen || [];
  for (const [metric, chart] of state.charts) {
    if (!state.metrics.includes(metric)) {
      chart.destroy();
      state.charts.delete(metric);
    }
  }
  ui.hint.textContent = !state.metrics.length ? "Pick metrics to chart them."
    : !chosen.length ? "Tick experiments in the table to chart them." : "";
  if (!chosen.length) return;
  const names = new Map(state.rows.map((r) => [r.key, r.name]));
  for (const metric of state.metrics) {
    let chart = state.charts.get(metric);
    if (!chart) {
      chart = new Chart(metric);
      state.charts.set(metric, chart);
    }
    ui.charts.append(chart.node); // in the order the metrics were picked
    const series = state.series.get(metric) || new Map();
    const lines = chosen.filter((k) => series.has(k)).map((key) => ({
      key, name: names.get(key) || key, colour: colourOf(key), ...series.get(key) }));
    const failed = chosen.filter((k) => state.failed.has(k) && !series.has(k));
    chart.draw(lines, state.smoothing, state.width, failed.length
      ? `${failed.length} of ${chosen.length} experiments not drawn: `
        + `${[...new Set(failed.map((k) => state.failed.get(k)))].join("; ")}` : "");
    chart.node.dataset.requestedPoints = String(state.points);
  }
  // Whether every line draws the gateway's average (not the page's preview), for a test.
  const all = [...state.series.values()].flatMap((m) => [...m.values()]);
  mark("smoothed", state.smoothing > 0 && all.length
    && all.every((l) => l.weight === state.smoothing) ? "server" : "page");
}

// --- what the modules use of the page (view.js, series.js, rows.js, anchoring.js, slider.js) ---
const page = {
  state, bounds: BOUNDS, run, draw: () => drawCharts(), chartWidth, note, problem, notes, mark,
  remember: () => remember(state), weight: () => smoothingAsked(state),
  lists: () => listsAsked(state), plan: (keys) => plan(page, keys),
  ask: (where, variables, request, which) => askSeries(page, where, variables, request, which),
  liveNote: (text, kind = "") => {
    ui.live.textContent = text;
    ui.live.className = kind;
  },
  count: (name, n) => { ui.charts.dataset[name] = String(n); },
  showSmoothing: (value) => { ui.smoothingValue.textContent = value.toFixed(2); },
  reload: () => reloadView(),
  // the table's (rows.js)
  askRows: (where, variables, request) => askRows(page, where, variables, request),
  rowsRead: () => takeMetricNames(),
  rowsDone: () => drawRows(),
};

let lastWidth = 0;
new ResizeObserver(debounce(() => {
  const width = chartWidth();
  if (!lastWidth) lastWidth = width;
  if (Math.abs(width - lastWidth) / lastWidth > 0.1 && state.metrics.length) {
    lastWidth = width;
    loadView(page); // another resolution: the series again, at the new width
  }
}, 300)).observe(ui.charts);

start().catch((error) => {
  if (!(error instanceof Unauthenticated)) say(String(error.message || error), "error");
});
