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

async function post(path, body, headers) {
  let answer;
  try {
    answer = await fetch(path, { method: 'POST', body, headers, cache: 'no-store' });
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
  return total;
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
