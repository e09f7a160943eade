// The chatbot stacks' own clients against a running semsearch (real model, bundled corpus):
// the official OpenAI SDK's vectorStores.search, and Dify's External Knowledge API requests as
// Dify sends them (registration probe, retrieval with a threshold, a metadata condition, a wrong
// key, an unknown knowledge base). Usage: SEMSEARCH_API_KEY=KEY node clients.mjs BASE_URL
import OpenAI from "openai";
import assert from "node:assert/strict";

const base = process.argv[2].replace(/\/$/, "");
const key = process.env.SEMSEARCH_API_KEY;
assert.ok(key, "SEMSEARCH_API_KEY must be set (the server's key)");
const DOC = "suzhou-15th-five-year-plan-proposal";
const QUESTION = "化解基层矛盾要坚持什么经验？";

// OpenAI: the SDK pointed at semsearch.
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: key });
const page = await openai.vectorStores.search("all", { query: QUESTION, max_num_results: 3 });
const results = page.data;
assert.equal(results.length, 3);
assert.match(results[0].content[0].text, /枫桥经验/, "the Fengqiao clause first");
assert.equal(results[0].content[0].type, "text");
assert.equal(results[0].file_id, DOC);
assert.ok(results[0].score > 0.5 && results[0].score <= 1, `relevance ${results[0].score}`);
assert.ok(results.every((r, i) => i === 0 || r.score <= results[i - 1].score));
assert.match(results[0].attributes.url, /\/p\/suzhou-15th-five-year-plan-proposal%23\d+$/);
const filtered = await openai.vectorStores.search("all", {
  query: QUESTION, max_num_results: 2, filters: { type: "eq", key: "doc", value: DOC },
  ranking_options: { score_threshold: 0.5 },
});
assert.ok(filtered.data.length >= 1 && filtered.data.every((r) => r.file_id === DOC && r.score >= 0.5));
const offTopic = await openai.vectorStores.search(DOC, {
  query: "红烧肉怎么做才又香又不腻？", ranking_options: { score_threshold: 0.5 },
});
assert.equal(offTopic.data.length, 0, "nothing above the threshold for an off-topic question");
await assert.rejects(openai.vectorStores.search("no-such-store", { query: QUESTION }),
  (e) => e.status === 404);

// Dify.
const dify = (body, auth = `Bearer ${key}`) => fetch(`${base}/retrieval`, {
  method: "POST",
  headers: { ...(auth ? { Authorization: auth } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
  body: body ? JSON.stringify(body) : undefined,
});
const probe = await dify(undefined);
assert.equal(probe.status, 200, "the registration probe (no body) is answered");
const ask = (extra = {}) => ({
  knowledge_id: "all", query: QUESTION, retrieval_setting: { top_k: 3, score_threshold: 0.5 }, ...extra,
});
let r = await dify(ask());
assert.equal(r.status, 200);
let j = await r.json();
assert.ok(j.records.length >= 1 && j.records.every((x) => x.score >= 0.5));
assert.match(j.records[0].content, /枫桥经验/);
for (const k of ["passage_id", "doc", "clause", "start", "end", "url"]) {
  assert.ok(j.records[0].metadata[k] !== undefined && j.records[0].metadata[k] !== null, k);
}
r = await dify(ask({ metadata_condition: { logical_operator: "and",
  conditions: [{ name: ["doc"], comparison_operator: "is", value: "another-document" }] } }));
assert.equal(r.status, 200);
assert.equal((await r.json()).records.length, 0, "a condition on another document selects nothing");
r = await dify(ask({ metadata_condition: { logical_operator: "and",
  conditions: [{ name: ["doc"], comparison_operator: "is", value: DOC }] } }));
assert.ok((await r.json()).records.length >= 1);
r = await dify(ask({ query: "Who won the 2022 FIFA World Cup final?" }));
assert.equal((await r.json()).records.length, 0, "off-topic: no record above the threshold");
r = await dify(ask(), "Bearer wrong-key");
assert.equal(r.status, 403);
assert.equal((await r.json()).error_code, 1002);
r = await dify(ask(), "Token abc");
assert.equal(r.status, 403);
assert.equal((await r.json()).error_code, 1001);
r = await dify(ask({ knowledge_id: "no-such-knowledge" }));
assert.equal(r.status, 404);
assert.equal((await r.json()).error_code, 2001);
// A library with metadata: two small documents beside the corpus (which has none), then every
// filter shape the clients send, each returning only what it allows.
const post = (path, body) => fetch(`${base}${path}`, {
  method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
  body: JSON.stringify(body),
});
for (const [doc, text, metadata] of [
  ["e2e-bus", "City bus lanes and the metro ring road. New bus routes serve the lake district.",
    { dept: "transport", year: 2025, tags: ["bus", "metro"], date: "2025-03-01", public: true }],
  ["e2e-clinic", "The city clinic opens an elderly care centre near the lake.",
    { dept: "health", year: 2021, date: "2021-06-30", public: false }],
]) {
  const res = await post("/documents", { doc, text, metadata, clean: false });
  assert.equal(res.status, 201, `${doc}: ${await res.text()}`);
}
const BUS = "e2e-bus", CLINIC = "e2e-clinic";
const LIB = "city bus and clinic near the lake";
const files = async (filters, extra = {}) => {
  const p = await openai.vectorStores.search("all", { query: LIB, max_num_results: 20, filters, ...extra });
  return p.data.map((r) => r.file_id);
};
const only = (got, allowed, label) => {
  assert.ok(got.length >= 1, `${label}: something passes`);
  assert.ok(got.every((d) => allowed.includes(d)), `${label}: ${got}`);
};
only(await files({ type: "eq", key: "dept", value: "transport" }), [BUS], "openai eq");
only(await files({ type: "gte", key: "year", value: 2025 }), [BUS], "openai gte");
only(await files({ type: "and", filters: [{ type: "gt", key: "year", value: 2020 },
  { type: "ne", key: "dept", value: "transport" }] }), [CLINIC], "openai and");
only(await files({ type: "or", filters: [{ type: "in", key: "dept", value: ["health"] },
  { type: "lt", key: "year", value: 2022 }] }), [CLINIC], "openai or/in/lt");
only(await files({ type: "nin", key: "dept", value: ["transport", "health"] }), [DOC], "openai nin");
only(await files({ type: "eq", key: "public", value: true }), [BUS], "openai eq boolean");
const grouped = await files(undefined, { group_by: "doc", max_num_results: 3 });
assert.deepEqual([...new Set(grouped)].length, grouped.length, `grouped: one per document ${grouped}`);
assert.equal(grouped.length, 3, "three documents, three results");

// Dify: every metadata_condition operator, as Dify sends them (values as strings).
const difyOps = [
  ["contains", "tags", "metro", [BUS]], ["not contains", "dept", "ans", [CLINIC, DOC]],
  ["start with", "dept", "trans", [BUS]], ["end with", "dept", "lth", [CLINIC]],
  ["is", "dept", "health", [CLINIC]], ["is not", "dept", "health", [BUS, DOC]],
  ["empty", "dept", undefined, [DOC]], ["not empty", "dept", undefined, [BUS, CLINIC]],
  ["=", "year", "2025", [BUS]], ["≠", "year", "2025", [CLINIC, DOC]],
  [">", "year", "2021", [BUS]], ["<", "year", "2025", [CLINIC]],
  ["≥", "year", "2025", [BUS]], ["≤", "year", "2021", [CLINIC]],
  ["before", "date", "2024-01-01", [CLINIC]], ["after", "date", "2024-01-01", [BUS]],
];
for (const [op, name, value, allowed] of difyOps) {
  const cond = { name: [name], comparison_operator: op, ...(value === undefined ? {} : { value }) };
  const res = await dify({ knowledge_id: "all", query: LIB, retrieval_setting: { top_k: 20, score_threshold: 0 },
    metadata_condition: { logical_operator: "and", conditions: [cond] } });
  assert.equal(res.status, 200, `dify ${op}`);
  only((await res.json()).records.map((x) => x.metadata.doc), allowed, `dify ${op}`);
}
const either = await dify({ knowledge_id: "all", query: LIB, retrieval_setting: { top_k: 20, score_threshold: 0 },
  metadata_condition: { logical_operator: "or", conditions: [
    { name: ["dept"], comparison_operator: "is", value: "health" },
    { name: ["tags"], comparison_operator: "contains", value: "bus" }] } });
only((await either.json()).records.map((x) => x.metadata.doc), [BUS, CLINIC], "dify or");

console.log(`clients ok: OpenAI SDK vectorStores.search (${results.length} results, top relevance ` +
  `${results[0].score.toFixed(2)}), Dify retrieval (probe, threshold, metadata, key, unknown id); filters: OpenAI comparison and ` +
  `compound, grouping, Dify's ${difyOps.length} operators and \`or\``);
