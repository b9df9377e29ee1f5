// The page's side of the worker: calls by message, answered by promise,
// and the one-writer lock across tabs (Web Locks). The database is open
// only while this tab holds the lock and is visible.

const LOCK = 'doorstep-field-db';

let worker = null;
let next = 1;
const waiting = new Map();
const progressListeners = new Set();

function start() {
  worker = new Worker('./worker.js', { type: 'module' });
  worker.onmessage = (event) => {
    const data = event.data;
    if (data.progress) {
      progressListeners.forEach((f) => f(data.progress));
      return;
    }
    const call = waiting.get(data.id);
    if (!call) return;
    waiting.delete(data.id);
    if (data.ok) call.resolve(data.value);
    else call.reject(Object.assign(new Error(data.error.message), data.error));
  };
}

/** Asks the worker for `op` with `args`. */
export function call(op, ...args) {
  if (!worker) start();
  const id = next++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker.postMessage({ id, op, args });
  });
}

/** Calls `f(progress)` while a sync runs. */
export function onProgress(f) {
  progressListeners.add(f);
}

let release = null;

/**
 * Takes the one-writer lock and opens the database. `onWait` is called if
 * another tab holds it. Resolves with `{storage, account}`.
 */
export async function acquire({ inMemory, onWait }) {
  if (!navigator.locks) return call('open', { inMemory });
  let granted;
  const got = new Promise((resolve) => { granted = resolve; });
  navigator.locks.request(LOCK, { ifAvailable: true }, (lock) => {
    if (lock) return hold(granted);
    onWait();
    return navigator.locks.request(LOCK, () => hold(granted));
  });
  await got;
  return call('open', { inMemory });
}

function hold(granted) {
  return new Promise((resolve) => {
    release = resolve;
    granted();
  });
}

/** Closes the database cleanly and lets another tab have it. */
export async function letGo() {
  try {
    await call('close');
  } finally {
    if (release) release();
    release = null;
  }
}
