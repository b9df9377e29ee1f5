// Small DOM helpers shared by the pages: elements, formatting, dialogs,
// toasts, filters, tables and paging. No framework; every element is built
// with the DOM API (the content security policy allows no inline script or
// style, and nothing here writes HTML from strings).

import { api } from './api.js';
import { lang, t, label, CATEGORIES, URGENCIES, STATUSES } from './i18n.js';
import { explain } from './errors.js';

/** Creates an element: `h('a', {href: '/x', class: 'y'}, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const locale = lang === 'zh' ? 'zh-CN' : 'en-GB';
const dateFmt = new Intl.DateTimeFormat(locale, { year: 'numeric', month: '2-digit', day: '2-digit' });
const timeFmt = new Intl.DateTimeFormat(locale, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
});
const numFmt = new Intl.NumberFormat(locale);
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** A date, or an empty string. */
export const fmtDate = (ms) => (ms ? dateFmt.format(new Date(ms)) : '');
/** A date and time, or an empty string. */
export const fmtTime = (ms) => (ms ? timeFmt.format(new Date(ms)) : '');
/** A whole number, grouped. */
export const fmtNum = (n) => numFmt.format(n ?? 0);
/** A number with one decimal. */
export const fmt1 = (n) => (n === null || n === undefined ? '–' : new Intl.NumberFormat(locale, { maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(n));

/** "3 days ago" for a time in the past. */
export function ago(ms) {
  if (!ms) return '';
  const days = Math.floor((Date.now() - ms) / DAY);
  if (days <= 0) return t('days.today');
  return days === 1 ? t('days.ago.one') : t('days.ago', { n: fmtNum(days) });
}

/** A length of time, rounded, in the largest unit that suits it: "3 小时", "1 year". */
export function duration(ms) {
  const abs = Math.abs(ms);
  const [size, unit] = abs < HOUR ? [MINUTE, 'minute']
    : abs < 36 * HOUR ? [HOUR, 'hour']
      : abs < 45 * DAY ? [DAY, 'day']
        : abs < 330 * DAY ? [30 * DAY, 'month']
          : [365 * DAY, 'year'];
  const n = Math.max(1, Math.round(abs / size));
  return n === 1 ? t(`span.${unit}.one`) : t(`span.${unit}`, { n: fmtNum(n) });
}

/** A `<time>` element showing a date, with the full time on hover. */
export function time(ms, withTime = false) {
  if (!ms) return '';
  return h('time', { datetime: new Date(ms).toISOString(), title: fmtTime(ms) }, withTime ? fmtTime(ms) : fmtDate(ms));
}

/** Display names of places, people and units, from `/v1/names`. */
const names = { places: {}, people: {}, units: {} };

/** Keeps the names the relay knows (see `/v1/names`). */
export function setNames(known) {
  Object.assign(names, known ?? {});
}

/**
 * `longgang/yuanshan/xikeng` → `园山街道 · 西坑社区` by the places' display
 * names, or `yuanshan · xikeng` where a place has none (the district is the
 * same everywhere, so it is left out below the district itself).
 */
export function scopeName(path) {
  if (!path) return '';
  const parts = path.split('/');
  const named = (i) => names.places[parts.slice(0, i + 1).join('/')] ?? parts[i];
  if (parts.length === 1) return named(0);
  return parts.slice(1).map((_, i) => named(i + 1)).join(' · ');
}

/** A user's display name, or their login. */
export const personName = (login) => (login ? names.people[login] ?? login : '');

/** A partner unit's name, or its id. */
export const unitName = (id) => (id ? names.units[id] ?? id : '');

/**
 * Who holds a wish, as people know them: the volunteer (with their unit),
 * the unit, or the free-text name marked as unregistered.
 */
export function holderName(holderUser, holderUnit, claimant) {
  if (holderUser && holderUnit) return `${personName(holderUser)}（${unitName(holderUnit)}）`;
  if (holderUser) return personName(holderUser);
  if (holderUnit) return unitName(holderUnit);
  return claimant ? `${claimant} ${t('claimant.free')}` : '';
}

/** A status badge. */
export const statusBadge = (status) => h('span', { class: `badge status-${status}` }, label('status', status));
/** An urgency badge. */
export const urgencyBadge = (u) => h('span', { class: `badge urgency-${u}` }, label('urgency', u));
/** A tag chip. */
export const tagChip = (tag) => h('span', { class: 'chip' }, label('tag', tag));

/** A link the app opens without a page load. */
export const link = (href, ...children) => h('a', { href }, ...children);

/** A short form of an id, for people. */
export const shortId = (id) => (id ? String(id).slice(0, 8) : '');

/** Shows a message for a few seconds. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const item = h('div', { class: `toast ${kind}` }, message);
  while (box.children.length >= 3) box.firstElementChild.remove();
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

/** The page heading, focused after navigation for keyboard and screen reader users. */
export function heading(text, intro) {
  return [h('h1', { tabindex: '-1' }, text), intro ? h('p', { class: 'intro' }, intro) : null];
}

/** An error box with a retry button. */
export function errorBox(error, retry) {
  return h('div', { class: 'alert error', role: 'alert' },
    t('error.load', { message: explain(error) }), ' ',
    retry ? h('button', { type: 'button', class: 'secondary', onclick: retry }, t('retry')) : null);
}

/**
 * A modal dialog with labelled fields (and a `text` to read first). Resolves
 * to the values, or null when cancelled.
 * `fields`: [{name, label, type: 'textarea'|'select'|'text', required, options}].
 */
export function dialog({ title, text, fields, submit = t('dialog.submit'), danger = false }) {
  return new Promise((resolve) => {
    const id = `d${Math.random().toString(36).slice(2, 8)}`;
    const inputs = fields.map((f, i) => {
      const fid = `${id}-${i}`;
      let input;
      if (f.type === 'select') {
        input = h('select', { id: fid, name: f.name, required: f.required },
          f.options.map(([value, text]) => h('option', { value, selected: value === f.value }, text)));
      } else if (f.type === 'text') {
        input = h('input', { id: fid, name: f.name, required: f.required, value: f.value ?? '', autocomplete: 'off' });
      } else {
        input = h('textarea', { id: fid, name: f.name, required: f.required, rows: 3, maxlength: 500 });
      }
      return h('div', { class: 'field' }, h('label', { for: fid }, f.label), input);
    });
    const form = h('form', { method: 'dialog', class: 'stack' },
      h('h2', { id: `${id}-title` }, title),
      text ? h('p', { id: `${id}-text` }, text) : null,
      inputs,
      h('div', { class: 'row end' },
        h('button', { type: 'button', class: 'secondary', value: 'cancel', onclick: () => el.close('cancel') }, t('dialog.cancel')),
        h('button', { type: 'submit', class: danger ? 'danger' : 'primary', value: 'ok' }, submit)));
    const el = h('dialog', { 'aria-labelledby': `${id}-title`, 'aria-describedby': text ? `${id}-text` : null }, form);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      const values = {};
      for (const f of fields) values[f.name] = form.elements[f.name].value.trim();
      el.close('ok');
      resolve(values);
    });
    el.addEventListener('close', () => {
      if (el.returnValue !== 'ok') resolve(null);
      el.remove();
    });
    document.body.append(el);
    el.showModal();
  });
}

let scopeCache = null;

/** The streets and communities the user sees, from the statistics. */
export async function scopeOptions() {
  if (!scopeCache) {
    scopeCache = api('/v1/stats').then((s) => [
      ...s.streets.map((x) => x.scope),
      ...s.communities.map((x) => x.scope),
    ].sort()).catch((e) => {
      scopeCache = null;
      throw e;
    });
  }
  return scopeCache;
}

const options = (all, values, kind, current) => [
  h('option', { value: '' }, all),
  ...values.map((v) => h('option', { value: v, selected: v === current }, kind ? label(kind, v) : scopeName(v))),
];

/** The query `params` without the filters `fields` (and the page). */
function withoutFilters(fields, params) {
  const keep = new URLSearchParams();
  for (const [k, v] of params) if (!fields.includes(k) && !(k === 'q' && fields.includes('hq')) && k !== 'offset') keep.set(k, v);
  return keep;
}

/**
 * A filter form over the URL's query. `fields` names the filters shown;
 * `onApply(params)` receives the new query.
 */
export async function filterForm(fields, params, onApply) {
  const scopes = fields.includes('scope') ? await scopeOptions() : [];
  const id = (name) => `f-${name}`;
  const field = (name, text, control) => h('div', { class: `field f-${name}` }, h('label', { for: id(name) }, text), control);
  const parts = [];
  for (const name of fields) {
    const value = params.get(name) ?? '';
    if (name === 'scope') parts.push(field(name, t('filter.scope'), h('select', { id: id(name), name }, options(t('filter.scope.all'), scopes, null, value))));
    if (name === 'status') parts.push(field(name, t('filter.status'), h('select', { id: id(name), name }, options(t('filter.status.all'), STATUSES, 'status', value))));
    if (name === 'category') parts.push(field(name, t('filter.category'), h('select', { id: id(name), name }, options(t('filter.category.all'), CATEGORIES, 'category', value))));
    if (name === 'urgency') parts.push(field(name, t('filter.urgency'), h('select', { id: id(name), name }, options(t('filter.urgency.all'), URGENCIES, 'urgency', value))));
    if (name === 'q') parts.push(field(name, t('filter.q'), h('input', { id: id(name), name, type: 'search', value, placeholder: t('filter.q.placeholder') })));
    if (name === 'hq') parts.push(field(name, t('filter.q'), h('input', { id: id(name), name: 'q', type: 'search', value: params.get('q') ?? '', placeholder: t('filter.hq.placeholder') })));
    if (name === 'from') parts.push(field(name, t('filter.from'), h('input', { id: id(name), name, type: 'date', value })));
    if (name === 'to') parts.push(field(name, t('filter.to'), h('input', { id: id(name), name, type: 'date', value })));
  }
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('filters') },
    parts,
    h('div', { class: 'field actions' },
      h('button', { type: 'submit', class: 'primary' }, t('filter.apply')),
      h('button', {
        type: 'button',
        class: 'link',
        onclick: () => onApply(withoutFilters(fields, params)),
      }, t('filter.reset'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams(params);
    next.delete('offset');
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.value) next.set(el.name, el.value);
      else next.delete(el.name);
    }
    onApply(next);
  });
  return form;
}

/**
 * The CSV export of a wish filter, in the interface's language, with times
 * in this computer's zone (the file's headers name it).
 */
export function exportLink(params) {
  const q = new URLSearchParams();
  for (const key of ['status', 'scope', 'category', 'urgency', 'household', 'q', 'from', 'to', 'order']) {
    const v = params[key] ?? (params.get ? params.get(key) : undefined);
    if (v) q.set(key, v);
  }
  q.set('lang', lang);
  q.set('tz_offset', String(-new Date().getTimezoneOffset()));
  return h('a', {
    class: 'button secondary export',
    href: `/v1/export/wishes.csv?${q}`,
    download: 'wishes.csv',
    title: t('export.title'),
  }, '⤓ ', t('export'));
}

/**
 * A table: `columns` are [{label, cell(row), class}]. On a phone its rows
 * become cards, each cell under its column's label (`data-label`), unless
 * `stack` is false (a table narrow enough to stay one).
 */
export function table(columns, rows, { caption, rowAttrs, stack = true } = {}) {
  return h('div', { class: stack ? 'table-wrap stack' : 'table-wrap' },
    h('table', {},
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', {}, rows.map((row) => h('tr', rowAttrs ? rowAttrs(row) : {},
        columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(row))))))));
}

/** Previous/next paging over `total` rows; `go(offset)` changes the page. */
export function pager(total, offset, limit, go) {
  if (total <= limit) return null;
  const from = offset + 1;
  const to = Math.min(offset + limit, total);
  return h('nav', { class: 'pager', 'aria-label': t('pager.label') },
    h('button', { type: 'button', class: 'secondary', disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) }, '‹ ', t('pager.prev')),
    h('span', {}, t('pager.info', { from: fmtNum(from), to: fmtNum(to), total: fmtNum(total) })),
    h('button', { type: 'button', class: 'secondary', disabled: to >= total, onclick: () => go(offset + limit) }, t('pager.next'), ' ›'));
}

/** An empty-state message. */
export const empty = (text = t('empty')) => h('p', { class: 'empty' }, text);

/** Whether any of the filters `fields` is set in the query `params`. */
export const filtering = (fields, params) => fields.some((k) => params.get(k === 'hq' ? 'q' : k));

/**
 * The empty state of a filtered list: "no cards match this filter" while
 * a filter is set (with a way to clear it), else `text`.
 */
export function emptyList(fields, params, text, { what = 'cards', go } = {}) {
  if (!filtering(fields, params)) return empty(text);
  return h('p', { class: 'empty', id: 'empty-filtered' }, t(`empty.filtered.${what}`), ' ',
    go ? h('button', { type: 'button', class: 'link', onclick: () => go(withoutFilters(fields, params)) }, t('filter.reset')) : null);
}
