// Runs graphql-http's server audits against a URL and prints one line per audit, then a
// summary line "N ok, M failed" (the Python test reads them). Usage: node audit.mjs URL
import { serverAudits } from "graphql-http";

const url = process.argv[2];
const audits = serverAudits({ url, fetchFn: fetch });
let ok = 0;
let failed = 0;
for (const audit of audits) {
  const result = await audit.fn();
  if (result.status === "ok") {
    ok++;
    console.log(`ok ${audit.id} ${audit.name}`);
  } else {
    failed++;
    console.log(`${result.status} ${audit.id} ${audit.name}: ${result.reason}`);
  }
}
console.log(`${ok} ok, ${failed} failed`);
