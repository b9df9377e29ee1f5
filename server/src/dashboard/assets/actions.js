// The workflow actions a supervisor takes. Which ones a card offers comes
// from the relay (`actions` on every card and row, computed from sync-core's
// rules); this module only asks for the details and calls the endpoint.

import { post } from './api.js';
import { t, known } from './i18n.js';
import { explain as inWords } from './errors.js';
import { h, dialog, toast, unitName } from './ui.js';

const path = (id, what) => `/v1/wishes/${encodeURIComponent(id)}/${what}`;

/**
 * Calls the relay and says how it went. `explain(error)` words a refusal
 * (by default in the page's language, see errors.js);
 * `failed`, when given, is what a refusal resolves to: the refusal showed
 * that the page is stale, and the header's counts are fetched again too.
 */
async function run(done, call, { explain = inWords, failed = null } = {}) {
  try {
    const result = await call();
    toast(done, 'ok');
    document.dispatchEvent(new CustomEvent('doorstep:acted'));
    return result;
  } catch (e) {
    toast(t('error.action', { message: explain(e) }), 'error');
    if (failed !== null) document.dispatchEvent(new CustomEvent('doorstep:acted'));
    return failed;
  }
}

/**
 * The relay's refusal of a decision about held work, in the page's
 * language where it is one the relay gives: decided already (409), not in
 * scope (404), or accepted work that cannot be applied (400, which names
 * the sync refusal's code in parentheses).
 */
function heldRefusal(e) {
  if (e.status === 409) return t('error.held.decided');
  if (e.status === 404) return t('error.held.gone');
  const code = e.status === 400 ? /\(([a-z_]+)\)/.exec(e.message)?.[1] : null;
  if (code && known(`reject.${code}`)) return t('error.held.refused', { reason: t(`reject.${code}`) });
  return inWords(e);
}

/**
 * Performs `action` on card `id` (asking for a reason or rating first where
 * one is needed). Resolves to the updated card, or null.
 */
export async function perform(action, id, extra = {}) {
  switch (action) {
    case 'approve':
      return run(t('done.approve'), () => post(path(id, 'review'), { decision: 'approve' }));
    case 'reject':
    case 'needs_info': {
      const values = await dialog({
        title: t(`dialog.${action}.title`),
        fields: [{ name: 'reason', label: t(`dialog.${action}.label`), required: true }],
        submit: t(`dialog.${action}.submit`),
        danger: action === 'reject',
      });
      if (!values) return null;
      return run(t(`done.${action}`), () => post(path(id, 'review'), { decision: action, reason: values.reason }));
    }
    case 'assign': {
      // `extra`: { assignee } a volunteer, { unit } a partner unit, or
      // { claimant } a name with no account; `who` as people know them.
      const { who, ...to } = extra;
      return run(t('done.assign', { who }), () => post(path(id, 'assign'), to));
    }
    case 'fulfil': {
      const values = await dialog({ title: t('dialog.fulfil.title'), fields: [{ name: 'note', label: t('dialog.fulfil.label') }] });
      if (!values) return null;
      return run(t('done.fulfil'), () => post(path(id, 'fulfil'), { note: values.note || null }));
    }
    case 'confirm': {
      const values = await dialog({
        title: t('dialog.confirm.title'),
        fields: [
          { name: 'rating', label: t('dialog.confirm.rating'), type: 'select', value: '5', options: [5, 4, 3, 2, 1].map((n) => [String(n), `${'★'.repeat(n)} ${t('stats.stars', { n })}`]) },
          { name: 'comment', label: t('dialog.confirm.comment') },
        ],
      });
      if (!values) return null;
      return run(t('done.confirm'), () => post(path(id, 'feedback'), { rating: Number(values.rating), comment: values.comment || null }));
    }
    case 'release':
    case 'cancel':
    case 'withdraw': {
      // `dialog.cancel` is the dialog's own "Cancel" button; the action's
      // texts are under `dialog.<action>_wish`.
      const key = `dialog.${action}_wish`;
      const values = await dialog({
        title: t(`${key}.title`),
        fields: [{ name: 'reason', label: t(`${key}.label`), required: action !== 'release' }],
        submit: t(`${key}.submit`),
        danger: action !== 'release',
      });
      if (!values) return null;
      return run(t(`done.${action}`), () => post(path(id, action), { reason: values.reason || null }));
    }
    case 'resolve_conflict':
    case 'reverse_conflict': {
      // Reversing gives the wish to the claim that lost; what the first
      // holder did after it (and their points) no longer counts.
      const reverse = action === 'reverse_conflict';
      const values = await dialog({
        title: t(reverse ? 'dialog.reverse.title' : 'dialog.resolve.title'),
        text: reverse ? t('dialog.reverse.text') : undefined,
        fields: [{ name: 'note', label: t('dialog.resolve.label') }],
        danger: reverse,
      });
      if (!values) return null;
      return run(t(`done.${action}`), () => post(`/v1/conflicts/${encodeURIComponent(extra.event)}/resolve`, { note: values.note || null, reverse }));
    }
    case 'accept_held':
    case 'discard_held': {
      // `id` is the held work's; `extra.preview` what the record would say.
      const key = `dialog.${action}`;
      const values = await dialog({
        title: t(`${key}.title`),
        text: t(`${key}.text`, { preview: extra.preview ?? '' }),
        fields: [],
        submit: t(`${key}.submit`),
        danger: action === 'discard_held',
      });
      if (!values) return null;
      const verb = action === 'accept_held' ? 'accept' : 'discard';
      // A refusal resolves to a value too: the list is stale and is redrawn.
      return run(t(`done.${action}`), () => post(`/v1/quarantine/${encodeURIComponent(id)}/${verb}`), {
        explain: heldRefusal,
        failed: { refused: true },
      });
    }
    default:
      return null;
  }
}

const STYLE = { approve: 'ok', reject: 'danger', needs_info: 'secondary', fulfil: 'secondary', confirm: 'secondary', release: 'secondary', cancel: 'danger', withdraw: 'danger' };

/** Buttons for the card's actions among `only`; `onDone(card)` after one succeeds. */
export function actionButtons(id, actions, only, onDone) {
  return actions
    .filter((a) => only.includes(a))
    .map((a) => h('button', {
      type: 'button',
      class: `${STYLE[a] ?? 'secondary'} small`,
      dataset: { action: a },
      onclick: async (e) => {
        const button = e.currentTarget;
        button.disabled = true;
        const card = await perform(a, id);
        button.disabled = false;
        if (card) onDone(card, a);
      },
    }, t(`action.${a}`)));
}

let listCount = 0;

/**
 * An inline form to assign card `id` to a registered volunteer or partner
 * unit (`claimants`: the answer of `/v1/claimants` for its community), or to
 * someone with no account, typed in and marked as unregistered.
 */
export function assignForm(id, claimants, onDone) {
  listCount += 1;
  const selectId = `assign-${listCount}`;
  const nameId = `assign-name-${listCount}`;
  const option = (value, text) => h('option', { value }, text);
  const select = h('select', { id: selectId, name: 'to', required: true },
    option('', t('dispatch.choose')),
    claimants.volunteers.length
      ? h('optgroup', { label: t('dispatch.volunteers') }, claimants.volunteers.map((v) => option(`user:${v.user}`, v.unit ? `${v.name ?? v.user}（${unitName(v.unit)}）` : v.name ?? v.user)))
      : null,
    claimants.units.length
      ? h('optgroup', { label: t('dispatch.units') }, claimants.units.map((u) => option(`unit:${u.id}`, u.name)))
      : null,
    option('free', t('dispatch.free')));
  const name = h('input', {
    id: nameId, name: 'claimant', autocomplete: 'off', maxlength: 100, hidden: true,
    placeholder: t('dispatch.claimant.placeholder'),
  });
  select.addEventListener('change', () => {
    name.hidden = select.value !== 'free';
    name.required = !name.hidden;
    if (!name.hidden) name.focus();
  });
  const form = h('form', { class: 'assign' },
    h('label', { for: selectId, class: 'sr-only' }, t('dispatch.claimant')),
    select,
    h('label', { for: nameId, class: 'sr-only' }, t('dispatch.free')),
    name,
    h('button', { type: 'submit', class: 'primary small' }, t('action.assign')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const choice = select.value;
    const chosen = select.selectedOptions[0]?.textContent ?? '';
    let extra = null;
    if (choice.startsWith('user:')) extra = { assignee: choice.slice(5), who: chosen };
    else if (choice.startsWith('unit:')) extra = { unit: choice.slice(5), who: chosen };
    else if (choice === 'free' && name.value.trim()) extra = { claimant: name.value.trim(), who: name.value.trim() };
    if (!extra) return;
    const card = await perform('assign', id, extra);
    if (card) onDone(card, 'assign');
  });
  return form;
}
