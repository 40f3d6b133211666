// A deliberately wrong OpenID Provider for the negative tests: its own
// discovery, JWKS and token endpoint, answering ID tokens broken in the way
// the current mode says.  Tokens are signed here with node:crypto.
//
//   node evil.mjs CERT KEY PORTFILE
//
// GET /authorize  records state+nonce, redirects to redirect_uri with a code
// POST /token     answers {"id_token": ...} per mode (counts calls)
// GET /jwks       one RSA key "k1" (counts fetches)
// POST /test/mode?m=MODE, GET /test/stats
// Modes: good, wrong_aud, wrong_iss, none, hs256 (HMAC keyed with the RSA
// public key PEM), expired, nbf_future, unknown_kid, other_provider,
// replay_nonce (the nonce of the previous authorization request).
import fs from 'node:fs';
import https from 'node:https';
import crypto from 'node:crypto';

const [cert, key, portFile] = process.argv.slice(2);
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' };
const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
let mode = 'good';
let issuer;
const nonces = [];
const stats = { jwks: 0, token: 0, authorize: 0 };

const b64u = (b) => Buffer.from(b).toString('base64url');
function jws(header, claims, signer) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  return `${input}.${signer ? b64u(signer(Buffer.from(input))) : ''}`;
}
function idToken() {
  const now = Math.floor(Date.now() / 1000);
  const nonce = mode === 'replay_nonce' ? nonces[nonces.length - 2] : nonces[nonces.length - 1];
  const c = { iss: issuer, sub: `evil-${mode}`, aud: 'postern', exp: now + 300, iat: now, nonce,
    email: 'mallory@example.com', groups: ['eng'] };
  const h = { alg: 'RS256', kid: 'k1', typ: 'JWT' };
  const rs = (k) => (d) => crypto.sign('sha256', d, k);
  switch (mode) {
    case 'wrong_aud': c.aud = 'someone-else'; break;
    case 'wrong_iss': c.iss = 'https://evil.example'; break;
    case 'expired': c.exp = now - 3600; c.iat = now - 4000; break;
    case 'nbf_future': c.nbf = now + 3600; break;
    case 'none': return jws({ alg: 'none', kid: 'k1' }, c, null);
    case 'hs256':
      return jws({ alg: 'HS256', kid: 'k1' }, c,
        (d) => crypto.createHmac('sha256', pem).update(d).digest());
    case 'unknown_kid': return jws({ ...h, kid: 'k-rotated' }, c, rs(rsa.privateKey));
    case 'other_provider':
      c.iss = 'https://other-idp.example';
      return jws({ ...h, kid: 'o1' }, c, rs(other.privateKey));
    default: break;
  }
  return jws(h, c, rs(rsa.privateKey));
}

function json(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) },
  (req, res) => {
    const u = new URL(req.url, issuer);
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (u.pathname === '/.well-known/openid-configuration') {
        return json(res, 200, { issuer, authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` });
      }
      if (u.pathname === '/jwks') { stats.jwks++; return json(res, 200, { keys: [jwk] }); }
      if (u.pathname === '/authorize') {
        stats.authorize++;
        nonces.push(u.searchParams.get('nonce'));
        const to = new URL(u.searchParams.get('redirect_uri'));
        to.searchParams.set('code', `code-${stats.authorize}`);
        to.searchParams.set('state', u.searchParams.get('state'));
        res.writeHead(303, { location: to.href });
        return res.end();
      }
      if (u.pathname === '/token') {
        stats.token++;
        const f = new URLSearchParams(body);
        if (f.get('grant_type') !== 'authorization_code' || !f.get('code_verifier')) {
          return json(res, 400, { error: 'invalid_grant' });
        }
        return json(res, 200, { access_token: 'at', token_type: 'Bearer', id_token: idToken() });
      }
      if (u.pathname === '/test/mode') { mode = u.searchParams.get('m'); return json(res, 200, { mode }); }
      if (u.pathname === '/test/stats') return json(res, 200, stats);
      return json(res, 404, { error: 'not_found' });
    });
  });
server.listen(0, '127.0.0.1', () => {
  issuer = `https://127.0.0.1:${server.address().port}`;
  fs.writeFileSync(portFile, String(server.address().port));
  console.log(`evil provider at ${issuer}`);
});
