// Audit log and flow events: filters, and export as JSON lines.
import { api, list } from './api.js';
import { h, clear, fmtTime, download } from './dom.js';
import { section, table, form, byId, nameOf } from './ui.js';

const jsonl = (rows) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
const toMs = (s) => (s ? new Date(s).getTime() : 0); // datetime-local, local time
const FLOW_PAGES = 20; // at most 20 000 flow events in the browser
// A datetime-local value (local time, minutes) for a unix ms time.
const localInput = (ms) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
};

async function allAudit() {
  let rows = [], after = 0;
  for (let i = 0; i < 20; i++) { // at most 20 000 records in the browser
    const d = await api('GET', `audit?after=${after}&limit=1000`);
    rows = rows.concat(d.audit);
    if (d.audit.length < 1000) break;
    after = d.audit[d.audit.length - 1].seq;
  }
  return rows;
}

export async function audit(main) {
  const body = h('div', { class: 'body' });
  main.append(h('h1', null, 'Audit log'), h('p', { class: 'muted' }, 'Every admin change, with who made it.'), body);
  const rows = await allAudit();
  let shown = rows;
  const out = h('div');
  const count = h('p', { class: 'muted', id: 'audit-count' });
  function render() {
    count.textContent = `${shown.length} of ${rows.length} records`;
    clear(out).append(table([
      { label: '#', get: (r) => String(r.seq) },
      { label: 'Time', get: (r) => fmtTime(r.ts) },
      { label: 'Actor', get: (r) => r.actor },
      { label: 'Action', get: (r) => r.action },
      { label: 'Kind', get: (r) => r.kind },
      { label: 'Object', get: (r) => h('code', null, r.object_id) },
      { label: 'Detail', get: (r) => (r.detail ? h('code', { class: 'detail' }, JSON.stringify(r.detail)) : '') },
    ], shown.slice().reverse().slice(0, 500), { name: 'audit', empty: 'No records match.' }));
  }
  const f = form('audit-filter', [
    { name: 'actor', label: 'Actor contains' },
    { name: 'action', label: 'Action', options: [['', 'any'], ...[...new Set(rows.map((r) => r.action))].sort().map((a) => [a, a])] },
    { name: 'kind', label: 'Kind', options: [['', 'any'], ...[...new Set(rows.map((r) => r.kind))].sort().map((a) => [a, a])] },
    { name: 'since', label: 'From', type: 'datetime-local' },
    { name: 'until', label: 'Until', type: 'datetime-local' },
  ], 'Filter', async (v) => {
    const s = toMs(v.since) / 1000, u = toMs(v.until) / 1000;
    shown = rows.filter((r) => (!v.actor || r.actor.includes(v.actor)) && (!v.action || r.action === v.action) &&
      (!v.kind || r.kind === v.kind) && (!s || r.ts >= s) && (!u || r.ts <= u));
    render();
    return null;
  });
  const exp = h('button', { type: 'button', 'data-action': 'export' }, 'Export JSON lines');
  exp.addEventListener('click', () => download('postern-audit.jsonl', jsonl(shown), 'application/x-ndjson'));
  render();
  body.append(section('Records', f, h('div', { class: 'actions' }, exp), count, out));
}

export async function flows(main) {
  const dayAgo = localInput(Date.now() - 86400000); // the default range: the last day
  const body = h('div', { class: 'body' });
  main.append(h('h1', null, 'Flow events'),
    h('p', { class: 'muted' }, 'Flows reported by connectors: allowed and denied, with bytes and the path used.'), body);
  const [res, conns] = await Promise.all([list('resources'), list('connectors')]);
  const rMap = byId(res), cMap = byId(conns);
  let shown = [];
  const out = h('div');
  const count = h('p', { class: 'muted', id: 'flow-count' });
  function render() {
    count.textContent = `${shown.length} events${shown.length > 500 ? ', the newest 500 shown (export has all)' : ''}` + (truncated
      ? ` (the first ${FLOW_PAGES * 1000} of the range: narrow it to see later ones)` : '');
    clear(out).append(table([
      { label: 'Time', get: (e) => new Date(e.ts_ms).toISOString().replace('T', ' ').replace('Z', 'Z') },
      { label: 'Event', get: (e) => e.event },
      { label: 'Verdict', get: (e) => h('span', { class: e.verdict === 'deny' ? 'bad' : 'good', 'data-verdict': e.verdict }, e.verdict) },
      { label: 'Reason', get: (e) => e.reason },
      { label: 'User', get: (e) => e.user },
      { label: 'Resource', get: (e) => nameOf(rMap, e.resource_id) || '—' },
      { label: 'Destination', get: (e) => h('code', null, `${e.proto} ${e.dest}:${e.port}`) },
      { label: 'Path', get: (e) => e.path },
      { label: 'Bytes up / down', get: (e) => `${e.bytes_up} / ${e.bytes_down}` },
      { label: 'Connector', get: (e) => nameOf(cMap, e.reporter_id) },
    ], shown.slice().reverse().slice(0, 500), { name: 'flows', empty: 'No events match.' }));
  }
  let truncated = false;
  // Every matching event (the API answers oldest first, 1000 at a time),
  // at most FLOW_PAGES pages; then the user filter.
  async function query(v) {
    const q = new URLSearchParams({ limit: '1000' });
    if (v.resource) q.set('resource', v.resource);
    if (v.verdict) q.set('verdict', v.verdict);
    if (v.since) q.set('since', String(toMs(v.since)));
    if (v.until) q.set('until', String(toMs(v.until)));
    let rows = [];
    truncated = true;
    for (let i = 0; i < FLOW_PAGES; i++) {
      const d = await api('GET', `flow-events?${q}`);
      rows = rows.concat(d.flow_events);
      if (d.flow_events.length < 1000) { truncated = false; break; }
      q.set('after', String(d.flow_events[d.flow_events.length - 1].seq));
    }
    shown = rows.filter((e) => !v.user || e.user.includes(v.user));
    render();
    return null;
  }
  const f = form('flow-filter', [
    { name: 'user', label: 'User contains' },
    { name: 'resource', label: 'Resource', options: [['', 'any'], ...res.map((r) => [r.id, r.name])] },
    { name: 'verdict', label: 'Verdict', options: [['', 'any'], ['allow', 'allow'], ['deny', 'deny']] },
    { name: 'since', label: 'From', type: 'datetime-local', value: dayAgo },
    { name: 'until', label: 'Until', type: 'datetime-local' },
  ], 'Filter', query);
  const exp = h('button', { type: 'button', 'data-action': 'export' }, 'Export JSON lines');
  exp.addEventListener('click', () => download('postern-flows.jsonl', jsonl(shown), 'application/x-ndjson'));
  body.append(section('Events', f, h('div', { class: 'actions' }, exp), count, out));
  await query({ since: dayAgo });
}
