// Overview (live status), connector and relay enrollment, credentials.
import { api, list } from './api.js';
import { h, clear, fmtTime, fmtAgo } from './dom.js';
import { section, table, form, action, secretBox, byId, nameOf } from './ui.js';

const STATE_DIR = { connector: '/var/lib/postern/connector', relay: '/var/lib/postern/relay' };

// What the component last reported (POST /v1/ctl/status).
function version(row, pres) {
  const p = pres.get(row.id);
  return p && p.version ? h('span', { 'data-version': p.version }, p.version) : '—';
}

function paths(row, pres) {
  const p = pres.get(row.id);
  if (!p || p.paths_direct === null || p.paths_direct === undefined) return '—';
  return h('span', { 'data-paths': `${p.paths_direct}/${p.paths_relay}`, title: 'open tunnels by path' },
    `${p.paths_direct} direct, ${p.paths_relay} relayed`);
}

function status(row, pres, now) {
  if (row.revoked) return h('span', { class: 'status revoked', 'data-status': 'revoked' }, 'revoked');
  const p = pres.get(row.id);
  if (p && p.online) return h('span', { class: 'status online', 'data-status': 'online' }, 'online');
  if (!row.enrolled) return h('span', { class: 'status pending', 'data-status': 'not-enrolled' }, 'not enrolled');
  return h('span', { class: 'status offline', 'data-status': 'offline' }, p ? `offline (${fmtAgo(p.last_seen, now)})` : 'offline');
}

export async function overview(main, ctx) {
  const live = h('p', { class: 'muted', 'aria-live': 'off', id: 'live' }, 'Loading…');
  const body = h('div', { class: 'body' });
  main.append(h('h1', null, 'Overview'), live, body);
  let timer = null, stopped = false;
  async function load() {
    const since = Date.now() - 60000;
    const [st, nets, conns, relays, presRes, flows, res, gs, us, sas, ps] = await Promise.all([
      api('GET', 'status'), list('networks'), list('connectors'), list('relays'), api('GET', 'presence'),
      list(`flow-events?since=${since}`, 'flow_events'), list('resources'), list('groups'), list('users'),
      list('service-accounts'), list('policies')]);
    const pres = new Map(presRes.presence.map((p) => [p.holder_id, p]));
    const now = presRes.now;
    const netMap = byId(nets);
    const starts = flows.filter((f) => f.event === 'start' || f.verdict === 'deny');
    const denied = flows.filter((f) => f.verdict === 'deny').length;
    const tile = (label, value, name) => h('div', { class: 'tile', 'data-tile': name }, h('span', { class: 'big' }, String(value)), h('span', null, label));
    const online = (rows) => rows.filter((r) => !r.revoked && (pres.get(r.id) || {}).online).length;
    clear(body).append(
      h('div', { class: 'tiles' },
        tile('connectors online', `${online(conns)} / ${conns.length}`, 'connectors'),
        tile('relays online', `${online(relays)} / ${relays.length}`, 'relays'),
        tile('flows per minute', starts.length, 'flows'),
        tile('denied in the last minute', denied, 'denied'),
        tile('networks', nets.length, 'networks'),
        tile('resources', res.length, 'resources'),
        tile('groups / grants', `${gs.length} / ${ps.length}`, 'grants'),
        tile('users / service accounts', `${us.length} / ${sas.length}`, 'principals'),
        tile('policy version', st.policy_version, 'version')),
      section('Connectors', table([
        { label: 'Name', get: (r) => r.name },
        { label: 'Network', get: (r) => nameOf(netMap, r.network_id) },
        { label: 'Status', get: (r) => status(r, pres, now) },
        { label: 'Version', get: (r) => version(r, pres) },
        { label: 'Tunnels', get: (r) => paths(r, pres) },
        { label: 'Last seen', get: (r) => fmtAgo((pres.get(r.id) || {}).last_seen, now) },
        { label: 'Flows (1 min)', get: (r) => String(flows.filter((f) => f.reporter_id === r.id &&
          (f.event === 'start' || f.verdict === 'deny')).length) },
      ], conns, { name: 'overview-connectors', empty: 'No connectors yet.' })),
      section('Relays', table([
        { label: 'Name', get: (r) => r.name },
        { label: 'Endpoints', get: (r) => [r.udp && `udp ${r.udp}`, r.tls && `tls ${r.tls}`, r.ws].filter(Boolean).join(', ') || '—' },
        { label: 'Status', get: (r) => status(r, pres, now) },
        { label: 'Version', get: (r) => version(r, pres) },
        { label: 'Last seen', get: (r) => fmtAgo((pres.get(r.id) || {}).last_seen, now) },
      ], relays, { name: 'overview-relays', empty: 'No relays yet.' })));
    live.textContent = `Live: refreshed every 2 s, last at ${new Date().toLocaleTimeString()}.`;
  }
  async function tick() {
    try {
      await load();
    } catch (e) {
      live.textContent = `Refresh failed: ${e.message}`;
    }
    if (!stopped) timer = setTimeout(tick, 2000);
  }
  await tick();
  return () => { stopped = true; clearTimeout(timer); };
}

function enrollBox(kind, name, d) {
  const dir = STATE_DIR[kind];
  const cmd = `postern ${kind} enroll --token ${d.enrollment_token} --state ${dir}\n` +
    `postern ${kind} run --state ${dir}${kind === 'relay' ? ' --udp 0.0.0.0:3478 --tls 0.0.0.0:443' : ''}`;
  return secretBox(`Enrollment of ${kind} ${name} (token valid until ${fmtTime(d.token_expires)}, single use)`, [
    ['Token', d.enrollment_token, 'enroll-token'],
    ['Run on the host', cmd, 'enroll-command'],
  ]);
}

export async function enrollment(main, ctx) {
  const notice = h('div', { class: 'notices' });
  const body = h('div', { class: 'body' });
  main.append(h('h1', null, 'Connectors and relays'),
    h('p', { class: 'muted' }, 'Enroll a connector inside a private network or a relay on a public host with a one-time token.'),
    notice, body);
  async function load() {
    const [nets, conns, relays, presRes] = await Promise.all([list('networks'), list('connectors'), list('relays'), api('GET', 'presence')]);
    const pres = new Map(presRes.presence.map((p) => [p.holder_id, p]));
    const netMap = byId(nets);
    const rowActions = (kind, path) => (r) => h('span', { class: 'actions' },
      action('New token', async () => {
        const d = await api('POST', `${path}/${r.id}/tokens`, {});
        clear(notice).append(enrollBox(kind, r.name, d));
      }, { name: 'token' }),
      r.revoked ? null : action('Revoke', async () => { await api('POST', `${path}/${r.id}/revoke`, {}); await load(); },
        { danger: true, name: 'revoke', confirm: `Revoke ${kind} ${r.name}? Its credentials stop working at once.` }),
      action('Delete', async () => { await api('DELETE', `${path}/${r.id}`); await load(); },
        { danger: true, name: 'delete', confirm: `Delete ${kind} ${r.name}?` }));
    const cCols = [
      { label: 'Name', get: (r) => r.name },
      { label: 'Network', get: (r) => nameOf(netMap, r.network_id) },
      { label: 'Status', get: (r) => status(r, pres, presRes.now) },
      { label: 'Created', get: (r) => fmtTime(r.created) },
    ];
    const rCols = [
      { label: 'Name', get: (r) => r.name },
      { label: 'UDP', get: (r) => r.udp || '—' },
      { label: 'TLS', get: (r) => r.tls || '—' },
      { label: 'WebSocket', get: (r) => r.ws || '—' },
      { label: 'Status', get: (r) => status(r, pres, presRes.now) },
    ];
    if (ctx.canEdit) {
      cCols.push({ label: '', get: rowActions('connector', 'connectors') });
      rCols.push({ label: '', get: rowActions('relay', 'relays') });
    }
    clear(body).append(
      section('Connectors',
        ctx.canEdit ? (nets.length ? form('connector', [
          { name: 'name', label: 'Name', placeholder: 'conn-1', required: true },
          { name: 'network', label: 'Network', options: nets.map((n) => [n.id, n.name]) },
        ], 'Add connector', async (v) => {
          const d = await api('POST', 'connectors', { name: v.name, network: v.network });
          clear(notice).append(enrollBox('connector', v.name, d));
          await load();
        }) : h('p', { class: 'muted' }, 'Create a network first.')) : null,
        table(cCols, conns, { name: 'connectors' })),
      section('Relays',
        ctx.canEdit ? form('relay', [
          { name: 'name', label: 'Name', placeholder: 'edge-1', required: true },
          { name: 'udp', label: 'UDP host:port', placeholder: 'relay.example.com:3478' },
          { name: 'tls', label: 'TLS host:port', placeholder: 'relay.example.com:443' },
          { name: 'ws', label: 'WebSocket URL', placeholder: 'wss://cdn.example.com:443/postern' },
        ], 'Add relay', async (v) => {
          const b = { name: v.name };
          for (const k of ['udp', 'tls', 'ws']) if (v[k]) b[k] = v[k];
          const d = await api('POST', 'relays', b);
          clear(notice).append(enrollBox('relay', v.name, d));
          await load();
        }) : null,
        table(rCols, relays, { name: 'relays' })));
  }
  await load();
}

export async function credentials(main, ctx) {
  const body = h('div', { class: 'body' });
  main.append(h('h1', null, 'Credentials'),
    h('p', { class: 'muted' }, 'Short-lived certificates issued to connectors, relays and clients. Revocation reaches connectors within a second.'),
    body);
  let filter = '';
  async function load() {
    const [creds, conns, relays, us, sas] = await Promise.all([list('credentials'), list('connectors'), list('relays'),
      list('users'), list('service-accounts')]);
    const names = new Map([...conns, ...relays, ...us, ...sas].map((r) => [r.id, r.name]));
    const now = Date.now() / 1000;
    const shown = creds.filter((c) => !filter || [c.name, c.holder_kind, names.get(c.holder_id), c.serial, c.type]
      .some((x) => x && String(x).toLowerCase().includes(filter.toLowerCase())));
    const cols = [
      { label: 'Holder', get: (c) => `${c.holder_kind} ${names.get(c.holder_id) || c.name}` },
      { label: 'Type', get: (c) => c.type },
      { label: 'Serial', get: (c) => h('code', null, c.serial) },
      { label: 'Issued', get: (c) => fmtTime(c.issued) },
      { label: 'Expires', get: (c) => fmtTime(c.not_after) },
      { label: 'State', get: (c) => (c.revoked ? h('span', { class: 'bad' }, 'revoked') : c.not_after < now ? 'expired' : 'valid') },
    ];
    if (ctx.canEdit) {
      cols.push({ label: '', get: (c) => (c.revoked || c.not_after < now ? '' : action('Revoke', async () => {
        await api('POST', `credentials/${c.serial}/revoke`, {});
        await load();
      }, { danger: true, name: 'revoke', confirm: 'Revoke this credential?' })) });
    }
    const search = h('input', { type: 'search', id: 'cred-filter', placeholder: 'holder, type or serial', value: filter });
    search.addEventListener('change', () => { filter = search.value.trim(); load(); });
    clear(body).append(section('Issued credentials',
      h('label', { for: 'cred-filter', class: 'inline' }, h('span', null, 'Filter'), search),
      table(cols, shown.reverse(), { name: 'credentials' })));
  }
  await load();
}
