// `doorstep demo`, opened in Chromium: every page of the dashboard shows the
// demo district's data. Saves a screenshot of each page under
// tests/artifacts/demo-*.png; with DOCS_SCREENSHOT=path also the picture for
// the README.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, browser, logIn, overflows, phone, startRelay, tempDir, unlabelled, watch } from './lib.mjs';

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
    // The first page loads the names, then draws: let it finish.
    await page.locator('main h1').waitFor();
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    await seen.settle();
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
    // Assign the oldest approved wish to a helper with no account.
    const tab = (i) => page.locator('.tabs .count').nth(i);
    const [toAssign, claimed] = [Number(await tab(0).textContent()), Number(await tab(1).textContent())];
    const first = page.locator('main tbody tr').first();
    const id = await first.getAttribute('data-wish');
    const choices = await first.getByLabel('派给（志愿者或单位）').locator('option').allTextContents();
    assert.ok(choices.includes('胡志强') && choices.includes('龙岗区水务局'), `volunteers and units offered: ${choices}`);
    await first.getByLabel('派给（志愿者或单位）').selectOption('free');
    await first.getByLabel('其他（未注册，手动填写）').fill('园山街道社区卫生服务中心');
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
    const conflict = page.locator('[data-conflict]').filter({ has: page.getByRole('button', { name: '标记已处理…' }) }).first();
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
      // The list again, not the household's own tables, before the next click.
      await page.waitForURL(/\/households$/);
      await page.locator('main tbody tr a[href^="/households/"]').first().waitFor();
      await seen.settle();
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
    const boards = page.locator('#leaderboards');
    assert.ok(await boards.locator('tbody tr').count() >= 4, 'volunteers and the unit on the leaderboards');
    assert.match(await boards.innerText(), /胡志强[\s\S]*龙岗区水务局|龙岗区水务局[\s\S]*胡志强/);
    assert.equal(await boards.locator('#boards-streets li').count(), 3, 'a line per street');
    assert.equal(await boards.locator('#boards-communities li').count(), 6, 'a line per community');
    assert.match(await boards.locator('#boards-communities').innerText(), /西坑社区/);
    assert.match(await page.locator('main').textContent(), /西坑社区/, 'places by their names');
    await shot('stats');
    if (process.env.DOCS_SCREENSHOT) {
      await page.screenshot({ path: process.env.DOCS_SCREENSHOT });
    }
  });

  it('the wish wall of a volunteer and of a unit\'s member is populated, at a phone\'s width', async () => {
    for (const [user, unit] of [['hu', false], ['zhangjg', true]]) {
      const v = await browser({ locale: 'zh-CN', width: 390, height: 844 });
      const wallSeen = watch(v.page, base);
      try {
        await logIn(v.page, base, user, PASSWORD, '/wall');
        await v.page.waitForURL(/\/wall/);
        await v.page.locator('#wall article').first().waitFor();
        assert.ok(await v.page.locator('#wall article').count() >= 5, `${user}: wishes on the wall`);
        if (unit) assert.ok(await v.page.getByRole('button', { name: /以龙岗区水务局名义认领/ }).count() >= 1);
        assert.equal(await overflows(v.page), false);
        await v.page.getByRole('link', { name: /我的/ }).click();
        await v.page.locator('#mine-doing article').first().waitFor();
        assert.ok(await v.page.locator('#mine-doing .delivery').count() >= 1, `${user}: where to deliver a held wish`);
        assert.ok(await v.page.locator('#mine-done article').count() >= 5, `${user}: wishes confirmed`);
        await v.page.screenshot({ path: join(ARTIFACTS, `demo-wall-${user}-mine.png`), fullPage: false });
        await v.page.getByRole('link', { name: /积分榜/ }).click();
        const points = Number((await v.page.locator('#points-total').textContent()).replace(/\D/g, ''));
        assert.ok(points > 0, `${user}: points ${points}`);
        await v.page.screenshot({ path: join(ARTIFACTS, `demo-wall-${user}-points.png`), fullPage: false });
        assert.deepEqual(wallSeen.take(), []);
      } finally {
        await v.close();
      }
    }
  });

  it('devices: the stranded phone, the lost one, and its held work accepted onto its card', async () => {
    await open('/devices');
    assert.match(await page.locator('#stranded-warning').textContent(), /^1 台设备有未同步的工作，且已数日未联系/);
    const stranded = page.locator('main tr.stranded');
    assert.equal(await stranded.count(), 1, 'the stranded phone is marked');
    const strandedText = await stranded.textContent();
    for (const what of [/sun's phone/, /3 条记录/, /最早一条写于 \d+ 天前/, /数日未联系/]) assert.match(strandedText, what);
    const lost = page.locator('main tr[data-standing="lost"]');
    assert.equal(await lost.count(), 1, 'one lost phone');
    assert.match(await lost.textContent(), /xu's phone/);
    assert.equal(await lost.locator('.badge').textContent(), '已挂失');
    assert.equal(await page.locator('main tr', { hasText: '时钟快 1 年' }).count(), 1, "the old phone's clock");
    assert.match(await page.locator('main tr', { hasText: 'chen' }).first().textContent(), /今天/, 'this session');
    const held = page.locator('main tr[data-held]');
    assert.equal(await held.count(), 2, 'a visit and a card held');
    for (const row of await held.all()) {
      assert.match(await row.textContent(), /徐小明 的已挂失设备/);
      assert.match(await row.textContent(), /由 王秀英 的手机带回/);
    }
    const heldCount = page.locator('nav a[href="/devices"] .count');
    assert.equal(await heldCount.textContent(), '2', 'the header counts held work');
    await shot('devices');

    // On a phone: nothing scrolls sideways, neither the page nor its tables.
    await page.setViewportSize({ width: 390, height: 844 });
    await open('/devices');
    assert.equal(await overflows(page), false, '/devices fits 390 px');
    const wide = await page.evaluate(() => [...document.querySelectorAll('main .table-wrap')]
      .filter((el) => el.scrollWidth > el.clientWidth + 1).length);
    assert.equal(wide, 0, 'its tables fit 390 px');
    await shot('devices-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    // Accept the card: it leaves the list and is applied, as xu made it.
    await open('/devices');
    const card = page.locator('main tr[data-held][data-kind="wish"]');
    const record = await card.getAttribute('data-record');
    const cardLink = card.getByRole('link');
    const text = await cardLink.textContent();
    assert.equal(await cardLink.getAttribute('href'), `/wishes/${record}`);
    await card.getByRole('button', { name: '接受…' }).click();
    const accept = page.getByRole('dialog', { name: '接受这条暂扣记录' });
    assert.ok((await accept.textContent()).includes(text), 'the dialog says what is accepted');
    await accept.getByRole('button', { name: '确认接受' }).click();
    await page.locator(`main tr[data-record="${record}"]`).waitFor({ state: 'detached' });
    assert.equal(await held.count(), 1);
    await heldCount.filter({ hasText: /^1$/ }).waitFor();
    await open(`/wishes/${record}`);
    await page.getByRole('heading', { level: 1, name: text }).waitFor();
    await page.locator('.badges .status-submitted').waitFor();
    assert.match(await page.locator('#timeline li').first().textContent(), /徐小明/);

    // Decided meanwhile elsewhere (here by a request of its own): the stale
    // row's button says so in the page's words, and the list is redrawn.
    await open('/devices');
    const visit = page.locator('main tr[data-held][data-kind="visit"]');
    const id = await visit.getAttribute('data-held');
    const status = await page.evaluate(async (held) => {
      const csrf = document.querySelector('meta[name="doorstep-csrf"]').content;
      const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf };
      const answer = await fetch(`/v1/quarantine/${held}/discard`, { method: 'POST', headers, body: '{}' });
      await answer.json();
      return answer.status;
    }, id);
    assert.equal(status, 200);
    await visit.getByRole('button', { name: '接受…' }).click();
    await page.getByRole('dialog', { name: '接受这条暂扣记录' }).getByRole('button', { name: '确认接受' }).click();
    await page.locator('.toast.error', { hasText: '操作失败：这条记录已经有人处理过了' }).waitFor();
    await page.locator('main .empty', { hasText: '没有暂扣的记录。' }).waitFor();
    await seen.settle();
    const refusal = `HTTP 409: POST ${base}/v1/quarantine/${id}/accept`;
    const problems = seen.take();
    assert.ok(problems.includes(refusal), problems.join('\n'));
    assert.deepEqual(problems.filter((p) => p !== refusal && !/status of 409/.test(p)), [], 'only the refusal');
    assert.equal(await heldCount.count(), 0, 'nothing held');

    // In English.
    await open('/devices?lang=en');
    assert.match(await page.locator('#stranded-warning').textContent(),
      /^1 device holds work that has not reached the relay and has not been seen for days/);
    assert.equal(await page.locator('main tr[data-standing="lost"] .badge').textContent(), 'Lost');
    assert.equal(await page.locator('main tr', { hasText: 'clock 1 year ahead' }).count(), 1);
    await page.locator('main .empty', { hasText: 'No held work.' }).waitFor();
    await open('/devices?lang=zh');
  });

  it('a card from a phone whose clock was a year ahead shows the corrected times', async () => {
    await open(`/wishes?q=${encodeURIComponent('卫生间需要装一个扶手')}`);
    await page.locator('main tbody tr a').first().click();
    await page.locator('#timeline').waitFor();
    const notes = page.locator('#timeline .clock-note');
    assert.ok(await notes.count() >= 1, 'the corrected entries are marked');
    assert.match(await notes.first().textContent(), /时钟快 1 年 · 时间已由服务器校正/);
    const shown = await page.locator('#timeline time').evaluateAll((els) => els.map((el) => Date.parse(el.dateTime)));
    assert.ok(shown.length >= 2 && shown.every((at) => at <= Date.now()), `no time in the future: ${shown}`);
    await shot('card-clock-corrected');
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
