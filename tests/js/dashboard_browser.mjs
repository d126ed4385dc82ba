// Opens the gateway's dashboard in headless Chromium (Debian's) as a person would: picks a
// workspace and a project, ticks experiments and metrics, moves the smoothing slider, filters
// and sorts the table, waits for a live value, and saves a screenshot. Records every request
// the page makes. Prints "live?" when it waits for live values (the caller logs them to a
// running experiment it charts), then one JSON line of what it saw.
// Usage: node dashboard_browser.mjs URL SCREENSHOT OPTIONS_JSON
//   OPTIONS_JSON: {workspace, project, rows: [row indexes to tick], metrics: [...],
//                  smoothing, filter, sortBy, live: true|false, hash: "interval=1",
//                  narrow: a width to shrink the window to at the end}
import { chromium } from "playwright-core";

const [url, screenshot, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson);
const origin = new URL(url).origin;
const wsOrigin = origin.replace(/^http/, "ws");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const seen = { external: [], failures: [], requests: [], operations: [], websockets: [],
               console: [], violations: [] };
const TIMEOUT = { timeout: 30000 };

function operationOf(body) {
  try {
    const found = /^\s*(?:#.*\n\s*)*(query|mutation|subscription)\s+(\w+)/m.exec(
      JSON.parse(body).query || "");
    return found ? found[2] : "?";
  } catch {
    return "?";
  }
}

const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
try {
  page.on("request", (request) => {
    const target = request.url();
    seen.requests.push(`${request.method()} ${target.replace(origin, "")}`);
    if (!target.startsWith(origin) && !target.startsWith("data:")) seen.external.push(target);
    if (request.method() === "POST" && target === `${origin}/graphql`) {
      seen.operations.push(operationOf(request.postData()));
    }
  });
  page.on("requestfailed", (request) => {
    // A view's query replaced by the next one is aborted on purpose: not a failure.
    if (request.failure()?.errorText !== "net::ERR_ABORTED") seen.failures.push(request.url());
  });
  page.on("websocket", (ws) => {
    seen.websockets.push(ws.url());
    if (!ws.url().startsWith(wsOrigin)) seen.external.push(ws.url());
  });
  page.on("console", (message) => {
    if (message.type() === "error") seen.console.push(message.text());
  });
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation",
      (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  await page.goto(`${url}/dashboard#${options.hash || ""}`, { waitUntil: "networkidle" });
  const attached = { ...TIMEOUT, state: "attached" }; // options are never "visible"
  await page.waitForSelector(`#workspace:not([disabled]) option[value="${options.workspace}"]`,
                             attached);
  await page.selectOption("#workspace", options.workspace);
  await page.waitForSelector(`#project:not([disabled]) option[value="${options.project}"]`,
                             attached);
  await page.selectOption("#project", options.project);
  await page.waitForSelector("body[data-view=ready] #experiments tbody tr", TIMEOUT);

  // The experiments: untick those ticked when the project opened, tick the chosen rows (the
  // table is drawn again after each: rows are found by key).
  const keys = await page.$$eval("#experiments tbody tr", (rows) => rows.map((r) => r.dataset.key));
  const ticked = await page.$$eval("#experiments tbody tr.chosen", (rows) => rows.map((r) => r.dataset.key));
  const box = (key) => `#experiments tr[data-key="${key}"] input[type=checkbox]`;
  for (const key of ticked) await page.uncheck(box(key));
  const chosen = options.rows.map((i) => keys[i]);
  for (const key of chosen) await page.check(box(key));
  for (const metric of options.metrics) {
    await page.check(`#metrics input[value="${metric}"]`);
  }
  const drawn = (count, metrics) => page.waitForFunction(([n, names]) => {
    const charts = [...document.querySelectorAll("#charts .chart")];
    return document.body.dataset.view === "ready" && charts.length === names.length
      && charts.every((c) => c.dataset.lines === String(n));
  }, [count, metrics], TIMEOUT);
  await drawn(chosen.length, options.metrics);
  const charts = () => page.$$eval("#charts .chart", (nodes) => nodes.map((n) => ({
    metric: n.dataset.metric, lines: Number(n.dataset.lines),
    points: n.dataset.points.split(",").map(Number),
    requestedPoints: Number(n.dataset.requestedPoints), width: Number(n.dataset.width),
    canvas: n.querySelector("canvas") ? n.querySelector("canvas").width : 0 })));
  seen.chosen = chosen;
  seen.charts = await charts();
  seen.parts = Number(await page.$eval("body", (b) => b.dataset.parts));

  // Smoothing: the slider redraws at once, the same lines (the raw ones faint behind).
  await page.$eval("#smoothing", (node, value) => {
    node.value = String(value);
    node.dispatchEvent(new Event("input", { bubbles: true }));
  }, options.smoothing);
  seen.smoothed = await charts();
  seen.smoothedRawRows = await page.$$eval(".chart .u-legend .u-series.raw", (n) => n.length);

  // The table: filter, then sort.
  await page.fill("#filter", options.filter);
  await page.waitForSelector(`#experiments[data-filter="${options.filter}"]`, attached);
  seen.filtered = await page.$$eval("#experiments tbody tr", (rows) => rows.map((r) => r.dataset.key));
  await page.click(`#experiments th[data-column="${options.sortBy}"]`);
  await page.waitForSelector(`#experiments[data-sort="${options.sortBy} asc"]`, attached);
  const column = await page.$$eval("#experiments thead th",
    (ths, id) => ths.findIndex((th) => th.dataset.column === id), options.sortBy);
  seen.sorted = await page.$$eval("#experiments tbody tr",
    (rows, i) => rows.map((r) => r.children[i].textContent), column);
  await page.fill("#filter", "");
  await page.waitForSelector('#experiments[data-filter=""]', attached);

  if (options.live) {
    await page.waitForSelector("#live.on", TIMEOUT);
    console.log("live?");
    await page.waitForFunction(() => Number(document.querySelector("#charts").dataset
      .liveUpdates) > 0, null, TIMEOUT);
    seen.liveUpdates = Number(await page.$eval("#charts", (n) => n.dataset.liveUpdates));
    seen.afterLive = await charts();
  }
  seen.keyInUrl = page.url().includes(options.key || "\u0000");
  seen.stored = await page.evaluate(() => Object.keys(sessionStorage));
  seen.violations = await page.evaluate(() => window.__violations);
  // For the picture: newest first again, as the project opened.
  await page.click('#experiments th[data-column="started"]');
  await page.click('#experiments th[data-column="started"]');
  await page.waitForSelector('#experiments[data-sort="started desc"]', attached);
  await page.$eval(".scroller", (node) => { node.scrollLeft = 0; node.scrollTop = 0; });
  await page.screenshot({ path: screenshot, fullPage: false });

  // A narrower window: the series again, at the new width.
  if (options.narrow) {
    const wide = seen.charts[0].width;
    await page.setViewportSize({ width: options.narrow, height: 1000 });
    await page.waitForFunction((before) => {
      const chart = document.querySelector("#charts .chart");
      return document.body.dataset.view === "ready" && Number(chart.dataset.width) < before
        && Number(chart.dataset.requestedPoints) === Number(chart.dataset.width);
    }, wide, TIMEOUT);
    seen.narrowed = await charts();
  }
  console.log(JSON.stringify(seen));
} catch (error) {
  // What the page showed when a wait failed: its state, status line and charts.
  console.error(JSON.stringify(await page.evaluate(() => ({
    body: { ...document.body.dataset },
    status: (document.querySelector("#status") || {}).textContent,
    live: (document.querySelector("#live") || {}).textContent,
    charts: [...document.querySelectorAll(".chart")].map((c) => ({ ...c.dataset })),
  })).catch(() => null)), JSON.stringify(seen.operations));
  throw error;
} finally {
  await browser.close();
}
process.exit(0);
