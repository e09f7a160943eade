// MCP with the official TypeScript SDK as the client, over stdio (semsearch mcp as a subprocess)
// and over streamable HTTP (/mcp on a running server): tools listed, search and fetch in the
// shapes ChatGPT connectors require, and the seed question on 枫桥经验 finding its clause.
// Usage: node mcp.mjs BASE_URL SEMSEARCH_BIN MODEL_DIR INDEX_DIR
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import assert from "node:assert/strict";

const [base, bin, model, index] = process.argv.slice(2);

async function check(transport, label) {
  const client = new Client({ name: "semsearch-e2e", version: "1.0.0" });
  await client.connect(transport);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ["ask", "context", "documents", "fetch", "search"], label);
  const found = await client.callTool({ name: "search", arguments: { query: "化解基层矛盾要坚持什么经验？" } });
  assert.equal(found.content.length, 1, `${label}: one text item`);
  assert.equal(found.content[0].type, "text");
  const results = JSON.parse(found.content[0].text).results;
  assert.deepEqual(found.structuredContent.results, results, `${label}: structured = text`);
  assert.ok(results.length >= 1);
  for (const r of results) assert.deepEqual(Object.keys(r).sort(), ["id", "text", "title", "url"]);
  const hit = results.find((r) => r.text.includes("枫桥经验"));
  assert.ok(hit, `${label}: the Fengqiao clause is found`);
  const fetched = await client.callTool({ name: "fetch", arguments: { id: hit.id } });
  const doc = JSON.parse(fetched.content[0].text);
  assert.deepEqual(Object.keys(doc).sort(), ["id", "metadata", "text", "title", "url"]);
  assert.equal(doc.id, hit.id);
  assert.match(doc.text, /枫桥经验/);
  assert.match(doc.url, /\/p\/suzhou-15th-five-year-plan-proposal%23\d+$/);
  const asked = await client.callTool({ name: "ask", arguments: { question: "红烧肉怎么做才又香又不腻？" } });
  assert.equal(asked.structuredContent.found, false, `${label}: off-topic not found`);
  // clients.mjs has added two documents with metadata: a filter and grouping reach them.
  const filtered = await client.callTool({ name: "search", arguments: {
    query: "city bus and clinic near the lake", k: 5, group_by: "doc",
    filter: { type: "eq", key: "dept", value: "health" } } });
  const only = filtered.structuredContent.results;
  assert.ok(only.length === 1 && only[0].id.startsWith("e2e-clinic#"), `${label}: filtered, grouped`);
  const groups = (await client.callTool({ name: "search", arguments: {
    query: "city bus and clinic near the lake", k: 3, group_by: "doc" } })).structuredContent.results;
  assert.equal(new Set(groups.map((r) => r.id.split("#")[0])).size, 3, `${label}: one per document`);
  // What the library holds, and which values a filter can use.
  const listed = (await client.callTool({ name: "documents", arguments: {
    filter: { type: "exists", key: "dept" }, facets: "dept" } })).structuredContent;
  assert.deepEqual(listed.documents.map((d) => d.doc).sort(), ["e2e-bus", "e2e-clinic"], `${label}: documents filtered`);
  assert.deepEqual(listed.facets[0].values.map((v) => v.value).sort(), ["health", "transport"], `${label}: facets`);
  const badFacets = await client.callTool({ name: "documents", arguments: { facets: "" } });
  assert.equal(badFacets.isError, true, `${label}: an empty facet list is a tool error`);
  const missing = await client.callTool({ name: "fetch", arguments: { id: "no-such#1" } });
  assert.equal(missing.isError, true, `${label}: unknown id is a tool error`);
  await client.close();
  return results.length;
}

const viaStdio = await check(new StdioClientTransport({
  command: bin, args: ["--model", model, "mcp", "--index", index],
  env: { ...process.env, RUST_LOG: "warn" }, stderr: "inherit",
}), "stdio");
const viaHttp = await check(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)), "http");
// A collection, made over HTTP: reached by the tools' `collection` argument over both
// transports, and served alone by `semsearch mcp --collection`; a name that does not exist is
// a tool error.
const admin = { "content-type": "application/json", authorization: `Bearer ${process.env.SEMSEARCH_API_KEY}` };
let made = await fetch(`${base}/collections`, { method: "POST", headers: admin, body: JSON.stringify({ name: "e2e-mcp" }) });
assert.equal(made.status, 201, await made.text());
made = await fetch(`${base}/collections/e2e-mcp/documents`, { method: "POST", headers: admin,
  body: JSON.stringify({ doc: "leave", title: "Leave policy", text: "Staff take twenty days of paid leave each year." }) });
assert.equal(made.status, 201, await made.text());
async function inCollection(transport, label, args) {
  const client = new Client({ name: "semsearch-e2e", version: "1.0.0" });
  await client.connect(transport);
  const { tools } = await client.listTools();
  for (const t of tools) assert.equal(t.inputSchema.properties.collection.type, "string", `${label}: ${t.name}`);
  const res = (await client.callTool({ name: "search", arguments: { query: "paid leave", ...args } })).structuredContent.results;
  assert.deepEqual(res.map((r) => r.id), ["leave#1"], label);
  assert.match(res[0].url, /\/collections\/e2e-mcp\/p\/leave%231$/, label);
  const none = await client.callTool({ name: "search", arguments: { query: "paid leave", collection: "no-such" } });
  assert.equal(none.isError, true, `${label}: a missing collection is a tool error`);
  await client.close();
}
const stdio = (extra) => new StdioClientTransport({
  command: bin, args: ["--model", model, "mcp", "--index", index, ...extra],
  env: { ...process.env, RUST_LOG: "warn" }, stderr: "inherit",
});
await inCollection(stdio([]), "stdio, collection argument", { collection: "e2e-mcp" });
await inCollection(stdio(["--collection", "e2e-mcp"]), "stdio, --collection", {});
await inCollection(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)), "http, collection argument", { collection: "e2e-mcp" });
const gone = await fetch(`${base}/collections/e2e-mcp`, { method: "DELETE", headers: admin });
assert.equal(gone.status, 200);

console.log(`mcp ok: stdio and streamable HTTP (official TypeScript SDK): tools listed, search ` +
  `(${viaStdio}/${viaHttp} results) and fetch found the Fengqiao clause, a filter with grouping, ` +
  `ask abstained off-topic, documents listed with facets; a collection by argument and by ` +
  `mcp --collection`);
