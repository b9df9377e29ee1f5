// Every card in scope, with all the list filters and the CSV export of them.

import { api, query } from '../api.js';
import { t, label } from '../i18n.js';
import { h, heading, filterForm, exportLink, table, pager, emptyList, link, time, scopeName, holderName, statusBadge, urgencyBadge, fmtNum } from '../ui.js';

const LIMIT = 50;
const FILTERS = ['status', 'scope', 'category', 'urgency', 'q', 'from', 'to'];

export async function render(ctx) {
  const p = ctx.query;
  const offset = Number(p.get('offset') ?? 0) || 0;
  const filter = Object.fromEntries(FILTERS.map((k) => [k, p.get(k)]));
  const [page, form] = await Promise.all([
    api(`/v1/wishes${query({ ...filter, limit: LIMIT, offset })}`),
    filterForm(FILTERS, p, ctx.go),
  ]);
  const columns = [
    { label: t('col.updated'), class: 'nowrap', cell: (w) => time(w.updated_at) },
    { label: t('col.wish'), class: 'wish', cell: (w) => [link(`/wishes/${w.id}`, w.text), h('div', { class: 'muted small' }, label('category', w.category))] },
    { label: t('col.status'), cell: (w) => [statusBadge(w.status), w.open_conflicts ? h('span', { class: 'badge conflict', title: t('card.open_conflicts', { n: w.open_conflicts }) }, '⚠') : null] },
    { label: t('col.community'), class: 'hide-narrow', cell: (w) => scopeName(w.community) },
    { label: t('col.urgency'), cell: (w) => urgencyBadge(w.urgency) },
    { label: t('col.claimant'), class: 'hide-narrow', cell: (w) => holderName(w.holder_user, w.holder_unit, w.claimant) },
  ];
  return [
    heading(t('wishes.title'), t('wishes.intro')),
    form,
    h('div', { class: 'toolbar' },
      h('p', { class: 'summary' }, t('pager.info', { from: page.total ? fmtNum(offset + 1) : 0, to: fmtNum(offset + page.items.length), total: fmtNum(page.total) })),
      exportLink(filter)),
    page.items.length ? table(columns, page.items, { caption: t('wishes.title'), rowAttrs: (w) => ({ dataset: { wish: w.id } }) }) : emptyList(FILTERS, p, t('wishes.empty'), { go: ctx.go }),
    pager(page.total, offset, LIMIT, (o) => {
      const next = new URLSearchParams(p);
      next.set('offset', o);
      ctx.go(next);
    }),
  ];
}
