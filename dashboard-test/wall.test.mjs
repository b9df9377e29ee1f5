// The wish wall (心愿墙) in headless Chromium at a phone's size (390×844),
// against the real relay: two volunteers claim the same wish at once and
// one is told kindly that they lost; the winner sees the delivery fields,
// checks in and lights the wish up; a worker's phone records the resident's
// confirmation; the points appear once, on the wall and on the leaderboard,
// and go when a supervisor resolves the race the other way. A partner
// unit's member claims for the unit, and the unit's board counts it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  ARTIFACTS, DOORSTEP, addUser, browser, logIn, overflows, phone, root, startRelay, tempDir, unlabelled, watch,
} from './lib.mjs';

const PASSWORD = 'wish wall pass 1';
const CARD = '给欧阳奶奶配一台轮椅，方便去医院复诊';
const SECOND = '楼道的灯坏了，晚上上下楼看不见';
// Household details a volunteer must not see until the wish is theirs.
const ADDRESS = '西坑村七巷88号';
const CONTACT = '欧阳秀兰';
const CONTACT_PHONE = '13912345678';
const PHONE_SIZE = { width: 390, height: 844 };

/** Runs `doorstep <args…>` (the password, if any, on stdin). */
function cli(args, stdin = '') {
  return new Promise((done, fail) => {
    const child = spawn(DOORSTEP, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`doorstep ${args.join(' ')}: ${err}`))));
    child.stdin.end(stdin);
  });
}

/** The API as a script calls it, with a bearer token. */
async function apiAs(base, user) {
  const login = await fetch(`${base}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user, password: PASSWORD, device_id: randomUUID(), device_name: 'test script' }),
  });
  assert.equal(login.status, 200, `${user} logs in`);
  const { access_token: token } = await login.json();
  return async (method, path, body) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const type = r.headers.get('content-type') ?? '';
    if (type.includes('json')) return { status: r.status, body: await r.json() };
    if (type.startsWith('image/')) return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
    return { status: r.status, body: await r.text() };
  };
}

/** A volunteer's phone-sized browser, logged in on the wall. */
async function volunteer(base, user) {
  const b = await browser({ locale: 'zh-CN', ...PHONE_SIZE });
  const seen = watch(b.page, base);
  await logIn(b.page, base, user, PASSWORD, '/wall');
  await b.page.waitForURL(/\/wall/);
  await b.page.locator('#main h1').waitFor();
  return { ...b, seen, user };
}

let loads = 0;
/** Loads the wall afresh on one of its tabs. */
async function open(page, base, tab) {
  loads += 1;
  await page.goto(`${base}/wall?load=${loads}#${tab}`);
  await page.locator('#main h1').waitFor();
}

const pointsOf = async (page) => (await page.locator('#my-points').textContent()).replace(/\D/g, '');

describe('the wish wall on a phone', { timeout: 300_000 }, () => {
  let tmp;
  let relay;
  let base;
  let phoneDb;
  let card;
  let second;
  let sup;
  let hu;
  let ma;
  let winner;
  let loser;

  before(async () => {
    tmp = tempDir('doorstep-wall-');
    const db = join(tmp.dir, 'relay.sqlite');
    phoneDb = join(tmp.dir, 'phone.sqlite');
    await addUser(db, 'wang', 'worker', 'longgang/yuanshan/xikeng', PASSWORD);
    await addUser(db, 'chen', 'supervisor', 'longgang', PASSWORD);
    await cli(['unit', 'add', 'shuiwu', '--name', '龙岗区水务局', '--db', db]);
    for (const [user, name, unit] of [['hu', '胡志强'], ['ma', '马丽娟'], ['zhang', '张建国', 'shuiwu']]) {
      const extra = unit ? ['--unit', unit] : [];
      await cli(['user', 'add', '--db', db, '--username', user, '--role', 'volunteer', '--scope', 'longgang', '--name', name, ...extra], `${PASSWORD}\n`);
    }
    await cli(['place', 'name', 'longgang/yuanshan', '园山街道', '--db', db]);
    await cli(['place', 'name', 'longgang/yuanshan/xikeng', '西坑社区', '--db', db]);
    relay = await startRelay(['serve', '--db', db]);
    base = relay.url;
    sup = await apiAs(base, 'chen');
  });

  after(async () => {
    for (const b of [hu, ma]) await b?.close();
    await relay?.stop();
    tmp?.remove();
  });

  it('a worker\'s phone sends two cards and a supervisor approves them', async () => {
    card = await phone(base, phoneDb, 'wang', PASSWORD, 'submit', '--text', CARD,
      '--address', ADDRESS, '--contact', CONTACT, '--contact-phone', CONTACT_PHONE);
    second = await phone(base, phoneDb, 'wang', PASSWORD, 'submit', '--text', SECOND, '--address', '西坑村一巷2号');
    for (const c of [card, second]) {
      assert.equal(c.accepted, 2);
      const r = await sup('POST', `/v1/wishes/${c.wish}/review`, { decision: 'approve' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  });

  it('volunteers land on the wall and see the wishes, without the household', async () => {
    hu = await volunteer(base, 'hu');
    ma = await volunteer(base, 'ma');
    for (const v of [hu, ma]) {
      const text = await v.page.locator('#main').innerText();
      assert.match(text, new RegExp(CARD));
      assert.match(text, /园山街道 · 西坑社区/, 'places by their names');
      for (const secret of [ADDRESS, CONTACT, CONTACT_PHONE, '李建国']) {
        assert.equal((await v.page.content()).includes(secret), false, `${secret} is not on the wall`);
      }
      assert.equal(await overflows(v.page), false, 'no sideways scrolling at 390 px');
      assert.deepEqual(await unlabelled(v.page), []);
      assert.match(await v.page.locator('.wall-top').innerText(), /胡志强|马丽娟/);
    }
    await hu.page.screenshot({ path: join(ARTIFACTS, 'wall-390.png'), fullPage: true });
  });

  it('two claims at once: one wins, the other is told kindly', async () => {
    const claim = (v) => v.page.locator(`[data-wish="${card.wish}"]`).getByRole('button', { name: '认领', exact: true }).click();
    await Promise.all([claim(hu), claim(ma)]);
    const told = async (v) => {
      await v.page.locator('.toast').first().waitFor();
      return v.page.locator('#toasts').innerText();
    };
    const [huSaid, maSaid] = await Promise.all([told(hu), told(ma)]);
    const won = [huSaid, maSaid].map((s) => /认领成功/.test(s));
    const lost = [huSaid, maSaid].map((s) => /很遗憾.*被别人认领/.test(s));
    assert.deepEqual(won.map((x, i) => x !== lost[i]), [true, true], `${huSaid} | ${maSaid}`);
    assert.equal(won.filter(Boolean).length, 1, 'exactly one claim wins');
    [winner, loser] = won[0] ? [hu, ma] : [ma, hu];
    const conflicts = await sup('GET', '/v1/conflicts');
    assert.equal(conflicts.body.length, 1, 'the race reaches the supervisor');
    assert.equal(conflicts.body[0].event_kind, 'claim');
    // The losing claim's 409 is the answer the page expects; nothing else failed.
    for (const v of [hu, ma]) assert.deepEqual(v.seen.take().filter((p) => !/\b409\b/.test(p)), []);
  });

  it('the winner sees where to deliver, checks in and lights the wish up', async () => {
    const page = winner.page;
    await open(page, base, 'mine');
    const held = page.locator(`#mine-doing [data-wish="${card.wish}"]`);
    await held.waitFor();
    const text = await held.innerText();
    for (const field of [ADDRESS, CONTACT, CONTACT_PHONE]) assert.match(text, new RegExp(field));
    await held.getByRole('button', { name: '报到' }).click();
    await page.locator(`[data-wish="${card.wish}"] .checked-in`).waitFor();
    await page.locator(`[data-wish="${card.wish}"]`).getByRole('button', { name: '点亮心愿' }).click();
    await page.getByLabel('完成情况说明').fill('轮椅已送到，欧阳奶奶试坐合适');
    // A camera's picture, with its orientation and a GPS position in EXIF.
    await page.getByLabel('拍一张点亮后的照片（可选）').setInputFiles(join(root, 'sync-core/tests/fixtures/rotated-gps.jpg'));
    await page.getByRole('button', { name: '提交点亮' }).click();
    await page.locator(`[data-wish="${card.wish}"][data-status="fulfilled"]`).waitFor();
    assert.equal(await overflows(page), false);
    // The photo joined the card, without its metadata, and the supervisor sees it.
    const detail = (await sup('GET', `/v1/wishes/${card.wish}`)).body;
    assert.equal(detail.photos.length, 1, JSON.stringify(detail.photos));
    const { sha256 } = detail.photos[0];
    const original = await sup('GET', `/v1/records/${card.wish}/photos/${sha256}`);
    assert.equal(original.status, 200);
    assert.equal(original.body.includes(Buffer.from('Exif')), false, 'no EXIF, no GPS position');
    assert.equal((await sup('GET', `/v1/records/${card.wish}/photos/${sha256}/thumb`)).status, 200);

    const lost = loser.page;
    await open(lost, base, 'mine');
    const other = lost.locator(`#mine-other [data-wish="${card.wish}"]`);
    await other.waitFor();
    assert.equal((await lost.content()).includes(ADDRESS), false, 'the loser never sees the address');
  });

  it('the resident confirms on the worker\'s phone; the points appear once', async () => {
    const confirmed = await phone(base, phoneDb, 'wang', PASSWORD, 'confirm', '--wish', card.wish, '--rating', '5');
    assert.equal(confirmed.rejected, 0);
    const page = winner.page;
    for (let i = 0; i < 2; i += 1) {
      await open(page, base, 'points');
      // High urgency (15) and the bonus for five stars (5).
      assert.equal(await pointsOf(page), '20');
      assert.equal(await page.locator('#points-total').innerText(), '20');
      const board = await page.locator('.ranking').first().innerText();
      const name = winner.user === 'hu' ? '胡志强' : '马丽娟';
      assert.equal(board.split(name).length - 1, 1, `${name} once on the board: ${board}`);
    }
    const boards = await sup('GET', '/v1/points/leaderboards');
    assert.deepEqual(boards.body.volunteers, [{ who: winner.user, points: 20, wishes: 1 }]);
  });

  it('a supervisor resolves the race the other way: the points go', async () => {
    const [conflict] = (await sup('GET', '/v1/conflicts')).body;
    const r = await sup('POST', `/v1/conflicts/${conflict.event_id}/resolve`, { reverse: true, note: '核实后由另一位志愿者负责' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await open(winner.page, base, 'points');
    assert.equal(await pointsOf(winner.page), '0');
    const boards = await sup('GET', '/v1/points/leaderboards');
    assert.deepEqual(boards.body.volunteers, []);
    await open(loser.page, base, 'mine');
    const now = loser.page.locator(`#mine-doing [data-wish="${card.wish}"]`);
    await now.waitFor();
    assert.match(await now.innerText(), new RegExp(ADDRESS), 'the wish is theirs now, with where to deliver');
  });

  it('a partner unit\'s member claims for the unit, and the unit\'s board counts it', async () => {
    const zhang = await volunteer(base, 'zhang');
    try {
      const page = zhang.page;
      await page.locator(`[data-wish="${second.wish}"]`).getByRole('button', { name: '以龙岗区水务局名义认领' }).click();
      await page.locator(`#mine-doing [data-wish="${second.wish}"]`).waitFor();
      assert.match(await page.locator(`[data-wish="${second.wish}"]`).innerText(), /由龙岗区水务局负责/);
      await page.locator(`[data-wish="${second.wish}"]`).getByRole('button', { name: '点亮心愿' }).click();
      await page.getByRole('button', { name: '提交点亮' }).click();
      await page.locator(`[data-wish="${second.wish}"][data-status="fulfilled"]`).waitFor();
      await phone(base, phoneDb, 'wang', PASSWORD, 'confirm', '--wish', second.wish, '--rating', '4');
      await open(page, base, 'points');
      const units = page.locator('.board').nth(2);
      assert.match(await units.innerText(), /龙岗区水务局[\s\S]*15/, 'the unit is on its board with the points');
      assert.deepEqual(zhang.seen.take(), []);
    } finally {
      await zhang.close();
    }
  });

  it('the supervisors\' statistics page and the wall in English use the names', async () => {
    const b = await browser({ locale: 'zh-CN' });
    try {
      await logIn(b.page, base, 'chen', PASSWORD, '/stats');
      await b.page.locator('#leaderboards').waitFor();
      const text = await b.page.locator('#main').textContent();
      assert.match(text, /西坑社区/);
      assert.match(text, /龙岗区水务局/);
    } finally {
      await b.close();
    }
    await hu.page.goto(`${base}/wall?lang=en`);
    await hu.page.getByRole('heading', { name: 'Wishes' }).waitFor();
    assert.match(await hu.page.locator('.wall-top').innerText(), /Wish wall/);
  });
});
