// A module hook for node (registered by the unit scripts that import the page's modules
// whole): a .graphql document imports as its text, as esbuild's `--loader:.graphql=text`
// bundles it for the browser.
import { readFile } from "node:fs/promises";

export async function load(url, context, nextLoad) {
  if (!url.endsWith(".graphql")) return nextLoad(url, context);
  const text = await readFile(new URL(url), "utf8");
  return { format: "module", source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
}
