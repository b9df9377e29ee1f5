// The audit log, for administrators: who logged in (or failed to), what was
// exported, which accounts and devices changed, restores and settings,
// newest first, with filters and a CSV of what the filters show.

import { api, query } from '../api.js';
import { ta, detailText, AUDIT_ACTIONS } from '../admin-text.js';
import { h, heading, table, empty, time, personName } from '../ui.js';

const PAGE = 100;
const FILTERS = ['action', 'who', 'from', 'to'];

function filters(params, go) {
  const field = (name, text, control) => h('div', { class: `field f-${name}` }, h('label', { for: `a-${name}` }, text), control);
  const value = (name) => params.get(name) ?? '';
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': ta('filters') },
    field('action', ta('audit.action'), h('select', { id: 'a-action', name: 'action' },
      h('option', { value: '' }, ta('audit.action.all')),
      AUDIT_ACTIONS.map((a) => h('option', { value: a, selected: a === value('action') }, ta(`action.${a}`))))),
    field('who', ta('audit.who'), h('input', { id: 'a-who', name: 'who', type: 'search', value: value('who'), autocapitalize: 'none', spellcheck: 'false' })),
    field('from', ta('filter.from'), h('input', { id: 'a-from', name: 'from', type: 'date', value: value('from') })),
    field('to', ta('filter.to'), h('input', { id: 'a-to', name: 'to', type: 'date', value: value('to') })),
    h('div', { class: 'field actions' },
      h('button', { type: 'submit', class: 'primary' }, ta('filter.apply')),
      h('button', { type: 'button', class: 'link', onclick: () => go(new URLSearchParams()) }, ta('filter.reset'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const name of FILTERS) {
      const v = form.elements[name].value.trim();
      if (v) next.set(name, v);
    }
    go(next);
  });
  return form;
}

function actor(e) {
  if (e.actor === 'cli') return h('span', { class: 'muted' }, ta('audit.cli'));
  if (!e.actor) return h('span', { class: 'muted' }, ta('audit.nobody'));
  return personName(e.actor);
}

function detail(e) {
  // Settings: the changed names first, the whole list on request.
  const [first, rest] = e.detail.split('\n\n');
  if (!rest) return detailText(e.detail);
  return [first, h('details', {}, h('summary', {}, ta('stats.data')), h('pre', { class: 'small' }, rest))];
}

function entries(rows) {
  return table([
    { label: ta('audit.col.time'), class: 'nowrap', cell: (e) => time(e.at, true) },
    { label: ta('audit.col.actor'), cell: actor },
    { label: ta('audit.col.action'), cell: (e) => h('span', { class: `badge audit-${e.action}` }, ta(`action.${e.action}`)) },
    { label: ta('audit.col.target'), cell: (e) => (e.target ? personName(e.target) : '') },
    { label: ta('audit.col.detail'), cell: detail },
    { label: ta('audit.col.peer'), cell: (e) => e.peer ?? '' },
  ], rows, { caption: ta('audit.title'), rowAttrs: (e) => ({ dataset: { entry: e.id, action: e.action } }) });
}

export async function render(ctx) {
  const params = ctx.query;
  const chosen = Object.fromEntries(FILTERS.map((k) => [k, params.get(k)]));
  const before = params.get('before');
  const rows = await api(`/v1/audit${query({ ...chosen, before, limit: PAGE })}`);
  const filtered = FILTERS.some((k) => params.get(k));
  const older = rows.length === PAGE
    ? h('nav', { class: 'pager', 'aria-label': ta('pager.label') },
      h('button', {
        type: 'button',
        class: 'secondary',
        onclick: () => {
          const next = new URLSearchParams(params);
          next.set('before', String(rows[rows.length - 1].id));
          ctx.go(next);
        },
      }, ta('audit.older'), ' ›'))
    : null;
  return h('div', { class: 'audit-page' },
    heading(ta('audit.title'), ta('audit.intro')),
    filters(params, ctx.go),
    h('div', { class: 'row end' },
      h('a', {
        class: 'button secondary export',
        href: `/v1/export/audit.csv${query({ ...chosen, lang: document.documentElement.lang.startsWith('zh') ? 'zh' : 'en' })}`,
        download: 'audit.csv',
      }, '⤓ ', ta('audit.export'))),
    rows.length ? [entries(rows), older] : empty(ta(filtered ? 'audit.empty.filtered' : 'audit.empty')));
}
