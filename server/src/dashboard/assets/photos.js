// A card's photos in the dashboard: thumbnails that open a larger view,
// "not yet received" where the bytes have not reached the relay (naming the
// phone that has them), and a supervisor's purge for a resident's privacy.
// Photos are fetched through the card (`/v1/records/{card}/photos/{sha}`),
// so the relay serves only what the supervisor may read.

import { post } from './api.js';
import { t } from './i18n.js';
import { explain } from './errors.js';
import { h, dialog, toast } from './ui.js';

const base = (cardId, sha) => `/v1/records/${encodeURIComponent(cardId)}/photos/${encodeURIComponent(sha)}`;

/** The URL of a photo, or of its thumbnail. */
export const photoUrl = (cardId, sha, thumb = false) => `${base(cardId, sha)}${thumb ? '/thumb' : ''}`;

/** Where each of a card's photos is: `stored`, `pending` or `purged`. */
function states(card) {
  return new Map((card.photo_states ?? []).map((s) => [s.sha256, s]));
}

/** A thumbnail that opens the photo. */
function thumbnail(card, photo, n, onDone) {
  const alt = t('photo.alt', { n, total: card.photos.length });
  // The thumbnail's size, from the photo's: no jump when it loads.
  const scale = 160 / Math.max(photo.width || 1, photo.height || 1);
  return h('button', {
    type: 'button',
    class: 'thumb',
    'aria-label': t('photo.open', { alt }),
    onclick: () => view(card, photo, alt, onDone),
  }, h('img', {
    src: photoUrl(card.id, photo.sha256, true),
    alt,
    width: Math.round((photo.width || 160) * scale),
    height: Math.round((photo.height || 160) * scale),
    loading: 'lazy',
    decoding: 'async',
  }));
}

/** The photo at full size, in a dialog; a supervisor can purge it there. */
function view(card, photo, alt, onDone) {
  const close = () => el.close();
  const purge = card.can_purge_photos
    ? h('button', {
      type: 'button',
      class: 'danger small',
      onclick: async () => {
        el.close();
        if (await purgePhoto(card.id, photo.sha256)) onDone();
      },
    }, t('photo.purge'))
    : null;
  const el = h('dialog', { class: 'viewer', 'aria-label': alt },
    h('figure', {},
      h('img', { src: photoUrl(card.id, photo.sha256), alt, width: photo.width, height: photo.height }),
      h('figcaption', { class: 'muted small' }, `${photo.width} × ${photo.height} · ${Math.round(photo.bytes / 1024)} KB`)),
    h('div', { class: 'row end' }, purge, h('button', { type: 'button', class: 'secondary', onclick: close }, t('dialog.close'))));
  el.addEventListener('close', () => el.remove());
  el.addEventListener('click', (e) => { if (e.target === el) close(); });
  document.body.append(el);
  el.showModal();
}

/** Asks why, then purges a photo for good. Resolves to true once done. */
async function purgePhoto(cardId, sha) {
  const values = await dialog({
    title: t('dialog.purge.title'),
    text: t('dialog.purge.text'),
    fields: [{ name: 'reason', label: t('dialog.purge.label'), required: true }],
    submit: t('dialog.purge.submit'),
    danger: true,
  });
  if (!values) return false;
  try {
    await post(`${base(cardId, sha)}/purge`, { reason: values.reason });
    toast(t('done.purge'), 'ok');
    return true;
  } catch (e) {
    toast(t('error.action', { message: explain(e) }), 'error');
    return false;
  }
}

/** A card's photos: thumbnails, and a note for each one not received. */
export function gallery(card, onDone) {
  if (!card.photos?.length) return h('span', { class: 'muted' }, t('card.photos.none'));
  const known = states(card);
  return h('ul', { class: 'photos', id: 'photos' }, card.photos.map((photo, i) => {
    const state = known.get(photo.sha256) ?? { state: 'pending' };
    if (state.state === 'stored') return h('li', {}, thumbnail(card, photo, i + 1, onDone));
    const text = state.state === 'purged'
      ? t('photo.purged')
      : state.from ? t('photo.pending.from', { device: state.from }) : t('photo.pending');
    return h('li', {}, h('div', { class: `thumb placeholder ${state.state}`, role: 'img', 'aria-label': text },
      h('span', { 'aria-hidden': 'true' }, state.state === 'purged' ? '⊘' : '⏳'), h('span', { class: 'small' }, text)));
  }));
}

/** A photo in the history: a small thumbnail, or its state. */
export function historyPhoto(card, sha) {
  const state = states(card).get(sha);
  if (state?.state === 'stored') {
    return h('img', { class: 'history-thumb', src: photoUrl(card.id, sha, true), alt: t('photo.history'), width: 64, height: 64, loading: 'lazy' });
  }
  return h('span', { class: 'muted small' }, state?.state === 'purged' ? t('photo.purged') : t('photo.pending'));
}
