// One wish card: its text, household, photos and status, what
// the supervisor can do with it, its conflicts, and its whole history.

import { api } from '../api.js';
import { t, label } from '../i18n.js';
import { h, heading, link, time, fmtTime, duration, scopeName, personName, unitName, holderName, statusBadge, urgencyBadge, tagChip, shortId, empty } from '../ui.js';
import { actionButtons, assignForm, perform } from '../actions.js';
import { gallery, historyPhoto } from '../photos.js';

const dl = (pairs) => h('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== '' && v !== null && v !== undefined)
  .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));

function device(entry) {
  const kind = entry.device_kind === 'web' ? t('card.device.web') : entry.device_kind === 'phone' ? t('card.device.phone') : '';
  const name = entry.device_name && entry.device_kind !== 'web' ? entry.device_name : '';
  return h('span', { class: 'device', title: entry.device ?? '' },
    `${t('card.device')}${t('colon')}`, [name, kind].filter(Boolean).join(' · '), ' ', h('code', {}, shortId(entry.device)));
}

/** The events a history entry appended, in order (for their note, claimant or rating). */
function eventsOf(events, entry) {
  const byId = new Map(events.map((e) => [e.id, e]));
  return (entry.events ?? []).map((id) => byId.get(id)).filter(Boolean);
}

/** When a history entry happened: the relay's corrected time where the device's clock was wrong. */
const shownAt = (entry) => entry.corrected_at_ms ?? entry.at_ms;

/** A note that the relay corrected this entry's time, and by how much. */
function clockNote(entry) {
  if (entry.corrected_at_ms === null || entry.corrected_at_ms === undefined) return null;
  const off = entry.clock_offset_ms ?? 0;
  return h('div', { class: 'small clock-note', title: t('card.clock.title', { written: fmtTime(entry.at_ms) }) },
    t(off > 0 ? 'devices.clock.ahead' : 'devices.clock.behind', { span: duration(off) }), ' · ', t('card.clock.corrected'));
}

function eventDetails(e) {
  if (!e) return null;
  const parts = [];
  if (e.note) parts.push(h('p', { class: 'note' }, h('span', { class: 'muted' }, `${['reject', 'request_info', 'release', 'cancel', 'withdraw'].includes(e.kind) ? t('card.reason') : t('card.note')}${t('colon')}`), e.note));
  const who = e.kind === 'assign' ? holderName(e.assignee, e.unit, e.claimant) : unitName(e.unit);
  if (who) parts.push(h('p', { class: 'note' }, h('span', { class: 'muted' }, `${t('card.claimant')}${t('colon')}`), who));
  if (e.reverse) parts.push(h('p', { class: 'note' }, t('conflict.reversed')));
  if (e.rating) parts.push(h('p', { class: 'note' }, h('span', { class: 'stars' }, '★'.repeat(e.rating)), ' ', t('card.rating.n', { n: e.rating })));
  return parts;
}

/** A photo added to or taken off a card, as the history shows it. */
const photoChange = (card, f) => (f.to
  ? [t('photo.added'), ' ', historyPhoto(card, f.to)]
  : [t('photo.removed'), ' ', h('code', {}, shortId(f.from))]);

function timeline(card, history) {
  const lost = new Set((card.state.conflicts ?? []).map((c) => c.event));
  // The relay lists the history in causal order; sorting by time is stable.
  const items = [...history].sort((a, b) => shownAt(a) - shownAt(b)).map((entry) => {
    const fields = entry.fields ?? [];
    const created = fields.some((f) => f.field === 'id') && fields.some((f) => f.field === 'kind');
    const events = fields.filter((f) => f.field === 'event');
    let what;
    let kindClass = 'edit';
    if (created) {
      kindClass = 'created';
      const shown = fields.filter((f) => ['text', 'category', 'urgency'].includes(f.field));
      what = [h('p', { class: 'what' }, t('event.created')),
        dl(shown.map((f) => [label('field', f.field), f.field === 'text' ? f.to : label(f.field, f.to)]))];
    } else if (events.length) {
      const appended = eventsOf(card.events, entry);
      what = events.map((f, i) => {
        // The history writes an event as "kind note=… rating=…".
        const kind = String(f.to ?? '').split(' ')[0];
        const e = appended[i] ?? null;
        kindClass = `event-${kind}`;
        return [h('p', { class: 'what' }, label('event', kind),
          e && lost.has(e.id) ? h('span', { class: 'badge conflict' }, label('conflict', 'superseded')) : null), eventDetails(e)];
      });
      // An edit event comes with what it changed: photos are shown.
      const photos = fields.filter((f) => f.field === 'photos');
      if (photos.length) what.push(h('ul', { class: 'changes' }, photos.map((f) => h('li', {}, photoChange(card, f)))));
    } else {
      what = [h('p', { class: 'what' }, label('event', 'edit')),
        h('ul', { class: 'changes' }, fields.map((f) => h('li', {},
          h('span', { class: 'muted' }, `${label('field', f.field)}${t('colon')}`),
          f.field === 'photos'
            ? photoChange(card, f)
            : [f.from ? [h('del', {}, f.from), ' → '] : null, h('ins', {}, f.to ?? '')]))),
      ];
    }
    return h('li', { class: `tl ${kindClass}` },
      h('div', { class: 'tl-when' }, time(shownAt(entry), true), clockNote(entry)),
      h('div', { class: 'tl-body' },
        what,
        h('p', { class: 'who muted small' },
          h('strong', {}, entry.user ? personName(entry.user) : '?'), ' · ', label('role', entry.role), ' · ', device(entry))));
  });
  return h('ol', { class: 'timeline', id: 'timeline' }, items);
}

function conflicts(card, onDone) {
  const list = card.state.conflicts ?? [];
  if (!list.length) return null;
  const byId = Object.fromEntries(card.events.map((e) => [e.id, e]));
  const describe = (id) => {
    const e = byId[id];
    if (!e) return shortId(id);
    return [h('strong', {}, label('event', e.kind)), ' · ', personName(e.actor), ' · ', fmtTime(e.at), ' · ', h('code', {}, shortId(e.device))];
  };
  return h('section', { class: 'panel warn', 'aria-labelledby': 'conflicts-h' },
    h('h2', { id: 'conflicts-h' }, '⚠ ', t('card.conflicts')),
    h('p', { class: 'muted' }, t('card.conflicts.intro')),
    h('ul', { class: 'conflicts' }, list.map((c) => h('li', { dataset: { conflict: c.event } },
      h('p', {}, h('span', { class: `badge ${c.resolved ? 'status-confirmed' : 'conflict'}` }, c.resolved ? t('card.conflict.resolved') : t('card.conflict.open')), ' ',
        label('conflict', c.kind)),
      dl([[t('col.event'), describe(c.event)], [t('card.conflict.winner'), c.winner ? describe(c.winner) : '']]),
      !c.resolved && card.actions.includes('resolve_conflict')
        ? h('div', { class: 'row' },
          h('button', {
            type: 'button',
            class: 'secondary small',
            onclick: async () => { if (await perform('resolve_conflict', card.id, { event: c.event })) onDone(); },
          }, t('action.resolve_conflict')),
          c.kind === 'superseded' && ['claim', 'assign'].includes(c.event_kind)
            ? h('button', {
              type: 'button',
              class: 'danger small',
              onclick: async () => { if (await perform('reverse_conflict', card.id, { event: c.event })) onDone(); },
            }, t('action.reverse_conflict'))
            : null)
        : null))));
}

export async function render(ctx) {
  const id = ctx.params[0];
  const [card, history] = await Promise.all([
    api(`/v1/wishes/${encodeURIComponent(id)}`),
    api(`/v1/wishes/${encodeURIComponent(id)}/history`),
  ]);
  const home = await api(`/v1/households/${encodeURIComponent(card.household)}`).catch(() => null);
  const s = card.state;
  const buttons = actionButtons(card.id, card.actions, ['approve', 'reject', 'needs_info', 'fulfil', 'confirm', 'release', 'withdraw', 'cancel'], ctx.refresh);
  const claimants = card.actions.includes('assign')
    ? await api(`/v1/claimants?community=${encodeURIComponent(card.community)}`)
    : null;
  const assign = claimants ? assignForm(card.id, claimants, ctx.refresh) : null;
  return [
    h('p', { class: 'crumbs' }, h('a', { href: '/queue' }, `‹ ${t('nav.queue')}`), ' · ', h('a', { href: '/wishes' }, t('nav.wishes'))),
    heading(card.text),
    h('p', { class: 'badges' }, statusBadge(card.status), ' ', urgencyBadge(card.urgency), ' ',
      h('span', { class: 'badge plain' }, label('category', card.category)),
      card.open_conflicts ? [' ', h('a', { class: 'badge conflict', href: '#conflicts-h' }, '⚠ ', t('card.open_conflicts', { n: card.open_conflicts }))] : null),
    h('div', { class: 'grid side' },
      h('section', { class: 'panel', 'aria-labelledby': 'details-h' },
        h('h2', { id: 'details-h' }, t('card.details')),
        dl([
          [t('col.community'), scopeName(card.community)],
          [t('card.household'), home ? [link(`/households/${home.id}`, home.address), home.head_name ? ` · ${home.head_name}` : '',
            home.tags?.length ? h('div', { class: 'chips' }, home.tags.map(tagChip)) : null] : h('code', {}, shortId(card.household))],
          [t('card.created'), [time(card.created_at, true), ' · ', personName(card.created_by)]],
          [t('card.submitted'), time(s.submitted_at, true)],
          [t('card.reviewed'), time(s.reviewed_at, true)],
          [t('card.claimant'), holderName(s.holder?.user, s.holder?.unit, s.holder?.name)],
          [t('card.fulfilled'), time(s.fulfilled_at, true)],
          [t('card.confirmed'), time(s.confirmed_at, true)],
          [t('card.rating'), s.rating ? h('span', { class: 'stars', title: t('card.rating.n', { n: s.rating }) }, '★'.repeat(s.rating)) : ''],
          [t('card.photos'), gallery(card, ctx.refresh)],
        ])),
      h('section', { class: 'panel', 'aria-labelledby': 'actions-h' },
        h('h2', { id: 'actions-h' }, t('card.actions')),
        buttons.length || assign ? [h('div', { class: 'row wrap' }, buttons), assign] : h('p', { class: 'muted' }, t('card.actions.none')))),
    conflicts(card, ctx.refresh),
    h('section', { class: 'panel', 'aria-labelledby': 'history' },
      h('h2', { id: 'history', tabindex: '-1' }, t('card.history')),
      h('p', { class: 'muted' }, t('card.history.intro')),
      history.length ? timeline(card, history) : empty()),
  ];
}
