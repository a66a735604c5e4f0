// A tiny OpenID provider for the identity tests: the certified node-oidc-provider with a login form that
// checks passwords, three accounts and a "groups" claim. Usage: node oidc_provider.mjs PORT CLIENT SECRET REDIRECT
import http from 'node:http';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const accounts = {
  alice: { password: 'alice-secret-1', name: 'Alice Zhang', email: 'alice@example.org', groups: ['lims-techs', 'site-zj'] },
  bob: { password: 'bob-secret-22', name: 'Bob Stranger', email: 'bob@example.org', groups: ['canteen'] },
  carol: { password: 'carol-secret-3', name: 'Carol Left', email: 'carol@example.org', groups: ['lims-techs'], disabled: true },
  dora: { password: 'dora-secret-44', name: 'Dora Manager', email: 'dora@example.org', groups: ['lims-managers', 'site-zj', 'site-nb'] },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri],
    grant_types: ['authorization_code'], response_types: ['code'],
  }],
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'], groups: ['groups'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  cookies: { keys: ['identity-tests-only'] },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: account.name, email: account.email, groups: account.groups };
      },
    };
  },
  async loadExistingGrant(ctx) {
    // A first-party client: no consent screen.
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email groups');
    grant.addOIDCClaims(['preferred_username', 'name', 'email', 'groups']);
    await grant.save();
    return grant;
  },
});

function page(res, uid, message) {
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><title>Test IdP</title><h1>Test identity provider</h1>
<p id="message">${message}</p>
<form method="post" action="/interaction/${uid}/login">
<label>Login <input name="login" id="login"></label>
<label>Password <input type="password" name="password" id="password"></label>
<button type="submit">Sign in</button></form>`);
}

function body(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(new URLSearchParams(data)));
  });
}

const callback = provider.callback();
http.createServer(async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  if (!path.startsWith('/interaction/')) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method !== 'POST') return page(res, details.uid, '');
    const form = await body(req);
    const login = form.get('login');
    const account = accounts[login];
    if (!account || account.password !== form.get('password')) return page(res, details.uid, 'Invalid login or password.');
    if (account.disabled) {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the account is disabled' },
        { mergeWithLastSubmission: false });
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.statusCode = 400;
    res.end(`interaction error: ${err}`);
  }
}).listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
