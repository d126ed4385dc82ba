// Opens the dashboard in headless Chromium at a view given by its link (the URL's hash), as a
// person opening a shared link would, and reports what the page did: every GraphQL request
// (its operation and what it asked for), the table's rows, each chart's lines, points,
// colours, messages and drawn values. Usage: node dashboard_views.mjs URL OPTIONS_JSON
//   OPTIONS_JSON: {hash: "workspace=...&project=...&metrics=...&experiments=...",
//                  sortBy: a column to sort by (ascending) once the view is ready,
//                  smoothing: a weight to move the slider to once the view is ready (and,
//                             with liveFirst: true, its live lines anchored),
//                  early: a weight to move the slider to as soon as the view's request is
//                         sent (before its answer),
//                  switchTo: a project to pick as soon as the view's request is sent (before
//                            its answer),
//                  switchWorkspace: a workspace to pick then instead (what the page asks and
//                                   draws after it is reported as `afterSwitch`, once its
//                                   projects are listed and `settle` more seconds passed),
//                  tick: an experiment's key to tick in the table once the view is ready
//                        (the requests after it are reported as `afterTick`),
//                  hold: true to hold the page's first subscription until this script reads
//                        a line on stdin (it prints "held?" then), live: true to wait for
//                        live values (it prints "live?", reads a line once they are logged,
//                        and waits for `liveLines` lines in the chart of `liveMetric`)}
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [url, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson);
const origin = new URL(url).origin;
const TIMEOUT = { timeout: 60000 };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const stdin = createInterface({ input: process.stdin });
const lines = [];
let waiter = null;
stdin.on("line", (line) => {
  if (waiter) {
    const resolve = waiter;
    waiter = null;
    resolve(line);
  } else {
    lines.push(line);
  }
});
const nextLine = () => (lines.length ? Promise.resolve(lines.shift())
  : new Promise((resolve) => { waiter = resolve; }));
const seen = { requests: [], console: [], external: [], subscribes: 0 };

const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
try {
  page.on("request", (request) => {
    if (!request.url().startsWith(origin) && !request.url().startsWith("data:")) {
      seen.external.push(request.url());
    }
    if (request.method() !== "POST" || request.url() !== `${origin}/graphql`) return;
    const body = JSON.parse(request.postData());
    const name = (/(?:query|mutation)\s+(\w+)/.exec(body.query) || [])[1];
    seen.requests.push({ name, ...body.variables });
  });
  page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => {
    if (JSON.parse(payload).type === "subscribe") seen.subscribes += 1;
  }));
  page.on("console", (message) => {
    if (message.type() === "error") seen.console.push(message.text());
  });
  let release = null;
  if (options.hold) {
    // The page's first subscription reaches the gateway only when the caller says so: what
    // is logged meanwhile falls between the view's answer and the subscription's first poll.
    let held = false;
    await page.routeWebSocket(/\/graphql$/, (ws) => {
      const server = ws.connectToServer();
      const waiting = [];
      ws.onMessage((message) => {
        const subscribe = JSON.parse(message).type === "subscribe";
        if (subscribe && !held) {
          held = true;
          release = () => waiting.splice(0).forEach((m) => server.send(m));
          waiting.push(message);
          console.log("held?");
        } else if (waiting.length) {
          waiting.push(message);
        } else {
          server.send(message);
        }
      });
      server.onMessage((message) => ws.send(message));
    });
  }
  const charts = () => page.$$eval("#charts .chart", (nodes) => nodes.map((n) => ({
    metric: n.dataset.metric, lines: Number(n.dataset.lines),
    keys: (n.dataset.keys || "").split(",").filter(Boolean),
    points: (n.dataset.points || "").split(",").filter(Boolean).map(Number),
    colours: (n.dataset.colours || "").split(",").filter(Boolean),
    note: (n.querySelector(".note") || {}).textContent || "",
    requestedPoints: Number(n.dataset.requestedPoints),
    drawn: n.plot ? n.plot.data.map((column) => Array.from(column)) : [] })));
  // The slider dragged as a hand does (three positions, a pause at each longer than the page
  // waits before acting on a value), then released; what the charts drew before the release
  // (the page's preview).
  const slide = async (value) => {
    for (const share of [0.3, 0.6, 1]) {
      await page.$eval("#smoothing", (node, weight) => {
        node.value = String(weight);
        node.dispatchEvent(new Event("input", { bubbles: true }));
      }, Math.round(value * share * 100) / 100);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const preview = await charts();
    await page.$eval("#smoothing", (node) => node.dispatchEvent(new Event("change", { bubbles: true })));
    return preview;
  };
  const viewSent = options.early === undefined && !options.switchTo && !options.switchWorkspace
    ? null : page.waitForRequest(
    (r) => r.method() === "POST" && (r.postData() || "").includes("query DashboardProject("), TIMEOUT);
  await page.goto(`${url}/dashboard#${options.hash}`, { waitUntil: "load" });
  if (viewSent) {
    await viewSent;
    if (options.early !== undefined) await slide(options.early);
    if (options.switchTo) await page.selectOption("#project", options.switchTo);
  }
  if (options.switchWorkspace) {
    const before = seen.requests.length;
    const subscribed = seen.subscribes;
    await page.selectOption("#workspace", options.switchWorkspace);
    await page.waitForFunction(() => document.body.dataset.view === "workspace", null, TIMEOUT);
    // What the old view would still do: its answer, its table's pages, its live lines.
    await new Promise((resolve) => setTimeout(resolve, options.settle * 1000));
    seen.afterSwitch = seen.requests.slice(before);
    seen.subscribedAfterSwitch = seen.subscribes - subscribed;
    seen.liveUpdates = await page.$eval("#charts", (n) => Number(n.dataset.liveUpdates));
    console.log(JSON.stringify(seen));
    await browser.close();
    process.exit(0);
  }
  // Ready: the view drawn, and the table read (as much of it as the page reads).
  const ready = () => page.waitForFunction(() => document.body.dataset.view === "ready"
    && document.querySelectorAll("#experiments tbody tr").length > 0
    && !/reading/.test(document.querySelector("#count").textContent), null, TIMEOUT);
  await ready();
  seen.charts = await charts();
  seen.rows = await page.$$eval("#experiments tbody tr", (rows) => rows.map((r) => r.dataset.key));
  seen.status = await page.$eval("#status", (n) => n.textContent);
  seen.count = await page.$eval("#count", (n) => n.textContent);
  seen.hash = await page.evaluate(() => location.hash);
  if (options.tick) {
    const before = seen.requests.length;
    const sent = page.waitForRequest(
      (r) => r.method() === "POST" && (r.postData() || "").includes("query DashboardProject("), TIMEOUT);
    await page.click(`#experiments tr[data-key="${options.tick}"] input[type=checkbox]`);
    await sent;
    await page.waitForFunction(() => document.body.dataset.view === "ready", null, TIMEOUT);
    await ready();
    seen.afterTick = seen.requests.slice(before);
    seen.ticked = await charts();
  }
  if (options.sortBy) {
    await page.click(`#experiments th[data-column="${options.sortBy}"]`);
    await page.waitForSelector(`#experiments[data-sort="${options.sortBy} asc"]`,
                               { ...TIMEOUT, state: "attached" });
    seen.sorted = await page.$$eval("#experiments tbody tr", (rows) => rows.map((r) => r.dataset.key));
  }
  if (options.smoothing !== undefined) {
    if (options.liveFirst) { // the running experiments followed and anchored before the slide
      await page.waitForFunction(() => Number(document.querySelector("#charts").dataset.anchors)
        > 0, null, TIMEOUT);
    }
    const asked = seen.requests.length;
    const subscribed = seen.subscribes;
    seen.preview = await slide(options.smoothing); // at once, before the gateway's answer
    await page.waitForFunction((n) => document.body.dataset.smoothed === "server"
      && document.body.dataset.view === "ready", asked, TIMEOUT);
    seen.smoothed = await charts();
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a subscription sent after it
    seen.afterSlide = seen.requests.slice(asked);
    seen.subscribedBefore = subscribed;
    seen.subscribedAfterSlide = seen.subscribes - subscribed;
  }
  if (options.hold) {
    while (!release) await new Promise((resolve) => setTimeout(resolve, 50));
    await nextLine();
    release();
  }
  if (options.live) {
    console.log("live?");
    await nextLine(); // the caller has logged its values
    await page.waitForFunction(([metric, count]) => {
      const chart = document.querySelector(`#charts .chart[data-metric="${metric}"]`);
      const at = document.querySelector("#charts").dataset;
      return chart && Number(chart.dataset.lines) >= count && Number(at.liveUpdates) > 0
        && Number(at.anchors) > 0;
    }, [options.liveMetric, options.liveLines], TIMEOUT);
    seen.afterLive = await charts();
  }
  console.log(JSON.stringify(seen));
} catch (error) {
  console.error(JSON.stringify(await page.evaluate(() => ({
    body: { ...document.body.dataset },
    status: (document.querySelector("#status") || {}).textContent,
    charts: [...document.querySelectorAll(".chart")].map((c) => ({ ...c.dataset })),
  })).catch(() => null)), JSON.stringify(seen.requests));
  throw error;
} finally {
  stdin.close();
  await browser.close();
}
process.exit(0);
