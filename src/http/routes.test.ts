import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { MemoryStore } from '../store/memory-store.ts';
import { StoreError } from '../store/store-error.ts';
import { queryApi } from './api.ts';
import { publishApi } from './publish.ts';
import { createRequestHandler, type RouteDependencies } from './routes.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-routes-'));
writeFileSync(join(root, 'index.html'), '<p>hi</p>\n');

let fresh: (channel: string) => Promise<void> = () => Promise.resolve();
let metricsText: () => Promise<string> = () => Promise.resolve('parley_up 1\n');
const deps: RouteDependencies = {
  log: pino({ level: 'silent' }),
  health: () => ({ connections: 3, channels: 2, peers: 1 }),
  metrics: { contentType: 'text/plain; version=0.0.4', metrics: () => metricsText() },
  routes: [
    publishApi({ publish: (_request, _except, done) => done(new StoreError('full', 'SQLITE_FULL: database or disk is full')) }, undefined, 1024),
    queryApi(new MemoryStore({ nodeId: '0'.repeat(32) }), undefined, (channel) => fresh(channel)),
  ],
  site: { root, perHost: false, domains: [] },
};

let server: Server;
let base: string;
before(async () => {
  server = createServer(createRequestHandler(deps)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

test('healthz reports the counts it is given', async () => {
  const res = await fetch(`${base}/healthz?x=1`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(await res.text(), '{"status":"ok","connections":3,"channels":2,"peers":1}\n');
});

test('only GET and HEAD', async () => {
  const res = await fetch(`${base}/healthz`, { method: 'POST' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET, HEAD');
  assert.equal(await res.text(), 'method not allowed\n');
});

test('metrics: the registry text, or 500 when it fails', async () => {
  let res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4');
  assert.equal(await res.text(), 'parley_up 1\n');
  metricsText = () => Promise.reject(new Error('boom'));
  res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 500);
  assert.equal(await res.text(), 'metrics failed\n');
});

test('/v1 queries the store after asking for freshness', async () => {
  const asked: string[] = [];
  fresh = (channel) => (asked.push(channel), Promise.resolve());
  const res = await fetch(`${base}/v1/channels/lobby/messages`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { messages: [], first: 1, newest: 0, last: true });
  assert.deepEqual(asked, ['lobby']);
  assert.equal((await fetch(`${base}/v1/other`)).status, 404);
});

test('/v1: a store failure is 503 with its code, anything else 500', async () => {
  fresh = () => Promise.reject(new StoreError('full', 'SQLITE_FULL: database or disk is full'));
  let res = await fetch(`${base}/v1/channels/lobby/messages`);
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { error: 'store full: SQLITE_FULL: database or disk is full', storeCode: 'full' });
  fresh = () => Promise.reject(new Error('bug'));
  res = await fetch(`${base}/v1/channels/lobby/messages`);
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), { error: 'internal error' });
  fresh = () => Promise.resolve();
});

test('anything else is a static file', async () => {
  let res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '<p>hi</p>\n');
  res = await fetch(`${base}/missing.txt`);
  assert.equal(res.status, 404);
  assert.equal(await res.text(), 'not found\n');
});

test('a POST reaches the route that takes it; a publish the store refuses gets 503 with its storeCode', async () => {
  const res = await fetch(`${base}/v1/channels/c/messages?uid=u`, { method: 'POST', body: 'hi' });
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { error: 'store full: SQLITE_FULL: database or disk is full', storeCode: 'full' });
  const other = await fetch(`${base}/v1/channels`, { method: 'POST', body: 'hi' });
  assert.deepEqual([other.status, other.headers.get('allow')], [405, 'GET, HEAD']);
  await other.text();
});
