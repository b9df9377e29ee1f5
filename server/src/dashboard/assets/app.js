// The dashboard's entry point: the header, moving between pages without a
// reload (the relay serves the same shell at every page's address, so a
// reload or a shared link lands on the same page), and live updates.

import { api, session } from './api.js';
import { t, label } from './i18n.js';
import { h, errorBox, toast, setNames, personName } from './ui.js';
import { startLive } from './live.js';
import * as queue from './pages/queue.js';
import * as dispatch from './pages/dispatch.js';
import * as wishes from './pages/wishes.js';
import * as card from './pages/card.js';
import * as conflicts from './pages/conflicts.js';
import * as households from './pages/households.js';
import * as household from './pages/household.js';
import * as stats from './pages/stats.js';
import * as devices from './pages/devices.js';
import * as users from './pages/users.js';
import * as audit from './pages/audit.js';
import { ta } from './admin-text.js';

const ROUTES = [
  { path: /^\/queue$/, page: queue, nav: 'queue' },
  { path: /^\/dispatch$/, page: dispatch, nav: 'dispatch' },
  { path: /^\/wishes$/, page: wishes, nav: 'wishes' },
  { path: /^\/wishes\/([^/]+)$/, page: card, nav: 'wishes' },
  { path: /^\/conflicts$/, page: conflicts, nav: 'conflicts' },
  { path: /^\/households$/, page: households, nav: 'households' },
  { path: /^\/households\/([^/]+)$/, page: household, nav: 'households' },
  { path: /^\/stats$/, page: stats, nav: 'stats' },
  { path: /^\/devices$/, page: devices, nav: 'devices' },
  { path: /^\/users$/, page: users, nav: 'users' },
  { path: /^\/audit$/, page: audit, nav: 'audit' },
];
// Accounts and the audit log are an administrator's.
const NAV = ['queue', 'dispatch', 'wishes', 'conflicts', 'households', 'stats', 'devices',
  ...(session.role === 'admin' ? ['users', 'audit'] : [])];

const main = document.getElementById('main');
const top = document.getElementById('top');
const counts = { queue: null, conflicts: null, devices: null };
let current = null;
let renderSeq = 0;
let lastActed = 0;

function match(pathname) {
  for (const route of ROUTES) {
    const m = route.path.exec(pathname);
    if (m) return { route, params: m.slice(1).map(decodeURIComponent) };
  }
  return null;
}

function langHref() {
  const q = new URLSearchParams(location.search);
  q.set('lang', document.documentElement.lang.startsWith('zh') ? 'en' : 'zh');
  return `${location.pathname}?${q}`;
}

function header(active) {
  const item = (name) => h('li', {},
    h('a', { href: `/${name}`, 'aria-current': name === active ? 'page' : null },
      ta(`nav.${name}`),
      counts[name] ? h('span', { class: 'count', 'aria-label': `(${counts[name]})` }, String(counts[name])) : null));
  return h('div', { class: 'bar' },
    h('a', { class: 'brand', href: '/queue' },
      h('img', { src: '/assets/favicon.svg', alt: '', width: 28, height: 28 }),
      h('span', { class: 'brand-name' }, 'Doorstep'),
      h('span', { class: 'brand-sub' }, t('brand'))),
    h('nav', { 'aria-label': t('nav.main'), class: 'nav' }, h('ul', {}, NAV.map(item))),
    h('div', { class: 'user' },
      h('span', { class: 'live', id: 'live', title: t('live.title') }, t('live.on')),
      h('span', { class: 'who' }, h('strong', {}, personName(session.user)), ' · ', label('role', session.role)),
      h('a', { class: 'password', href: `/password?user=${encodeURIComponent(session.user)}`, 'data-reload': '' }, ta('account.password')),
      h('a', { class: 'lang', href: langHref(), lang: document.documentElement.lang.startsWith('zh') ? 'en' : 'zh-CN', 'data-reload': '' }, t('lang.switch')),
      h('form', { method: 'post', action: '/logout', class: 'logout' },
        h('input', { type: 'hidden', name: 'csrf', value: session.csrf }),
        h('button', { type: 'submit', class: 'link' }, t('logout')))));
}

function drawHeader() {
  const m = match(location.pathname);
  const liveState = document.getElementById('live')?.className;
  top.replaceChildren(header(m?.route.nav));
  if (liveState) document.getElementById('live').className = liveState;
}

async function loadCounts() {
  try {
    const [q, c, held] = await Promise.all([
      api('/v1/wishes?status=submitted&limit=1'),
      api('/v1/conflicts'),
      api('/v1/quarantine'),
    ]);
    counts.queue = q.total;
    counts.conflicts = c.length;
    // Held work waits for a supervisor's decision on the devices page.
    counts.devices = held.length;
    drawHeader();
  } catch {
    // The counts are a convenience; the pages report their own errors.
  }
}

/** Shows the page for the current address. `soft`: a live refresh. */
async function render({ soft = false } = {}) {
  const seq = ++renderSeq;
  const found = match(location.pathname);
  drawHeader();
  if (!found) {
    location.assign('/queue');
    return;
  }
  const ctx = {
    params: found.params,
    query: new URLSearchParams(location.search),
    soft,
    go: (params) => navigate(`${location.pathname}${params.toString() ? `?${params}` : ''}`),
    navigate,
    refresh: () => render({ soft: true }),
    isCurrent: () => seq === renderSeq,
  };
  current = found;
  if (!soft) main.setAttribute('aria-busy', 'true');
  try {
    const content = await found.route.page.render(ctx);
    if (seq !== renderSeq) return;
    main.replaceChildren(...[content].flat(Infinity).filter((x) => x !== null && x !== undefined && x !== false));
    const title = main.querySelector('h1')?.textContent;
    document.title = title ? `${title} · Doorstep` : 'Doorstep';
    if (!soft) main.querySelector('h1')?.focus({ preventScroll: true });
  } catch (e) {
    if (seq !== renderSeq) return;
    if (!soft) main.replaceChildren(errorBox(e, () => render()));
  } finally {
    if (seq === renderSeq) main.removeAttribute('aria-busy');
  }
}

/** Opens `href` inside the app. */
function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.scrollTo(0, 0);
  render();
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a');
  if (!a || a.target || a.hasAttribute('download') || a.hasAttribute('data-reload')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !match(url.pathname)) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

addEventListener('popstate', () => render());

/** Something changed on the relay: redraw, unless the user is typing or in a dialog. */
function changed(n) {
  if (Date.now() - lastActed > 3000) toast(t('live.updated', { n }));
  loadCounts();
  const active = document.activeElement;
  const busy = document.querySelector('dialog[open]')
    || (active && main.contains(active) && ['INPUT', 'SELECT', 'TEXTAREA'].includes(active.tagName));
  if (!busy && current) render({ soft: true });
}

function liveStatus(online) {
  const el = document.getElementById('live');
  if (!el) return;
  el.className = online ? 'live on' : 'live off';
  el.textContent = online ? t('live.on') : t('live.off');
}

// An action on a card changes the counts in the header; the change it
// makes comes back through the live poll, and is not news to its author.
document.addEventListener('doorstep:acted', () => {
  lastActed = Date.now();
  loadCounts();
});

/** Places and people are shown by their names; without them, by codes. */
async function loadNames() {
  try {
    setNames(await api('/v1/names'));
  } catch {
    // Codes are still correct, only less friendly.
  }
}

loadNames().then(() => {
  render();
  loadCounts();
  startLive(changed, liveStatus);
});
