// GraphiQL (the gateway's bundle, in headless Chromium) running a query that defers its
// series: its fetcher asks for `multipart/mixed` and merges the parts into one result. Prints
// one JSON line: the content types of the answers to /graphql POSTs, and the result pane's
// text once it shows the series. Usage: node graphiql_defer.mjs URL QUERY
import { chromium } from "playwright-core";

const [url, query] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const answers = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("response", (response) => {
    if (response.request().method() === "POST") answers.push(response.headers()["content-type"]);
  });
  await page.goto(url, { waitUntil: "networkidle" });
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 20000 });
  await page.$eval(".graphiql-query-editor .CodeMirror",
                   (node, text) => node.CodeMirror.setValue(text), query);
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    () => (document.querySelector(".result-window") || {}).innerText?.includes("metricName"),
    null, { timeout: 20000 });
  // The last part may land a moment after the first series shows.
  await page.waitForTimeout(500);
  const result = await page.$eval(".result-window", (node) =>
    node.querySelector(".CodeMirror").CodeMirror.getValue());
  console.log(JSON.stringify({ answers, result }));
} finally {
  await browser.close();
}
