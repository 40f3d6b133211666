// The browser step, driven for real with HTTP requests that follow the
// provider's own pages: redirects (with cookies), its login form (user,
// any password), its consent form, its device user-code form.
//
//   node browse.mjs URL USER              authorization URL -> follows to the
//                                         loopback redirect and delivers it
//   node browse.mjs --device URI CODE USER  device verification page
//   node browse.mjs --wrong-state-first URL USER
//                                         first sends the redirect with a
//                                         forged state (the client must answer
//                                         400 and keep waiting), then the real one
// The IdP's CA comes from NODE_EXTRA_CA_CERTS.  Exit 0 when the flow ended
// where it should (loopback answered 200, or the device page said success).
const args = process.argv.slice(2);
let mode = 'browser';
if (args[0] === '--device' || args[0] === '--wrong-state-first') mode = args.shift();
const [start, a1, a2] = args;
const user = mode === '--device' ? a2 : a1;
const userCode = mode === '--device' ? a1 : undefined;
const idp = new URL(start).origin;
const jar = new Map();

function cookieHeader() {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}
function keepCookies(res) {
  for (const c of res.headers.getSetCookie()) {
    const [kv] = c.split(';');
    const i = kv.indexOf('=');
    jar.set(kv.slice(0, i).trim(), kv.slice(i + 1).trim());
  }
}
function parseForm(html) {
  const f = html.match(/<form[^>]*>[\s\S]*?<\/form>/i);
  if (!f) return null;
  const action = (f[0].match(/action="([^"]*)"/i) || [])[1] || '';
  const method = ((f[0].match(/method="([^"]*)"/i) || [])[1] || 'get').toUpperCase();
  const fields = new URLSearchParams();
  for (const inp of f[0].matchAll(/<input[^>]*>/gi)) {
    const name = (inp[0].match(/name="([^"]*)"/i) || [])[1];
    if (!name) continue;
    let value = (inp[0].match(/value="([^"]*)"/i) || [])[1] || '';
    if (name === 'login') value = user;
    else if (name === 'password') value = 'any-password';
    else if (name === 'user_code' && userCode) value = userCode;
    fields.append(name, value);
  }
  return { action, method, fields };
}

async function deliver(loc) {
  if (mode === '--wrong-state-first') {
    const forged = new URL(loc);
    forged.searchParams.set('state', 'forged-state-forged-state-forged-state-xxxx');
    const r = await fetch(forged);
    console.log(`forged state -> ${r.status}`);
    if (r.status !== 400) process.exit(3);
  }
  const r = await fetch(loc);
  console.log(`loopback -> ${r.status}: ${await r.text()}`);
  // the listener takes exactly one good redirect: afterwards it is closed
  let refused = false;
  for (let i = 0; i < 40 && !refused; i++) {
    try { await fetch(loc); await new Promise((ok) => setTimeout(ok, 50)); } catch { refused = true; }
  }
  console.log(`second -> ${refused ? 'refused' : 'answered'}`);
  process.exit(r.status === 200 ? 0 : 4);
}

let url = start;
let method = 'GET';
let body;
for (let step = 0; step < 30; step++) {
  const headers = { cookie: cookieHeader() };
  if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(url, { method, body, headers, redirect: 'manual' });
  keepCookies(res);
  if (res.status >= 300 && res.status < 400) {
    const loc = new URL(res.headers.get('location'), url);
    if (loc.origin !== idp) await deliver(loc.href);
    url = loc.href; method = 'GET'; body = undefined;
    continue;
  }
  const html = await res.text();
  const form = parseForm(html);
  if (!form) {
    const ok = /success|signed in|device is now connected|you can close/i.test(html);
    console.log(`page ${res.status} without form; success=${ok}`);
    console.log(html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 300));
    process.exit(ok ? 0 : 5);
  }
  url = new URL(form.action || url, url).href;
  method = form.method;
  body = method === 'POST' ? form.fields.toString() : undefined;
  if (method === 'GET') { const u = new URL(url); u.search = form.fields.toString(); url = u.href; }
}
console.log('too many steps');
process.exit(6);
