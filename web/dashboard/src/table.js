// The experiments' table: one row per experiment, its parameters and metric summaries as
// columns; sorted by a click on a header, filtered by free text and `column op value` terms.
import { formatDuration, formatNumber, h, replace } from "./dom.js";

export const SUMMARIES = { valueCurrent: "last", valueMin: "min", valueMax: "max" };

// An experiment node of the project query, flattened for the table.
export function row(node) {
  const params = {};
  for (const p of node.parameters || []) params[p.name] = p.valueCurrent;
  const metrics = {};
  for (const m of node.metricsSummary || []) metrics[m.name] = m;
  return { key: node.key, name: node.name || node.key, running: Boolean(node.running),
           startTime: node.startTime, durationMillis: node.durationMillis, params, metrics };
}

export function columns(rows, summary) {
  const params = new Set();
  const metrics = new Set();
  for (const r of rows) {
    Object.keys(r.params).forEach((n) => params.add(n));
    Object.keys(r.metrics).forEach((n) => metrics.add(n));
  }
  return [
    { id: "name", label: "experiment", value: (r) => r.name },
    { id: "state", label: "state", value: (r) => (r.running ? "running" : "ended") },
    { id: "started", label: "started", value: (r) => r.startTime || "",
      show: (v) => (v ? v.slice(0, 16).replace("T", " ") : "") },
    // Shown in minutes (and hours), so a filter's number is minutes too: `duration>30`.
    { id: "duration", label: "duration", value: (r) => r.durationMillis, show: formatDuration,
      parse: durationTerm },
    ...[...params].sort().map((n) => ({
      id: `param:${n}`, label: n, group: "param", value: (r) => asNumber(r.params[n]) })),
    ...[...metrics].sort().map((n) => ({
      id: `metric:${n}`, label: n, group: "metric",
      value: (r) => (r.metrics[n] ? r.metrics[n][summary] : null), show: formatNumber })),
  ];
}

function asNumber(text) {
  if (text == null || text === "") return text;
  const number = Number(text);
  return Number.isFinite(number) && /^[\s\d.eE+-]+$/.test(text) ? number : text;
}

function compare(a, b) {
  if (a == null || a === "") return b == null || b === "" ? 0 : 1; // blanks last
  if (b == null || b === "") return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

export function sortRows(rows, cols, sort) {
  const col = cols.find((c) => c.id === sort.column);
  if (!col) return rows;
  const sign = sort.descending ? -1 : 1;
  return [...rows].sort((x, y) => {
    const a = col.value(x);
    const b = col.value(y);
    if (a == null || a === "" || b == null || b === "") return compare(a, b);
    return sign * compare(a, b);
  });
}

const TERM = /^([^<>=!~\s]+)(<=|>=|!=|=|<|>|~)(.+)$/;

// `loss<0.3 optimizer=adam resnet`: a term naming a column compares it (numbers as numbers,
// `~` is "contains"); any other term must appear in the row's name, key or parameters. A
// name both a parameter and a metric have is the parameter; `metric:name` is the metric.
// A term whose value the column cannot read (`duration>soon`) is left out, and said in the
// function's `refused` (the terms and why), not compared as text.
export function parseFilter(text, cols) {
  const tests = [];
  const refused = [];
  for (const term of text.trim().split(/\s+/).filter(Boolean)) {
    const parts = TERM.exec(term);
    const name = parts && parts[1].toLowerCase();
    const col = parts && (cols.find((c) => c.id.toLowerCase() === name)
                          || cols.find((c) => c.label.toLowerCase() === name));
    if (col && col.parse && parts[2] !== "~") {
      const wanted = col.parse(parts[3]);
      if (wanted.error) refused.push(`${term} (${wanted.error})`);
      else tests.push(measured(wanted, parts[2], col));
    } else if (col) {
      tests.push(comparison(col, parts[2], parts[3]));
    } else {
      const needle = term.toLowerCase();
      tests.push((r) => [r.name, r.key, ...Object.values(r.params)]
        .some((v) => v != null && String(v).toLowerCase().includes(needle)));
    }
  }
  const keep = (r) => tests.every((t) => t(r));
  keep.refused = refused;
  return keep;
}

// A filter's duration in milliseconds: minutes as the column shows them, or with a unit
// (`90s`, `30m`, `2h`, `1.5h`). NaN when it is none of these.
export function durationMillis(text) {
  const found = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|min|h)?\s*$/i.exec(text);
  if (!found) return NaN;
  const unit = { ms: 1, s: 1000, m: 60000, min: 60000, h: 3600000 }[
    (found[2] || "min").toLowerCase()];
  return Number(found[1]) * unit;
}

// A duration term's value: minutes as the column shows them (whole minutes, rounded), or
// milliseconds when it has a unit; `error` when it is neither.
export function durationTerm(text) {
  const millis = durationMillis(text);
  if (Number.isNaN(millis)) return { error: "not a duration: minutes, or 90s, 30m, 2h" };
  return /[a-z]\s*$/i.test(text) ? { value: millis, of: (ms) => ms }
    : { value: Number(text), of: (ms) => Math.round(ms / 60000) };
}

const ORDER = { "=": (o) => o === 0, "!=": (o) => o !== 0, "<": (o) => o < 0, "<=": (o) => o <= 0,
                ">": (o) => o > 0, ">=": (o) => o >= 0 };

function measured(wanted, op, col) {
  return (r) => {
    const value = col.value(r);
    if (value == null || value === "") return op === "!=";
    return ORDER[op](wanted.of(value) - wanted.value);
  };
}

function comparison(col, op, wanted) {
  const number = Number(wanted);
  return (r) => {
    const value = col.value(r);
    if (value == null || value === "") return op === "!=";
    if (op === "~") return String(value).toLowerCase().includes(wanted.toLowerCase());
    const numeric = typeof value === "number" && Number.isFinite(number);
    const order = numeric ? value - number : String(value).localeCompare(wanted);
    return { "=": order === 0, "!=": order !== 0, "<": order < 0, "<=": order <= 0,
             ">": order > 0, ">=": order >= 0 }[op];
  };
}

// Draws the table into `host`; `ui` has the chosen keys, their colours, and the callbacks.
export function drawTable(host, rows, cols, ui) {
  const head = h("tr", {},
    h("th", { className: "pick" }, ""),
    cols.map((c) => h("th", {
      className: [c.group || "", ui.sort.column === c.id ? "sorted" : ""].join(" "),
      dataset: { column: c.id }, title: `sort by ${c.label}`,
      onclick: () => ui.onSort(c.id),
    }, c.label, ui.sort.column === c.id ? (ui.sort.descending ? " ▼" : " ▲") : "")));
  const body = rows.map((r) => {
    const chosen = ui.chosen.has(r.key);
    return h("tr", { className: chosen ? "chosen" : "", dataset: { key: r.key } },
      h("td", { className: "pick" },
        h("input", { type: "checkbox", checked: chosen, "aria-label": `chart ${r.name}`,
                     onchange: (e) => ui.onChoose(r.key, e.target.checked) }),
        chosen ? swatch(ui.colour(r.key)) : null),
      cols.map((c) => {
        const value = c.value(r);
        return h("td", { className: c.group || "", title: c.group === "metric" ? title(r, c) : null },
          c.show ? c.show(value) : value ?? "");
      }));
  });
  replace(host, h("thead", {}, head), h("tbody", {}, body));
  // What the rows show, for a test (or a person's devtools) to read.
  Object.assign(host.dataset, { filter: ui.filter, sort: `${ui.sort.column} `
    + `${ui.sort.descending ? "desc" : "asc"}`, rows: String(rows.length) });
}

// Set through the CSSOM: the page's CSP refuses style attributes, not this.
function swatch(colour) {
  const node = h("span", { className: "swatch" });
  node.style.backgroundColor = colour;
  return node;
}

function title(r, c) {
  const m = r.metrics[c.label];
  return m ? `last ${formatNumber(m.valueCurrent)} · min ${formatNumber(m.valueMin)} · `
    + `max ${formatNumber(m.valueMax)}` : null;
}
