// The dashboard's key, in headless Chromium, on a gateway that gives the page none: asked for,
// a refused one asked for again, a good one kept in sessionStorage across a reload (not asked
// twice) and never put in a URL. Prints one JSON line of what it saw.
// Usage: node dashboard_key.mjs URL GOOD_KEY BAD_KEY
import { chromium } from "playwright-core";

const [url, good, bad] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const TIMEOUT = { timeout: 30000 };
const seen = { urls: [], authorizations: [] };
try {
  const page = await browser.newPage();
  page.on("request", (request) => {
    seen.urls.push(request.url());
    const key = request.headers().authorization;
    if (key) seen.authorizations.push(key);
  });
  const stored = () => page.evaluate(() => ({ ...sessionStorage }));
  const formShown = () => page.$eval("#key-form", (form) => !form.hidden);

  await page.goto(`${url}/dashboard`, { waitUntil: "networkidle" });
  await page.waitForSelector("#key-form:not([hidden])", TIMEOUT);
  seen.askedFirst = await formShown();

  await page.fill("#api-key", bad);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("#status.error", TIMEOUT);
  seen.refused = await page.$eval("#status", (node) => node.textContent);
  seen.askedAgain = await formShown();
  seen.storedAfterRefusal = await stored();

  await page.fill("#api-key", good);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("#workspace:not([disabled]) option[value=alice]",
                             { ...TIMEOUT, state: "attached" });
  seen.storedAfterGood = await stored();
  seen.formAfterGood = await formShown();
  seen.inputCleared = (await page.inputValue("#api-key")) === "";

  await page.reload({ waitUntil: "networkidle" });
  await page.waitForSelector("#workspace:not([disabled]) option[value=alice]",
                             { ...TIMEOUT, state: "attached" });
  seen.formAfterReload = await formShown();

  await page.click("#forget");
  seen.storedAfterForget = await stored();
  seen.formAfterForget = await formShown();
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
