// The console's shell: sign-in, navigation (#/page), and the pages.
import { api, setCsrf } from './api.js';
import { h, clear } from './dom.js';
import { errorText } from './ui.js';
import { networks, groups, users, grants } from './objects.js';
import { overview, enrollment, credentials } from './components.js';
import { audit, flows } from './logs.js';
import * as oidc from './oidc.js';

const PAGES = [
  ['overview', 'Overview', overview],
  ['networks', 'Networks', networks],
  ['groups', 'Groups', groups],
  ['users', 'Users', users],
  ['grants', 'Grants', grants],
  ['components', 'Connectors & relays', enrollment],
  ['credentials', 'Credentials', credentials],
  ['audit', 'Audit log', audit],
  ['flows', 'Flow events', flows],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signoutBtn = document.getElementById('signout');
let session = null;
let cleanup = null;
let generation = 0;

function stopPage() {
  if (cleanup) cleanup();
  cleanup = null;
}

function signInPage(note) {
  stopPage();
  session = null;
  setCsrf(null);
  nav.hidden = true;
  signoutBtn.hidden = true;
  who.textContent = '';
  const key = h('input', { id: 'api-key', type: 'password', autocomplete: 'off', required: true, placeholder: 'pnak_… or pnas_…' });
  const msg = h('p', { class: 'msg', role: 'alert' }, note || '');
  const btn = h('button', { type: 'submit' }, 'Sign in');
  const f = h('form', { class: 'form signin', 'data-form': 'signin' },
    h('label', { for: 'api-key' }, h('span', null, 'Admin API key or admin session key'), key), btn, msg);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    try {
      const s = await api('POST', 'console/session', { api_key: key.value.trim() });
      key.value = '';
      started(s);
    } catch (e) {
      msg.textContent = errorText(e);
    } finally {
      btn.disabled = false;
    }
  });
  const idp = h('div', { class: 'idp' });
  oidc.providers().then((list) => {
    for (const p of list) {
      idp.append(h('button', {
        type: 'button', 'data-provider': p.name,
        onclick: async () => {
          try {
            await oidc.start(p.name);
          } catch (e) {
            msg.textContent = errorText(e);
          }
        },
      }, `Sign in with ${p.name}`));
    }
    if (list.length) idp.append(h('p', { class: 'muted' }, 'or with a key:'));
  });
  clear(main).append(h('section', { class: 'card narrow' },
    h('h1', null, 'Sign in'), idp,
    h('p', { class: 'muted' }, 'The key is exchanged for a session cookie and not kept by the browser. Get one with `postern controller init`, `postern ctl admin-key add`, or `postern ctl login`.'),
    f));
  key.focus();
}

function started(s) {
  session = s;
  setCsrf(s.csrf);
  who.textContent = `${s.actor} (${s.role === 'admin' ? 'admin' : 'read-only'})`;
  document.body.classList.toggle('readonly', s.role !== 'admin');
  signoutBtn.hidden = false;
  clear(nav).append(...PAGES.map(([id, label]) => h('a', { href: `#/${id}`, 'data-page': id }, label)));
  nav.hidden = false;
  if (!location.hash || location.hash === '#/') location.hash = '#/overview';
  else route();
}

async function route() {
  if (!session) return;
  stopPage();
  const id = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || 'overview';
  const entry = PAGES.find((p) => p[0] === id) || PAGES[0];
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === entry[0]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const my = ++generation;
  clear(main);
  if (session.role !== 'admin') {
    main.append(h('p', { class: 'banner', id: 'readonly-banner' }, 'Read-only access: you can look at everything and change nothing.'));
  }
  document.title = `${entry[1]} · Postern console`;
  const ctx = { role: session.role, canEdit: session.role === 'admin' };
  try {
    const c = await entry[2](main, ctx);
    if (my === generation) cleanup = c || null;
    else if (c) c();
  } catch (e) {
    if (my === generation) main.append(h('p', { class: 'msg error', role: 'alert' }, errorText(e)));
  }
  main.dataset.page = entry[0];
  main.focus({ preventScroll: true });
}

signoutBtn.addEventListener('click', async () => {
  try {
    await api('DELETE', 'console/session');
  } catch (e) {
    /* signed out anyway */
  }
  signInPage('Signed out.');
});
window.addEventListener('hashchange', route);
window.addEventListener('pn-signed-out', () => { if (session) signInPage('Your session ended: sign in again.'); });

(async () => {
  try {
    const s = await oidc.finish();
    if (s) return started(s);
  } catch (e) {
    return signInPage(errorText(e));
  }
  try {
    started(await api('GET', 'console/session'));
  } catch (e) {
    signInPage(e.status === 401 ? '' : errorText(e));
  }
})();
