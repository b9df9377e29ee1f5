// One household: its profile and tags, its visits, and its wish cards.

import { api } from '../api.js';
import { t, label } from '../i18n.js';
import { h, heading, table, empty, link, time, scopeName, personName, holderName, statusBadge, urgencyBadge, tagChip, fmtNum } from '../ui.js';

export async function render(ctx) {
  const x = await api(`/v1/households/${encodeURIComponent(ctx.params[0])}`);
  const facts = [
    [t('col.head'), x.head_name],
    [t('household.phone'), x.phone],
    [t('household.members'), fmtNum(x.members)],
    [t('col.community'), scopeName(x.community)],
    [t('card.created'), [time(x.created_at), ' · ', personName(x.created_by)]],
    [t('household.notes'), x.notes],
  ].filter(([, v]) => v !== '' && v !== null && v !== undefined);
  const visits = [...x.visits].sort((a, b) => b.visited_at - a.visited_at);
  return [
    h('p', { class: 'crumbs' }, h('a', { href: '/households' }, `‹ ${t('nav.households')}`)),
    heading(x.address || t('household.title')),
    x.tags.length ? h('div', { class: 'chips large' }, x.tags.map(tagChip)) : null,
    h('div', { class: 'grid two' },
      h('section', { class: 'panel', 'aria-labelledby': 'profile-h' },
        h('h2', { id: 'profile-h' }, t('household.profile')),
        h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
      h('section', { class: 'panel', 'aria-labelledby': 'visits-h' },
        h('h2', { id: 'visits-h' }, t('household.visits')),
        visits.length
          ? h('ol', { class: 'timeline' }, visits.map((v) => h('li', { class: 'tl visit' },
            h('div', { class: 'tl-when' }, time(v.visited_at, true)),
            h('div', { class: 'tl-body' },
              v.notes ? h('p', { class: 'what' }, v.notes) : null,
              v.needs ? h('p', { class: 'note' }, h('span', { class: 'muted' }, `${t('household.visit.needs')}${t('colon')}`), v.needs) : null,
              v.follow_up ? h('p', { class: 'note' }, h('span', { class: 'muted' }, `${t('household.visit.follow_up')}${t('colon')}`), time(v.follow_up)) : null,
              h('p', { class: 'who muted small' }, `${t('household.visit.by')}${t('colon')}`, h('strong', {}, v.worker))))))
          : empty(t('household.visits.none')))),
    h('section', { class: 'panel', 'aria-labelledby': 'wishes-h' },
      h('h2', { id: 'wishes-h' }, t('household.wishes')),
      x.wishes.length
        ? table([
          { label: t('col.updated'), class: 'nowrap', cell: (w) => time(w.updated_at) },
          { label: t('col.wish'), class: 'wish', cell: (w) => [link(`/wishes/${w.id}`, w.text), h('div', { class: 'muted small' }, label('category', w.category))] },
          { label: t('col.status'), cell: (w) => statusBadge(w.status) },
          { label: t('col.urgency'), cell: (w) => urgencyBadge(w.urgency) },
          { label: t('col.claimant'), class: 'hide-narrow', cell: (w) => holderName(w.holder_user, w.holder_unit, w.claimant) },
        ], x.wishes, { caption: t('household.wishes') })
        : empty()),
  ];
}
