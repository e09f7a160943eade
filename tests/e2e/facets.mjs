// Narrowing by metadata on the web page: adds two documents with metadata to a running
// semsearch (the corpus has one document, so nothing to narrow by), checks the page offers a
// menu per field with counts, that a choice narrows the answer and lives in the URL (reload,
// Back), then deletes them and saves screenshots at 1280 px and 390 px.
// Usage: SEMSEARCH_API_KEY=KEY node facets.mjs BASE_URL SHOT.png
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const [base, shot] = process.argv.slice(2);
const key = process.env.SEMSEARCH_API_KEY;
const write = (method, path, body) => fetch(`${base}${path}`, {
  method, headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
  body: body ? JSON.stringify(body) : undefined,
});
const DOCS = [
  { doc: "facet-metro", title: "Metro network plan",
    text: "The metro network will add two lines to the lake district and the high-speed rail station.",
    metadata: { board: "facet-a", year: 2025 } },
  { doc: "facet-clinic", title: "Community clinics",
    text: "Community clinics will open in every district, with elderly care beds near the metro.",
    metadata: { board: "facet-b", year: 2025 } },
];
for (const d of DOCS) assert.equal((await write("POST", "/documents", { ...d, clean: false })).status, 201);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ locale: "en-US" });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/`);
  // The menus are the API's facets with at least two values, the widest held first.
  const api = await (await fetch(`${base}/documents?facets=*`)).json();
  const want = api.facets.filter((f) => f.values.length >= 2).slice(0, 6).map((f) => f.field);
  await page.waitForSelector('#facets select[data-field="board"]');
  assert.deepEqual(await page.$$eval("#facets select", (s) => s.map((x) => x.dataset.field)), want);
  const options = await page.$$eval('#facets select[data-field="board"] option', (o) => o.map((x) => x.textContent));
  assert.deepEqual(options, ["any", "facet-a (1)", "facet-b (1)"]);

  const ask = async () => {
    await page.waitForFunction(() => document.querySelectorAll("#results .result").length > 0);
    return page.$$eval("#results .doc-title", (t) => t.map((x) => x.textContent));
  };
  await page.fill("#q", "Where will the metro go?");
  await page.click("#go");
  const everything = await ask();
  assert.ok(everything.some((t) => t !== "Community clinics"), `other documents unfiltered: ${everything}`);

  await page.selectOption('#facets select[data-field="board"]', '"facet-b"');
  await page.waitForURL(/f\.board=%22facet-b%22/);
  assert.deepEqual(await ask(), ["Community clinics"], "narrowed to the one document of facet-b");
  await page.reload();
  assert.deepEqual(await ask(), ["Community clinics"], "the choice survives a reload");
  assert.equal(await page.$eval('#facets select[data-field="board"]', (s) => s.value), '"facet-b"');
  await page.screenshot({ path: shot, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `nothing scrolls sideways at 390 px (${overflow} px)`);
  await page.screenshot({ path: shot.replace(/\.png$/, "-390.png"), fullPage: true });
  await page.goBack();
  await page.waitForURL((u) => !u.search.includes("f.board"));
  assert.equal(await page.$eval('#facets select[data-field="board"]', (s) => s.value), "");
  assert.ok((await ask()).some((t) => t !== "Community clinics"), "Back: the unfiltered search again");
  assert.deepEqual(errors, []);
  console.log("facets e2e: ok");
} finally {
  await browser.close();
  for (const d of DOCS) await write("DELETE", `/documents/${d.doc}`);
}
