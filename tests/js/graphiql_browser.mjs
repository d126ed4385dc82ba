// Opens the gateway's GraphiQL in headless Chromium (Debian's), runs the example query with
// the button, and saves a screenshot. Prints one JSON line: requests that left the gateway's
// origin, and the text of the result pane. Usage: node graphiql_browser.mjs URL SCREENSHOT
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const origin = new URL(url).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const external = [];
const failures = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("request", (request) => {
    const target = request.url();
    if (!target.startsWith(origin) && !target.startsWith("data:")) external.push(target);
  });
  page.on("requestfailed", (request) => failures.push(request.url()));
  await page.goto(url, { waitUntil: "networkidle" });
  await page.waitForSelector(".graphiql-execute-button", { timeout: 20000 });
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    () => (document.querySelector(".result-window") || {}).innerText?.includes("userName"),
    null, { timeout: 20000 });
  const result = await page.$eval(".result-window", (node) => node.innerText);
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify({ external, failures, result: result.slice(0, 2000) }));
} finally {
  await browser.close();
}
