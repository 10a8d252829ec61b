// A real OpenID Connect provider for wasmesh's end-to-end tests: the certified `oidc-provider`
// package, mounted at /realms/<realm> (Keycloak's layout, which the openid-connect plugin
// discovers by default), with one confidential client and a login form that accepts any user
// whose password is "wonderland". Consent is granted without asking.
//
//   node provider.mjs PORT REALM CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// Prints "READY <issuer>" on stdout once it listens on 127.0.0.1:PORT.

import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const [port, realm, clientId, clientSecret, redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error('usage: node provider.mjs PORT REALM CLIENT_ID CLIENT_SECRET REDIRECT_URI');
  process.exit(2);
}
const prefix = `/realms/${realm}`;
const issuer = `http://127.0.0.1:${port}${prefix}`;
const PASSWORD = 'wonderland';

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
  claims: { openid: ['sub'], profile: ['name'] },
  async findAccount(_ctx, id) {
    return { accountId: id, claims: async () => ({ sub: id, name: id }) };
  },
});

function html(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(body);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

// The interaction pages: a login form, and consent granted at once.
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return html(res, 400, 'interaction mismatch');
  const { prompt, params, session } = details;
  if (prompt.name === 'login' && req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    if (!form.get('login') || form.get('password') !== PASSWORD) {
      return html(res, 401, '<p>Wrong user name or password.</p>');
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.get('login') } },
      { mergeWithLastSubmission: false });
  }
  if (prompt.name === 'login') {
    return html(res, 200, `<form method="post" action="${prefix}/interaction/${uid}/login">
      <input name="login"> <input name="password" type="password"> <button>Log in</button></form>`);
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return html(res, 400, `unexpected prompt ${prompt.name}`);
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (!url.pathname.startsWith(prefix)) return html(res, 404, 'not found');
    const match = url.pathname.slice(prefix.length).match(/^\/interaction\/([^/]+)(?:\/(login))?$/);
    if (match) return await interaction(req, res, match[1], match[2]);
    // Mounted under the prefix: oidc-provider finds its mount path from originalUrl.
    req.originalUrl = req.url;
    req.url = req.url.slice(prefix.length) || '/';
    return callback(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) html(res, 500, String(err));
  }
});
server.listen(Number(port), '127.0.0.1', () => console.log(`READY ${issuer}`));
