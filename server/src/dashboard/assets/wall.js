// The wish wall (心愿墙): a phone-first page for volunteers and partner
// units' members. Everything it shows comes from /v1/wall, where the relay
// applies the read rules: the wall holds no household data, and a wish's
// address and contact appear only while the wish is the volunteer's.

import { api, post, session, ApiError } from './api.js';
import { label } from './i18n.js';
import { h, toast, setNames, scopeName, personName, unitName, fmtDate, fmtTime, fmtNum } from './ui.js';
import { w } from './wall-text.js';

const TABS = ['wall', 'mine', 'points'];
const DAY = 86_400_000;
const main = document.getElementById('main');
const top = document.getElementById('top');
let view = null;

function tab() {
  const name = location.hash.slice(1);
  return TABS.includes(name) ? name : 'wall';
}

function langHref() {
  const q = new URLSearchParams(location.search);
  q.set('lang', document.documentElement.lang.startsWith('zh') ? 'en' : 'zh');
  return `${location.pathname}?${q}${location.hash}`;
}

function header() {
  const me = view?.me;
  const who = me ? [personName(me.user), me.unit ? ` · ${unitName(me.unit)}` : ''] : session.user;
  return h('div', { class: 'bar' },
    h('div', { class: 'brand' },
      h('img', { src: '/assets/favicon.svg', alt: '', width: 28, height: 28 }),
      h('div', {}, h('p', { class: 'brand-name' }, w('brand')), h('p', { class: 'brand-sub' }, w('sub')))),
    h('div', { class: 'user' },
      h('p', { class: 'who' }, who),
      view ? h('p', { class: 'points-badge', id: 'my-points' }, w('points', { n: fmtNum(view.points) })) : null,
      h('div', { class: 'row' },
        h('a', { class: 'lang', href: langHref() }, w('lang.switch')),
        h('form', { method: 'post', action: '/logout' },
          h('input', { type: 'hidden', name: 'csrf', value: session.csrf }),
          h('button', { type: 'submit', class: 'link' }, w('logout'))))),
    h('nav', { 'aria-label': w('tabs') },
      h('ul', { class: 'tabs' }, TABS.map((name) => h('li', {},
        h('a', { href: `#${name}`, 'aria-current': name === tab() ? 'page' : null },
          w(`tab.${name}`),
          name === 'wall' && view ? h('span', { class: 'count' }, fmtNum(view.wishes.length)) : null))))));
}

function daysWaiting(at) {
  const days = Math.floor((Date.now() - at) / DAY);
  return days < 1 ? w('wall.today') : w('wall.waiting', { n: days });
}

function chips(card) {
  return h('p', { class: 'meta' },
    h('span', { class: 'chip' }, label('category', card.category)),
    h('span', { class: `badge urgency-${card.urgency}` }, label('urgency', card.urgency)),
    h('span', { class: 'place' }, scopeName(card.community)),
    card.approved_at ? h('span', { class: 'muted' }, daysWaiting(card.approved_at)) : null);
}

/** Runs a wall action, reports it, and draws the wall again. */
async function act(button, run, done) {
  button.disabled = true;
  try {
    await run();
    toast(done, 'ok');
  } catch (e) {
    const code = e instanceof ApiError ? e.code : '';
    if (code === 'claim_lost') toast(w('claim.lost'), 'warn');
    else if (['photo_too_large', 'photo_refused'].includes(code)) toast(w(`error.${code}`), 'error');
    else toast(w('error', { message: e.message }), 'error');
  }
  await load();
}

const path = (id, action) => `/v1/wall/${encodeURIComponent(id)}/${action}`;

function wallCard(card) {
  const claim = (forUnit) => h('button', {
    type: 'button',
    class: forUnit ? 'secondary' : 'primary',
    onclick: (e) => act(e.currentTarget, async () => {
      await post(path(card.id, 'claim'), { seen: card.seen, for_unit: forUnit });
      location.hash = '#mine';
    }, w('claimed')),
  }, forUnit ? w('claim.unit', { unit: unitName(view.me.unit) }) : w('claim'));
  return h('article', { class: 'wish', dataset: { wish: card.id } },
    h('p', { class: 'text' }, card.text),
    chips(card),
    h('div', { class: 'actions' }, claim(false), view.me.unit ? claim(true) : null));
}

function wallTab() {
  return [
    h('h1', { tabindex: '-1' }, w('tab.wall')),
    h('p', { class: 'intro' }, w('wall.intro')),
    view.wishes.length
      ? h('div', { class: 'cards', id: 'wall' }, view.wishes.map(wallCard))
      : h('p', { class: 'empty' }, w('wall.empty')),
  ];
}

function delivery(d) {
  return h('dl', { class: 'delivery' },
    h('dt', {}, w('address')), h('dd', {}, d.address),
    h('dt', {}, w('contact')), h('dd', {}, d.contact),
    h('dt', {}, w('phone')), h('dd', {}, d.phone ? h('a', { href: `tel:${d.phone.replace(/[^0-9+]/g, '')}` }, d.phone) : ''));
}

/** Sends a camera's picture for wish `id`; resolves to its photo reference. */
async function sendPicture(id, file) {
  const response = await fetch(path(id, 'photo'), {
    method: 'POST',
    headers: { 'Content-Type': file.type || 'application/octet-stream', 'X-CSRF-Token': session.csrf, Accept: 'application/json' },
    body: file,
    credentials: 'same-origin',
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data?.error ?? 'error', data?.message ?? response.statusText);
  return data;
}

function fulfilForm(card) {
  const id = `note-${card.id}`;
  const photoId = `photo-${card.id}`;
  const note = h('textarea', { id, name: 'note', rows: 3, maxlength: 2000, placeholder: w('fulfil.placeholder') });
  const picture = h('input', { id: photoId, name: 'photo', type: 'file', accept: 'image/jpeg,image/png', capture: 'environment' });
  const form = h('form', { class: 'fulfil', hidden: true },
    h('label', { for: id }, w('fulfil.note')),
    note,
    h('label', { for: photoId }, w('fulfil.photo')),
    picture,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, w('fulfil.submit')),
      h('button', { type: 'button', class: 'secondary', onclick: () => { form.hidden = true; } }, w('cancel'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(form.querySelector('button[type=submit]'), async () => {
      const file = picture.files?.[0];
      const photos = file ? [(await sendPicture(card.id, file)).sha256] : [];
      await post(path(card.id, 'fulfil'), { note: note.value.trim() || null, photos });
    }, w('fulfilled'));
  });
  return form;
}

function releaseControl(card) {
  const sure = h('div', { class: 'sure', hidden: true },
    h('p', {}, w('release.sure')),
    h('div', { class: 'actions' },
      h('button', {
        type: 'button',
        class: 'danger',
        onclick: (e) => act(e.currentTarget, () => post(path(card.id, 'release')), w('released')),
      }, w('release.yes')),
      h('button', { type: 'button', class: 'secondary', onclick: () => { sure.hidden = true; } }, w('cancel'))));
  const ask = h('button', { type: 'button', class: 'link', onclick: () => { sure.hidden = false; } }, w('release'));
  return [ask, sure];
}

function heldCard(card, earned) {
  const doing = card.theirs && card.status === 'claimed';
  const form = doing ? fulfilForm(card) : null;
  const status = () => {
    if (!card.theirs) return h('p', { class: 'state muted' }, w('not_theirs'));
    if (card.status === 'fulfilled') return h('p', { class: 'state' }, w('fulfilled.waiting'));
    if (card.status === 'confirmed') {
      return h('p', { class: 'state ok' }, w('confirmed', { stars: '★'.repeat(card.rating ?? 0) }),
        earned ? h('span', { class: 'earned' }, ` ${w('earned', { n: earned })}`) : null);
    }
    return null;
  };
  return h('article', { class: `wish held status-${card.status}${card.theirs ? '' : ' other'}`, dataset: { wish: card.id, status: card.status } },
    h('p', { class: 'text' }, card.text),
    chips({ ...card, approved_at: null }),
    card.holder.unit ? h('p', { class: 'muted small' }, w('mine.by_unit', { unit: unitName(card.holder.unit) })) : null,
    card.delivery ? delivery(card.delivery) : null,
    card.checked_in_at ? h('p', { class: 'muted small checked-in' }, w('checked_in', { when: fmtTime(card.checked_in_at) })) : null,
    status(),
    doing
      ? h('div', { class: 'actions' },
        card.checked_in_at
          ? null
          : h('button', { type: 'button', class: 'secondary', onclick: (e) => act(e.currentTarget, () => post(path(card.id, 'check-in')), w('checked_in.done')) }, w('check_in')),
        h('button', { type: 'button', class: 'primary', onclick: () => { form.hidden = false; form.querySelector('textarea').focus(); } }, w('fulfil')),
        releaseControl(card))
      : null,
    form);
}

function mineTab() {
  const earned = Object.fromEntries(view.awards.map((a) => [a.wish, a.points]));
  const doing = view.mine.filter((c) => c.theirs && ['claimed', 'fulfilled'].includes(c.status));
  const done = view.mine.filter((c) => c.theirs && c.status === 'confirmed');
  const other = view.mine.filter((c) => !c.theirs);
  const section = (key, list, intro) => (list.length
    ? h('section', { class: 'mine', id: `mine-${key}` },
      h('h2', {}, w(`mine.${key}`), h('span', { class: 'count' }, fmtNum(list.length))),
      intro ? h('p', { class: 'muted small' }, intro) : null,
      h('div', { class: 'cards' }, list.map((c) => heldCard(c, earned[c.id]))))
    : null);
  return [
    h('h1', { tabindex: '-1' }, w('tab.mine')),
    view.mine.length ? null : h('p', { class: 'empty' }, w('mine.empty')),
    section('doing', doing),
    section('done', done),
    section('other', other, w('mine.other.intro')),
  ];
}

function board(title, list, name, mine) {
  return h('section', { class: 'board' },
    h('h2', {}, title),
    list.length
      ? h('ol', { class: 'ranking' }, list.slice(0, 10).map((x) => h('li', { class: x.who === mine ? 'me' : null },
        h('span', { class: 'who' }, name(x.who)),
        h('span', { class: 'pts' }, w('points', { n: fmtNum(x.points) })),
        h('span', { class: 'muted small' }, `${w('col.done')} ${fmtNum(x.wishes)}`))))
      : h('p', { class: 'empty' }, w('boards.empty')));
}

function pointsTab() {
  const me = view.me;
  const streets = Object.entries(view.boards.by_street ?? {});
  const communities = Object.entries(view.boards.by_community ?? {});
  return [
    h('h1', { tabindex: '-1' }, w('tab.points')),
    h('section', { class: 'board me-total' },
      h('h2', {}, w('boards.me')),
      h('p', { class: 'big', id: 'points-total' }, fmtNum(view.points)),
      h('p', { class: 'muted small' }, w('boards.rule')),
      view.awards.length
        ? h('details', {}, h('summary', {}, w('boards.awards')),
          h('ul', { class: 'awards' }, view.awards.map((a) => h('li', {},
            `${fmtDate(a.confirmed_at)} · ${scopeName(a.community)} · `, h('strong', {}, w('earned', { n: a.points }))))))
        : null),
    board(w('boards.volunteers'), view.boards.volunteers, personName, me.user),
    board(w('boards.units'), view.boards.units, unitName, me.unit),
    streets.map(([street, list]) => board(w('boards.street', { place: scopeName(street) }), list, personName, me.user)),
    communities.map(([place, list]) => board(w('boards.street', { place: scopeName(place) }), list, personName, me.user)),
  ];
}

function draw() {
  top.replaceChildren(header());
  if (!view) return;
  const content = { wall: wallTab, mine: mineTab, points: pointsTab }[tab()]();
  main.replaceChildren(...[content].flat(Infinity).filter((x) => x !== null && x !== undefined && x !== false));
}

async function load() {
  main.setAttribute('aria-busy', 'true');
  try {
    view = await api('/v1/wall');
    setNames(view.names);
    draw();
  } catch (e) {
    main.replaceChildren(h('div', { class: 'alert error', role: 'alert' },
      w('load.error', { message: e.message }), ' ',
      h('button', { type: 'button', class: 'secondary', onclick: load }, w('retry'))));
  } finally {
    main.removeAttribute('aria-busy');
  }
}

addEventListener('hashchange', () => {
  draw();
  window.scrollTo(0, 0);
  main.querySelector('h1')?.focus({ preventScroll: true });
});

top.replaceChildren(header());
load();
