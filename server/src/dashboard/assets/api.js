// Calls to the relay's /v1 API with the session cookie. Requests that change
// state carry the session's CSRF token; the token comes from the page the
// relay rendered, never from storage.

const meta = (name) => document.querySelector(`meta[name="doorstep-${name}"]`)?.content ?? '';

/** Who is logged in, as the relay rendered the page. */
export const session = {
  user: meta('user'),
  role: meta('role'),
  scopes: meta('scopes').split(',').filter(Boolean),
  csrf: meta('csrf'),
};

/**
 * A refusal or failure from the API, with its stable code and, where the
 * relay gives one, its more specific reason (see errors.js).
 */
export class ApiError extends Error {
  constructor(status, code, message, reason = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.reason = reason;
  }
}

/** Sends the browser to the login page, back here afterwards. */
export function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

/** A query string of the non-empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** `GET` or another method on a /v1 path; resolves to the JSON answer. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-CSRF-Token'] = session.csrf;
  }
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
    signal,
  });
  const type = response.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await response.json() : null;
  if (response.status === 401) {
    toLogin();
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? 'error', data?.message ?? response.statusText, data?.reason ?? null);
  }
  return data;
}

/** `POST` a JSON body. */
export function post(path, body = {}) {
  return api(path, { method: 'POST', body });
}
