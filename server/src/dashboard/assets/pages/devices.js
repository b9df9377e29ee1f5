// Devices in the supervisor's scope: which phones hold work the relay has
// not seen (and since when), whose clock is wrong, which are lost; and the
// records a lost phone's changes are held in, for the supervisor to accept
// or discard; and the photos a card refers to that have not arrived.

import { api } from '../api.js';
import { t, label } from '../i18n.js';
import { h, heading, table, empty, link, time, ago, fmtTime, fmtNum, duration, scopeName, shortId, personName } from '../ui.js';
import { perform } from '../actions.js';

/** "3 天前", with the date and time on hover. */
const when = (ms) => h('time', { datetime: new Date(ms).toISOString(), title: fmtTime(ms) }, ago(ms));

const count = (key, n) => (n === 1 ? t(`${key}.one`) : t(key, { n: fmtNum(n) }));

function who(d) {
  const name = d.kind === 'phone' ? d.name : '';
  return [
    h('strong', {}, personName(d.username)),
    h('div', { class: 'muted small' }, [personName(d.username) === d.username ? '' : d.username, name, label('card.device', d.kind)].filter(Boolean).join(' · ')),
    d.clock_wrong && d.clock_offset_ms !== null
      ? h('div', { class: 'small clock-note', title: t('devices.clock.title') },
        t(d.clock_offset_ms > 0 ? 'devices.clock.ahead' : 'devices.clock.behind', { span: duration(d.clock_offset_ms) }))
      : null,
  ];
}

function unsynced(d) {
  if (d.kind === 'web') return h('span', { class: 'muted' }, '—');
  if (d.pending === null || d.pending === undefined) return h('span', { class: 'muted' }, t('devices.pending.unknown'));
  if (d.pending === 0) return t('devices.pending.none');
  return [
    h('strong', { title: t('devices.pending.title') }, count('devices.pending.n', d.pending)),
    d.oldest_pending_at ? h('div', { class: 'muted small' }, t('devices.pending.since', { when: ago(d.oldest_pending_at) })) : null,
    d.stranded ? h('div', {}, h('span', { class: 'badge warn' }, t('devices.stranded'))) : null,
  ];
}

function devicesTable(devices) {
  // What needs someone first: stranded work, then lost phones.
  const rank = (d) => (d.stranded ? 0 : d.standing === 'lost' ? 1 : 2);
  const rows = [...devices].sort((a, b) => rank(a) - rank(b));
  return table([
    { label: t('col.user_device'), cell: who },
    { label: t('col.standing'), cell: (d) => h('span', { class: `badge standing-${d.standing}` }, label('standing', d.standing)) },
    { label: t('col.last_seen'), class: 'nowrap', cell: (d) => (d.last_seen ? when(d.last_seen) : h('span', { class: 'muted' }, t('devices.never'))) },
    { label: t('col.unsynced'), cell: unsynced },
  ], rows, {
    caption: t('devices.list'),
    rowAttrs: (d) => ({ class: d.stranded ? 'stranded' : null, dataset: { device: d.id, standing: d.standing } }),
  });
}

const person = (a) => (a.user ? personName(a.user) : shortId(a.device));

function record(x) {
  const text = x.preview || shortId(x.record);
  const target = { wish: `/wishes/${x.record}`, household: `/households/${x.record}` }[x.kind];
  return [
    target ? link(target, text) : h('span', {}, text),
    h('div', { class: 'muted small' }, `${label('kind', x.kind)} · ${scopeName(x.community)}`),
  ];
}

function heldTable(held, ctx) {
  const decide = (action, x) => async (e) => {
    const button = e.currentTarget;
    button.disabled = true;
    const done = await perform(action, x.id, { preview: x.preview });
    button.disabled = false;
    if (done) ctx.refresh();
  };
  return table([
    { label: t('col.record'), class: 'record', cell: record },
    {
      label: t('col.origin'),
      cell: (x) => [
        h('div', {}, x.authors.map((a) => t('held.author', { who: person(a) })).join('、')),
        h('div', { class: 'muted small' }, t('held.carrier', { who: person(x.carrier) })),
        h('div', { class: 'muted small' }, `${t('held.received')}${t('colon')}`, time(x.received_at, true)),
      ],
    },
    {
      label: t('col.actions'),
      class: 'actions',
      cell: (x) => h('div', { class: 'row wrap' },
        h('button', { type: 'button', class: 'ok small', onclick: decide('accept_held', x) }, t('action.accept_held')),
        h('button', { type: 'button', class: 'danger small', onclick: decide('discard_held', x) }, t('action.discard_held'))),
    },
  ], held, { caption: t('held.title'), rowAttrs: (x) => ({ dataset: { held: x.id, record: x.record, kind: x.kind } }) });
}

/** How long a photo may be missing before the supervisor is shown it. */
const PENDING_DAYS = 3;

function pendingPhotosTable(pending) {
  return table([
    {
      label: t('col.record'),
      class: 'record',
      cell: (p) => [link(`/wishes/${p.record_id}#photos`, p.text || shortId(p.record_id)),
        h('div', { class: 'muted small' }, scopeName(p.community))],
    },
    { label: t('col.device'), cell: (p) => p.device_name ?? h('span', { class: 'muted' }, t('photos.pending.unknown_device')) },
    { label: t('col.waiting_since'), class: 'nowrap', cell: (p) => when(p.since) },
  ], pending, { caption: t('photos.pending.title'), rowAttrs: (p) => ({ dataset: { photo: p.sha256, record: p.record_id } }) });
}

export async function render(ctx) {
  const [devices, held, pending] = await Promise.all([
    api('/v1/devices'), api('/v1/quarantine'), api(`/v1/photos/pending?days=${PENDING_DAYS}`),
  ]);
  const stranded = devices.filter((d) => d.stranded).length;
  return h('div', { class: 'devices-page' },
    heading(t('devices.title'), t('devices.intro')),
    stranded
      ? h('div', { class: 'alert warn', role: 'status', id: 'stranded-warning' },
        h('strong', {}, count('devices.stranded.banner', stranded)), ' ', t('devices.stranded.hint'))
      : null,
    h('section', { class: 'block', 'aria-labelledby': 'devices-h' },
      h('h2', { id: 'devices-h' }, t('devices.list')),
      devices.length ? devicesTable(devices) : empty(t('devices.empty'))),
    h('section', { class: 'block', 'aria-labelledby': 'held-h' },
      h('h2', { id: 'held-h' }, t('held.title')),
      held.length ? [h('p', { class: 'intro' }, t('held.intro')), heldTable(held, ctx)] : empty(t('held.empty'))),
    h('section', { class: 'block', 'aria-labelledby': 'pending-photos-h' },
      h('h2', { id: 'pending-photos-h' }, t('photos.pending.title')),
      pending.length
        ? [h('p', { class: 'intro' }, t('photos.pending.intro', { days: PENDING_DAYS })), pendingPhotosTable(pending)]
        : empty(t('photos.pending.empty', { days: PENDING_DAYS }))));
}
