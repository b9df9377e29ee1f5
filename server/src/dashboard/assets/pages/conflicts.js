// Conflicts across the supervisor's scope: actions of offline devices that
// lost to concurrent ones. The outcome is already decided (by sync-core, the
// same on every replica); the supervisor checks and marks each resolved.

import { api } from '../api.js';
import { t, label } from '../i18n.js';
import { h, heading, table, empty, link, scopeName, statusBadge, shortId } from '../ui.js';
import { perform } from '../actions.js';

export async function render(ctx) {
  const p = ctx.query;
  const all = p.get('all') === '1';
  const rows = await api(`/v1/conflicts${all ? '?include_resolved=true' : ''}`);
  const toggleId = 'show-resolved';
  const toggle = h('div', { class: 'field inline' },
    h('input', {
      type: 'checkbox', id: toggleId, checked: all,
      onchange: (e) => {
        const next = new URLSearchParams(p);
        if (e.target.checked) next.set('all', '1');
        else next.delete('all');
        ctx.go(next);
      },
    }),
    h('label', { for: toggleId }, t('conflicts.show_resolved')));
  const columns = [
    { label: t('col.card'), class: 'wish', cell: (c) => [link(`/wishes/${c.record_id}`, c.text ?? shortId(c.record_id)), c.card_status ? h('div', { class: 'small' }, statusBadge(c.card_status)) : null] },
    { label: t('col.community'), class: 'hide-narrow', cell: (c) => scopeName(c.community) },
    { label: t('col.event'), cell: (c) => label('event', c.event_kind) },
    { label: t('col.kind'), cell: (c) => label('conflict', c.kind) },
    { label: t('col.status_then'), class: 'hide-narrow', cell: (c) => label('status', c.status) },
    {
      label: t('col.resolved'),
      class: 'actions',
      cell: (c) => (c.resolved
        ? h('span', { class: 'badge status-confirmed' }, t('card.conflict.resolved'))
        : h('div', { class: 'row' },
          h('button', {
            type: 'button',
            class: 'secondary small',
            onclick: async () => { if (await perform('resolve_conflict', c.record_id, { event: c.event_id })) ctx.refresh(); },
          }, t('action.resolve_conflict')),
          c.kind === 'superseded' && ['claim', 'assign'].includes(c.event_kind)
            ? h('button', {
              type: 'button',
              class: 'danger small',
              onclick: async () => { if (await perform('reverse_conflict', c.record_id, { event: c.event_id })) ctx.refresh(); },
            }, t('action.reverse_conflict'))
            : null)),
    },
  ];
  return [
    heading(t('conflicts.title'), t('conflicts.intro')),
    toggle,
    rows.length ? table(columns, rows, { caption: t('conflicts.title') }) : empty(t('conflicts.empty')),
  ];
}
