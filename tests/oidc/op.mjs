// A real OpenID Provider for the tests: the npm package oidc-provider (pinned
// in package-lock.json), over HTTPS with the test's CA, with users and groups.
//
//   node op.mjs CERT KEY SECRET PORTFILE
//
// Listens on 127.0.0.1:0 and writes the port to PORTFILE.  Clients
// "postern" (RS256 ID tokens), "postern-es" (ES256), "postern-ed" (EdDSA):
// confidential, client_secret_basic, native (any loopback port), with the
// code flow with PKCE, refresh tokens and the device grant.  Users log
// in through the provider's own (development) login and consent forms.
// Test controls (plain JSON, same server):
//   POST /test/users/ID {"groups": [...]}   set a user's groups
//   DELETE /test/users/ID                    remove the user
import fs from 'node:fs';
import https from 'node:https';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const [cert, key, secret, portFile] = process.argv.slice(2);
const users = {
  alice: { email: 'alice@example.com', name: 'Alice Example', groups: ['eng'] },
  bob: { email: 'bob@example.com', name: 'Bob Example', groups: ['staff'] },
  carol: { email: 'carol@example.com', name: 'Carol Admin', groups: ['postern-admins'] },
};

// One signing key per algorithm Postern accepts; each client below asks
// for its ID tokens in one of them.
const keyOf = (type, opts, kid, alg) => ({
  ...crypto.generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }),
  kid, use: 'sig', alg,
});
const keys = [keyOf('rsa', { modulusLength: 2048 }, 'op-rsa-1', 'RS256'),
  keyOf('ec', { namedCurve: 'P-256' }, 'op-ec-1', 'ES256'),
  keyOf('ed25519', {}, 'op-ed-1', 'EdDSA')];
const client = (id, alg) => ({
  client_id: id,
  client_secret: secret,
  application_type: 'native',
  // OP_REDIRECTS: more redirect URIs, comma separated (the admin console's)
  redirect_uris: ['http://127.0.0.1/callback',
    ...(process.env.OP_REDIRECTS ? process.env.OP_REDIRECTS.split(',') : [])],
  grant_types: ['authorization_code', 'refresh_token',
    'urn:ietf:params:oauth:grant-type:device_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: alg,
});

let issuer; // known once listening
const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) });
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  issuer = `https://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [client('postern', 'RS256'), client('postern-es', 'ES256'),
      client('postern-ed', 'EdDSA')],
    jwks: { keys },
    findAccount: async (ctx, id) => {
      if (!users[id]) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id, email: users[id].email, name: users[id].name,
          preferred_username: id, groups: [...users[id].groups],
        }),
      };
    },
    claims: {
      openid: ['sub'], email: ['email'], profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    conformIdTokenClaims: false, // groups in the ID token, where Postern reads them
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, deviceFlow: { enabled: true } },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: { IdToken: 300, AccessToken: 300, RefreshToken: 3600, DeviceCode: 300 },
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  const handler = provider.callback();
  server.on('request', (req, res) => {
    const m = req.url.match(/^\/test\/users\/([a-z]+)$/);
    if (!m) return handler(req, res);
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.method === 'DELETE') delete users[m[1]];
      else if (users[m[1]]) users[m[1]].groups = JSON.parse(body).groups;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, users: Object.keys(users) }));
    });
  });
  fs.writeFileSync(portFile, String(port));
  console.log(`op listening ${issuer}`);
});
