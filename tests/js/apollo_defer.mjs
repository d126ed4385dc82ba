// Apollo Client 3 reading an answer in parts: a dashboard's query whose series are deferred
// (@defer, multipart/mixed;deferSpec=20220824), through its persisted-query link (hashed GETs)
// and a normalized cache. Prints one JSON line per HTTP request, one per result the watched
// query gave, then a summary.
// Usage: node apollo_defer.mjs URL API_KEY FIRST
import { createHash } from "node:crypto";
import pkg from "@apollo/client/core/core.cjs";
import persisted from "@apollo/client/link/persisted-queries/persisted-queries.cjs";

const { ApolloClient, InMemoryCache, HttpLink, gql } = pkg;
const { createPersistedQueryLink } = persisted;
const [url, key, first] = process.argv.slice(2);
const requests = [];

async function recordingFetch(input, init) {
  const answer = await fetch(input, init);
  requests.push({
    method: (init && init.method) || "GET",
    accept: new Headers(init && init.headers).get("accept"),
    status: answer.status,
    contentType: answer.headers.get("content-type"),
  });
  return answer;
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

function client() {
  const link = createPersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: url, fetch: recordingFetch, headers: { Authorization: key } }));
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

const QUERY = gql`
  query DeferredSeries($first: Int!) {
    project(workspace: "vision-lab", name: "image-classifier") {
      id
      name
      experiments(first: $first) {
        edges { node {
          id key name
          ... @defer(label: "series") { metricSeries(names: ["loss", "accuracy"]) {
            metricName steps values } }
        } }
      }
    }
  }
`;

// Every result the watched query gives, until one holds every series (or errors).
function watch(apollo) {
  const results = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no complete result in 60 s")), 60_000);
    const watched = apollo.watchQuery({ query: QUERY, variables: { first: Number(first) },
                                        errorPolicy: "all" });
    const subscription = watched.subscribe({
      next(result) {
        const edges = result.data ? result.data.project.experiments.edges : [];
        const withSeries = edges.filter((e) => e.node.metricSeries !== undefined);
        results.push({
          loading: result.loading,
          experiments: edges.length,
          withSeries: withSeries.length,
          series: withSeries.length ? withSeries[0].node.metricSeries.length : 0,
          values: withSeries.length ? withSeries[0].node.metricSeries[0].values.length : 0,
          errors: (result.errors || []).map((e) => e.extensions && e.extensions.code),
        });
        // The first part's result is not loading any more: the last part's has every series.
        if (withSeries.length === edges.length || (result.errors && result.errors.length)) {
          clearTimeout(timer);
          subscription.unsubscribe();
          resolve(results);
        }
      },
      error(error) { clearTimeout(timer); reject(error); },
    });
  });
}

const first_client = client();
const one = await watch(first_client);
const two = await watch(client());  // a fresh client: the hash alone, over GET
for (const request of requests) console.log(JSON.stringify(request));
for (const result of [...one, ...two]) console.log(JSON.stringify(result));
const cache = first_client.cache.extract();
console.log(JSON.stringify({
  firstClientResults: one.length,
  normalized: Object.keys(cache).filter((k) => k.startsWith("Experiment:")).length,
  cachedSeries: Object.values(cache).filter(
    (v) => Object.keys(v).some((k) => k.startsWith("metricSeries"))).length,
}));
