// A project's view over its life: asked (its table once per project, its charts' series
// deferred in the same request), drawn, followed live, and stopped when another is asked.
// Every request of a view goes through `runRetrying`: once the key's upstream budget is spent,
// the view waits it out rather than staying refused.
// `page`: what of the page this uses (main.js builds it; series.js, rows.js and anchoring.js
// take the same): `state`, `bounds`, `run(query, variables, options)`, `note(which, text)`,
// `problem(which, text)`, `notes` (the status line's), `mark(name, value)` (what <body> says to
// a test), `draw()`, `chartWidth()`, `rowsRead()`, `remember()`.
import PROJECT from "../queries/project.graphql";
import { follow, stopLive } from "./anchoring.js";
import { sleep } from "./dom.js";
import { Unauthenticated, messagesOf } from "./graphql.js";
import { groups, lengthOf, pointsPerSeries } from "./plan.js";
import { FIRST_PAGE, loadRows, rateLimited, retrying, tooLarge } from "./rows.js";
import { loadGroups, takeGroup } from "./series.js";
import { row } from "./table.js";

const FIRST_CHOSEN = 5; // experiments charted when a project opens

// The project a view is of, as the state names it.
export function projectId(state) {
  return `${state.workspace}\n${state.project}`;
}

export function listsAsked(state) {
  return state.smoothing > 0 ? 3 : 2; // steps, values and the gateway's smoothed values
}

export function smoothingAsked(state) {
  return state.smoothing > 0 ? state.smoothing : null;
}

function pointsFor(width) {
  return Math.round(width * Math.min(window.devicePixelRatio || 1, 2));
}

// The experiments `keys` in groups of one request each (see plan.js), by what the table says;
// before it is known, by the points drawn (optimistic: a group the gateway finds too large
// is cut in two and asked again).
export function plan(page, keys) {
  const { state } = page;
  const rows = new Map(state.rows.map((r) => [r.key, r]));
  const known = state.tableOf === projectId(state);
  return groups(keys, state.metrics, state.points, listsAsked(state),
                (key, metric) => (known ? lengthOf(rows.get(key), metric) : state.points),
                page.bounds);
}

// `page.run`, waiting out a RATE_LIMITED answer (the key's upstream budget) as the gateway
// says. `variables`: an object, or a function giving each attempt's; `onResult`: see graphql.js.
export function runRetrying(page, query, variables, request, which, onResult = undefined) {
  const attempt = () => page.run(query, typeof variables === "function" ? variables() : variables,
                                 { signal: request.signal, onResult });
  return retrying(attempt, async (seconds) => {
    page.note(which, `The key's upstream budget is spent for now: going on in ${seconds} s…`);
    await sleep(seconds * 1000, request.signal);
  });
}

// A request of series only (series.js, anchoring.js). `where`: the view's {workspace,
// project}, as it was when the view was asked.
export function askSeries(page, where, variables, request, which) {
  return runRetrying(page, PROJECT, {
    first: 1, table: false, charts: true, ...variables,
    workspace: where.workspace, project: where.project }, request, which);
}

// A request of table rows only (rows.js); `where` as for askSeries.
export function askRows(page, where, variables, request) {
  return runRetrying(page, PROJECT, {
    table: true, charts: false, metrics: [], experimentKeys: [], ...variables,
    workspace: where.workspace, project: where.project }, request, "table");
}

// Nothing of the view may go on: its requests, its table's pages, its live lines.
export function stopView(page) {
  const { state } = page;
  for (const request of [state.request, state.tableRequest, state.smoothingRequest]) {
    if (request) request.abort();
  }
  state.request = null;
  state.tableRequest = null;
  state.smoothingRequest = null;
  state.tableOf = null;
  state.tableLoading = false;
  stopLive(page);
}

// The view: its table once per project (the first page in this request, the rest after it,
// on their own), its charts' series deferred in the same request, and the series of more
// experiments than one request may read in the requests after it.
export async function loadView(page) {
  const { state, mark } = page;
  if (!state.project || !state.key) return;
  if (state.request) state.request.abort();
  if (state.smoothingRequest) state.smoothingRequest.abort();
  const request = new AbortController();
  state.request = request; // the series' (the table has its own: a tick does not stop it)
  stopLive(page);
  const view = projectId(state);
  const withTable = state.tableOf !== view;
  const chosen = state.chosen || [];
  const charts = state.metrics.length > 0 && chosen.length > 0;
  if (!withTable && !charts) {
    page.draw();
    mark("view", "ready");
    return;
  }
  state.width = page.chartWidth();
  state.points = pointsPerSeries(pointsFor(state.width), chosen.length, state.metrics.length,
                                 listsAsked(state), page.bounds);
  const queue = charts ? plan(page, chosen) : [];
  const first = queue.length ? queue.shift() : [];
  const variables = {
    workspace: state.workspace, project: state.project, first: FIRST_PAGE, table: withTable,
    metrics: state.metrics, experimentKeys: first, points: state.points, charts,
    smoothing: smoothingAsked(state),
  };
  mark("view", "loading");
  page.note("series", withTable ? "Loading the experiments…" : "Loading the series…");
  page.notes.seriesError = "";
  const started = performance.now();
  let tableTaken = !withTable;
  const takeFirstPage = (partial) => {
    if (tableTaken || request.signal.aborted || !partial.data) return;
    tableTaken = true;
    takeTable(page, view, variables, partial);
    mark("tableMs", String(Math.round(performance.now() - started)));
    mark("view", partial.hasNext ? "table" : "ready");
  };
  try {
    // Through the retrying path like every later request: once the key's upstream budget is
    // spent, a tick must wait it out, not leave the view refused for good.
    // A table already taken is not read again: its rows would spend the budget once more.
    const result = await runRetrying(page, PROJECT, () => ({ ...variables, table: !tableTaken }),
                                     request, "series", takeFirstPage);
    if (request.signal.aborted) return;
    mark("seriesMs", String(Math.round(performance.now() - started)));
    await showView(page, request, result, queue, variables);
  } catch (error) {
    if (error.name === "AbortError" || request.signal.aborted) return;
    if (!(error instanceof Unauthenticated)) page.problem("series", String(error.message || error));
    page.note("series", "");
    mark("view", "error");
  }
}

// The view's answer drawn, and the series of the groups after it asked.
async function showView(page, request, result, queue, variables) {
  const { state, mark } = page;
  const { charts } = variables;
  const first = variables.experimentKeys;
  mark("parts", String(result.parts));
  if (!result.data || !result.data.project) {
    page.problem("series", result.errors.length ? messagesOf(result.errors) : "No such project.");
    page.note("series", "");
    mark("view", "error");
    return;
  }
  if (!charts && state.metrics.length && (state.chosen || []).length) {
    // A link without experiments: the newest, known now that the table is.
    await loadView(page);
    return;
  }
  if (charts) {
    state.series = new Map();
    state.failed = new Map();
    takeGroup(page, first, result, queue);
    page.draw();
    await loadGroups(page, request, queue, variables);
    if (request.signal.aborted) return;
  }
  const others = result.errors.filter((e) => !tableError(e) && !chartError(e))
    .map((e) => e.message);
  if (state.failed.size) {
    others.push(`${state.failed.size} experiment(s) not charted: see the charts.`);
  }
  page.problem("series", others.join("; "));
  page.note("series", "");
  page.draw();
  mark("view", "ready");
  follow(page, variables);
}

function tableError(error) {
  return (error.path || []).includes("experiments");
}

function chartError(error) {
  return !error.path || error.path.includes("metricChart");
}

// The table's first page, from the view's answer; the rest follow (see loadRows).
function takeTable(page, view, where, result) {
  const { state } = page;
  const project = result.data.project;
  const connection = project && project.experiments;
  if (!connection) return;
  state.tableOf = view;
  state.rows = connection.edges.map(({ node }) => row(node));
  state.total = connection.totalCount;
  if (state.chosen === null) state.chosen = state.rows.slice(0, FIRST_CHOSEN).map((r) => r.key);
  const errors = { errors: result.errors.filter(tableError) };
  // Rows the gateway could not fill (its budget for the key, the answer's bounds): read again.
  const again = rateLimited(errors) != null || tooLarge(errors);
  page.problem("table", again ? "" : messagesOf(errors.errors));
  state.tableLoading = again || connection.pageInfo.hasNextPage;
  page.rowsRead();
  page.remember();
  loadRows(page, view, where, connection, again);
}
