// The one way the console talks to the controller: the same /v1/ API and
// authorization as `postern ctl`, with the session cookie (sent by the
// browser, HttpOnly) and the session's CSRF token on every change.
let csrf = null;

export function setCsrf(token) {
  csrf = token || null;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  if (method !== 'GET' && csrf) opts.headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch('/v1/' + path, opts);
  } catch (e) {
    throw new ApiError(0, 'network', 'the controller could not be reached');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const ev = new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText);
    if (res.status === 401) window.dispatchEvent(new CustomEvent('pn-signed-out'));
    throw ev;
  }
  return data;
}

// GET a list endpoint and return its array.
export async function list(path, key) {
  const d = await api('GET', path + (path.includes('?') ? '&' : '?') + 'limit=1000');
  return d[key || path.split('?')[0]] || [];
}
