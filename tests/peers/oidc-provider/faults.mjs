// A provider's authorization server that misbehaves on request, for the sync tests:
// oauth2-mock-server (npm) on a loopback port, with a control endpoint in front.
//   POST /test/faults  {"faults": [{"kind": ...}, ...]}  queue faults for the next
//                      token requests, one each: "invalid_grant", "status" (with
//                      "status"), "slow" (with "seconds"), "expires_in" (with "value")
//   GET  /test/log     the token and revocation requests so far (grant type, which
//                      refresh token was presented, what was answered)
// Its refresh tokens rotate: every token answer carries a new one.
// Prints "listening <port>" once ready.
import http from 'node:http';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256');
const service = new OAuth2Service(issuer);
const handler = service.requestHandler;
const faults = [];
const log = [];

function body(req) {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (chunk) => { text += chunk; });
    req.on('end', () => resolve(text));
  });
}

// Every token answer, kept by reference: a fault's hook may still change it.
service.on('beforeResponse', (response, req) => {
  const form = req.body ?? {};
  log.push({
    endpoint: 'token',
    grant_type: form.grant_type ?? null,
    refresh_token: form.refresh_token ?? null,
    client_id: form.client_id ?? null,
    response,
  });
});

function shown(entry) {
  if (!entry.response) return entry;
  const { response, ...rest } = entry;
  return {
    ...rest,
    status: response.statusCode,
    refresh_token_issued: response.body?.refresh_token ?? null,
    access_token_issued: response.body?.access_token ?? null,
  };
}

const server = http.createServer(async (req, res) => {
  if (req.url === '/test/faults' && req.method === 'POST') {
    faults.push(...JSON.parse(await body(req)).faults);
    res.end('{}');
    return;
  }
  if (req.url === '/test/log') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(log.map(shown)));
    return;
  }
  if (req.url.startsWith('/token') && req.method === 'POST') {
    const fault = faults.shift();
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.seconds * 1000));
    if (fault?.kind === 'status') {
      log.push({ endpoint: 'token', status: fault.status });
      res.statusCode = fault.status;
      res.setHeader('Content-Type', 'application/json');
      res.end('{"error":"server_error"}');
      return;
    }
    if (fault?.kind === 'invalid_grant') {
      service.once('beforeResponse', (response) => {
        response.statusCode = 400;
        response.body = { error: 'invalid_grant', error_description: 'revoked' };
      });
    }
    if (fault?.kind === 'expires_in') {
      service.once('beforeResponse', (response) => { response.body.expires_in = fault.value; });
    }
  }
  if (req.url.startsWith('/revoke')) log.push({ endpoint: 'revoke' });
  handler(req, res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
issuer.url = `http://127.0.0.1:${server.address().port}`;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
console.log(`listening ${server.address().port}`);
