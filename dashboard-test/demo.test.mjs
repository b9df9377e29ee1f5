// `doorstep demo`, opened in Chromium: every page of the dashboard shows the
// demo district's data. Saves a screenshot of each page under
// tests/artifacts/demo-*.png; with DOCS_SCREENSHOT=path also the picture for
// the README.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, browser, logIn, phone, startRelay, tempDir, unlabelled, watch } from './lib.mjs';

const PASSWORD = 'doorstep-demo';

describe('the demo district in the dashboard', { timeout: 600_000 }, () => {
  let tmp;
  let relay;
  let base;
  let b;
  let page;
  let seen;

  before(async () => {
    tmp = tempDir('doorstep-demo-');
    relay = await startRelay(['demo', '--db', join(tmp.dir, 'demo.sqlite')]);
    base = relay.url;
    b = await browser({ locale: 'zh-CN', width: 1280, height: 860 });
    page = b.page;
    seen = watch(page, base);
    await logIn(page, base, 'chen', PASSWORD, '/queue');
    await page.waitForURL(`${base}/queue`);
  });

  after(async () => {
    await b?.close();
    await relay?.stop();
    tmp?.remove();
  });

  afterEach(() => {
    assert.deepEqual(seen.take(), [], 'no console error, no failed request');
  });

  const rows = () => page.locator('main tbody tr');
  const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `demo-${name}.png`), fullPage: true });

  async function open(path) {
    await seen.settle();
    await page.goto(`${base}${path}`);
    await page.locator('main h1').waitFor();
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    assert.deepEqual(await unlabelled(page), [], `${path}: every control labelled`);
  }

  it('review queue: submitted cards, oldest first, with actions', async () => {
    await open('/queue');
    assert.ok(await rows().count() >= 20);
    assert.ok(await page.locator('main tbody button[data-action="approve"]').count() >= 20);
    const dates = await page.locator('main tbody time').evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime')));
    assert.deepEqual(dates, [...dates].sort(), 'oldest first');
    await shot('queue');
  });

  it('dispatch: every stage has cards, with an assign form for approved ones', async () => {
    for (const status of ['approved', 'claimed', 'fulfilled', 'confirmed']) {
      await open(`/dispatch?status=${status}`);
      assert.ok(await rows().count() >= 10, status);
    }
    await open('/dispatch');
    assert.ok(await page.locator('main form.assign').count() >= 10);
    await shot('dispatch');
    // Assign the oldest approved wish to a partner unit.
    const tab = (i) => page.locator('.tabs .count').nth(i);
    const [toAssign, claimed] = [Number(await tab(0).textContent()), Number(await tab(1).textContent())];
    const first = page.locator('main tbody tr').first();
    const id = await first.getAttribute('data-wish');
    await first.getByLabel('派给（志愿者或单位）').fill('园山街道社区卫生服务中心');
    await first.getByRole('button', { name: '派单' }).click();
    await page.locator(`main tbody tr[data-wish="${id}"]`).waitFor({ state: 'detached' });
    await tab(0).filter({ hasText: String(toAssign - 1) }).waitFor();
    assert.equal(Number(await tab(1).textContent()), claimed + 1);
    await seen.settle();
    await page.goto(`${base}/wishes/${id}`);
    await page.locator('#timeline').getByText('园山街道社区卫生服务中心').waitFor();
  });

  it('takes a claimed card back for another dispatch, then cancels it with a reason', async () => {
    await open('/dispatch?status=claimed');
    const tab = (i) => page.locator('.tabs .count').nth(i);
    const [toAssign, claimed] = [Number(await tab(0).textContent()), Number(await tab(1).textContent())];
    const first = rows().first();
    const id = await first.getAttribute('data-wish');
    await first.getByRole('button', { name: '收回派单…' }).click();
    const release = page.getByRole('dialog', { name: '收回派单' });
    await release.getByLabel('收回原因（可选）').fill('志愿者临时有事');
    await release.getByRole('button', { name: '收回，重新派单' }).click();
    await page.locator(`main tbody tr[data-wish="${id}"]`).waitFor({ state: 'detached' });
    await tab(1).filter({ hasText: String(claimed - 1) }).waitFor();
    assert.equal(Number(await tab(0).textContent()), toAssign + 1);

    // On its page: approved again, the reason in its history.
    await open(`/wishes/${id}`);
    await page.locator('.badges .status-approved').waitFor();
    await page.locator('#timeline').getByText('志愿者临时有事').waitFor();
    await page.getByRole('button', { name: '取消心愿…' }).click();
    const cancel = page.getByRole('dialog', { name: '取消这个心愿' });
    await cancel.getByRole('button', { name: '确认取消心愿' }).click();
    assert.equal(await cancel.isVisible(), true, 'a reason is required');
    await cancel.getByLabel('取消的原因（工作者和居民会看到）').fill('居民已搬走');
    await cancel.getByRole('button', { name: '确认取消心愿' }).click();
    await page.locator('.badges .status-cancelled').waitFor();
    await page.locator('#timeline').getByText('居民已搬走').waitFor();
    assert.equal(await page.getByRole('button', { name: '取消心愿…' }).count(), 0, 'nothing more to cancel');
  });

  it('all wishes, filtered and paged', async () => {
    await open('/wishes?status=rejected');
    assert.ok(await rows().count() >= 10);
    assert.equal(await page.locator('main tbody .status-rejected').count(), await rows().count());
    await open('/wishes');
    assert.ok(await page.locator('nav.pager').count() === 1);
  });

  it('conflicts, and a card with its conflict and history', async () => {
    await open('/conflicts');
    assert.ok(await rows().count() >= 5);
    await shot('conflicts');
    await page.locator('main tbody tr a').first().click();
    await page.locator('#timeline').waitFor();
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    assert.ok(await page.locator('#timeline > li').count() >= 4);
    assert.ok(await page.locator('[data-conflict]').count() >= 1);
    assert.match(await page.locator('#timeline').textContent(), /认领/);
    await shot('card');
    // Resolve it there: the card and the header's count follow.
    const openBefore = Number(await page.locator('nav .count').nth(1).textContent());
    const conflict = page.locator('[data-conflict]').first();
    await conflict.getByRole('button', { name: '标记已处理…' }).click();
    const dialog = page.getByRole('dialog', { name: '处理冲突' });
    await dialog.getByLabel('处理说明').fill('已与两位志愿者核实，由先认领者完成');
    await dialog.getByRole('button', { name: '确定' }).click();
    await conflict.getByText('已处理').waitFor();
    await page.locator('nav .count').nth(1).filter({ hasText: String(openBefore - 1) }).waitFor();
  });

  it('households and a household with visits and wishes', async () => {
    await open('/households');
    assert.ok(await rows().count() >= 20);
    assert.ok(await page.locator('main .chip').count() >= 5, 'tags');
    await shot('households');
    // A household with a visit: the demo visits every other one.
    for (let i = 0; i < 4; i += 1) {
      await page.locator('main tbody tr a').nth(i).click();
      await page.locator('#wishes-h').waitFor();
      if (await page.locator('.tl.visit').count()) break;
      await seen.settle();
      await page.goBack();
      await page.locator('main tbody tr').first().waitFor();
    }
    assert.ok(await page.locator('.tl.visit').count() >= 1, 'a visit');
    await shot('household');
  });

  it('statistics with every chart drawn', async () => {
    await open('/stats');
    for (const kpi of ['collected', 'reviewed', 'approved', 'claimed', 'fulfilled', 'confirmed']) {
      const value = Number((await page.locator(`[data-kpi="${kpi}"] .kpi-value`).textContent()).replace(/[^0-9]/g, ''));
      assert.ok(value > 100, `${kpi}: ${value}`);
    }
    assert.match(await page.locator('[data-kpi="satisfaction"] .kpi-value').textContent(), /^[1-5]\.\d$/);
    assert.match(await page.locator('[data-kpi="median"] .kpi-value').textContent(), /^\d+\.\d$/);
    assert.equal(await page.locator('figure.chart svg').count(), 8);
    assert.equal(await page.locator('figure.chart .empty').count(), 0);
    await shot('stats');
    if (process.env.DOCS_SCREENSHOT) {
      await page.screenshot({ path: process.env.DOCS_SCREENSHOT });
    }
  });

  it('a phone syncing shows up on the open queue', async () => {
    await open('/queue?category=mobility_aid');
    const before = await page.locator('#queue-count').textContent();
    const phoneDb = join(tmp.dir, 'phone.sqlite');
    const card = await phone(base, phoneDb, 'wang', PASSWORD, 'submit', '--text', '希望给独居的王奶奶配一副拐杖');
    await page.locator('#queue-count').filter({ hasNotText: before }).waitFor({ timeout: 30_000 });
    // The queue is oldest first, so the new card is on the last page.
    const count = await page.locator('#queue-count').textContent();
    assert.notEqual(count, before);
    assert.ok(card.wish);
  });
});
