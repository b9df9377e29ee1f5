// The public counts page in headless Chromium, against `doorstep demo`
// (which publishes them): on a phone's screen it shows the district's
// figures without scrolling sideways and draws its bars; printed, it keeps
// its title and date and drops its buttons. And the supervisors'
// statistics page prints with its title, scope and date, without the
// navigation. Screenshots and a PDF go to tests/artifacts/public-*.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, browser, logIn, startRelay, tempDir, watch } from './lib.mjs';

const PASSWORD = 'doorstep-demo';
const grouped = (n) => n.toLocaleString('en-US');

/** Today in this machine's time zone, as `YYYY-MM-DD`. */
function today() {
  const now = new Date();
  return [now.getFullYear(), now.getMonth() + 1, now.getDate()].map((n) => String(n).padStart(2, '0')).join('-');
}

describe('the public counts page in Chromium', { timeout: 600_000 }, () => {
  let tmp;
  let relay;
  let base;
  let b;
  let page;
  let seen;
  let counts;

  before(async () => {
    tmp = tempDir('doorstep-public-');
    relay = await startRelay(['demo', '--db', join(tmp.dir, 'demo.sqlite')]);
    base = relay.url;
    b = await browser({ locale: 'zh-CN', width: 390, height: 844 });
    page = b.page;
    seen = watch(page, base);
    const answer = await fetch(`${base}/public/counts.json`);
    assert.equal(answer.status, 200);
    counts = await answer.json();
  });

  after(async () => {
    await b?.close();
    await relay?.stop();
    tmp?.remove();
  });

  afterEach(() => {
    assert.deepEqual(seen.take(), [], 'no console error, no failed request');
  });

  const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `public-${name}.png`), fullPage: true });
  const visible = (selector) => page.locator(selector).evaluateAll((els) => els.map((el) => el.checkVisibility()));

  it('the demo prints the public address with its other addresses', () => {
    assert.match(relay.output.join(''), /public: +http:\/\/\S+\/public\//);
    assert.equal(counts.district, 'longgang');
    assert.equal(counts.communities.length, 6);
    assert.ok(counts.total.collected > 100, `${counts.total.collected} collected`);
  });

  it("shows the district's counts on a phone, with bars and without scrolling sideways", async () => {
    await page.goto(`${base}/public/`);
    // The demo names its places: the district, streets and communities by name.
    assert.equal(counts.total.label, '龙岗区');
    assert.ok(counts.communities.some((c) => c.label === '西坑社区'), 'communities by their names');
    await page.getByRole('heading', { level: 1, name: '龙岗区 · 微心愿公开数据' }).waitFor();
    assert.match(await page.locator('#communities').innerText(), /西坑社区/);
    assert.equal(await page.locator('[data-kpi="collected"] .kpi-value').textContent(), grouped(counts.total.collected));
    assert.equal(await page.locator('[data-kpi="confirmed"] .kpi-value').textContent(), grouped(counts.total.confirmed));
    assert.equal(await page.locator('[data-kpi="satisfaction"] .kpi-value').textContent(), counts.total.satisfaction.toFixed(1));
    for (const list of ['streets', 'communities']) {
      for (const entry of counts[list]) {
        for (const key of ['collected', 'reviewed', 'fulfilled', 'confirmed']) {
          const cell = page.locator(`#${list} [data-scope="${entry.scope}"] [data-figure="${key}"] .num`);
          assert.equal(await cell.textContent(), grouped(entry[key]), `${entry.scope} ${key}`);
        }
      }
    }
    const [scrollWidth, clientWidth] = await page.evaluate(() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]);
    assert.ok(scrollWidth <= clientWidth, `the page is ${scrollWidth} px wide in a ${clientWidth} px window`);
    // Four bars per card (the total, 3 streets, 6 communities), drawn to scale.
    assert.equal(await page.locator('svg.meter').count(), 4 * (1 + 3 + 6));
    const widths = await page.locator('#communities svg.meter rect.bar').evaluateAll((rs) => rs.map((r) => r.getBoundingClientRect().width));
    assert.ok(widths.every((w) => w > 0), `every bar is drawn: ${widths}`);
    assert.ok(Math.max(...widths) > 150, 'the longest bar fills most of a card');
    await shot('phone');
  });

  it('gives its own address to share, and copies it', async () => {
    const link = page.locator('#share-link');
    assert.equal(await link.textContent(), `${base}/public/`);
    await b.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.getByRole('button', { name: '复制链接' }).click();
    await page.locator('#copy-status', { hasText: '链接已复制' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${base}/public/`);
  });

  it('prints with its title and date, and without buttons', async () => {
    assert.deepEqual(await visible('button'), [true, true], 'on screen: print and copy');
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('h1').isVisible(), true, 'the title');
    assert.match(await page.locator('.as-of').textContent(), /^数据截至 \d{4}-\d\d-\d\d \d\d:\d\d$/);
    assert.equal(await page.locator('.as-of').isVisible(), true, 'the date');
    assert.deepEqual(await visible('button'), [false, false], 'no buttons on paper');
    assert.equal(await page.locator('nav').isVisible(), false, 'no language switch');
    assert.ok(await page.locator('svg.meter').first().isVisible(), 'the bars');
    await shot('print');
    await page.pdf({ path: join(ARTIFACTS, 'public-print.pdf'), format: 'A4' });
    await page.emulateMedia({ media: 'screen' });
  });

  it('speaks English when asked', async () => {
    await seen.settle();
    await page.goto(`${base}/public/?lang=en`);
    await page.getByRole('heading', { level: 1, name: '龙岗区 · Wish cards: public figures' }).waitFor();
    assert.equal(await page.locator('#share-link').textContent(), `${base}/public/?lang=en`);
    await page.getByRole('button', { name: 'Copy link' }).waitFor();
  });

  it("prints the supervisors' statistics with a title, the scope and the date, without the navigation", async () => {
    await seen.settle();
    await page.setViewportSize({ width: 1280, height: 860 });
    await logIn(page, base, 'chen', PASSWORD, '/stats?scope=longgang/yuanshan');
    await page.waitForURL(`${base}/stats?scope=longgang/yuanshan`);
    await page.locator('main h1').waitFor();
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    const header = page.locator('#print-header');
    assert.equal(await header.isVisible(), false, 'on screen: no print header');
    assert.equal(await page.locator('header.top nav').isVisible(), true, 'on screen: the navigation');

    await page.emulateMedia({ media: 'print' });
    assert.equal(await header.isVisible(), true, 'the print header');
    assert.match(await header.locator('.print-title').textContent(), /督导工作台 · 统计$/);
    assert.equal(await header.locator('[data-print="scope"]').textContent(), '范围：园山街道', 'the scope by its place name');
    assert.equal(await header.locator('time').getAttribute('datetime'), today());
    assert.match(await header.locator('[data-print="date"]').textContent(), /^打印日期：\d{4}\D\d\d\D\d\d$/);
    assert.equal(await page.locator('main h1').isVisible(), true, 'the title');
    assert.equal(await page.locator('header.top').isVisible(), false, 'no navigation');
    assert.deepEqual((await visible('button')).filter(Boolean), [], 'no buttons');
    assert.ok(await page.locator('figure.chart svg').first().isVisible(), 'the charts');
    await shot('stats-print');
    await page.pdf({ path: join(ARTIFACTS, 'public-stats-print.pdf'), format: 'A4' });

    // Without a scope chosen: the supervisor's own.
    await page.emulateMedia({ media: 'screen' });
    await seen.settle();
    await page.goto(`${base}/stats`);
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    await page.locator('#print-header').waitFor({ state: 'attached' });
    await page.emulateMedia({ media: 'print' });
    assert.equal(await header.locator('[data-print="scope"]').textContent(), '范围：龙岗区', 'their own scope by its place name');
    await page.emulateMedia({ media: 'screen' });
  });
});
