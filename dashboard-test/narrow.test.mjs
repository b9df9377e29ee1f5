// The dashboard at a phone's size (390×844), as the demo supervisor and the
// demo admin use it: no page scrolls sideways, every button, link and
// field is within the screen's width (reachable by scrolling down only),
// and a review works there. Also: a refusal reads in the page's language,
// and an empty filter result says so. Screenshots (the top of each page): tests/artifacts/narrow-*.png.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ARTIFACTS, browser, logIn, overflows, startRelay, tempDir, watch } from './lib.mjs';

const PASSWORD = 'doorstep-demo';
const SIZE = { width: 390, height: 844 };

/** Visible controls whose box reaches outside the window's width. */
function outside(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll('a[href], button, select, input, textarea, summary')]
      .filter((el) => !el.closest('.skip') && el.type !== 'hidden')
      .filter((el) => {
        const r = el.getBoundingClientRect();
        // Hidden, or only for screen readers (1 px, clipped).
        return r.width > 1 && r.height > 1 && getComputedStyle(el).visibility !== 'hidden';
      })
      .filter((el) => {
        const r = el.getBoundingClientRect();
        return r.left < -0.5 || r.right > width + 0.5;
      })
      .map((el) => `${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('aria-label') || el.name || '').trim().slice(0, 30)}" at ${Math.round(el.getBoundingClientRect().left)}–${Math.round(el.getBoundingClientRect().right)}`);
  });
}

describe('the dashboard at 390×844', { timeout: 900_000 }, () => {
  let tmp;
  let relay;
  let base;

  before(async () => {
    tmp = tempDir('doorstep-narrow-');
    relay = await startRelay(['demo', '--db', join(tmp.dir, 'demo.sqlite')]);
    base = relay.url;
  });

  after(async () => {
    await relay?.stop();
    tmp?.remove();
  });

  /** A phone-sized browser logged in as `user`, with helpers. */
  async function session(user) {
    const b = await browser({ locale: 'zh-CN', ...SIZE });
    const { page } = b;
    const seen = watch(page, base);
    await logIn(page, base, user, PASSWORD, '/queue');
    await page.waitForURL(`${base}/queue`);
    await page.locator('main h1').waitFor();
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    const open = async (path) => {
      await seen.settle();
      await page.goto(`${base}${path}`);
      await page.locator('main h1').waitFor();
      await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    };
    const fits = async (name) => {
      assert.equal(await overflows(page), false, `${user} ${name}: no sideways scroll`);
      assert.deepEqual(await outside(page), [], `${user} ${name}: every control within the width`);
      await page.screenshot({ path: join(ARTIFACTS, `narrow-${user}-${name}.png`) });
    };
    return { b, page, seen, open, fits };
  }

  for (const user of ['chen', 'admin']) {
    it(`${user}: every page fits, with every action reachable`, async () => {
      const { b, page, seen, open, fits } = await session(user);
      try {
        await open('/queue');
        await fits('queue');
        const card = await page.locator('main tbody tr[data-wish] a').first().getAttribute('href');
        await open(card);
        assert.ok(await page.getByRole('button', { name: '通过', exact: true }).count() === 1, 'a submitted card can be approved');
        await fits('card');
        for (const status of ['approved', 'claimed', 'fulfilled', 'confirmed']) {
          await open(`/dispatch?status=${status}`);
          await fits(`dispatch-${status}`);
        }
        // A card waiting for dispatch: its assign form fits too.
        await open('/dispatch');
        await page.locator('main form.assign').first().waitFor();
        const approved = await page.locator('main tbody tr[data-wish] a').first().getAttribute('href');
        await open(approved);
        await page.locator('#actions-h ~ form.assign, section form.assign').first().waitFor();
        await fits('card-approved');
        await open('/wishes');
        await fits('wishes');
        await open('/conflicts');
        await fits('conflicts');
        await page.locator('main tbody tr a').first().click();
        await page.locator('#timeline').waitFor();
        await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
        await fits('card-conflict');
        await open('/households');
        await fits('households');
        await page.locator('main tbody tr a').first().click();
        await page.locator('#wishes-h').waitFor();
        await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
        await fits('household');
        await open('/devices');
        await fits('devices');
        await open('/stats');
        await fits('stats');
        // The header's links, the language switch and logging out are all there.
        for (const name of ['审核队列', '派单跟进', '全部心愿', '冲突', '住户', '统计', '设备']) {
          assert.ok(await page.getByRole('navigation', { name: '主导航' }).getByRole('link', { name: new RegExp(name) }).isVisible(), name);
        }
        assert.ok(await page.getByRole('button', { name: '退出登录' }).isVisible());
        await seen.settle();
        assert.deepEqual(seen.take(), [], 'no console error, no failed request');
      } finally {
        await b.close();
      }
    });
  }

  it('reviews there: approves from the queue, and a reason of spaces is refused in Chinese', async () => {
    const { b, page, seen, open, fits } = await session('chen');
    try {
      await open('/queue');
      const count = await page.locator('#queue-count').textContent();
      const first = page.locator('main tbody tr[data-wish]').first();
      const id = await first.getAttribute('data-wish');
      await first.getByRole('button', { name: '通过', exact: true }).click();
      await page.locator('.toast.ok', { hasText: '已通过审核' }).waitFor();
      await page.locator(`main tbody tr[data-wish="${id}"]`).waitFor({ state: 'detached' });
      await page.locator('#queue-count').filter({ hasNotText: count }).waitFor();

      // Rejecting with only spaces passes the form, and the relay refuses it.
      const next = await page.locator('main tbody tr[data-wish] a').first().getAttribute('href');
      await open(next);
      await page.getByRole('button', { name: '不通过…' }).click();
      const dialog = page.getByRole('dialog', { name: '不通过这张心愿卡' });
      await dialog.getByLabel('不通过的理由（工作者会在手机上看到）').fill('   ');
      await fits('reject-dialog');
      await dialog.getByRole('button', { name: '确认不通过' }).click();
      const toast = page.locator('.toast.error');
      await toast.waitFor();
      assert.equal(await toast.textContent(), '操作失败：请填写理由：工作者和居民会看到它');
      assert.doesNotMatch(await toast.textContent(), /needs a reason/);
      await page.locator('.badges .status-submitted').waitFor();
      await seen.settle();
      const problems = seen.take();
      assert.ok(problems.some((p) => /HTTP 400: POST .*\/review$/.test(p)), problems.join('\n'));
      assert.deepEqual(problems.filter((p) => !/HTTP 400: POST .*\/review$|status of 400/.test(p)), [], 'only the refusal');

      // In English, the same refusal in English.
      await open(`${next}?lang=en`);
      await page.getByRole('button', { name: 'Reject…' }).click();
      const en = page.getByRole('dialog', { name: 'Reject this wish card' });
      await en.getByLabel('Reason (the worker sees it on the phone)').fill(' ');
      await en.getByRole('button', { name: 'Reject' }).click();
      await page.locator('.toast.error', { hasText: 'That did not work: Please give a reason' }).waitFor();
      await seen.settle();
      seen.take();
      await open('/queue?lang=zh');
    } finally {
      await b.close();
    }
  });

  it('an empty filter result says that no card matches, not that the queue is clear', async () => {
    const { b, page, seen, open, fits } = await session('chen');
    try {
      await open(`/queue?q=${encodeURIComponent('没有这样的心愿')}`);
      const note = page.locator('#empty-filtered');
      assert.match(await note.textContent(), /^没有符合筛选条件的心愿卡。/);
      assert.equal(await page.getByText('审核队列已清空').count(), 0);
      await fits('queue-filtered-empty');
      await note.getByRole('button', { name: '清除筛选' }).click();
      await page.locator('main tbody tr[data-wish]').first().waitFor();
      assert.equal(new URL(page.url()).search, '');
      await open(`/wishes?category=medical&q=${encodeURIComponent('没有这样的心愿')}`);
      assert.match(await page.locator('#empty-filtered').textContent(), /^没有符合筛选条件的心愿卡。/);
      await open(`/households?q=${encodeURIComponent('没有这个地址')}`);
      assert.match(await page.locator('#empty-filtered').textContent(), /^没有符合筛选条件的住户。/);
      await open(`/queue?q=${encodeURIComponent('没有这样的心愿')}&lang=en`);
      assert.match(await page.locator('#empty-filtered').textContent(), /^No cards match this filter\./);
      await open('/queue?lang=zh');
      await seen.settle();
      assert.deepEqual(seen.take(), []);
    } finally {
      await b.close();
    }
  });

  it('the statistics page exports its figures, and the wishes, in its language', async () => {
    const { b, page, seen, open } = await session('chen');
    try {
      await open('/stats');
      const [figures] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /导出统计数字/ }).click()]);
      assert.equal(figures.suggestedFilename(), 'stats.csv');
      const csv = await readFile(await figures.path(), 'utf8');
      assert.match(csv, /^\uFEFF级别,范围,收集,已审核,已通过,已认领,已点亮,居民确认/);
      assert.match(csv, /\n合计,我的全部范围,\d+,/);
      assert.match(csv, /\n社区,[^,\n]*西坑社区,/);
      const [wishes] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /导出 CSV/ }).click()]);
      const rows = await readFile(await wishes.path(), 'utf8');
      assert.match(rows.split('\n')[0], /^\uFEFF编号,社区,住户地址,心愿内容,类别,紧急程度,状态,登记人,认领人\/单位,创建时间 \(UTC[+-]\d\d:\d\d\)/);
      assert.doesNotMatch(rows, /,草稿,/, 'no drafts');
      assert.equal(await page.getByRole('button', { name: '打印' }).count(), 1);
      await page.emulateMedia({ media: 'print' });
      assert.ok(await page.locator('#print-header').isVisible(), 'printed with a title, the scope and the date');
      assert.match(await page.locator('#print-header').textContent(), /统计[\s\S]*范围：[\s\S]*打印日期：/);
      assert.equal(await page.getByRole('button', { name: '打印' }).isVisible(), false);
      await page.emulateMedia({ media: 'screen' });
      await seen.settle();
      assert.deepEqual(seen.take(), []);
    } finally {
      await b.close();
    }
  });
});
