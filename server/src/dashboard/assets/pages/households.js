// Households in scope: address, head of household, people and tags.

import { api, query } from '../api.js';
import { t } from '../i18n.js';
import { h, heading, filterForm, table, pager, emptyList, link, scopeName, tagChip, fmtNum } from '../ui.js';

const LIMIT = 50;

export async function render(ctx) {
  const p = ctx.query;
  const offset = Number(p.get('offset') ?? 0) || 0;
  const [page, form] = await Promise.all([
    api(`/v1/households${query({ scope: p.get('scope'), q: p.get('q'), limit: LIMIT, offset })}`),
    filterForm(['scope', 'hq'], p, ctx.go),
  ]);
  const columns = [
    { label: t('col.address'), class: 'wish', cell: (x) => link(`/households/${x.id}`, x.address || '—') },
    { label: t('col.head'), cell: (x) => x.head_name },
    { label: t('col.community'), class: 'hide-narrow', cell: (x) => scopeName(x.community) },
    { label: t('col.members'), class: 'num', cell: (x) => fmtNum(x.members) },
    { label: t('col.tags'), cell: (x) => h('div', { class: 'chips' }, x.tags.map(tagChip)) },
  ];
  return [
    heading(t('households.title'), t('households.intro')),
    form,
    h('div', { class: 'toolbar' }, h('p', { class: 'summary' }, t('pager.info', { from: page.total ? fmtNum(offset + 1) : 0, to: fmtNum(offset + page.items.length), total: fmtNum(page.total) }))),
    page.items.length ? table(columns, page.items, { caption: t('households.title') }) : emptyList(['scope', 'hq'], p, t('households.empty'), { what: 'households', go: ctx.go }),
    pager(page.total, offset, LIMIT, (o) => {
      const next = new URLSearchParams(p);
      next.set('offset', o);
      ctx.go(next);
    }),
  ];
}
