// A server whose reads need a key (a key file with read keys), driven by real clients: the page
// in headless Chromium asks for the key, keeps it for the tab and then searches; a bad key is
// asked for again; the official OpenAI SDK with a read key searches and without a known one
// gets its AuthenticationError (401); the official MCP SDK over streamable HTTP sends the key
// as a header, and a key bound to a filter sees only what it passes; a collection's page keeps
// its calls and links in the collection. SEMSEARCH_API_KEY: the server's admin key.
// Usage: node keys.mjs BASE_URL READ_KEY FILTERED_KEY SCREENSHOT
import { chromium } from "playwright-core";
import OpenAI from "openai";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import assert from "node:assert/strict";

const [baseArg, key, filteredKey, shot] = process.argv.slice(2);
const base = baseArg.replace(/\/$/, "");
const QUESTION = "太湖苏州辖区已经连续多少年安全度夏？";

// OpenAI's SDK: the key is its apiKey.
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: key });
const page = await openai.vectorStores.search("all", { query: QUESTION, max_num_results: 3 });
assert.equal(page.data.length, 3);
const stranger = new OpenAI({ baseURL: `${base}/v1`, apiKey: "not-a-key", maxRetries: 0 });
await assert.rejects(stranger.vectorStores.search("all", { query: QUESTION }),
  (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
// The filtered key's filter passes no document of this library: nothing, as if it were empty.
const filtered = new OpenAI({ baseURL: `${base}/v1`, apiKey: filteredKey });
assert.equal((await filtered.vectorStores.search("all", { query: QUESTION })).data.length, 0);

// MCP's SDK over HTTP with the key as a header.
async function mcp(withKey) {
  const headers = withKey ? { Authorization: `Bearer ${withKey}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers } });
  const client = new Client({ name: "semsearch-e2e-keys", version: "1.0.0" });
  await client.connect(transport);
  const out = await client.callTool({ name: "search", arguments: { query: QUESTION, k: 3 } });
  await client.close();
  return out.structuredContent.results;
}
assert.equal((await mcp(key)).length, 3);
assert.equal((await mcp(filteredKey)).length, 0);
await assert.rejects(mcp(null), (e) => /401|nauthorized/.test(String(e)), "no key, no MCP");

// The page.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const tab = await browser.newPage({ locale: "en-US" });
  const errors = [];
  tab.on("pageerror", (e) => errors.push(String(e)));
  await tab.setViewportSize({ width: 390, height: 800 });
  await tab.goto(`${base}/`);
  await tab.waitForSelector("#keyform:not([hidden])");
  assert.match(await tab.textContent("#keylabel"), /needs a read key/);
  await tab.fill("#key", "wrong");
  await tab.click("#keygo");
  await tab.waitForFunction(() => /not accepted/.test(document.querySelector("#keylabel").textContent));
  await tab.screenshot({ path: shot.replace(/\.png$/, "-prompt.png") });
  await tab.fill("#key", key);
  await tab.click("#keygo");
  await tab.waitForFunction(() => document.querySelector("#library").textContent.length > 0);
  assert.match(await tab.textContent("#library"), /^\d+ documents? · \d+ passages/);
  assert.equal(await tab.isHidden("#keyform"), true);
  await tab.fill("#q", QUESTION);
  await tab.click("#go");
  await tab.waitForSelector(".result", { timeout: 30000 });
  assert.equal((await tab.$$(".result")).length, 5);
  // The key lives in the tab: a reload needs no new prompt.
  await tab.reload();
  await tab.waitForSelector(".result", { timeout: 30000 });
  assert.equal(await tab.isHidden("#keyform"), true);
  await tab.screenshot({ path: shot, fullPage: true });

  // A collection's page: its calls and links stay under /collections/hr/.
  const admin = { Authorization: `Bearer ${process.env.SEMSEARCH_API_KEY}`, "Content-Type": "application/json" };
  let r = await fetch(`${base}/collections`, { method: "POST", headers: admin, body: JSON.stringify({ name: "hr" }) });
  assert.equal(r.status, 201, await r.text());
  r = await fetch(`${base}/collections/hr/documents`, { method: "POST", headers: admin,
    body: JSON.stringify({ doc: "handbook", title: "Staff handbook", text: "Annual leave: every employee has twenty days of paid leave a year." }) });
  assert.equal(r.status, 201, await r.text());
  await tab.goto(`${base}/collections/hr/?q=${encodeURIComponent("How many days of paid leave?")}`);
  await tab.waitForSelector(".result", { timeout: 30000 });
  assert.match(await tab.textContent("#library"), /^1 document · 1 passage/);
  assert.match(await tab.textContent(".doc-title"), /Staff handbook/);
  await tab.click(".related-link");
  await tab.goto(`${base}/collections/hr/p/handbook%231`);
  await tab.waitForSelector(".result.focus", { timeout: 30000 });
  assert.match(await tab.textContent(".result.focus"), /twenty days/);
  assert.deepEqual(errors, []);
} finally {
  await browser.close();
}
console.log("keys: OpenAI SDK, MCP SDK and the page with read keys: ok");
