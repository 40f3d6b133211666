// The admin console in a real browser: Debian's chromium driven by
// playwright-core (tests/console/package-lock.json).  Run by it_console.sh,
// which provides the network (controller, connector and client namespaces)
// and this environment:
//   URL      the controller (https://NET.0.1:8443)
//   KEY      an admin API key;  RO_KEY  a read-only admin API key (RO_ID its id)
//   SPKI     base64 SHA-256 of the console certificate's key (the browser
//            trusts exactly that key, nothing else)
//   HELPER   helper.sh (enroll the connector, run a client, fetch)
//   OUT      directory for screenshots and the exported files
//   NET      address prefix (the resource is NET.9.2:8000)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const { URL, KEY, RO_KEY, RO_ID, SPKI, HELPER, OUT, NET } = process.env;
const HELLO = 'hello from the private resource';
let fails = 0, checks = 0;
const ok = (d) => { checks++; console.log(`ok   - ${d}`); };
const bad = (d) => { checks++; fails++; console.log(`FAIL - ${d}`); };
const check = (d, cond, extra) => (cond ? ok(d) : bad(extra ? `${d} (${extra})` : d));
const helper = (...args) => execFileSync('bash', [HELPER, ...args], { encoding: 'utf8', timeout: 60000 }).trim();
const t0 = Date.now();
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

fs.mkdirSync(OUT, { recursive: true });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', `--ignore-certificate-errors-spki-list=${SPKI}`],
});

async function newPage(viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('dialog', (d) => d.accept()); // confirm() before deletes
  return { ctx, page };
}

async function signIn(page, key) {
  const resp = await page.goto(`${URL}/console/`);
  await page.fill('#api-key', key);
  await page.click('form[data-form=signin] button[type=submit]');
  await page.waitForSelector('nav a[data-page=overview]', { timeout: 15000 });
  return resp;
}

async function go(page, id) {
  await page.click(`nav a[data-page=${id}]`);
  await page.waitForSelector(`main[data-page=${id}]`, { timeout: 15000 });
}

async function submit(page, formName, values) {
  const f = page.locator(`form[data-form=${formName}]`);
  for (const [k, v] of Object.entries(values)) {
    const el = f.locator(`[name=${k}]`);
    if ((await el.evaluate((e) => e.tagName)) === 'SELECT') await el.selectOption({ label: v });
    else await el.fill(v);
  }
  await f.locator('button[type=submit]').click();
}

// The form's message after a refused submit (text, from the API).
async function refusal(page, formName) {
  const m = page.locator(`form[data-form=${formName}] .msg.error`);
  await m.waitFor({ timeout: 10000 });
  return m.textContent();
}

// fetch from inside the page (same origin, with the session cookie).
function pageFetch(page, method, p, body, headers) {
  return page.evaluate(async ([m, u, b, h]) => {
    const r = await fetch(u, { method: m, headers: { 'Content-Type': 'application/json', ...h }, body: b === null ? undefined : JSON.stringify(b) });
    let j = null;
    try { j = await r.json(); } catch (e) { /* none */ }
    return { status: r.status, body: j };
  }, [method, p, body === undefined ? null : body, headers || {}]);
}

const shot = (page, name) => page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });

try {
  // ---- the admin signs in: a session cookie, never the key ----
  const { ctx, page } = await newPage();
  const first = await signIn(page, KEY);
  const cookies = await ctx.cookies();
  const c = cookies.find((x) => x.name === '__Host-pn_console');
  check('session cookie is Secure, HttpOnly, SameSite=Strict', c && c.secure && c.httpOnly && c.sameSite === 'Strict',
    JSON.stringify(c));
  check('the key is not kept by the page', !(await page.evaluate(() => document.cookie)).includes('pn') &&
    !(await page.content()).includes(KEY));
  const csp = (await first.allHeaders())['content-security-policy'] || '';
  check('strict CSP: scripts only from the origin, nothing inline', csp.includes("script-src 'self'") &&
    !csp.includes('unsafe-inline') && csp.includes("default-src 'none'"), csp);
  const csrf = (await pageFetch(page, 'GET', '/v1/console/session')).body.csrf;

  // ---- networks and resources, with refused input rendered as text ----
  await go(page, 'networks');
  await submit(page, 'network', { name: 'corp' });
  await page.waitForSelector('table[data-table=networks] tr[data-name=corp]');
  ok('network created');
  const xss = '<img src=x onerror="window.__pwned=1">';
  const bads = [
    ['overlong name', { name: 'r'.repeat(65), address: `${NET}.9.2`, protocols: 'tcp/8000' }, /invalid_length/],
    ['script in the name', { name: xss, address: `${NET}.9.2`, protocols: 'tcp/8000' }, /invalid_characters/],
    ['invalid address', { name: 'bad1', address: '10.0.0.300', protocols: 'tcp/8000' }, /invalid_address/],
    ['invalid port', { name: 'bad2', address: `${NET}.9.2`, protocols: 'tcp/70000' }, /invalid_protocols/],
    ['script in the address', { name: 'bad3', address: '<script>window.__pwned=1</script>', protocols: 'tcp/1' }, /invalid_address/],
  ];
  for (const [what, v, re] of bads) {
    await submit(page, 'resource', v);
    const msg = await refusal(page, 'resource');
    check(`refused: ${what}: "${msg}"`, re.test(msg));
  }
  check('no markup from input reached the page', (await page.locator('main img, main script').count()) === 0 &&
    !(await page.evaluate(() => window.__pwned)));
  await submit(page, 'resource', { name: 'app', network: 'corp', address: `${NET}.9.2`, protocols: 'tcp/8000' });
  await page.waitForSelector('table[data-table=resources] tr[data-name=app]');
  ok('resource created');
  // edit through the API's PATCH, then back
  await page.click('table[data-table=resources] tr[data-name=app] button[data-action=edit]');
  await page.fill('form[data-form=resource-edit] [name=protocols]', 'tcp/8000, tcp/8443');
  await page.click('form[data-form=resource-edit] button[type=submit]');
  await page.waitForSelector('table[data-table=resources] tr[data-name=app] >> text=tcp/8443');
  ok('resource edited');

  // ---- group, service account, grant ----
  await go(page, 'groups');
  await submit(page, 'group', { name: 'eng' });
  await page.waitForSelector('table[data-table=groups] tr[data-name=eng]');
  ok('group created');
  await go(page, 'users');
  await submit(page, 'service-account', { name: 'laptop', groups: 'eng' });
  const saKey = (await page.locator('#sa-key').textContent({ timeout: 10000 })).trim();
  check('service-account key shown once', /^pnsk_[0-9a-f]{64}$/.test(saKey), saKey);
  await go(page, 'grants');
  await submit(page, 'grant', { group: 'eng', resource: 'app' });
  await page.waitForSelector('table[data-table=grants] tbody tr');
  ok('grant created');

  // ---- connector: token shown once with the command ----
  await go(page, 'components');
  await submit(page, 'connector', { name: 'conn1', network: 'corp' });
  const token = (await page.locator('#enroll-token').textContent({ timeout: 10000 })).trim();
  const cmd = await page.locator('#enroll-command').textContent();
  check('enrollment token shown', /^pnt1\.[0-9a-f]{64}\.[0-9a-f]{64}\./.test(token), token);
  check('with the exact command', cmd.includes(`postern connector enroll --token ${token} --state `), cmd);
  await shot(page, 'enrollment');

  // ---- the real connector enrolls; the overview shows it online, no reload ----
  await go(page, 'overview');
  await page.waitForSelector('table[data-table=overview-connectors] tr[data-name=conn1] [data-status=not-enrolled]');
  await page.evaluate(() => { window.__sameDocument = 1; });
  const connId = helper('enroll', token);
  const tEnroll = Date.now();
  await page.waitForSelector('table[data-table=overview-connectors] tr[data-name=conn1] [data-status=online]',
    { timeout: 30000 });
  check(`connector online on the overview ${((Date.now() - tEnroll) / 1000).toFixed(1)} s after enrollment, without reload`,
    await page.evaluate(() => window.__sameDocument === 1));
  // the connector reports its version (POST /v1/ctl/status) and its tunnels
  const binVersion = execFileSync(process.env.PN_BIN, ['version'], { encoding: 'utf8' }).split(' ')[1];
  const ver = page.locator('table[data-table=overview-connectors] tr[data-name=conn1] [data-version]');
  await ver.waitFor({ timeout: 30000 });
  check(`overview shows the connector's version (${await ver.textContent()})`, (await ver.textContent()) === binVersion);
  await page.waitForSelector('table[data-table=overview-connectors] tr[data-name=conn1] [data-paths="0/0"]', { timeout: 30000 });
  ok('and its tunnels by path (none yet)');
  const rver = page.locator('table[data-table=overview-relays] tr[data-name=edge1] [data-version]');
  await rver.waitFor({ timeout: 30000 });
  check(`the relay (no push stream) is online with its version (${await rver.textContent()})`,
    (await rver.textContent()) === binVersion &&
    (await page.locator('table[data-table=overview-relays] tr[data-name=edge1] [data-status=online]').count()) === 1);
  await shot(page, 'overview-online');

  // ---- an allowed flow, then the grant deleted in the console: denied ----
  helper('client', saKey, connId);
  const got = helper('fetch');
  check('granted flow passes', got.includes(HELLO), got.slice(0, 100));
  await go(page, 'overview');
  const tTunnel = Date.now();
  await page.waitForSelector('table[data-table=overview-connectors] tr[data-name=conn1] [data-paths="1/0"]', { timeout: 30000 });
  ok(`overview: the client's tunnel counted on the direct path (${((Date.now() - tTunnel) / 1000).toFixed(1)} s)`);
  check('flows per minute counted', await page.waitForFunction(
    () => Number(document.querySelector('[data-tile=flows] .big')?.textContent) >= 1, null, { timeout: 15000 })
    .then(() => true, () => false));
  await go(page, 'grants');
  await page.click('table[data-table=grants] tbody tr button[data-action=delete]');
  await page.waitForSelector('table[data-table=grants]', { state: 'detached' });
  ok('grant deleted');
  let denied = false;
  for (let i = 0; i < 20 && !denied; i++) { // the connector gets the push within ~1 s
    denied = !helper('fetch').includes(HELLO);
    if (!denied) await page.waitForTimeout(500);
  }
  check('flow refused after the grant was deleted', denied);
  await go(page, 'flows');
  let row = null;
  for (let i = 0; i < 30 && !row; i++) { // reports are batched for up to a second
    await submit(page, 'flow-filter', { verdict: 'deny' });
    await page.waitForTimeout(500);
    if ((await page.locator('table[data-table=flows] [data-verdict=deny]').count()) > 0) row = true;
  }
  check('the denied flow shows in flow events (filter verdict=deny)', row);
  check('and only denied flows are listed', (await page.locator('table[data-table=flows] [data-verdict=allow]').count()) === 0);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('button[data-action=export]')]);
  const lines = fs.readFileSync(await dl.path(), 'utf8').trim().split('\n');
  let parsed = [];
  try { parsed = lines.map((l) => JSON.parse(l)); } catch (e) { parsed = []; }
  check(`flow export is JSON lines (${lines.length} lines, all deny)`, parsed.length > 0 && parsed.every((e) => e.verdict === 'deny'));
  await shot(page, 'flows');

  // ---- CSRF: a change without the session's token is refused ----
  let r = await pageFetch(page, 'POST', '/v1/groups', { name: 'nocsrf' });
  check('POST without X-CSRF-Token: 403 csrf_token_required', r.status === 403 && r.body.error.code === 'csrf_token_required',
    JSON.stringify(r));
  r = await pageFetch(page, 'POST', '/v1/groups', { name: 'nocsrf' }, { 'X-CSRF-Token': 'f'.repeat(64) });
  check('POST with a wrong token: 403', r.status === 403, JSON.stringify(r));
  r = await pageFetch(page, 'DELETE', '/v1/networks/corp');
  check('DELETE without token: 403', r.status === 403, JSON.stringify(r));
  r = await pageFetch(page, 'GET', '/v1/groups/nocsrf');
  check('nothing was created', r.status === 404, JSON.stringify(r));
  r = await pageFetch(page, 'POST', '/v1/groups', { name: 'withcsrf' }, { 'X-CSRF-Token': csrf });
  check('the same request with the token: 201', r.status === 201, JSON.stringify(r));

  // ---- every page, for the record ----
  for (const p of ['overview', 'networks', 'groups', 'users', 'grants', 'components', 'credentials', 'audit']) {
    await go(page, p);
    await shot(page, p);
  }
  check('audit log shows the console\'s changes', (await page.locator('table[data-table=audit] >> text=sign_in').count()) > 0);
  check('no script errors on any page', page.errors.length === 0, page.errors.join('; '));

  // ---- a phone-width view ----
  {
    const { page: phone } = await newPage({ width: 390, height: 844 });
    await signIn(phone, KEY);
    await phone.waitForSelector('table[data-table=overview-connectors]');
    const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
    check(`phone width: page fits (${wide} px)`, wide <= 400);
    await shot(phone, 'overview-phone');
    await phone.context().close();
  }

  // ---- read-only admin: sees everything, no working edit control ----
  const { ctx: roCtx, page: ro } = await newPage();
  await signIn(ro, RO_KEY);
  check('read-only banner', await ro.locator('#readonly-banner').isVisible());
  const editActions = 'main button[data-action=delete], main button[data-action=edit], main button[data-action=revoke],' +
    ' main button[data-action=token], main button[data-action=disable], main button[data-action=enable], main button[data-action=new-key]';
  for (const p of ['overview', 'networks', 'groups', 'users', 'grants', 'components', 'credentials', 'audit', 'flows']) {
    await go(ro, p);
    await ro.waitForTimeout(200);
    const forms = await ro.locator('main form:not([data-form$=filter])').count();
    const acts = await ro.locator(editActions).count();
    check(`read-only ${p}: no edit form (${forms}) and no edit button (${acts})`, forms === 0 && acts === 0);
  }
  await go(ro, 'networks');
  check('read-only sees the data', (await ro.locator('table[data-table=resources] tr[data-name=app]').count()) === 1);
  await shot(ro, 'readonly-networks');
  const roCsrf = (await pageFetch(ro, 'GET', '/v1/console/session')).body.csrf;
  for (const [m, p, b] of [['POST', '/v1/networks', { name: 'forged' }], ['DELETE', '/v1/resources/app'],
    ['POST', '/v1/connectors/conn1/tokens', {}], ['PATCH', '/v1/resources/app', { address: '10.9.9.9' }],
    ['POST', '/v1/admin-keys', { name: 'x', role: 'admin' }]]) {
    r = await pageFetch(ro, m, p, b, { 'X-CSRF-Token': roCsrf });
    check(`read-only forged ${m} ${p}: 403 forbidden`, r.status === 403 && r.body.error.code === 'forbidden', JSON.stringify(r));
  }
  r = await pageFetch(page, 'GET', '/v1/resources/app');
  check('the resource is unchanged', r.status === 200 && r.body.address.startsWith(`${NET}.9.2`), JSON.stringify(r.body));

  // ---- revoking the key ends the browser session made from it ----
  r = await pageFetch(page, 'DELETE', `/v1/admin-keys/${RO_ID}`, undefined, { 'X-CSRF-Token': csrf });
  check('admin revokes the read-only key from the console', r.status === 200, JSON.stringify(r));
  r = await pageFetch(ro, 'GET', '/v1/networks');
  check('the read-only session is refused at once: 401', r.status === 401, JSON.stringify(r));
  await roCtx.close();

  // ---- sign out ----
  await page.click('#signout');
  await page.waitForSelector('form[data-form=signin]');
  r = await pageFetch(page, 'GET', '/v1/networks');
  check('signed out: 401', r.status === 401);
  await ctx.close();

  // ---- sign-in through the identity provider (tests/oidc/op.mjs) ----
  async function idpLogin(user) {
    const { ctx: c2, page: p2 } = await newPage();
    await p2.goto(`${URL}/console/`);
    await p2.click('button[data-provider=corp]', { timeout: 15000 });
    await p2.waitForURL((u) => !u.href.startsWith(URL), { timeout: 15000 });
    for (let i = 0; i < 6; i++) { // the provider's login, then consent page
      await p2.waitForLoadState('load');
      console.log(`     ${user} at ${p2.url().replace(/\?.*/, '?…')}`);
      if (p2.url().startsWith(URL)) break;
      if (await p2.locator('input[name=login]').count()) {
        await p2.fill('input[name=login]', user);
        await p2.fill('input[name=password]', 'any-password');
      }
      await Promise.all([p2.waitForNavigation({ timeout: 15000 }), p2.locator('form [type=submit]').first().click()]);
    }
    return { c2, p2 };
  }
  {
    const { c2, p2 } = await idpLogin('carol');
    await p2.waitForSelector('nav a[data-page=overview]', { timeout: 20000 }).catch(async (e) => {
      await shot(p2, 'oidc-failed');
      throw new Error(`${e.message}; page says: ${await p2.evaluate(() => document.body.innerText)}`);
    });
    const who = await p2.locator('#who').textContent();
    check(`admin-group member signed in through the IdP: "${who}"`, /^user:[0-9a-f]{32}:carol \(admin\)$/.test(who));
    check('the code is gone from the address bar', !p2.url().includes('code='), p2.url());
    const ck = (await c2.cookies()).find((x) => x.name === '__Host-pn_console');
    check('and holds a console cookie like a key sign-in', ck && ck.httpOnly && ck.sameSite === 'Strict');
    const cs = (await pageFetch(p2, 'GET', '/v1/console/session')).body.csrf;
    r = await pageFetch(p2, 'POST', '/v1/groups', { name: 'from-idp' }, { 'X-CSRF-Token': cs });
    check('a change made by the person: 201', r.status === 201, JSON.stringify(r));
    await go(p2, 'audit');
    check('audited as the person', (await p2.locator('table[data-table=audit] tr >> text=/user:[0-9a-f]+:carol/').count()) > 0);
    await shot(p2, 'oidc-signed-in');
    await c2.close();
  }
  {
    const { c2, p2 } = await idpLogin('bob');
    const m = p2.locator('form[data-form=signin] .msg');
    await p2.waitForFunction(() => document.querySelector('form[data-form=signin] .msg')?.textContent.length > 0,
      null, { timeout: 20000 });
    const text = await m.textContent();
    check(`not in the admin group: refused ("${text}")`, /not_admin/.test(text) &&
      (await p2.locator('nav a[data-page=overview]').count()) === 0);
    await c2.close();
  }
} catch (e) {
  bad(`exception: ${e.stack || e}`);
}
await browser.close();
console.log(`${checks - fails} passed, ${fails} failed (${since()})`);
process.exit(fails ? 1 : 0);
