// The field app's screens. Each draws into `main` from what the worker's
// store answers; every rule (who may do what, which status follows) is
// sync-core's, so a screen offers what the store says is allowed and shows
// the store's refusal otherwise.

import { call } from './store.js';
import { t, errorText, TAGS, CATEGORIES, URGENCIES, STATUSES } from './text.js';

/** Builds an element: `h('p', {class: 'x'}, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c);
  }
  return el;
}

const ctx = {
  account: null, unsynced: new Set(), changed: () => {}, notice: () => {},
  names: { places: {}, people: {}, units: {} },
};

/** A community's name (its path until the relay has named it). */
function place(path) {
  return ctx.names.places?.[path] ?? path;
}

/** A person's display name, or their login. */
function person(login) {
  return ctx.names.people?.[login] ?? login;
}

/** Sets what screens need from the app: the account, and callbacks. */
export function configure(options) {
  Object.assign(ctx, options);
}

function day(ms) {
  return ms ? new Date(ms).toLocaleDateString() : '';
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : '';
}

function go(hash) {
  location.hash = hash;
}

function field(label, input) {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), input);
}

function select(name, values, prefix, current) {
  return h('select', { name }, values.map((v) =>
    h('option', { value: v, selected: v === current, text: t(`${prefix}.${v}`) })));
}

function unsyncedMark(id) {
  return ctx.unsynced.has(id) ? h('span', { class: 'mark', text: t('card.unsynced') }) : null;
}

function statusBadge(status) {
  return h('span', { class: `status s-${status}`, text: t(`status.${status}`) });
}

function failed(form, e) {
  const box = form.querySelector('.error') || form.appendChild(h('p', { class: 'error', role: 'alert' }));
  box.textContent = errorText(e);
}

async function saved(work, form, then) {
  try {
    const value = await work();
    ctx.notice(t('form.saved'));
    await ctx.changed();
    then(value);
  } catch (e) {
    failed(form, e);
  }
}

function householdItem(row) {
  return h('li', {},
    h('a', { href: `#/household/${row.id}`, class: 'row' },
      h('strong', { text: row.address }), ' ',
      h('span', { class: 'muted', text: row.head_name }),
      unsyncedMark(row.id)));
}

function cardItem(row) {
  return h('li', {},
    h('a', { href: `#/card/${row.id}`, class: 'row' },
      statusBadge(row.status), ' ',
      h('span', { text: row.text }),
      unsyncedMark(row.id)));
}

function list(items, empty, item) {
  return items.length ? h('ul', { class: 'list' }, items.map(item)) : h('p', { class: 'empty', text: empty });
}

/** Today: the day's visits and the households. */
export async function today(main) {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const [visits, homes] = await Promise.all([
    call('visitsSince', midnight.getTime()),
    call('households', null, 200, 0),
  ]);
  const names = new Map(homes.items.map((r) => [r.id, r.address]));
  main.append(
    h('h2', { text: t('today.visits') }),
    list(visits, t('today.no_visits'), (v) => h('li', {},
      h('a', { href: `#/household/${v.household}`, class: 'row' },
        h('strong', { text: names.get(v.household) || '' }), ' ',
        h('span', { class: 'muted', text: v.notes }), unsyncedMark(v.id)))),
    h('div', { class: 'heading' },
      h('h2', { text: t('today.households') }),
      h('a', { href: '#/household/new', class: 'button', text: t('today.add_household') })),
    list(homes.items, t('today.no_households'), householdItem),
  );
}

/** Search over households and cards (Chinese included). */
export async function search(main, query) {
  const input = h('input', { type: 'search', name: 'q', placeholder: t('search.placeholder'), value: query || '' });
  const results = h('div', { class: 'results' });
  const form = h('form', { role: 'search', onsubmit: (e) => { e.preventDefault(); go(`#/search/${encodeURIComponent(input.value)}`); } },
    field(t('search.label'), input));
  main.append(h('h2', { text: t('search.title') }), form, results);
  if (!query) return;
  const [homes, cards] = await Promise.all([call('households', query, 50, 0), call('searchWishes', query)]);
  if (!homes.items.length && !cards.length) {
    results.append(h('p', { class: 'empty', text: t('search.none') }));
    return;
  }
  results.append(
    h('h2', { text: t('search.households') }), list(homes.items, t('search.none'), householdItem),
    h('h2', { text: t('search.cards') }), list(cards, t('search.none'), cardItem));
}

/** The worker's cards, by status. */
export async function cards(main, status) {
  const filter = h('select', { name: 'status', onchange: (e) => go(`#/cards/${e.target.value}`) },
    h('option', { value: '', text: t('cards.all') }),
    STATUSES.map((s) => h('option', { value: s, selected: s === status, text: t(`status.${s}`) })));
  const page = await call('wishes', JSON.stringify({ status: status || null, limit: 200 }));
  main.append(h('h2', { text: t('cards.title') }), field(t('cards.filter'), filter),
    list(page.items, t('cards.none'), cardItem));
}

/** Edits the relay refused, with reasons and a retry. */
export async function refused(main) {
  const rows = await call('refused');
  main.append(h('h2', { text: t('refused.title') }),
    list(rows, t('refused.none'), (r) => h('li', { class: 'refusal' },
      h('p', {}, h('strong', { text: refusalText(r.code) })),
      h('p', { class: 'muted', text: `${r.reason} · ${when(r.at)}` }),
      h('a', { href: recordLink(r.record), class: 'button', text: t('refused.open') }),
      h('button', { type: 'button', onclick: async (e) => {
        await call('retry', r.record);
        ctx.notice(t('refused.retried'));
        e.target.disabled = true;
        await ctx.changed();
      }, text: t('refused.retry') }))));
}

function refusalText(code) {
  const text = t(`refusal.${code}`);
  return text === `refusal.${code}` ? t('refusal.other') : text;
}

function recordLink(id) {
  return `#/record/${id}`;
}

/** Opens any record by id: a household or a card (visits open their household). */
export async function record(main, id) {
  try {
    await call('household', id);
    go(`#/household/${id}`);
    return;
  } catch (_) { /* not a household */ }
  try {
    await call('wish', id);
    go(`#/card/${id}`);
    return;
  } catch (_) { /* not a card */ }
  main.append(h('p', { class: 'empty', text: t('error.not_found') }));
}

/** Adds a household, or edits one. */
export async function householdForm(main, id) {
  const home = id ? await call('household', id) : null;
  const scopes = ctx.account?.scopes || [];
  const list = h('datalist', { id: 'scopes' }, scopes.map((s) => h('option', { value: s, label: place(s) })));
  const input = (name, value, attrs = {}) => h('input', { name, value: value ?? '', ...attrs });
  const community = input('community', home ? home.community : scopes[0], { list: 'scopes', required: true, readonly: !!home });
  const tags = h('fieldset', { class: 'tags' }, h('legend', { text: t('household.tags') }),
    TAGS.map((tag) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'tag', value: tag, checked: !!home && home.tags.includes(tag) }),
      t(`tag.${tag}`))));
  const form = h('form', { class: 'form' },
    h('h2', { text: t(home ? 'household.edit' : 'household.new') }),
    list,
    field(t('household.community'), community),
    field(t('household.address'), input('address', home?.address, { required: true })),
    field(t('household.head_name'), input('head_name', home?.head_name)),
    field(t('household.phone'), input('phone', home?.phone, { type: 'tel' })),
    field(t('household.members'), input('members', home?.members ?? 1, { type: 'number', min: 0, max: 99 })),
    tags,
    field(t('household.notes'), h('textarea', { name: 'notes', text: home?.notes ?? '' })),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', text: t('form.save') }),
      h('a', { href: home ? `#/household/${id}` : '#/today', class: 'button', text: t('form.cancel') })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const chosen = data.getAll('tag');
    const fields = {
      address: data.get('address').trim(), head_name: data.get('head_name').trim(),
      phone: data.get('phone').trim(), members: Number(data.get('members') || 0),
      notes: data.get('notes'),
    };
    if (home) {
      const patch = { ...fields,
        add_tags: chosen.filter((tag) => !home.tags.includes(tag)),
        remove_tags: home.tags.filter((tag) => !chosen.includes(tag)) };
      saved(() => call('updateHousehold', id, JSON.stringify(patch)), form, () => go(`#/household/${id}`));
    } else {
      const create = { community: data.get('community').trim(), ...fields, tags: chosen };
      saved(() => call('createHousehold', JSON.stringify(create)), form, (newId) => go(`#/household/${newId}`));
    }
  });
  main.append(form);
}

/** A household: its details, visits and cards. */
export async function household(main, id) {
  const [home, visits, cardsOf] = await Promise.all([
    call('household', id), call('visits', id),
    call('wishes', JSON.stringify({ household: id, limit: 200 })),
  ]);
  main.append(
    h('div', { class: 'heading' }, h('h2', { text: home.address }), unsyncedMark(id)),
    h('dl', { class: 'facts' },
      h('dt', { text: t('household.community') }), h('dd', { text: place(home.community) }),
      h('dt', { text: t('household.head_name') }), h('dd', { text: home.head_name }),
      h('dt', { text: t('household.phone') }), h('dd', { text: home.phone }),
      h('dt', { text: t('household.members') }), h('dd', { text: String(home.members) }),
      h('dt', { text: t('household.tags') }), h('dd', { text: home.tags.map((tag) => t(`tag.${tag}`)).join('、') }),
      h('dt', { text: t('household.notes') }), h('dd', { text: home.notes })),
    h('div', { class: 'actions' },
      h('a', { href: `#/household/${id}/visit`, class: 'button primary', text: t('household.record_visit') }),
      h('a', { href: `#/household/${id}/card`, class: 'button primary', text: t('household.new_card') }),
      h('a', { href: `#/household/${id}/edit`, class: 'button', text: t('household.edit') })),
    h('h3', { text: t('household.cards') }), list(cardsOf.items, t('cards.none'), cardItem),
    h('h3', { text: t('household.visits') }),
    list(visits, t('today.no_visits'), (v) => h('li', { class: 'row' },
      h('strong', { text: day(v.visited_at) }), ' ', h('span', { text: v.notes }),
      v.needs ? h('span', { class: 'muted', text: ` · ${v.needs}` }) : null, unsyncedMark(v.id))));
}

/** Records a visit to a household. */
export async function visitForm(main, householdId) {
  const home = await call('household', householdId);
  const form = h('form', { class: 'form' },
    h('h2', { text: `${t('visit.title')} · ${home.address}` }),
    field(t('visit.notes'), h('textarea', { name: 'notes', required: true })),
    field(t('visit.needs'), h('textarea', { name: 'needs' })),
    field(t('visit.follow_up'), h('input', { type: 'date', name: 'follow_up' })),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', text: t('form.save') }),
      h('a', { href: `#/household/${householdId}`, class: 'button', text: t('form.cancel') })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const follow = data.get('follow_up');
    const visit = { household: householdId, visited_at: Date.now(), notes: data.get('notes'),
      needs: data.get('needs'), gps: null, follow_up: follow ? new Date(follow).getTime() : null };
    saved(() => call('recordVisit', JSON.stringify(visit)), form, () => go(`#/household/${householdId}`));
  });
  main.append(form);
}

/** Creates a card for a household, or edits one. */
export async function cardForm(main, { householdId, cardId }) {
  const view = cardId ? await call('wish', cardId) : null;
  const card = view?.card;
  const form = h('form', { class: 'form' },
    h('h2', { text: t(card ? 'card.edit' : 'card.new') }),
    field(t('card.text'), h('textarea', { name: 'text', required: true, text: card?.text ?? '' })),
    field(t('card.category'), select('category', CATEGORIES, 'category', card?.category)),
    field(t('card.urgency'), select('urgency', URGENCIES, 'urgency', card?.urgency ?? 'normal')),
    field(t('card.photo'), h('input', { type: 'file', name: 'photo', accept: 'image/jpeg,image/png', capture: 'environment' })),
    h('div', { class: 'actions' },
      card ? null : h('button', { type: 'submit', name: 'draft', value: '1', text: t('card.save_draft') }),
      h('button', { type: 'submit', class: 'primary', text: card ? t('form.save') : t('card.submit') }),
      h('a', { href: card ? `#/card/${cardId}` : `#/household/${householdId}`, class: 'button', text: t('form.cancel') })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const fields = { text: data.get('text'), category: data.get('category'), urgency: data.get('urgency') };
    const picture = data.get('photo');
    const photo = async (id) => {
      if (picture && picture.size) await call('addPhoto', id, await picture.arrayBuffer());
    };
    if (card) {
      saved(async () => {
        await call('updateWish', cardId, JSON.stringify(fields));
        await photo(cardId);
      }, form, () => go(`#/card/${cardId}`));
      return;
    }
    const draft = e.submitter && e.submitter.name === 'draft';
    saved(async () => {
      const id = await call('createWish', JSON.stringify({ household: householdId, ...fields, photos: [] }));
      await photo(id);
      if (!draft) await call('appendEvent', id, JSON.stringify({ kind: 'submit' }));
      return id;
    }, form, (id) => go(`#/card/${id}`));
  });
  main.append(form);
}

/** What came back from review: the status, the reviewer's reason, and what
 * the worker may do now. */
export async function cardView(main, id) {
  const { card, allowed } = await call('wish', id);
  const home = await call('household', card.household).catch(() => null);
  const status = card.state.status;
  const reasons = card.events.filter((e) => ['reject', 'request_info'].includes(e.kind) && e.note);
  const reason = ['rejected', 'needs_info'].includes(status) && reasons.length ? reasons[reasons.length - 1].note : null;
  const box = h('div', { class: 'actions' });
  const act = (kind, note) => saved(() => call('appendEvent', id, JSON.stringify({ kind, note })), main, () => route());
  if (allowed.includes('edit')) box.append(h('a', { href: `#/card/${id}/edit`, class: 'button', text: t('card.edit') }));
  if (allowed.includes('submit')) {
    box.append(h('button', { type: 'button', class: 'primary', onclick: () => act('submit'),
      text: t(status === 'needs_info' ? 'card.resubmit' : 'card.submit') }));
  }
  if (allowed.includes('withdraw')) {
    box.append(h('button', { type: 'button', onclick: () => {
      const note = prompt(t('card.withdraw.reason'));
      if (note) act('withdraw', note);
    }, text: t('card.withdraw') }));
  }
  // DOM's append writes `null` as text: leave out what is not there.
  main.append(...[
    h('div', { class: 'heading' }, h('h2', { text: t('card.title') }), statusBadge(status), unsyncedMark(id)),
    home ? h('p', {}, h('a', { href: `#/household/${card.household}`, text: home.address })) : null,
    h('p', { class: 'wish', text: card.text }),
    h('p', { class: 'muted', text: `${t(`category.${card.category}`)} · ${t(`urgency.${card.urgency}`)}` }),
    card.photos.length ? photos(id, card.photos) : null,
    reason ? h('div', { class: `reason s-${status}`, role: 'note' },
      h('strong', { text: t('card.reason') }), h('p', { text: reason })) : null,
    box,
    h('h3', { text: t('card.history') }),
    h('ol', { class: 'history' }, card.events.map((e) => h('li', {},
      h('span', { text: t(`event.${e.kind}`) }), ' ',
      h('span', { class: 'muted', text: `${person(e.actor)} · ${when(e.at)}` }),
      e.note ? h('p', { text: e.note }) : null))),
  ].filter(Boolean));
}

/** A card's photos, as thumbnails: kept here, or fetched from the relay. */
function photos(cardId, refs) {
  const box = h('div', { class: 'photos' });
  for (const [i, ref] of refs.entries()) {
    const img = h('img', { alt: t('card.photo.n', { n: i + 1 }), width: 96, height: 96 });
    box.append(img);
    call('thumbnail', cardId, ref.sha256).then((bytes) => {
      if (bytes) img.src = URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' }));
      else img.classList.add('pending');
    }).catch(() => img.classList.add('pending'));
  }
  return box;
}

let route = () => {};

/** Sets the function that redraws the current screen. */
export function onRedraw(f) {
  route = f;
}
