// graphql-request against the gateway: a query with variables, and an error's code.
// Usage: node graphql_request.mjs URL API_KEY ; prints one JSON line.
import { GraphQLClient, gql } from "graphql-request";

const [url, key] = process.argv.slice(2);
const client = new GraphQLClient(url, { headers: { Authorization: key } });
const data = await client.request(gql`
  query Project($ws: String!, $name: String!) {
    project(workspace: $ws, name: $name) { id name numberOfExperiments workspace { id name } }
  }`, { ws: "alice", name: "sandbox" });
let code = null;
try {
  await client.request(gql`{ project { name } }`);
} catch (error) {
  code = error.response.errors[0].extensions.code;
}
console.log(JSON.stringify({ data, code }));
