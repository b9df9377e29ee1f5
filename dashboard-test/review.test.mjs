// The acceptance test of the supervisor dashboard, in headless Chromium
// against the real `doorstep` relay: a phone syncs a wish card, the
// supervisor finds it in the review queue, reads its history and approves
// it, the phone receives the approval, the statistics and the CSV export
// show the card. Every step fails on a console error or a failed request.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ARTIFACTS, addUser, browser, logIn, overflows, phone, startRelay, tempDir, unlabelled, watch,
} from './lib.mjs';

const WORKER_PASSWORD = 'field worker pass';
const SUPERVISOR_PASSWORD = 'supervisor pass 1';
const CARD_TEXT = '给西坑村的李大爷配一台轮椅';
const SECOND_TEXT = '三巷的路灯坏了，希望尽快修好';
const PAGES = ['/queue', '/dispatch', '/wishes', '/conflicts', '/households', '/stats', '/devices'];

describe('the supervisor dashboard in Chromium', { timeout: 300_000 }, () => {
  let tmp;
  let relay;
  let base;
  let phoneDb;
  let b;
  let page;
  let seen;
  let card;
  let second;

  before(async () => {
    tmp = tempDir('doorstep-dashboard-');
    const db = join(tmp.dir, 'relay.sqlite');
    phoneDb = join(tmp.dir, 'phone.sqlite');
    await addUser(db, 'wang', 'worker', 'longgang/yuanshan/xikeng', WORKER_PASSWORD);
    await addUser(db, 'chen', 'supervisor', 'longgang', SUPERVISOR_PASSWORD);
    relay = await startRelay(['serve', '--db', db]);
    base = relay.url;
    b = await browser({ locale: 'zh-CN' });
    page = b.page;
    seen = watch(page, base);
  });

  after(async () => {
    await b?.close();
    await relay?.stop();
    tmp?.remove();
  });

  afterEach(() => {
    assert.deepEqual(seen.take(), [], 'no console error, no failed request');
  });

  it('a phone syncs a new wish card through the real sync endpoint', async () => {
    card = await phone(base, phoneDb, 'wang', WORKER_PASSWORD, 'submit', '--text', CARD_TEXT);
    assert.equal(card.sent, 2, 'a household and a card');
    assert.equal(card.accepted, 2);
    assert.equal(card.rejected, 0);
  });

  it('sends requests for supervisor pages without a session to the login page', async () => {
    for (const path of [...PAGES, `/wishes/${card.wish}`, `/households/${card.household}`]) {
      const response = await fetch(`${base}${path}`, { redirect: 'manual' });
      assert.equal(response.status, 303, path);
      assert.equal(response.headers.get('location'), `/login?next=${path}`, path);
    }
    const api = await fetch(`${base}/v1/wishes`);
    assert.equal(api.status, 401, 'the API answers 401, not a page');

    await seen.settle();
    await page.goto(`${base}/stats`);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/stats');
    await page.getByRole('heading', { name: '登录', exact: true }).waitFor();
  });

  it("refuses a worker's login", async () => {
    await logIn(page, base, 'wang', WORKER_PASSWORD);
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').textContent(), /社区工作者请使用手机应用/);
    assert.equal(new URL(page.url()).pathname, '/login');
    const cookies = await b.context.cookies(base);
    assert.equal(cookies.find((c) => c.name === 'doorstep_session'), undefined, 'no session');
    await seen.settle();
    await page.goto(`${base}/queue`);
    assert.equal(new URL(page.url()).pathname, '/login');
  });

  it('logs the supervisor in with an HttpOnly, SameSite=Strict cookie and nothing in storage', async () => {
    await logIn(page, base, 'chen', SUPERVISOR_PASSWORD, '/queue');
    await page.waitForURL(`${base}/queue`);
    const session = (await b.context.cookies(base)).find((c) => c.name === 'doorstep_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!stored.includes(session.value), 'the session is not in web storage');
    assert.equal(await page.evaluate(() => document.cookie.includes('doorstep_session')), false, 'scripts cannot read it');
  });

  it('serves pages with a strict content security policy and the other security headers', async () => {
    await seen.settle();
    const response = await page.goto(`${base}/queue`);
    const headers = response.headers();
    assert.match(headers['content-security-policy'], /script-src 'self'/);
    assert.doesNotMatch(headers['content-security-policy'], /unsafe-inline|unsafe-eval/);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['referrer-policy'], 'same-origin');
  });

  it('shows the card in the review queue, oldest first, in Chinese', async () => {
    const row = page.locator(`tr[data-wish="${card.wish}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(CARD_TEXT));
    assert.match(await row.textContent(), /wang/);
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), '审核队列');
    assert.match(await page.locator('#queue-count').textContent(), /1 张待审核/);
    assert.deepEqual(await unlabelled(page), [], 'every form control is labelled');
    await page.screenshot({ path: join(ARTIFACTS, 'queue.png'), fullPage: true });
  });

  it('opens the card and its history: who changed what, when, from which device', async () => {
    await page.locator(`tr[data-wish="${card.wish}"]`).getByRole('link', { name: CARD_TEXT }).click();
    await page.waitForURL(`${base}/wishes/${card.wish}`);
    await page.getByRole('heading', { level: 1, name: CARD_TEXT }).waitFor();
    const history = page.locator('#timeline');
    await history.waitFor();
    const entries = history.locator('li');
    assert.equal(await entries.count(), 2, 'created, submitted');
    const first = await entries.nth(0).textContent();
    assert.match(first, /登记心愿卡/);
    assert.match(first, new RegExp(CARD_TEXT));
    assert.match(first, /wang/);
    assert.match(first, new RegExp(card.device.slice(0, 8)), 'the phone that made it');
    assert.match(await entries.nth(1).textContent(), /提交审核/);
    assert.match(await page.locator('.badges').textContent(), /待审核/);
    assert.match(await page.locator('#details-h + dl').textContent(), /西坑村三巷5号/, 'the household');
    await page.screenshot({ path: join(ARTIFACTS, 'card.png'), fullPage: true });
  });

  it('approves it with the keyboard, and the history shows the approval', async () => {
    const approve = page.getByRole('button', { name: '通过', exact: true });
    await approve.focus();
    await page.keyboard.press('Enter');
    await page.locator('.badges .status-approved').waitFor();
    const last = page.locator('#timeline li').last();
    await last.getByText('审核通过').waitFor();
    assert.match(await last.textContent(), /chen/);
    assert.match(await last.textContent(), /督导工作台/, 'from the dashboard device');
    await page.screenshot({ path: join(ARTIFACTS, 'card-approved.png'), fullPage: true });
  });

  it("delivers the approval at the phone's next sync", async () => {
    const answer = await phone(base, phoneDb, 'wang', WORKER_PASSWORD, 'sync', '--wish', card.wish);
    assert.equal(answer.status, 'approved');
    assert.ok(answer.received >= 1);
  });

  it('shows a new sync without a reload', async () => {
    await page.getByRole('link', { name: /审核队列/ }).first().click();
    await page.waitForURL(`${base}/queue`);
    await page.getByText('审核队列已清空').waitFor();
    await page.evaluate(() => { window.stayed = true; });
    second = await phone(base, phoneDb, 'wang', WORKER_PASSWORD, 'submit', '--text', SECOND_TEXT);
    await page.locator(`tr[data-wish="${second.wish}"]`).waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.stayed), true, 'the page was not reloaded');
  });

  it('sends the second card back for more information, with a reason, from a dialog', async () => {
    const row = page.locator(`tr[data-wish="${second.wish}"]`);
    await row.getByRole('button', { name: '退回补充…' }).click();
    const dialog = page.getByRole('dialog', { name: '退回补充信息' });
    await dialog.waitFor();
    const reason = dialog.getByLabel('需要补充什么（工作者会在手机上看到）');
    assert.equal(await reason.evaluate((el) => el === document.activeElement), true, 'the reason has the focus');
    await dialog.getByRole('button', { name: '退回补充' }).click();
    assert.equal(await dialog.isVisible(), true, 'a reason is required');
    await reason.fill('请补充路灯的具体位置');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByText('审核队列已清空').waitFor();
    const answer = await phone(base, phoneDb, 'wang', WORKER_PASSWORD, 'sync', '--wish', second.wish);
    assert.equal(answer.status, 'needs_info', 'the phone gets it back');
  });

  it('shows the new counts on the statistics page', async () => {
    await page.getByRole('link', { name: '统计' }).click();
    await page.waitForURL(`${base}/stats`);
    const kpi = async (name) => (await page.locator(`[data-kpi="${name}"] .kpi-value`).textContent()).trim();
    await page.locator('[data-kpi="collected"]').waitFor();
    assert.equal(await kpi('collected'), '2');
    assert.equal(await kpi('reviewed'), '2');
    assert.equal(await kpi('approved'), '1');
    assert.equal(await kpi('fulfilled'), '0');
    const charts = await page.locator('figure.chart svg').count();
    assert.ok(charts >= 3, `charts drawn: ${charts}`);
    assert.match(await page.locator('figure.chart').first().textContent(), /yuanshan/);
    await page.screenshot({ path: join(ARTIFACTS, 'stats.png'), fullPage: true });
  });

  it('exports the current filter as CSV, with the card in it', async () => {
    await seen.settle();
    await page.goto(`${base}/wishes?q=${encodeURIComponent('轮椅')}`);
    await page.locator(`tr[data-wish="${card.wish}"]`).waitFor();
    assert.equal(await page.locator('tbody tr').count(), 1, 'the filter finds the first card only');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /导出 CSV/ }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'wishes.csv');
    const csv = await readFile(await download.path(), 'utf8');
    assert.ok(csv.startsWith('\uFEFF'), 'a BOM, so Excel reads the Chinese');
    assert.ok(csv.includes(card.wish) && csv.includes(CARD_TEXT), csv);
    assert.ok(csv.includes('已通过'), 'statuses by their names');
    assert.ok(!csv.includes(second.wish), 'only the current filter');
  });

  it('refuses a cookie-authenticated write without the CSRF token or from another site', async () => {
    const cookie = (await b.context.cookies(base)).map((c) => `${c.name}=${c.value}`).join('; ');
    const review = `${base}/v1/wishes/${second.wish}/review`;
    const body = JSON.stringify({ decision: 'reject', reason: '伪造的请求' });
    const headers = { cookie, 'content-type': 'application/json', origin: base };
    const without = await fetch(review, { method: 'POST', headers, body });
    assert.equal(without.status, 403);
    const csrf = await page.locator('meta[name="doorstep-csrf"]').getAttribute('content');
    const crossSite = await fetch(review, { method: 'POST', headers: { ...headers, origin: 'http://evil.example', 'x-csrf-token': csrf }, body });
    assert.equal(crossSite.status, 403);
    const detail = await (await fetch(`${base}/v1/wishes/${second.wish}`, { headers: { cookie } })).json();
    assert.equal(detail.status, 'needs_info', 'nothing changed');
  });

  it('is usable at tablet width', async () => {
    await page.setViewportSize({ width: 768, height: 1024 });
    for (const path of ['/queue', '/stats', `/wishes/${card.wish}`]) {
      await seen.settle();
      await page.goto(`${base}${path}`);
      await page.locator('main h1').waitFor();
      await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
      assert.equal(await overflows(page), false, `${path} fits 768 px`);
      assert.deepEqual(await unlabelled(page), [], path);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'card-tablet.png'), fullPage: true });
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  it('switches to English', async () => {
    await seen.settle();
    await page.goto(`${base}/queue`);
    await page.locator('main h1').waitFor();
    await seen.settle();
    await page.getByRole('link', { name: 'English' }).click();
    await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    await page.getByText('The queue is empty').waitFor();
    assert.equal(await page.getByRole('link', { name: /Statistics/ }).count(), 1);
  });

  it('logs out, and the pages send it back to the login page', async () => {
    await seen.settle();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login$/);
    await seen.settle();
    await page.goto(`${base}/dispatch`);
    assert.equal(new URL(page.url()).pathname, '/login');
    const cookies = await b.context.cookies(base);
    assert.equal(cookies.find((c) => c.name === 'doorstep_session'), undefined);
  });
});
