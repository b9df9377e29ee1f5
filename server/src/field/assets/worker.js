// The field app's dedicated worker: it owns the database (sync-core over
// SQLite in the Origin Private File System, compiled to WebAssembly) and
// talks to the relay. The page asks by message: {id, op, args}; the answer
// is {id, ok, value} or {id, ok: false, error: {code, message}}. Sync
// progress goes out as {progress: {...}} while a sync runs.

import init, { Field } from './pkg/web_ffi.js';

const DB_NAME = 'doorstep-field.db';
const SYNC_TYPE = 'application/vnd.doorstep.sync';

let field = null;
let storage = null;
let syncing = null;
const ready = init();

// A thrown error from the store carries JSON {code, message}.
function failure(e) {
  if (e && e.code) return e;
  try {
    const parsed = JSON.parse(e.message);
    if (parsed && parsed.code) return parsed;
  } catch (_) { /* not one of ours */ }
  return { code: 'internal', message: String(e && e.message || e) };
}

function need() {
  if (!field) throw { code: 'closed', message: 'the database is not open' };
  return field;
}

const relay = self.location.origin;

async function post(path, body, headers, method = 'POST') {
  let answer;
  try {
    answer = await fetch(path, { method, body, headers, cache: 'no-store' });
  } catch (e) {
    throw { code: 'offline', message: String(e) };
  }
  return answer;
}

async function relayError(answer) {
  let body = {};
  try { body = await answer.json(); } catch (_) { /* not JSON */ }
  return { code: body.error || `http_${answer.status}`, message: body.message || answer.statusText, status: answer.status };
}

async function login({ username, password, deviceName }) {
  const body = need().loginRequest(username, password, deviceName);
  const answer = await post('/v1/auth/login', body, { 'content-type': 'application/json' });
  if (!answer.ok) throw await relayError(answer);
  return JSON.parse(need().loginResponse(await answer.text()));
}

async function refresh() {
  const body = need().refreshRequest();
  const answer = await post('/v1/auth/refresh', body, { 'content-type': 'application/json' });
  if (!answer.ok) {
    const error = await relayError(answer);
    if (answer.status === 401) error.code = 'session_ended';
    throw error;
  }
  return need().refreshResponse(await answer.text());
}

async function token() {
  return need().accessToken() ?? await refresh();
}

async function round(first) {
  const request = need().syncRequest();
  const send = async (bearer) => post('/v1/sync', request, {
    'content-type': SYNC_TYPE, authorization: `Bearer ${bearer}`,
  });
  let answer = await send(await token());
  if (answer.status === 401) answer = await send(await refresh());
  const type = answer.headers.get('content-type') || '';
  if (!(type.startsWith(SYNC_TYPE) && [200, 403, 422].includes(answer.status))) {
    throw await relayError(answer);
  }
  const bytes = new Uint8Array(await answer.arrayBuffer());
  return JSON.parse(need().syncResponse(bytes));
}

// A whole sync: rounds until the relay has nothing more. Each round is kept
// when it is applied, so a sync cut short carries on next time.
async function sync() {
  const total = { sent: 0, accepted: 0, received: 0, rejected: [], rounds: 0, pending: 0 };
  for (let more = true; more && total.rounds < 1000;) {
    const r = await round(total.rounds === 0);
    total.rounds += 1;
    total.sent += r.sent;
    total.accepted += r.accepted;
    total.received += r.received;
    total.rejected.push(...r.rejected);
    total.pending = r.pending;
    more = r.more;
    self.postMessage({ progress: { received: total.received, sent: total.sent, rounds: total.rounds, more } });
  }
  total.photos = await syncPhotos();
  return total;
}

/** A request with the access token, once more with a fresh one if the
 * relay says it expired. */
async function authed(method, path, headers = {}, body = undefined) {
  const send = (bearer) => post(path, body, { ...headers, authorization: `Bearer ${bearer}` }, method);
  let answer = await send(await token());
  if (answer.status === 401) answer = await send(await refresh());
  return answer;
}

// Uploads one of this browser's photos, resuming where the relay stands;
// true once the relay holds verified bytes.
async function upload(sha) {
  const data = need().photoData(sha);
  if (!data) return false;
  for (let tries = 0; tries < 5; tries += 1) {
    const head = await authed('HEAD', `/v1/photos/${sha}`);
    await head.arrayBuffer();
    if (head.status === 410) {
      need().forgetPhoto(sha);
      return false;
    }
    if (head.status !== 200) throw await relayError(head);
    if (head.headers.get('photo-stored') === 'true') {
      need().photoUploaded(sha);
      return true;
    }
    let offset = Number(head.headers.get('upload-offset') || 0);
    const length = head.headers.get('upload-length');
    if ((length && Number(length) !== data.length) || offset > data.length) offset = 0;
    const sent = await authed('PATCH', `/v1/photos/${sha}`, {
      'content-type': 'application/offset+octet-stream',
      'upload-offset': String(offset),
      'upload-length': String(data.length),
    }, data.subarray(offset));
    await (sent.status === 409 ? sent.arrayBuffer() : null);
    if (sent.status === 204 || sent.status === 409) continue;
    if (sent.status === 410) {
      need().forgetPhoto(sha);
      return false;
    }
    if (!sent.ok) throw await relayError(sent);
    await sent.arrayBuffer();
    need().photoUploaded(sha);
    return true;
  }
  return false;
}

/** Uploads the photo queue, oldest first. */
async function syncPhotos() {
  let uploaded = 0;
  for (const sha of JSON.parse(need().photoUploads())) {
    if (await upload(sha)) uploaded += 1;
  }
  return uploaded;
}

/** A card's photo thumbnail: kept here, or fetched from the relay and kept.
 * `null` while the relay does not have it yet, or offline. */
async function thumbnail(card, sha) {
  const kept = need().photoThumbnail(sha);
  if (kept) return kept;
  let answer;
  try {
    answer = await authed('GET', `/v1/records/${card}/photos/${sha}/thumb`);
  } catch (e) {
    if (e.code === 'offline') return null;
    throw e;
  }
  if (!answer.ok) return null;
  const bytes = new Uint8Array(await answer.arrayBuffer());
  need().keepThumbnail(sha, bytes);
  return bytes;
}

async function open({ inMemory }) {
  await ready;
  if (field) return { storage, account: JSON.parse(field.account()) };
  if (inMemory) {
    field = Field.openInMemory(relay);
    storage = 'memory';
  } else {
    if (!self.navigator.storage || !self.navigator.storage.getDirectory) {
      throw { code: 'no_opfs', message: 'navigator.storage.getDirectory is missing' };
    }
    field = await Field.open(DB_NAME, relay);
    storage = 'opfs';
  }
  return { storage, account: JSON.parse(field.account()) };
}

function close() {
  if (field) {
    field.close();
    field.free();
    field = null;
  }
  return true;
}

// Calls answered by the store alone, JSON in and out.
const JSON_CALLS = new Set([
  'account', 'unsynced', 'refused', 'households', 'household', 'visits', 'visitsSince',
  'wishes', 'searchWishes', 'wish', 'appendEvent',
]);
const PLAIN_CALLS = new Set(['createHousehold', 'updateHousehold', 'recordVisit', 'createWish',
  'updateWish', 'retry', 'logout']);

async function handle(op, args = []) {
  switch (op) {
    case 'open': return open(args[0] || {});
    case 'close': return close();
    case 'login': return login(args[0]);
    case 'thumbnail': return thumbnail(...args);
    case 'names': {
      const answer = await authed('GET', '/v1/names');
      return answer.ok ? answer.json() : null;
    }
    case 'addPhoto': return JSON.parse(need().addPhoto(args[0], new Uint8Array(args[1])));
    case 'sync':
      // One sync at a time; a second ask waits for the one running.
      syncing = syncing || sync().finally(() => { syncing = null; });
      return syncing;
    default: {
      const f = need();
      if (JSON_CALLS.has(op)) {
        const text = f[op](...args);
        return op === 'appendEvent' ? text : JSON.parse(text);
      }
      if (PLAIN_CALLS.has(op)) return f[op](...args) ?? null;
      throw { code: 'internal', message: `no call ${op}` };
    }
  }
}

self.onmessage = async (event) => {
  const { id, op, args } = event.data;
  try {
    const value = await handle(op, args);
    self.postMessage({ id, ok: true, value });
  } catch (e) {
    self.postMessage({ id, ok: false, error: failure(e) });
  }
};
