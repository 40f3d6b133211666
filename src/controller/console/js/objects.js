// Pages for the policy model: networks and resources, groups and
// memberships, users and service accounts, grants.
import { api, list } from './api.js';
import { h, clear, fmtTime } from './dom.js';
import { section, table, form, action, secretBox, byId, nameOf } from './ui.js';

const protoList = (s) => s.split(/[\s,]+/).filter(Boolean);
const protoText = (p) => {
  try {
    return (Array.isArray(p) ? p : JSON.parse(p)).join(', ');
  } catch (e) {
    return String(p);
  }
};

// A page: fixed areas (notices, editor) and a body refilled by load().
function page(main, title, intro) {
  const notice = h('div', { class: 'notices' });
  const editor = h('div', { class: 'editor' });
  const body = h('div', { class: 'body' });
  main.append(h('h1', null, title), intro ? h('p', { class: 'muted' }, intro) : null, notice, editor, body);
  return { notice, editor, body };
}

export async function networks(main, ctx) {
  const p = page(main, 'Networks and resources',
    'A remote network is a private network reached through its connectors; resources are what grants give access to.');
  async function load() {
    const [nets, res] = await Promise.all([list('networks'), list('resources')]);
    const netMap = byId(nets);
    clear(p.body);
    const netCols = [
      { label: 'Name', get: (r) => r.name },
      { label: 'Resources', get: (r) => String(res.filter((x) => x.network_id === r.id).length) },
      { label: 'Created', get: (r) => fmtTime(r.created) },
    ];
    const resCols = [
      { label: 'Name', get: (r) => r.name },
      { label: 'Network', get: (r) => nameOf(netMap, r.network_id) },
      { label: 'Address', get: (r) => h('code', null, r.address) },
      { label: 'Protocols', get: (r) => protoText(r.protocols) },
    ];
    if (ctx.canEdit) {
      netCols.push({ label: '', get: (r) => h('span', { class: 'actions' },
        action('Rename', async () => editNetwork(r), { name: 'edit' }),
        action('Delete', async () => { await api('DELETE', `networks/${r.id}`); await load(); },
          { danger: true, name: 'delete', confirm: `Delete network ${r.name}?` })) });
      resCols.push({ label: '', get: (r) => h('span', { class: 'actions' },
        action('Edit', async () => editResource(r), { name: 'edit' }),
        action('Delete', async () => { await api('DELETE', `resources/${r.id}`); await load(); },
          { danger: true, name: 'delete', confirm: `Delete resource ${r.name}?` })) });
    }
    p.body.append(section('Remote networks',
      ctx.canEdit ? form('network', [{ name: 'name', label: 'Name', placeholder: 'corp', required: true }],
        'Create network', async (v) => { await api('POST', 'networks', { name: v.name }); await load(); return `Network ${v.name} created.`; }) : null,
      table(netCols, nets, { name: 'networks' })));
    p.body.append(section('Resources',
      ctx.canEdit ? (nets.length ? form('resource', [
        { name: 'name', label: 'Name', placeholder: 'db', required: true },
        { name: 'network', label: 'Network', options: nets.map((n) => [n.id, n.name]) },
        { name: 'address', label: 'Address', placeholder: 'db.corp.example, *.corp.example, 10.0.0.0/24', required: true },
        { name: 'protocols', label: 'Protocols', placeholder: 'tcp/5432, udp/53, icmp', required: true },
      ], 'Create resource', async (v) => {
        await api('POST', 'resources', { name: v.name, network: v.network, address: v.address, protocols: protoList(v.protocols) });
        await load();
        return `Resource ${v.name} created.`;
      }) : h('p', { class: 'muted' }, 'Create a network first.')) : null,
      table(resCols, res, { name: 'resources' })));
  }
  function editNetwork(r) {
    clear(p.editor).append(section(`Rename network ${r.name}`,
      form('network-edit', [{ name: 'name', label: 'New name', value: r.name, required: true }], 'Save',
        async (v) => { await api('PATCH', `networks/${r.id}`, { name: v.name }); clear(p.editor); await load(); }),
      action('Cancel', async () => clear(p.editor))));
  }
  function editResource(r) {
    clear(p.editor).append(section(`Edit resource ${r.name}`,
      form('resource-edit', [
        { name: 'name', label: 'Name', value: r.name, required: true },
        { name: 'address', label: 'Address', value: r.address, required: true },
        { name: 'protocols', label: 'Protocols', value: protoText(r.protocols), required: true },
      ], 'Save', async (v) => {
        await api('PATCH', `resources/${r.id}`, { name: v.name, address: v.address, protocols: protoList(v.protocols) });
        clear(p.editor);
        await load();
      }),
      action('Cancel', async () => clear(p.editor))));
  }
  await load();
}

export async function groups(main, ctx) {
  const p = page(main, 'Groups', 'Grants give groups access to resources; users and service accounts are members.');
  async function load() {
    const [gs, ms, us, sas] = await Promise.all([list('groups'), list('memberships'), list('users'),
      list('service-accounts')]);
    const uMap = byId(us), saMap = byId(sas), gMap = byId(gs);
    clear(p.body);
    const gCols = [
      { label: 'Name', get: (r) => r.name },
      { label: 'Members', get: (r) => ms.filter((m) => m.group_id === r.id)
        .map((m) => (m.user_id ? nameOf(uMap, m.user_id) : `${nameOf(saMap, m.service_account_id)} (service)`)).join(', ') || '—' },
      { label: 'Created', get: (r) => fmtTime(r.created) },
    ];
    const mCols = [
      { label: 'Group', get: (m) => nameOf(gMap, m.group_id) },
      { label: 'Member', get: (m) => (m.user_id ? `user ${nameOf(uMap, m.user_id)}` : `service account ${nameOf(saMap, m.service_account_id)}`) },
    ];
    if (ctx.canEdit) {
      gCols.push({ label: '', get: (r) => h('span', { class: 'actions' },
        action('Rename', async () => {
          clear(p.editor).append(section(`Rename group ${r.name}`,
            form('group-edit', [{ name: 'name', label: 'New name', value: r.name, required: true }], 'Save',
              async (v) => { await api('PATCH', `groups/${r.id}`, { name: v.name }); clear(p.editor); await load(); }),
            action('Cancel', async () => clear(p.editor))));
        }, { name: 'edit' }),
        action('Delete', async () => { await api('DELETE', `groups/${r.id}`); await load(); },
          { danger: true, name: 'delete', confirm: `Delete group ${r.name}?` })) });
      mCols.push({ label: '', get: (m) => action('Remove', async () => { await api('DELETE', `memberships/${m.id}`); await load(); },
        { danger: true, name: 'delete' }) });
    }
    const members = [...us.map((u) => [`user:${u.id}`, `user ${u.name}`]),
      ...sas.map((s) => [`sa:${s.id}`, `service account ${s.name}`])];
    p.body.append(section('Groups',
      ctx.canEdit ? form('group', [{ name: 'name', label: 'Name', placeholder: 'eng', required: true }], 'Create group',
        async (v) => { await api('POST', 'groups', { name: v.name }); await load(); return `Group ${v.name} created.`; }) : null,
      table(gCols, gs, { name: 'groups' })));
    p.body.append(section('Memberships',
      ctx.canEdit && gs.length && members.length ? form('membership', [
        { name: 'group', label: 'Group', options: gs.map((g) => [g.id, g.name]) },
        { name: 'member', label: 'Member', options: members },
      ], 'Add member', async (v) => {
        const [kind, id] = v.member.split(':');
        await api('POST', 'memberships', kind === 'user' ? { group: v.group, user: id } : { group: v.group, service_account: id });
        await load();
      }) : null,
      table(mCols, ms, { name: 'memberships' })));
  }
  await load();
}

export async function users(main, ctx) {
  const p = page(main, 'Users and service accounts',
    'People come from the identity provider or are added here; service accounts are headless clients with API keys.');
  async function load() {
    const [us, sas, ids] = await Promise.all([list('users'), list('service-accounts'),
      list('identities').catch(() => [])]);
    clear(p.body);
    const uCols = [
      { label: 'Name', get: (r) => r.name },
      { label: 'Email', get: (r) => r.email || '—' },
      { label: 'Provider', get: (r) => ids.filter((i) => i.user_id === r.id).map((i) => i.provider).join(', ') || 'local' },
      { label: 'Status', get: (r) => (r.disabled ? h('span', { class: 'bad' }, 'disabled') : 'active') },
    ];
    const sCols = [
      { label: 'Name', get: (r) => r.name },
      { label: 'Status', get: (r) => (r.disabled ? h('span', { class: 'bad' }, 'disabled') : 'active') },
      { label: 'Created', get: (r) => fmtTime(r.created) },
    ];
    if (ctx.canEdit) {
      uCols.push({ label: '', get: (r) => h('span', { class: 'actions' },
        action(r.disabled ? 'Enable' : 'Disable', async () => { await api('PATCH', `users/${r.id}`, { disabled: !r.disabled }); await load(); },
          { name: r.disabled ? 'enable' : 'disable' }),
        action('Delete', async () => { await api('DELETE', `users/${r.id}`); await load(); },
          { danger: true, name: 'delete', confirm: `Delete user ${r.name}? Its credentials are revoked.` })) });
    }
    sCols.push({ label: '', get: (r) => h('span', { class: 'actions' },
      action('Keys', async () => showKeys(r), { name: 'keys' }),
      ctx.canEdit ? action(r.disabled ? 'Enable' : 'Disable', async () => { await api('PATCH', `service-accounts/${r.id}`, { disabled: !r.disabled }); await load(); },
        { name: r.disabled ? 'enable' : 'disable' }) : null,
      ctx.canEdit ? action('Delete', async () => { await api('DELETE', `service-accounts/${r.id}`); await load(); },
        { danger: true, name: 'delete', confirm: `Delete service account ${r.name}?` }) : null) });
    p.body.append(section('Users',
      ctx.canEdit ? form('user', [
        { name: 'name', label: 'Name', placeholder: 'alice', required: true },
        { name: 'email', label: 'Email (optional)', type: 'email', placeholder: 'alice@example.com' },
      ], 'Add user', async (v) => {
        await api('POST', 'users', v.email ? { name: v.name, email: v.email } : { name: v.name });
        await load();
        return `User ${v.name} added.`;
      }) : null,
      table(uCols, us, { name: 'users' })));
    p.body.append(section('Service accounts',
      ctx.canEdit ? form('service-account', [
        { name: 'name', label: 'Name', placeholder: 'ci', required: true },
        { name: 'groups', label: 'Groups (comma separated, optional)', placeholder: 'eng' },
      ], 'Create service account', async (v) => {
        const body = { name: v.name };
        const g = v.groups.split(/[\s,]+/).filter(Boolean);
        if (g.length) body.groups = g;
        const d = await api('POST', 'service-accounts', body);
        clear(p.notice).append(secretBox(`API key of ${v.name}`, [['API key', d.api_key, 'sa-key']]));
        await load();
      }) : null,
      table(sCols, sas, { name: 'service-accounts' })));
  }
  async function showKeys(sa) {
    const keys = await list(`service-accounts/${sa.id}/keys`, 'keys').catch(async () => {
      const d = await api('GET', `service-accounts/${sa.id}/keys`);
      return Object.values(d).find(Array.isArray) || [];
    });
    const cols = [
      { label: 'Key id', get: (k) => h('code', null, k.id) },
      { label: 'Created', get: (k) => fmtTime(k.created) },
      { label: 'Status', get: (k) => (k.revoked ? h('span', { class: 'bad' }, 'revoked') : 'active') },
    ];
    if (ctx.canEdit) {
      cols.push({ label: '', get: (k) => (k.revoked ? '' : action('Revoke', async () => {
        await api('DELETE', `service-accounts/${sa.id}/keys/${k.id}`);
        await showKeys(sa);
      }, { danger: true, name: 'revoke' })) });
    }
    clear(p.editor).append(section(`Keys of ${sa.name}`,
      ctx.canEdit ? action('New key', async () => {
        const d = await api('POST', `service-accounts/${sa.id}/keys`);
        clear(p.notice).append(secretBox(`New API key of ${sa.name}`, [['API key', d.api_key, 'sa-key']]));
        await showKeys(sa);
      }, { name: 'new-key' }) : null,
      table(cols, keys, { name: 'keys' }),
      action('Close', async () => clear(p.editor))));
  }
  await load();
}

export async function grants(main, ctx) {
  const p = page(main, 'Grants', 'A grant gives every member of a group access to one resource.');
  async function load() {
    const [ps, gs, rs] = await Promise.all([list('policies'), list('groups'), list('resources')]);
    const gMap = byId(gs), rMap = byId(rs);
    clear(p.body);
    const cols = [
      { label: 'Group', get: (x) => nameOf(gMap, x.group_id) },
      { label: 'Resource', get: (x) => nameOf(rMap, x.resource_id) },
      { label: 'Address', get: (x) => h('code', null, (rMap.get(x.resource_id) || {}).address || '') },
      { label: 'Created', get: (x) => fmtTime(x.created) },
    ];
    if (ctx.canEdit) {
      cols.push({ label: '', get: (x) => action('Delete', async () => { await api('DELETE', `policies/${x.id}`); await load(); },
        { danger: true, name: 'delete' }) });
    }
    p.body.append(section('Grants',
      ctx.canEdit ? (gs.length && rs.length ? form('grant', [
        { name: 'group', label: 'Group', options: gs.map((g) => [g.id, g.name]) },
        { name: 'resource', label: 'Resource', options: rs.map((r) => [r.id, r.name]) },
      ], 'Grant access', async (v) => { await api('POST', 'policies', { group: v.group, resource: v.resource }); await load(); })
        : h('p', { class: 'muted' }, 'Create a group and a resource first.')) : null,
      table(cols, ps, { name: 'grants' })));
  }
  await load();
}
