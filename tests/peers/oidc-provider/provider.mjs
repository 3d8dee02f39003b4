// A provider's authorization server for the sync tests: oidc-provider (a certified
// OAuth 2.0 / OpenID Connect server) on a loopback port, with pgo-service registered
// as a public client (authorization code + PKCE S256, rotating refresh tokens,
// RFC 7009 revocation). Login and consent are completed programmatically: a GET of
// the interaction URL logs in the account named by the X-Test-Account header (or
// declines with X-Test-Deny) and grants what was asked, so a test follows redirects
// with a cookie jar and needs no browser.
//
// Environment: CLIENT_ID, REDIRECT_URI, SCOPES (space separated), ACCESS_TTL (seconds).
// Prints "listening <port>" once ready.
import http from 'node:http';
import Provider from 'oidc-provider';

const clientId = process.env.CLIENT_ID ?? 'pgo.example';
const redirectUri = process.env.REDIRECT_URI ?? 'http://127.0.0.1/sync/callback';
const scopes = (process.env.SCOPES ?? '').split(/\s+/).filter(Boolean);
const accessTtl = Number(process.env.ACCESS_TTL ?? 900);

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: clientId,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [redirectUri],
    },
  ],
  scopes: ['openid', 'offline_access', ...scopes],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: accessTtl,
    AuthorizationCode: 60,
    RefreshToken: 180 * 86400,
    Grant: 180 * 86400,
    Interaction: 600,
    Session: 600,
  },
  cookies: { keys: ['pgo-test-peer-cookie-key'] },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
});
const callback = provider.callback();

async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.headers['x-test-deny']) {
    const denied = { error: 'access_denied', error_description: 'the person declined' };
    await provider.interactionFinished(req, res, denied, { mergeWithLastSubmission: false });
    return;
  }
  if (details.prompt.name === 'login') {
    const accountId = String(req.headers['x-test-account'] ?? 'client-1');
    await provider.interactionFinished(req, res, { login: { accountId } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, wanted] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, wanted.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, {
    mergeWithLastSubmission: true,
  });
}

server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interact(req, res).catch((error) => {
      res.statusCode = 500;
      res.end(String(error));
    });
    return;
  }
  callback(req, res);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
console.log(`listening ${port}`);
