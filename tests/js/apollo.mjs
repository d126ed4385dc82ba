// Apollo Client with its persisted-query link (hashed GETs) and a normalized cache, against
// the gateway. Prints one JSON line per HTTP request it made, then one JSON line of results.
// Usage: node apollo.mjs URL API_KEY
import { createHash } from "node:crypto";
import pkg from "@apollo/client/core/core.cjs";
import persisted from "@apollo/client/link/persisted-queries/persisted-queries.cjs";

const { ApolloClient, InMemoryCache, HttpLink, gql } = pkg;
const { createPersistedQueryLink } = persisted;
const [url, key] = process.argv.slice(2);
const requests = [];

async function recordingFetch(input, init) {
  const target = new URL(typeof input === "string" ? input : input.url);
  const body = init && init.body ? JSON.parse(init.body) : null;
  const answer = await fetch(input, init);
  const copy = await answer.clone().json();
  requests.push({
    method: (init && init.method) || "GET",
    sentQuery: Boolean((body && body.query) || target.searchParams.get("query")),
    status: answer.status,
    code: copy.errors ? copy.errors[0].extensions.code : null,
  });
  return answer;
}

function client() {
  const sha256 = (text) => createHash("sha256").update(text).digest("hex");
  const link = createPersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: url, fetch: recordingFetch, headers: { Authorization: key } }));
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

const QUERY = gql`
  query Sandbox {
    project(workspace: "alice", name: "sandbox") {
      id
      name
      experiments(first: 3) { edges { node { id key name project { id name } } } }
    }
  }
`;

const first = client();
const one = await first.query({ query: QUERY });
const second = client();  // a fresh client: its first try sends the hash alone
const two = await second.query({ query: QUERY });
for (const request of requests) console.log(JSON.stringify(request));
const cache = first.cache.extract();
console.log(JSON.stringify({
  same: JSON.stringify(one.data) === JSON.stringify(two.data),
  project: one.data.project.name,
  experiments: one.data.project.experiments.edges.length,
  normalized: Object.keys(cache).filter((k) => k !== "ROOT_QUERY").sort(),
}));
