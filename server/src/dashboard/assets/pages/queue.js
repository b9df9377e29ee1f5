// The review queue: submitted cards in the supervisor's scope, oldest first.

import { api, query } from '../api.js';
import { t, label } from '../i18n.js';
import { h, heading, filterForm, exportLink, table, pager, emptyList, link, time, ago, scopeName, personName, urgencyBadge, fmtNum } from '../ui.js';
import { actionButtons } from '../actions.js';

const LIMIT = 50;
const FILTERS = ['scope', 'category', 'urgency', 'q'];

export async function render(ctx) {
  const p = ctx.query;
  const offset = Number(p.get('offset') ?? 0) || 0;
  const filter = {
    status: 'submitted',
    order: 'oldest',
    scope: p.get('scope'),
    category: p.get('category'),
    urgency: p.get('urgency'),
    q: p.get('q'),
  };
  const [page, form] = await Promise.all([
    api(`/v1/wishes${query({ ...filter, limit: LIMIT, offset })}`),
    filterForm(FILTERS, p, ctx.go),
  ]);
  const rows = page.items;
  const columns = [
    { label: t('col.submitted'), class: 'nowrap', cell: (w) => [time(w.submitted_at ?? w.created_at), h('div', { class: 'muted small' }, ago(w.submitted_at ?? w.created_at))] },
    { label: t('col.wish'), class: 'wish', cell: (w) => [link(`/wishes/${w.id}`, w.text), h('div', { class: 'muted small' }, label('category', w.category))] },
    { label: t('col.community'), class: 'hide-narrow', cell: (w) => scopeName(w.community) },
    { label: t('col.urgency'), cell: (w) => urgencyBadge(w.urgency) },
    { label: t('col.worker'), class: 'hide-narrow', cell: (w) => personName(w.created_by) },
    {
      label: t('col.actions'),
      class: 'actions',
      cell: (w) => h('div', { class: 'row' }, actionButtons(w.id, w.actions, ['approve', 'reject', 'needs_info'], ctx.refresh)),
    },
  ];
  return [
    heading(t('queue.title'), t('queue.intro')),
    form,
    h('div', { class: 'toolbar' },
      h('p', { class: 'summary', id: 'queue-count' }, t('queue.count', { n: fmtNum(page.total) })),
      exportLink(filter)),
    rows.length
      ? table(columns, rows, { caption: t('queue.title'), rowAttrs: (w) => ({ dataset: { wish: w.id } }) })
      : emptyList(FILTERS, p, t('queue.empty'), { go: ctx.go }),
    pager(page.total, offset, LIMIT, (o) => {
      const next = new URLSearchParams(p);
      next.set('offset', o);
      ctx.go(next);
    }),
  ];
}
