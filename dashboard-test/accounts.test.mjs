// Accounts in the dashboard, as a district's administrator and a new
// supervisor meet them in Chromium against the real relay: the administrator
// adds the account and hands over a one-time code; the supervisor logs in
// with it and must choose a password first; the administrator disables the
// account, enables it again and resets its password; the supervisor changes
// their own password; every step is in the audit log, which filters and
// exports. The pages are checked at 390 px too.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, addUser, browser, logIn, overflows, startRelay, tempDir, unlabelled, watch } from './lib.mjs';

const ADMIN_PASSWORD = 'admin-password-1';

describe('accounts and the audit log in the dashboard', { timeout: 600_000 }, () => {
  let tmp;
  let relay;
  let base;
  let admin;
  let seenAdmin;
  let user;
  let seenUser;
  let code;
  const name = 'wangfang';
  const passwords = ['first-own-password', 'second-own-password', 'third-own-password'];

  before(async () => {
    tmp = tempDir('doorstep-accounts-');
    const db = join(tmp.dir, 'relay.sqlite');
    await addUser(db, 'admin', 'admin', 'longgang', ADMIN_PASSWORD);
    relay = await startRelay(['serve', '--db', db]);
    base = relay.url;
    admin = await browser({ locale: 'zh-CN', width: 1280, height: 900 });
    seenAdmin = watch(admin.page, base);
    user = await browser({ locale: 'zh-CN', width: 1280, height: 900 });
    seenUser = watch(user.page, base);
    await logIn(admin.page, base, 'admin', ADMIN_PASSWORD, '/users');
    await admin.page.waitForURL(`${base}/users`);
    // Let the first page finish (its icon too) before a test navigates.
    await admin.page.locator('main h1').waitFor();
    await admin.page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    await seenAdmin.settle();
  });

  after(async () => {
    await admin?.close();
    await user?.close();
    await relay?.stop();
    tmp?.remove();
  });

  afterEach(async () => {
    await seenAdmin.settle();
    assert.deepEqual(seenAdmin.take(), [], 'administrator: no console error, no failed request');
    assert.deepEqual(seenUser.take(), [], 'user: no console error, no failed request');
  });

  const row = (who) => admin.page.locator(`main tr[data-user="${who}"]`);

  async function openAdmin(path) {
    await seenAdmin.settle();
    await admin.page.goto(`${base}${path}`);
    await admin.page.locator('main h1').waitFor();
    await admin.page.locator('main[aria-busy]').waitFor({ state: 'detached' });
  }

  async function shownCode() {
    const box = admin.page.locator('#one-time-code');
    await box.waitFor();
    const text = await box.locator('.code').textContent();
    assert.match(text, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/, text);
    return text;
  }

  /** The user logs in with `secret` (their one-time code) and chooses `fresh`. */
  async function firstLogin(secret, fresh) {
    await logIn(user.page, base, name, secret, '/queue');
    await user.page.waitForURL(/\/password\?/);
    assert.match(await user.page.locator('main p.muted').first().textContent(), /一次性验证码/);
    assert.equal(await user.page.getByLabel('用户名').inputValue(), name);
    assert.deepEqual(await unlabelled(user.page), []);
    await user.page.getByLabel('当前密码或一次性验证码').fill(secret);
    await user.page.getByLabel('新密码', { exact: true }).fill(fresh);
    await user.page.getByLabel('再次输入新密码').fill(fresh);
    await user.page.getByRole('button', { name: '修改密码' }).click();
    await user.page.waitForURL(`${base}/queue`);
    await user.page.locator('main h1').waitFor();
  }

  it('the administrator adds a supervisor and is shown a one-time code', async () => {
    await openAdmin('/users');
    assert.deepEqual(await unlabelled(admin.page), [], 'every control labelled');
    await admin.page.getByLabel('用户名（登录用）').fill(name);
    await admin.page.getByLabel('姓名').fill('王芳');
    await admin.page.getByLabel('角色').selectOption('supervisor');
    await admin.page.getByRole('button', { name: '新增', exact: true }).click();
    code = await shownCode();
    await row(name).waitFor();
    assert.match(await row(name).textContent(), /王芳.*督导.*待设置密码/);
    await admin.page.screenshot({ path: join(ARTIFACTS, 'accounts-users.png'), fullPage: true });
  });

  it('the code only lets its user choose a password, then they are in', async () => {
    // Without a new password, the code opens nothing: the form comes back.
    await logIn(user.page, base, name, code, '/queue');
    await user.page.waitForURL(/\/password\?/);
    await user.page.goto(`${base}/queue`);
    await user.page.waitForURL(/\/login/);
    await firstLogin(code, passwords[0]);
    // The code is spent.
    await user.page.locator('form.logout button').click();
    await user.page.waitForURL(/\/login/);
    await logIn(user.page, base, name, code, '/queue');
    assert.match(await user.page.locator('#login-error').textContent(), /用户名或密码不正确/);
    await logIn(user.page, base, name, passwords[0], '/queue');
    await user.page.waitForURL(`${base}/queue`);
  });

  it('a disabled account is refused, and enabled again it logs in', async () => {
    await openAdmin('/users');
    assert.match(await row(name).textContent(), /正常/);
    await row(name).locator('button[data-action="disable"]').click();
    await admin.page.locator('dialog').getByRole('button', { name: '停用' }).click();
    await row(name).locator('button[data-action="enable"]').waitFor();
    assert.match(await row(name).textContent(), /已停用/);
    // Their open session ended with the disable.
    await user.page.goto(`${base}/queue`);
    await user.page.waitForURL(/\/login/);
    await logIn(user.page, base, name, passwords[0], '/queue');
    assert.match(await user.page.locator('#login-error').textContent(), /此账号已停用/);

    await row(name).locator('button[data-action="enable"]').click();
    await row(name).locator('button[data-action="disable"]').waitFor();
    assert.match(await row(name).textContent(), /正常/);
    await logIn(user.page, base, name, passwords[0], '/queue');
    await user.page.waitForURL(`${base}/queue`);
  });

  it('a reset password ends the sessions and gives a new one-time code', async () => {
    await openAdmin('/users');
    await row(name).locator('button[data-action="reset"]').click();
    await admin.page.locator('dialog').getByRole('button', { name: '重置密码' }).click();
    const fresh = await shownCode();
    assert.notEqual(fresh, code);
    assert.match(await row(name).textContent(), /待设置密码/);
    await user.page.goto(`${base}/queue`);
    await user.page.waitForURL(/\/login/);
    await logIn(user.page, base, name, passwords[0], '/queue');
    assert.match(await user.page.locator('#login-error').textContent(), /用户名或密码不正确/);
    await firstLogin(fresh, passwords[1]);
  });

  it('a user changes their own password from the header', async () => {
    await user.page.locator('header a.password').click();
    await user.page.waitForURL(/\/password\?user=wangfang/);
    // The wrong current password changes nothing.
    await user.page.getByLabel('当前密码或一次性验证码').fill('not-my-password');
    await user.page.getByLabel('新密码', { exact: true }).fill(passwords[2]);
    await user.page.getByLabel('再次输入新密码').fill(passwords[2]);
    await user.page.getByRole('button', { name: '修改密码' }).click();
    assert.match(await user.page.locator('#password-error').textContent(), /当前密码不正确/);
    // Two different new passwords are caught before anything is checked.
    await user.page.getByLabel('当前密码或一次性验证码').fill(passwords[1]);
    await user.page.getByLabel('新密码', { exact: true }).fill(passwords[2]);
    await user.page.getByLabel('再次输入新密码').fill(`${passwords[2]}x`);
    await user.page.getByRole('button', { name: '修改密码' }).click();
    assert.match(await user.page.locator('#password-error').textContent(), /不一致/);
    await user.page.getByLabel('当前密码或一次性验证码').fill(passwords[1]);
    await user.page.getByLabel('新密码', { exact: true }).fill(passwords[2]);
    await user.page.getByLabel('再次输入新密码').fill(passwords[2]);
    await user.page.getByRole('button', { name: '修改密码' }).click();
    await user.page.waitForURL(`${base}/queue`);
    await user.page.locator('form.logout button').click();
    await user.page.waitForURL(/\/login/);
    await logIn(user.page, base, name, passwords[1], '/queue');
    assert.match(await user.page.locator('#login-error').textContent(), /用户名或密码不正确/);
    await logIn(user.page, base, name, passwords[2], '/queue');
    await user.page.waitForURL(`${base}/queue`);
  });

  it('every step is in the audit log, which filters and exports', async () => {
    await openAdmin(`/audit?who=${name}`);
    assert.deepEqual(await unlabelled(admin.page), [], 'every control labelled');
    const actions = await admin.page.locator('main tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.action));
    for (const action of ['user_added', 'login', 'login_failed', 'password_changed', 'user_disabled', 'user_enabled', 'password_reset']) {
      assert.ok(actions.includes(action), `${action} in ${actions}`);
    }
    // Newest first: the last login comes before the account was added.
    assert.equal(actions.at(-1), 'user_added');
    assert.equal(actions[0], 'login');
    const disabled = admin.page.locator('main tbody tr[data-action="user_disabled"]');
    assert.match(await disabled.textContent(), /admin.*停用账号.*王芳/s);
    await admin.page.screenshot({ path: join(ARTIFACTS, 'accounts-audit.png'), fullPage: true });

    // The filter form narrows to one event.
    await admin.page.getByLabel('事件').selectOption('user_disabled');
    await admin.page.getByRole('button', { name: '筛选', exact: true }).click();
    await admin.page.waitForURL(/action=user_disabled/);
    await admin.page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    const only = await admin.page.locator('main tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.action));
    assert.deepEqual(only, ['user_disabled']);

    // The CSV of what the filters show, in Chinese.
    const href = await admin.page.locator('main a.export').getAttribute('href');
    const csv = await (await admin.page.request.get(`${base}${href}`)).text();
    const lines = csv.replace(/^\uFEFF/, '').trim().split(/\r?\n/);
    assert.equal(lines[0], '编号,时间,操作人,事件,对象,详情,来源地址');
    assert.equal(lines.length, 2, csv);
    assert.match(lines[1], /^\d+,\d{4}-\d\d-\d\d \d\d:\d\d,admin,停用账号,wangfang,/);
    // The export itself is recorded.
    await openAdmin('/audit?action=export');
    assert.match(await admin.page.locator('main tbody tr').first().textContent(), /audit\.csv/);
  });

  it('a supervisor sees neither page and cannot call their API', async () => {
    await user.page.goto(`${base}/queue`);
    await user.page.locator('main h1').waitFor();
    assert.equal(await user.page.locator('header nav a[href="/users"]').count(), 0);
    const status = await user.page.evaluate(async () => (await fetch('/v1/users')).status);
    const audit = await user.page.evaluate(async () => (await fetch('/v1/audit')).status);
    assert.deepEqual([status, audit], [403, 403]);
    seenUser.take();
  });

  it('at 390 px both pages fit the screen', async () => {
    await admin.page.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/users', '/audit']) {
      await openAdmin(path);
      assert.equal(await overflows(admin.page), false, `${path} scrolls sideways`);
    }
    const reset = row(name).locator('button[data-action="reset"]');
    await openAdmin('/users');
    await reset.scrollIntoViewIfNeeded();
    const box = await reset.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `reset reachable: ${JSON.stringify(box)}`);
    await admin.page.screenshot({ path: join(ARTIFACTS, 'accounts-narrow.png'), fullPage: true });
  });
});
