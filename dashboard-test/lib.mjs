// Helpers for the dashboard's browser tests: the real `doorstep` binary, the
// simulated phone (server/examples/phone.rs), Debian's Chromium driven by
// playwright-core, and a watch on everything the page does.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '..');
const target = resolve(root, process.env.CARGO_TARGET_DIR ?? 'target');
export const DOORSTEP = process.env.DOORSTEP_BIN ?? join(target, 'debug/doorstep');
export const PHONE = process.env.PHONE_BIN ?? join(target, 'debug/examples/phone');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = process.env.ARTIFACTS ?? join(root, 'tests/artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

const run = promisify(execFile);

/** A fresh directory, removed by the returned function. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `doorstep user add`, the password on stdin as an operator's script gives it. */
export function addUser(db, username, role, scope, password) {
  return new Promise((done, fail) => {
    const child = spawn(DOORSTEP, ['user', 'add', '--db', db, '--username', username, '--role', role, '--scope', scope], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: 'warn' },
    });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`user add ${username}: ${err}`))));
    child.stdin.end(`${password}\n`);
  });
}

/**
 * Starts `doorstep <args…> --listen 127.0.0.1:0` and resolves once it prints
 * its `listening on` line: `{url, stop(), output}`.
 */
export function startRelay(args, { timeoutMs = 240_000 } = {}) {
  const child = spawn(DOORSTEP, [...args, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  const output = [];
  child.stderr.on('data', (d) => output.push(String(d)));
  const stop = () => new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the relay did not start:\n${output.join('')}`)), timeoutMs);
    child.once('exit', (code) => fail(new Error(`the relay exited (${code}):\n${output.join('')}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(`${line}\n`);
      const m = /^listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        done({ url: m[1], stop, output });
      }
    });
  });
}

/** Runs the simulated phone and returns its JSON answer. */
export async function phone(relay, db, user, password, ...command) {
  const { stdout } = await run(PHONE, ['--relay', relay, '--user', user, '--db', db, ...command], {
    env: { ...process.env, PHONE_PASSWORD: password, RUST_LOG: 'warn' },
  });
  return JSON.parse(stdout);
}

/** Headless Chromium with a fresh profile; `close()` removes the profile. */
export async function browser({ locale = 'zh-CN', width = 1366, height = 900 } = {}) {
  const profile = tempDir('doorstep-chromium-');
  const context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: CHROMIUM,
    headless: true,
    locale,
    viewport: { width, height },
    acceptDownloads: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  const page = context.pages()[0] ?? await context.newPage();
  return {
    context,
    page,
    close: async () => {
      await context.close();
      profile.remove();
    },
  };
}

/**
 * Records every console error, page error, failed request, error response
 * and request leaving the relay. The one failure expected is the live
 * update's long poll, which is always waiting and so is cancelled whenever
 * the page navigates away; the tests settle every other request first.
 */
export function watch(page, base) {
  const problems = [];
  const pending = new Set();
  const live = (r) => new URL(r.url()).pathname === '/v1/changes';
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const url = r.url();
    const local = url.startsWith(`${base}/`) || url.startsWith('data:') || url.startsWith(`blob:${base}/`);
    if (!local) problems.push(`request outside the relay: ${url}`);
    if (!live(r)) pending.add(r);
  });
  page.on('requestfinished', (r) => pending.delete(r));
  page.on('requestfailed', (r) => {
    pending.delete(r);
    const error = r.failure()?.errorText ?? '';
    if (error === 'net::ERR_ABORTED' && live(r)) return;
    problems.push(`request failed: ${r.method()} ${r.url()} ${error}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return {
    problems,
    /** Takes the problems seen so far. */
    take: () => problems.splice(0),
    /**
     * Waits until no request but the live poll is in flight, so that the
     * test's next navigation cancels nothing the page still needs.
     */
    settle: async (timeoutMs = 15_000) => {
      const until = Date.now() + timeoutMs;
      while (pending.size) {
        if (Date.now() > until) throw new Error(`requests still running: ${[...pending].map((r) => `${r.method()} ${r.url()}`).join(', ')}`);
        await new Promise((done) => setTimeout(done, 25));
      }
    },
  };
}

/** Every visible form control has a label. */
export async function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
    .filter((el) => !(el.labels?.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML));
}

/** The page is no wider than the window (usable at this width). */
export async function overflows(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
}

/** Logs in through the form. */
export async function logIn(page, base, user, password, next = '/queue') {
  await page.goto(`${base}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel(/用户名|User name/).fill(user);
  await page.getByLabel(/密码|Password/).fill(password);
  await page.getByRole('button', { name: /登录|Log in/ }).click();
}
