// The field app's page: the lock and the database, the header (unsynced
// count, sync, language), the tabs, and the screen the address names.

import { acquire, letGo, call, onProgress } from './store.js';
import * as screens from './screens.js';
import { h } from './screens.js';
import { t, lang, setLang, errorText } from './text.js';

const $ = (id) => document.getElementById(id);
// The district's names for places and people, kept from the last sync.
const NAMES = 'doorstep-field-names';
const main = $('main');
let account = null;
let open = false;
let syncing = false;
let storageNote = '';

function notice(text) {
  $('notice').textContent = text;
}

async function counts() {
  if (!open || !account) return;
  const [unsynced, refused] = await Promise.all([call('unsynced'), call('refused')]);
  const badge = $('unsynced');
  badge.textContent = unsynced.count ? t('app.unsynced', { n: unsynced.count }) : t('app.synced');
  badge.dataset.count = String(unsynced.count);
  $('tab-refused').textContent = t('tab.refused', { n: refused.length || '' }).trim();
  screens.configure({ unsynced: new Set(unsynced.ids) });
}

function chrome() {
  document.title = t('app.title');
  $('title').textContent = t('app.title');
  $('sync').textContent = t('app.sync');
  $('lang').textContent = t('app.lang');
  $('logout').textContent = t('app.logout');
  $('tab-today').textContent = t('tab.today');
  $('tab-search').textContent = t('tab.search');
  $('tab-cards').textContent = t('tab.cards');
  $('tab-refused').textContent = t('tab.refused', { n: '' }).trim();
  $('storage').textContent = storageNote ? t(storageNote) : '';
  const signedIn = !!account;
  $('tabs').hidden = !signedIn;
  $('sync').hidden = !signedIn;
  $('logout').hidden = !signedIn;
  $('unsynced').hidden = !signedIn;
}

/** Syncs with the relay, showing progress; quietly does nothing offline. */
async function sync() {
  if (syncing || !open || !account) return;
  syncing = true;
  $('sync').disabled = true;
  notice(t('app.syncing'));
  try {
    const r = await call('sync');
    notice(r.rejected.length ? t('app.sync.refused', { n: r.rejected.length }) : t('app.sync.done', r));
    const names = await call('names').catch(() => null);
    if (names) {
      localStorage.setItem(NAMES, JSON.stringify(names));
      screens.configure({ names });
    }
  } catch (e) {
    notice(e.code === 'offline' ? t('app.sync.offline') : errorText(e));
  } finally {
    syncing = false;
    $('sync').disabled = false;
    await counts();
    await redraw();
  }
}

onProgress((p) => notice(t('app.sync.progress', p)));

let soon = null;
/** After an edit: the counts, and a sync shortly if online. */
async function changed() {
  await counts();
  if (navigator.onLine) {
    clearTimeout(soon);
    soon = setTimeout(sync, 1500);
  }
}

const ROUTES = [
  [/^#\/today$/, (m) => screens.today(m)],
  [/^#\/search(?:\/(.*))?$/, (m, q) => screens.search(m, q && decodeURIComponent(q))],
  [/^#\/cards(?:\/(\w+))?$/, (m, s) => screens.cards(m, s)],
  [/^#\/refused$/, (m) => screens.refused(m)],
  [/^#\/record\/([\w-]+)$/, (m, id) => screens.record(m, id)],
  [/^#\/household\/new$/, (m) => screens.householdForm(m, null)],
  [/^#\/household\/([\w-]+)\/edit$/, (m, id) => screens.householdForm(m, id)],
  [/^#\/household\/([\w-]+)\/visit$/, (m, id) => screens.visitForm(m, id)],
  [/^#\/household\/([\w-]+)\/card$/, (m, id) => screens.cardForm(m, { householdId: id })],
  [/^#\/household\/([\w-]+)$/, (m, id) => screens.household(m, id)],
  [/^#\/card\/([\w-]+)\/edit$/, (m, id) => screens.cardForm(m, { cardId: id })],
  [/^#\/card\/([\w-]+)$/, (m, id) => screens.cardView(m, id)],
];

async function redraw() {
  if (!open) return;
  const screen = document.createElement('div');
  if (!account) {
    loginScreen(screen);
  } else {
    const hash = location.hash || '#/today';
    const found = ROUTES.find(([re]) => re.test(hash));
    const [re, draw] = found || ROUTES[0];
    const args = found ? hash.match(re).slice(1) : [];
    try {
      await draw(screen, ...args);
    } catch (e) {
      screen.append(h('p', { class: 'error', role: 'alert', text: errorText(e) }));
    }
    for (const a of document.querySelectorAll('#tabs a')) {
      a.toggleAttribute('aria-current', hash.startsWith(a.getAttribute('href')));
    }
  }
  main.replaceChildren(screen);
}

function loginScreen(screen) {
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, id: 'login-user' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, id: 'login-pass' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'form' },
    h('h2', { text: t('login.title') }),
    h('div', { class: 'field' }, h('label', { for: 'login-user', text: t('login.username') }), user),
    h('div', { class: 'field' }, h('label', { for: 'login-pass', text: t('login.password') }), pass),
    h('button', { type: 'submit', class: 'primary', text: t('login.submit') }), error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      account = await call('login', { username: user.value, password: pass.value, deviceName: deviceName() });
      screens.configure({ account });
      chrome();
      location.hash = '#/today';
      await sync();
    } catch (err) {
      if (err.code === 'password_change_required') {
        // A one-time code from an administrator: the relay's page sets the
        // worker's own password, and then this form logs in with it.
        error.replaceChildren(t('login.must_change'), ' ',
          h('a', { href: `/password?user=${encodeURIComponent(user.value)}&reset=1`, text: t('login.must_change.link') }));
        return;
      }
      error.textContent = err.code === 'offline' ? t('login.offline') : t('login.failed', { message: err.message });
    }
  });
  screen.append(form);
}

function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Firefox\//.test(ua) ? 'Firefox' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const system = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Linux/.test(ua) ? 'Linux' : '';
  return `${browser} ${system}`.trim();
}

function noStoreScreen(resolve) {
  const screen = h('section', { class: 'warning', role: 'alert', id: 'no-storage' },
    h('h2', { text: t('nostore.title') }),
    h('p', { text: t(window.isSecureContext ? 'nostore.body' : 'nostore.insecure') }),
    h('button', { type: 'button', onclick: () => resolve(), text: t('nostore.continue') }));
  main.replaceChildren(screen);
}

async function persist() {
  if (!navigator.storage || !navigator.storage.persist) return;
  const granted = await navigator.storage.persisted() || await navigator.storage.persist();
  storageNote = granted ? 'storage.persisted' : 'storage.not_persisted';
}

/** Fails with `no_opfs` where the browser has no Origin Private File System
 * (private browsing, old browsers); the worker checks again for itself. */
async function opfs() {
  try {
    if (!navigator.storage || !navigator.storage.getDirectory) throw new Error('no getDirectory');
    await navigator.storage.getDirectory();
  } catch (e) {
    throw { code: 'no_opfs', message: String(e.message || e) };
  }
}

/** Takes the lock and opens the database (warning first where the browser
 * cannot keep it). */
async function start() {
  let opened;
  try {
    await opfs();
    opened = await acquire({ inMemory: false, onWait: () => notice(t('app.other_tab')) });
    await persist();
  } catch (e) {
    if (e.code !== 'no_opfs') throw e;
    await new Promise((resolve) => noStoreScreen(resolve));
    opened = await call('open', { inMemory: true });
    storageNote = 'storage.memory';
  }
  open = true;
  account = opened.account;
  screens.configure({ account, changed, notice });
  notice('');
  chrome();
  await counts();
  await redraw();
  if (navigator.onLine) sync();
}

screens.onRedraw(redraw);
try {
  screens.configure({ names: JSON.parse(localStorage.getItem(NAMES)) || undefined });
} catch (_) { /* names are a nicety */ }
window.addEventListener('hashchange', redraw);
window.addEventListener('online', sync);
document.addEventListener('visibilitychange', async () => {
  if (document.visibilityState === 'hidden' && open) {
    open = false;
    await letGo();
  } else if (document.visibilityState === 'visible' && !open) {
    await start();
  }
});
$('sync').addEventListener('click', sync);
$('lang').addEventListener('click', () => {
  setLang(lang === 'zh' ? 'en' : 'zh');
  notice('');
  chrome();
  counts();
  redraw();
});
$('logout').addEventListener('click', async () => {
  await call('logout');
  account = null;
  chrome();
  redraw();
});

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js').catch((e) => notice(errorText({ code: 'other', message: e.message })));
}
setLang(lang);
chrome();
start().catch((e) => notice(errorText(e)));
