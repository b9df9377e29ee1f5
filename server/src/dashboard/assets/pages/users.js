// Accounts, for administrators: add one (its first password is a one-time
// code), change role, scope and name, disable and enable, reset a password.
// Who may manage which account is the relay's rule; the page only offers.

import { api, post, session } from '../api.js';
import { label } from '../i18n.js';
import { ta } from '../admin-text.js';
import { h, heading, table, empty, dialog, toast, fmtTime, scopeName, scopeOptions } from '../ui.js';

const ROLES = ['worker', 'volunteer', 'supervisor', 'admin'];
const base = (name) => `/v1/users/${encodeURIComponent(name)}`;

/** The scopes an administrator may give: their own, and the places beneath. */
async function grantable() {
  let places = [];
  try {
    places = await scopeOptions();
  } catch {
    // Their own scopes are still offered.
  }
  const inside = (p) => session.scopes.some((s) => p === s || p.startsWith(`${s}/`));
  return [...new Set([...session.scopes, ...places.filter(inside)])].sort();
}

/** The box that shows a one-time code, once. */
function codeBox(intro, code) {
  return h('div', { class: 'alert ok code-box', role: 'status', id: 'one-time-code' },
    h('p', {}, intro),
    h('p', {}, ta('users.code.text'), h('strong', { class: 'code', dataset: { code: code.code } }, code.code)),
    h('p', { class: 'small' }, ta('users.code.hint', { until: fmtTime(code.expires_at) })));
}

async function act(done, call) {
  try {
    const result = await call();
    toast(done, 'ok');
    return result;
  } catch (e) {
    toast(ta('error.action', { message: e.message }), 'error');
    return null;
  }
}

function addForm(scopes, onCode) {
  const field = (id, text, control) => h('div', { class: 'field' }, h('label', { for: id }, text), control);
  const form = h('form', { class: 'filters add-user', id: 'add-user', 'aria-labelledby': 'add-user-h' },
    field('nu-username', ta('users.username'), h('input', { id: 'nu-username', name: 'username', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', maxlength: 64 })),
    field('nu-name', ta('users.display_name'), h('input', { id: 'nu-name', name: 'display_name', autocomplete: 'off', maxlength: 64 })),
    field('nu-role', ta('users.role'), h('select', { id: 'nu-role', name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'worker' }, label('role', r))))),
    field('nu-scope', ta('users.scope'), h('select', { id: 'nu-scope', name: 'scope', required: true }, scopes.map((s) => h('option', { value: s }, scopeName(s))))),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', class: 'primary' }, ta('users.create'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = Object.fromEntries(new FormData(form));
    const username = v.username.trim();
    const code = await act(ta('users.done.create', { user: username }), () => post('/v1/users', {
      username,
      role: v.role,
      scopes: [v.scope],
      display_name: v.display_name.trim() || undefined,
    }));
    if (code) onCode(ta('users.code.created', { user: username }), code);
  });
  return form;
}

function status(u) {
  if (u.disabled) return h('span', { class: 'badge standing-lost' }, ta('users.status.disabled'));
  if (u.must_change_password) return h('span', { class: 'badge warn' }, ta('users.status.must_change'));
  return h('span', { class: 'badge standing-active' }, ta('users.status.active'));
}

function usersTable(users, scopes, ctx, onCode) {
  const who = (u) => u.display_name || u.username;
  const edit = async (u) => {
    const values = await dialog({
      title: ta('users.edit.title', { user: who(u) }),
      fields: [
        { name: 'display_name', label: ta('users.display_name'), type: 'text', value: u.display_name ?? '' },
        { name: 'role', label: ta('users.role'), type: 'select', value: u.role, options: ROLES.map((r) => [r, label('role', r)]) },
        { name: 'scope', label: ta('users.scope'), type: 'select', value: u.scopes[0], options: [...new Set([...u.scopes, ...scopes])].map((s) => [s, scopeName(s)]) },
      ],
    });
    if (!values) return;
    const changes = { role: values.role, display_name: values.display_name };
    if (values.scope !== u.scopes[0] || u.scopes.length !== 1) changes.scopes = [values.scope];
    if (await act(ta('users.done.edit', { user: who(u) }), () => api(base(u.username), { method: 'PATCH', body: changes }))) ctx.refresh();
  };
  const standing = async (u) => {
    if (!u.disabled) {
      const sure = await dialog({ title: ta('users.confirm.disable.title', { user: who(u) }), text: ta('users.confirm.disable.text'), fields: [], submit: ta('users.action.disable'), danger: true });
      if (!sure) return;
    }
    const what = u.disabled ? 'enable' : 'disable';
    if (await act(ta(`users.done.${what}`, { user: who(u) }), () => post(`${base(u.username)}/${what}`))) ctx.refresh();
  };
  const reset = async (u) => {
    const sure = await dialog({ title: ta('users.confirm.reset.title', { user: who(u) }), text: ta('users.confirm.reset.text'), fields: [], submit: ta('users.action.reset'), danger: true });
    if (!sure) return;
    const code = await act(ta('users.done.reset', { user: who(u) }), () => post(`${base(u.username)}/reset-password`));
    if (code) onCode(ta('users.code.reset', { user: who(u) }), code);
  };
  const self = (u) => u.username === session.user;
  return table([
    { label: ta('users.col.user'), cell: (u) => [h('strong', {}, who(u)), u.display_name ? h('div', { class: 'muted small' }, u.username) : null] },
    { label: ta('users.col.role'), cell: (u) => label('role', u.role) },
    { label: ta('users.col.scopes'), cell: (u) => u.scopes.map(scopeName).join('、') },
    { label: ta('users.col.status'), cell: status },
    {
      label: ta('col.actions'),
      class: 'actions',
      cell: (u) => h('div', { class: 'row wrap' },
        h('button', { type: 'button', class: 'secondary small', dataset: { action: 'edit' }, onclick: () => edit(u) }, ta('users.action.edit')),
        h('button', { type: 'button', class: 'secondary small', dataset: { action: 'reset' }, onclick: () => reset(u) }, ta('users.action.reset')),
        self(u) ? null : h('button', {
          type: 'button',
          class: u.disabled ? 'ok small' : 'danger small',
          dataset: { action: u.disabled ? 'enable' : 'disable' },
          onclick: () => standing(u),
        }, ta(u.disabled ? 'users.action.enable' : 'users.action.disable'))),
    },
  ], users, { caption: ta('users.list'), rowAttrs: (u) => ({ dataset: { user: u.username } }) });
}

/** The last code given, kept through redraws of the page (a live update,
 * the list after the change) and dropped when the administrator leaves. */
let shown = null;

export async function render(ctx) {
  if (!ctx.soft) shown = null;
  const [users, scopes] = await Promise.all([api('/v1/users'), grantable()]);
  const slot = h('div', { id: 'code-slot' }, shown ? codeBox(shown.intro, shown.code) : null);
  const onCode = (intro, code) => {
    shown = { intro, code };
    ctx.refresh();
  };
  const page = h('div', { class: 'users-page' },
    heading(ta('users.title'), ta('users.intro')),
    slot,
    h('section', { class: 'block', 'aria-labelledby': 'add-user-h' },
      h('h2', { id: 'add-user-h' }, ta('users.add')),
      addForm(scopes, onCode)),
    h('section', { class: 'block', 'aria-labelledby': 'users-h' },
      h('h2', { id: 'users-h' }, ta('users.list')),
      users.length ? usersTable(users, scopes, ctx, onCode) : empty(ta('users.empty'))));
  return page;
}
