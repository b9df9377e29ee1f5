// Dispatch and follow-up: approved wishes to assign, then claimed and lit-up
// ones followed until the resident confirms.

import { api, query } from '../api.js';
import { t, label } from '../i18n.js';
import { h, heading, filterForm, exportLink, table, pager, emptyList, link, time, ago, scopeName, holderName, urgencyBadge, fmtNum } from '../ui.js';
import { actionButtons, assignForm } from '../actions.js';

const LIMIT = 50;
const TABS = ['approved', 'claimed', 'fulfilled', 'confirmed'];
const FILTERS = ['scope', 'category', 'urgency', 'q'];

/** Whom each community's wishes can go to: its volunteers, and the units. */
async function claimantsOf(items) {
  const communities = [...new Set(items.map((w) => w.community))];
  const answers = await Promise.all(communities.map((c) => api(`/v1/claimants${query({ community: c })}`)));
  return Object.fromEntries(communities.map((c, i) => [c, answers[i]]));
}

export async function render(ctx) {
  const p = ctx.query;
  const status = TABS.includes(p.get('status')) ? p.get('status') : 'approved';
  const offset = Number(p.get('offset') ?? 0) || 0;
  const base = { scope: p.get('scope'), category: p.get('category'), urgency: p.get('urgency'), q: p.get('q') };
  const filter = { ...base, status, order: 'oldest' };
  const [page, totals, form] = await Promise.all([
    api(`/v1/wishes${query({ ...filter, limit: LIMIT, offset })}`),
    Promise.all(TABS.map((s) => api(`/v1/wishes${query({ ...base, status: s, limit: 1 })}`).then((r) => r.total))),
    filterForm(FILTERS, p, ctx.go),
  ]);
  const claimants = status === 'approved' ? await claimantsOf(page.items) : {};
  const tab = (s, i) => {
    const q = new URLSearchParams(p);
    q.set('status', s);
    q.delete('offset');
    return h('li', {}, h('a', { href: `/dispatch?${q}`, 'aria-current': s === status ? 'page' : null, class: 'tab' },
      t(`dispatch.tab.${s}`), h('span', { class: 'count' }, fmtNum(totals[i]))));
  };
  const wish = { label: t('col.wish'), class: 'wish', cell: (w) => [link(`/wishes/${w.id}`, w.text), h('div', { class: 'muted small' }, `${label('category', w.category)} · ${scopeName(w.community)}`)] };
  const urgency = { label: t('col.urgency'), cell: (w) => urgencyBadge(w.urgency) };
  const claimant = { label: t('col.claimant'), cell: (w) => holderName(w.holder_user, w.holder_unit, w.claimant) };
  const columns = {
    approved: [
      { label: t('col.reviewed'), class: 'nowrap', cell: (w) => [time(w.reviewed_at), h('div', { class: 'muted small' }, ago(w.reviewed_at))] },
      wish, urgency,
      { label: t('dispatch.claimant'), class: 'actions', cell: (w) => (w.actions.includes('assign') && claimants[w.community] ? assignForm(w.id, claimants[w.community], ctx.refresh) : '') },
    ],
    claimed: [
      { label: t('col.reviewed'), class: 'nowrap', cell: (w) => time(w.reviewed_at) },
      wish, urgency, claimant,
      { label: t('col.waiting'), class: 'nowrap', cell: (w) => ago(w.reviewed_at) },
      { label: t('col.actions'), class: 'actions', cell: (w) => h('div', { class: 'row' }, actionButtons(w.id, w.actions, ['fulfil', 'release'], ctx.refresh)) },
    ],
    fulfilled: [
      { label: t('col.fulfilled'), class: 'nowrap', cell: (w) => [time(w.fulfilled_at), h('div', { class: 'muted small' }, ago(w.fulfilled_at))] },
      wish, claimant,
      { label: t('col.actions'), class: 'actions', cell: (w) => h('div', { class: 'row' }, actionButtons(w.id, w.actions, ['confirm'], ctx.refresh)) },
    ],
    confirmed: [
      { label: t('col.confirmed'), class: 'nowrap', cell: (w) => time(w.confirmed_at) },
      wish, claimant,
      { label: t('col.rating'), class: 'nowrap', cell: (w) => (w.rating ? h('span', { class: 'stars', title: t('card.rating.n', { n: w.rating }) }, '★'.repeat(w.rating)) : '') },
    ],
  }[status];
  return [
    heading(t('dispatch.title'), t('dispatch.intro')),
    h('nav', { 'aria-label': t('dispatch.tabs') }, h('ul', { class: 'tabs' }, TABS.map(tab))),
    form,
    h('div', { class: 'toolbar' },
      h('p', { class: 'summary' }, t('pager.info', { from: page.total ? fmtNum(offset + 1) : 0, to: fmtNum(offset + page.items.length), total: fmtNum(page.total) })),
      exportLink(filter)),
    page.items.length ? table(columns, page.items, { caption: t(`dispatch.tab.${status}`), rowAttrs: (w) => ({ dataset: { wish: w.id } }) }) : emptyList(FILTERS, p, t(`dispatch.empty.${status}`), { go: ctx.go }),
    pager(page.total, offset, LIMIT, (o) => {
      const next = new URLSearchParams(p);
      next.set('offset', o);
      ctx.go(next);
    }),
  ];
}
