// Sign-in through the organisation's identity provider (members of its
// admin group).  The console is the OAuth client's front end, like
// `postern ctl login`: PKCE verifier made here and kept in this tab's
// sessionStorage; the controller holds state, nonce and the client secret,
// exchanges the code and checks the ID token and the group; the admin
// session key it answers with is traded at once for the session cookie.
import { api } from './api.js';

const KEY = 'pn-oidc-login';

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function providers() {
  try {
    return (await api('GET', 'console/providers')).providers;
  } catch (e) {
    return [];
  }
}

export async function start(provider) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const d = await api('POST', 'login/oidc/start', {
    provider, purpose: 'admin', redirect_uri: `${location.origin}/console/`,
    code_challenge: challenge, code_challenge_method: 'S256',
  });
  sessionStorage.setItem(KEY, JSON.stringify({ state: d.state, verifier }));
  location.assign(d.authorization_url);
}

// Back from the provider (?code=&state= or ?error=): the console session,
// or null when this is not a return from a login.  Throws with the reason.
export async function finish() {
  const q = new URLSearchParams(location.search);
  if (!q.has('state') && !q.has('error')) return null;
  const saved = JSON.parse(sessionStorage.getItem(KEY) || 'null');
  sessionStorage.removeItem(KEY);
  history.replaceState(null, '', `${location.pathname}${location.hash}`); // the code leaves the address bar
  if (q.has('error')) throw new Error(`the identity provider answered: ${q.get('error')}`);
  if (!saved || saved.state !== q.get('state')) throw new Error('this sign-in was not started here');
  const d = await api('POST', 'login/oidc/finish', { state: q.get('state'), code: q.get('code') || '', code_verifier: saved.verifier });
  return api('POST', 'console/session', { api_key: d.admin_session });
}
