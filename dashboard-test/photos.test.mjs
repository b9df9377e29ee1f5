// Photos in the dashboard, in headless Chromium against the real relay: a
// phone syncs a card with a photo taken from a camera's file, the card page
// says the photo has not been received from that phone, the phone uploads
// it, the page shows it as an upright thumbnail that opens a larger view,
// the history shows it, and a supervisor deletes it for privacy.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  ARTIFACTS, addUser, browser, logIn, phone, root, startRelay, tempDir, watch,
} from './lib.mjs';

const WORKER_PASSWORD = 'field worker pass';
const SUPERVISOR_PASSWORD = 'supervisor pass 1';
const CAMERA = join(root, 'sync-core/tests/fixtures/rotated-gps.jpg');

/** Waits until every image in `selector` has loaded, and returns their sizes. */
async function loaded(page, selector) {
  await page.waitForFunction((s) => {
    const images = [...document.querySelectorAll(s)];
    return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
  }, selector);
  return page.$$eval(selector, (images) => images.map((i) => [i.naturalWidth, i.naturalHeight]));
}

describe('photos on the card page in Chromium', { timeout: 300_000 }, () => {
  let tmp;
  let relay;
  let base;
  let phoneDb;
  let b;
  let page;
  let seen;
  let card;

  before(async () => {
    tmp = tempDir('doorstep-photos-');
    const db = join(tmp.dir, 'relay.sqlite');
    phoneDb = join(tmp.dir, 'phone.sqlite');
    await addUser(db, 'wang', 'worker', 'longgang/yuanshan/xikeng', WORKER_PASSWORD);
    await addUser(db, 'chen', 'supervisor', 'longgang', SUPERVISOR_PASSWORD);
    relay = await startRelay(['serve', '--db', db]);
    base = relay.url;
    b = await browser({ locale: 'zh-CN' });
    page = b.page;
    seen = watch(page, base);
    await logIn(page, base, 'chen', SUPERVISOR_PASSWORD, '/queue');
    await page.waitForURL(`${base}/queue`);
    await page.locator('#queue-count').waitFor();
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

  it('says which phone has a photo the relay has not received', async () => {
    card = await phone(base, phoneDb, 'wang', WORKER_PASSWORD, 'submit', '--text', '楼道扶手断了', '--photo', CAMERA);
    assert.equal(card.rejected, 0);
    assert.match(card.photo, /^[0-9a-f]{64}$/);
    // The queue hears of the card by itself: let it finish before leaving.
    await page.locator(`tr[data-wish="${card.wish}"]`).waitFor();
    await seen.settle();
    await page.goto(`${base}/wishes/${card.wish}`);
    const waiting = page.getByRole('img', { name: '照片尚未从 test (wang) 收到' });
    await waiting.waitFor();
    assert.equal(await page.locator('#photos img').count(), 0, 'nothing to load yet');
  });

  it('shows the photo upright as a thumbnail once the phone uploads it, and a larger view', async () => {
    const sent = await phone(base, phoneDb, 'wang', WORKER_PASSWORD, 'photos');
    assert.equal(sent.uploaded, 1);
    await seen.settle();
    await page.reload();
    const open = page.getByRole('button', { name: '查看大图：第 1 张照片（共 1 张）' });
    await open.waitFor();
    // The camera's file is 400 × 300 on its side: upright it is portrait.
    assert.deepEqual(await loaded(page, '#photos img'), [[240, 320]], 'a 320 px thumbnail, upright');
    assert.deepEqual(await loaded(page, '#timeline img.history-thumb'), [[240, 320]], 'in the history too');
    assert.match(await page.locator('#timeline').textContent(), /添加了照片/);
    await page.screenshot({ path: join(ARTIFACTS, 'card-photo.png'), fullPage: true });

    await open.click();
    const viewer = page.locator('dialog.viewer');
    await viewer.waitFor();
    assert.deepEqual(await loaded(page, 'dialog.viewer img'), [[300, 400]], 'the photo itself');
    assert.match(await viewer.textContent(), /300 × 400/);
    await page.screenshot({ path: join(ARTIFACTS, 'photo-viewer.png') });
    await viewer.getByRole('button', { name: '关闭' }).click();
    await viewer.waitFor({ state: 'detached' });
  });

  it('lets a supervisor delete the photo for good, with a reason', async () => {
    await page.getByRole('button', { name: /查看大图/ }).click();
    await page.locator('dialog.viewer').getByRole('button', { name: '删除照片' }).click();
    const ask = page.getByRole('dialog', { name: '永久删除这张照片？' });
    await ask.getByLabel('删除原因（会被记录）').fill('照片拍到了居民的身份证');
    await ask.getByRole('button', { name: '永久删除' }).click();
    await page.getByText('照片已删除').waitFor();
    await page.locator('#details-h + dl').getByText('无照片').waitFor();
    await seen.settle();
    const gone = await fetch(`${base}/v1/records/${card.wish}/photos/${card.photo}/thumb`, {
      headers: { cookie: (await b.context.cookies(base)).map((c) => `${c.name}=${c.value}`).join('; ') },
    });
    assert.equal(gone.status, 404, 'the card no longer refers to it');
  });

  it('lists, on the devices page, photos missing for days, and says when there are none', async () => {
    await seen.settle();
    await page.goto(`${base}/devices`);
    await page.getByRole('heading', { name: '未收到的照片' }).waitFor();
    await page.getByText('没有超过 3 天仍未收到的照片。').waitFor();
  });
});
