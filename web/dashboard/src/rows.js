// How the page reads a project's table within what the gateway lets one operation answer and
// one key spend upstream. Each row costs about two upstream calls (its parameters and its
// metric summaries), so the table is read once per project opened (a tick or a metric picked
// asks for series only), and at most `bounds.tableRows` rows of it, newest first: sorting and
// filtering cover those, and the page says so when the project has more. A page of rows holds
// as many as fit in a share of the answer's bounds (objects in lists, fields), by the columns
// of the rows already read: a project whose experiments log 50 parameters and metrics cannot
// take 500 rows in one answer of 25,000 objects.

import { Unauthenticated, isCode, messagesOf } from "./graphql.js";
import { row } from "./table.js";

export const FIRST_PAGE = 100; // rows of the first page, before the columns are known
export const LARGEST_PAGE = 500; // the gateway's largest page
const SHARE = 0.5; // of each answer bound a page may fill: the view's first page has series too
const RETRIES = 8; // rate-limited answers waited out, at most, for one page
const LONGEST_WAIT = 60; // seconds waited at most for one of them

// Rows of the next page: as many as fit in SHARE of the answer's objects and fields, given
// the widest row read so far (at least one, at most `wanted` and LARGEST_PAGE).
export function pageSize(rows, bounds, wanted = LARGEST_PAGE) {
  let objects = 1;
  let fields = 1;
  for (const r of rows) {
    const params = Object.keys(r.params).length;
    const summaries = Object.keys(r.metrics).length;
    objects = Math.max(objects, 1 + params + summaries); // the edge, its lists' items
    // edge, its cursor, node and its 7 fields; name and value per parameter; 7 per summary
    fields = Math.max(fields, 10 + 2 * params + 7 * summaries);
  }
  const fit = Math.min(bounds.answerObjects * SHARE / objects,
                       bounds.answerFields * SHARE / fields);
  return Math.max(1, Math.min(wanted, LARGEST_PAGE, Math.floor(fit)));
}

// Seconds to wait before asking again when the gateway answered RATE_LIMITED (the key's
// upstream budget, or the gateway's own rate limit), else null.
export function rateLimited(result) {
  const limited = result.errors.filter((e) => isCode(e, "RATE_LIMITED"));
  if (!limited.length) return null;
  const waits = limited.map((e) => Number((e.extensions || {}).retryAfter)).filter(
    (s) => Number.isFinite(s) && s > 0);
  return Math.min(LONGEST_WAIT, waits.length ? Math.max(...waits) : 1);
}

// Whether the answer passed one of its bounds (a smaller page may not).
export function tooLarge(result) {
  return result.errors.some((e) => isCode(e, "QUERY_TOO_COMPLEX"));
}

// `ask()` again while the gateway answers RATE_LIMITED, after the wait it says (at most
// RETRIES times); `wait(seconds, reason)` waits (and may say so). The last answer.
export async function retrying(ask, wait) {
  let result = await ask();
  for (let tries = 0; tries < RETRIES; tries += 1) {
    const seconds = rateLimited(result);
    if (seconds == null) break;
    await wait(seconds, result.errors.find((e) => isCode(e, "RATE_LIMITED")));
    result = await ask();
  }
  return result;
}

// What the table's count says of the rows read against the project's.
export function coverage(read, total, loading) {
  const n = (x) => x.toLocaleString("en");
  if (loading) return ` (reading ${n(read)} of ${n(total)})`;
  return read < total ? ` · sorted and filtered over the newest ${n(read)} of ${n(total)}` : "";
}

// The rest of the table after its first page, a page at a time, sized by the columns read so
// far, up to `bounds.tableRows` rows; `again`: the first page read again too. `page`: what of
// the page this uses (main.js): `state`, `bounds`, `askRows(where, variables, request)`
// (`where`: the view's {workspace, project}, bound when the view was asked),
// `note(which, text)`, `problem(which, text)`, `rowsRead()`, `rowsDone()`.
export async function loadRows(page, view, where, connection, again) {
  const { state, bounds } = page;
  if (state.tableRequest) state.tableRequest.abort();
  const request = new AbortController();
  state.tableRequest = request;
  state.tableLoading = again || (connection.pageInfo.hasNextPage
                                  && state.rows.length < bounds.tableRows);
  let after = again ? null : connection.pageInfo.endCursor;
  let more = again || connection.pageInfo.hasNextPage;
  let size = again ? Math.max(1, Math.floor(FIRST_PAGE / 2)) : pageSize(state.rows, bounds);
  let replacing = again;
  try {
    while (more && (replacing || state.rows.length < bounds.tableRows)) {
      const first = Math.min(size, bounds.tableRows - (replacing ? 0 : state.rows.length));
      page.note("table", `Reading the experiments… ${state.rows.length} of ${state.total}`);
      const result = await page.askRows(where, { first, after }, request);
      if (request.signal.aborted || state.tableOf !== view) return;
      const read = result.data && result.data.project && result.data.project.experiments;
      // Refused for size (columns wider than the rows read so far): the rows before the
      // first one the gateway cut are whole, kept, and the next page starts after them.
      const refused = read && tooLarge(result) && first > 1;
      const whole = refused ? wholeRows(result, read) : 0;
      if (refused && !whole) {
        size = Math.ceil(first / 2);
        continue;
      }
      if (!read || rateLimited(result) != null) {
        page.problem("table", messagesOf(result.errors) || "The rest of the experiments could not be read.");
        break;
      }
      if (result.errors.length && !refused) page.problem("table", messagesOf(result.errors));
      const edges = refused ? read.edges.slice(0, whole) : read.edges;
      // Cursors are offsets: an experiment started between two pages pushes the last row of
      // one to the top of the next; it is held once.
      const held = new Set(replacing ? [] : state.rows.map((r) => r.key));
      const rows = edges.map(({ node }) => row(node)).filter((r) => !held.has(r.key));
      state.rows = replacing ? rows : [...state.rows, ...rows];
      replacing = false;
      state.total = read.totalCount;
      after = refused ? edges[edges.length - 1].cursor : read.pageInfo.endCursor;
      more = refused || read.pageInfo.hasNextPage;
      // A refused page's whole rows fitted: no larger one next.
      size = refused ? Math.min(whole, pageSize(state.rows, bounds)) : pageSize(state.rows, bounds);
      page.rowsRead();
    }
  } catch (error) {
    if (error.name === "AbortError" || request.signal.aborted) return;
    if (!(error instanceof Unauthenticated)) page.problem("table", String(error.message || error));
  } finally {
    if (state.tableRequest === request) state.tableLoading = false;
  }
  page.note("table", "");
  page.rowsDone();
}

// How many of a page's rows came whole: those before the first row an error is at (its path
// [..., "experiments", "edges", index, ...]; an error on the connection itself: none), and
// before the first row with a list left null: the gateway nulls the fields it completes after
// the bound is passed, in the order it completes them, which may be an earlier row's.
export function wholeRows(result, read) {
  const cut = read.edges.findIndex((e) => !e || !e.node || e.node.parameters == null
                                          || e.node.metricsSummary == null);
  let whole = cut < 0 ? read.edges.length : cut;
  for (const error of result.errors) {
    const path = error.path || [];
    const at = path.indexOf("experiments");
    if (at < 0) continue;
    const index = path[at + 1] === "edges" ? path[at + 2] : 0;
    whole = Math.min(whole, Number.isInteger(index) ? index : 0);
  }
  return whole;
}
