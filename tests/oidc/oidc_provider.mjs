// Test-only OpenID provider for tests/integration/test_oidc.c (never shipped).
//
//   node oidc_provider.mjs PORT CERT KEY CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// Serves on https://127.0.0.1:PORT (loopback only):
//   /          the real npm oidc-provider (issuer https://127.0.0.1:PORT), one
//              confidential client (client_secret_basic, PKCE required), one
//              account; its interaction endpoint signs the account in and
//              grants consent at once, so curl or a headless browser can run
//              the whole authorization-code flow by following redirects;
//   /fake/...  a minimal hand-written OP (issuer https://127.0.0.1:PORT/fake)
//              whose token endpoint answers the ID token the test asks for
//              (POST /test/fake-next): wrong audience, expired, a bad
//              signature, another issuer, a replayed nonce, alg none, a code
//              that answers twice (reuse_code);
//   /test/...  control: POST /test/account {amr, groups, sub, preferred_username},
//              POST /test/sign {header?, claims} -> {jwt} signed with the
//              provider's RS256 key (logout tokens), GET /test/ready.
// Prints "ready" on stdout once listening. Stopped by the test with SIGTERM.
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const [port, certFile, keyFile, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `https://127.0.0.1:${port}`;
const fakeIssuer = `${issuer}/fake`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
const publicJwk = { kty: jwk.kty, n: jwk.n, e: jwk.e, kid: jwk.kid, alg: 'RS256', use: 'sig' };

const account = {
  sub: 'olivia-sub-1',
  preferred_username: 'olivia',
  email: 'olivia@example.org',
  name: 'Olivia Test',
  groups: ['ward7'],
  amr: ['pwd', 'mfa'],
};

const b64 = (b) => Buffer.from(b).toString('base64url');
function sign(header, claims, key = privateKey) {
  const h = b64(JSON.stringify({ alg: 'RS256', kid: 'k1', typ: 'JWT', ...header }));
  const c = b64(JSON.stringify(claims));
  const s = crypto.sign('sha256', Buffer.from(`${h}.${c}`), key);
  return `${h}.${c}.${b64(s)}`;
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub', 'amr', 'acr'],
    profile: ['preferred_username', 'name', 'groups'],
    email: ['email'],
  },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: account.preferred_username,
          name: account.name,
          email: account.email,
          groups: account.groups,
        };
      },
    };
  },
});
provider.proxy = false;
if (process.env.PV_OP_DEBUG) {
  provider.on('grant.success', (ctx) => {
    const t = ctx.body && ctx.body.id_token;
    if (t) process.stdout.write('id_token ' + Buffer.from(t.split('.')[1], 'base64url').toString() + '\n');
  });
}

// The interaction: sign the account in (with its amr), then grant consent.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(req, res, {
      login: { accountId: account.sub, amr: account.amr },
    }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } },
    { mergeWithLastSubmission: true });
}

// ---- the fake OP ----
let fakeNext = {};          // what the next token response holds
let lastNonce = null;       // the nonce of the latest /fake/authorize
let prevNonce = null;       // the one before (a replayed nonce)
const fakeCodes = new Map();

function fake(req, res, url, body) {
  const p = url.pathname.slice('/fake'.length);
  if (p === '/.well-known/openid-configuration') {
    return json(res, 200, {
      issuer: fakeNext.discovery_issuer || fakeIssuer,
      authorization_endpoint: `${fakeIssuer}/authorize`,
      token_endpoint: `${fakeIssuer}/token`,
      jwks_uri: `${fakeIssuer}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  }
  if (p === '/jwks') return json(res, 200, { keys: [publicJwk] });
  if (p === '/authorize') {
    prevNonce = lastNonce;
    lastNonce = url.searchParams.get('nonce');
    const code = crypto.randomBytes(16).toString('hex');
    fakeCodes.set(code, lastNonce);
    const to = new URL(url.searchParams.get('redirect_uri'));
    to.searchParams.set('code', code);
    to.searchParams.set('state', url.searchParams.get('state'));
    res.writeHead(302, { Location: to.toString() });
    return res.end();
  }
  if (p === '/token') {
    const form = new URLSearchParams(body);
    const auth = req.headers.authorization || '';
    const want = 'Basic ' + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    if (auth !== want || !form.get('code_verifier')) return json(res, 401, { error: 'invalid_client' });
    const nonce = fakeCodes.get(form.get('code'));
    if (nonce === undefined) return json(res, 400, { error: 'invalid_grant' });
    // reuse_code: the code answers twice (phivault's own single use is what is tested)
    if (!fakeNext.reuse_code) fakeCodes.delete(form.get('code'));
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: fakeIssuer, sub: account.sub, aud: clientId, iat: now, exp: now + 300,
      nonce: fakeNext.replay_nonce ? prevNonce : nonce,
      preferred_username: account.preferred_username, groups: account.groups, amr: account.amr,
      ...(fakeNext.claims || {}),
    };
    let jwt = sign(fakeNext.header || {}, claims);
    if (fakeNext.corrupt) {
      const parts = jwt.split('.');
      const sig = Buffer.from(parts[2], 'base64url');
      sig[10] ^= 1;
      jwt = `${parts[0]}.${parts[1]}.${b64(sig)}`;
    }
    if (fakeNext.alg_none) {
      const parts = jwt.split('.');
      jwt = `${b64(JSON.stringify({ alg: 'none' }))}.${parts[1]}.`;
    }
    return json(res, 200, { access_token: 'at', token_type: 'Bearer', id_token: jwt });
  }
  return json(res, 404, { error: 'not_found' });
}

function json(res, status, obj) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(obj));
}

const handler = provider.callback();
const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) },
  (req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname.startsWith('/interaction/')) {
      interaction(req, res).catch((e) => json(res, 500, { error: String(e) }));
      return;
    }
    if (url.pathname.startsWith('/test/') || url.pathname.startsWith('/fake/')) {
      let body = '';
      req.on('data', (d) => { body += d; if (body.length > 65536) req.destroy(); });
      req.on('end', () => {
        try {
          if (url.pathname.startsWith('/fake/')) return fake(req, res, url, body);
          if (url.pathname === '/test/ready') return json(res, 200, { ok: true });
          const o = body ? JSON.parse(body) : {};
          if (url.pathname === '/test/account') {
            Object.assign(account, o);
            return json(res, 200, account);
          }
          if (url.pathname === '/test/fake-next') {
            fakeNext = o;
            return json(res, 200, {});
          }
          if (url.pathname === '/test/sign') return json(res, 200, { jwt: sign(o.header || {}, o.claims) });
          return json(res, 404, { error: 'not_found' });
        } catch (e) {
          return json(res, 400, { error: String(e) });
        }
      });
      return;
    }
    handler(req, res);
  });
server.listen(Number(port), '127.0.0.1', () => { process.stdout.write('ready\n'); });
// the test's process gone (it failed): stop too
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
process.on('SIGTERM', () => server.close(() => process.exit(0)));
