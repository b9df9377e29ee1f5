// The field web app's benchmark, in headless Chromium against the real
// relay: a first sync of RECORDS records (seeded by a mobile-ffi phone, so
// mobile-ffi's Python bindings must be built: scripts/test-ffi), then 100
// cards created through the app's worker. Prints figures; asserts only that
// the work happened (never a time).
//
//   cd dashboard-test && node field-bench.mjs            # 2,000 records
//   RECORDS=500 node field-bench.mjs

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM, addUser, root, startRelay, tempDir } from './lib.mjs';

const RECORDS = Number(process.env.RECORDS ?? 2000);
const PASSWORD = 'field bench pass 1';
const XIKENG = 'longgang/yuanshan/xikeng';
const BINDINGS = process.env.DOORSTEP_BINDINGS ?? join(root, 'target/ffi-bindings');
const run = promisify(execFile);

const tmp = tempDir('doorstep-field-bench-');
const db = join(tmp.dir, 'relay.sqlite');
await addUser(db, 'wang', 'worker', XIKENG, PASSWORD);
const relay = await startRelay(['serve', '--db', db]);
let context;
try {
  let t = Date.now();
  await run('python3', [join(root, 'mobile-ffi/tests/python/field_phone.py'), relay.url, join(tmp.dir, 'phone.db'),
    'wang', PASSWORD, 'seed', String(RECORDS), XIKENG], { env: { ...process.env, DOORSTEP_BINDINGS: BINDINGS }, maxBuffer: 1 << 24 });
  console.log(`seeded ${RECORDS} records through a mobile-ffi phone in ${Date.now() - t} ms`);

  context = await chromium.launchPersistentContext(join(tmp.dir, 'profile'), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 390, height: 844 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(`${relay.url}/field/`);
  await page.locator('#login-user').fill('wang');
  await page.locator('#login-pass').fill(PASSWORD);
  const progress = [];
  page.on('console', (m) => progress.push(m.text()));
  const notices = [];
  await page.exposeFunction('noteProgress', (text) => notices.push(text));
  await page.evaluate(() => new MutationObserver(() => window.noteProgress(document.getElementById('notice').textContent))
    .observe(document.getElementById('notice'), { childList: true, characterData: true, subtree: true }));
  t = Date.now();
  await page.locator('form button[type=submit]').click();
  await page.locator('#unsynced[data-count="0"]').waitFor({ timeout: 600_000 });
  await page.waitForFunction(() => !document.getElementById('sync').disabled, null, { timeout: 600_000 });
  const firstSync = Date.now() - t;
  const shown = notices.filter((n) => /正在同步：|Syncing:/.test(n));
  const total = await page.evaluate(async () => {
    const { call } = await import('./store.js');
    const page = await call('wishes', JSON.stringify({ limit: 1 }));
    const homes = await call('households', null, 1, 0);
    return page.total + homes.total;
  });
  console.log(`first sync of ${RECORDS} records (login included): ${firstSync} ms; progress shown ${shown.length} times (last: ${shown.at(-1)})`);
  assert.ok(total > RECORDS / 2, 'the records arrived');

  const cards = await page.evaluate(async () => {
    const { call } = await import('./store.js');
    const homes = await call('households', null, 1, 0);
    const home = homes.items[0].id;
    const started = performance.now();
    for (let i = 0; i < 100; i += 1) {
      const id = await call('createWish', JSON.stringify({
        household: home, text: `基准心愿 ${i}`, category: 'other', urgency: 'normal', photos: [],
      }));
      await call('appendEvent', id, JSON.stringify({ kind: 'submit' }));
    }
    return { ms: performance.now() - started, unsynced: (await call('unsynced')).count };
  });
  console.log(`100 cards created and submitted through the worker: ${cards.ms.toFixed(0)} ms (${(cards.ms / 100).toFixed(1)} ms each)`);
  assert.equal(cards.unsynced, 100);
} finally {
  await context?.close();
  await relay.stop();
  tmp.remove();
}
