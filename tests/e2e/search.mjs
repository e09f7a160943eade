// Drives the semsearch web page in headless Chromium: types a question, checks the results, the
// highlighted answer and the related-clauses links, the "not in the documents" state, the search
// in the URL (?q=, Back and Forward), what the page says is indexed, the layout at phone width,
// and saves screenshots (SHOT at 1280 px, SHOT with "-390" before ".png" at 390 px).
// Usage: node search.mjs http://127.0.0.1:PORT/ screenshot.png
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const [url, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ locale: "zh-CN" });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(url);
  assert.equal(await page.getAttribute("#q", "placeholder") !== null, true);
  // What is indexed, before anything is asked.
  await page.waitForFunction(() => document.querySelector("#library").textContent.length > 0);
  assert.match(await page.textContent("#library"), /^1 篇文档 · \d+ 个段落 · 中文 \d+%/);
  await page.fill("#q", "太湖苏州辖区已经连续多少年安全度夏？");
  await page.click("#go");
  await page.waitForSelector(".result", { timeout: 30000 });
  const results = await page.$$(".result");
  assert.equal(results.length, 5, "five results");
  const metaText = await page.textContent(".result .meta");
  assert.match(metaText, /条款/);
  // The document is named once above its results, not on every result.
  const titles = await page.$$("#results .doc-title");
  assert.equal(titles.length, 1, "one document, one title line");
  assert.match(await titles[0].textContent(), /苏州市国民经济和社会发展第十五个五年规划/);
  assert.doesNotMatch(metaText, /中共苏州市委/, "the title is not repeated per result");
  assert.match(metaText, /相关度: \d+%/, "relevance shown, not the raw score");
  const mark = await page.textContent(".result mark");
  assert.match(mark, /连续18年安全度夏/, "answer highlighted in its passage");
  assert.match(await page.textContent("#answer"), /连续18年安全度夏/);

  // The search is in the URL.
  assert.equal(new URL(page.url()).searchParams.get("q"), "太湖苏州辖区已经连续多少年安全度夏？");

  await page.click(".result .related-link");
  await page.waitForSelector(".result .related .related-item", { timeout: 30000 });
  const related = await page.$$(".result .related .related-item");
  assert.ok(related.length >= 1, "related clauses shown");
  // Each related clause links to its passage's page.
  const href = await related[0].getAttribute("href");
  assert.match(href, /^\/p\/suzhou-15th-five-year-plan-proposal%23\d+$/);

  // A question the plan does not answer: said plainly, no answer sentence, nothing marked.
  await page.fill("#q", "红烧肉怎么做才又香又不腻？");
  await page.click("#go");
  await page.waitForSelector("#answer.not-found", { timeout: 30000 });
  assert.match(await page.textContent("#answer"), /没有找到/);
  assert.equal(await page.$(".result mark"), null, "nothing highlighted when not found");

  // Back returns to the first search, Forward to the second; a link with ?q= runs its search.
  await page.goBack();
  await page.waitForFunction(() => document.querySelector("#answer:not([hidden]):not(.not-found)"), null, { timeout: 30000 });
  assert.equal(await page.inputValue("#q"), "太湖苏州辖区已经连续多少年安全度夏？");
  assert.match(await page.textContent("#answer"), /连续18年安全度夏/);
  await page.goForward();
  await page.waitForSelector("#answer.not-found", { timeout: 30000 });
  assert.equal(await page.inputValue("#q"), "红烧肉怎么做才又香又不腻？");
  await page.goto(`${url}?q=${encodeURIComponent("太湖安全度夏")}&mode=lexical`);
  await page.waitForSelector(".result", { timeout: 30000 });
  assert.equal(await page.inputValue("#q"), "太湖安全度夏");
  assert.equal(await page.inputValue("#mode"), "lexical");

  // A related clause's link opens its passage.
  await page.goto(`${url}?q=${encodeURIComponent("太湖苏州辖区已经连续多少年安全度夏？")}`);
  await page.waitForSelector(".result", { timeout: 30000 });
  await page.click(".result .related-link");
  await page.waitForSelector(".result .related .related-item", { timeout: 30000 });
  const target = await page.getAttribute(".result .related .related-item", "href");
  await page.click(".result .related .related-item");
  await page.waitForSelector(".result.focus", { timeout: 30000 });
  assert.equal(decodeURIComponent(new URL(page.url()).pathname), decodeURIComponent(target));

  // A passage by its URL (the `url` chatbot APIs return): the passage and the ones around it.
  await page.goto(`${url}p/${encodeURIComponent("suzhou-15th-five-year-plan-proposal#91")}`);
  await page.waitForSelector(".result.focus", { timeout: 30000 });
  assert.match(await page.textContent(".result.focus"), /枫桥经验/);
  assert.equal((await page.$$(".result.neighbour")).length, 2, "the passages before and after");
  await page.goto(`${url}p/${encodeURIComponent("no-such#1")}`);
  await page.waitForSelector("#status .error", { timeout: 30000 });

  // English UI.
  await page.click("#lang");
  assert.equal(await page.textContent("#go"), "Search");
  await page.goto(`${url}?q=${encodeURIComponent("How many years has Lake Tai stayed safe in summer?")}`);
  await page.waitForSelector(".result", { timeout: 30000 });
  await page.click("#lang");
  assert.match(await page.textContent("#library"), /^1 document · \d+ passages · Chinese \d+%/);
  await page.screenshot({ path: shot, fullPage: true });

  // At phone width the form wraps: nothing is clipped and nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${url}?q=${encodeURIComponent("太湖苏州辖区已经连续多少年安全度夏？")}`);
  await page.waitForSelector(".result", { timeout: 30000 });
  for (const sel of ["#q", "#mode", "#go"]) {
    const box = await page.locator(sel).boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `${sel} fits in 390 px (${JSON.stringify(box)})`);
  }
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), "no sideways scroll at 390 px");
  await page.screenshot({ path: shot.replace(/\.png$/, "-390.png"), fullPage: true });
  assert.deepEqual(errors, [], "no page errors");
  console.log(`e2e ok: ${results.length} results, answer "${mark}", ${related.length} related; screenshot ${shot}`);
} finally {
  await browser.close();
}
