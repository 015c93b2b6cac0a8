// Operating a node: health and metrics endpoints, static files, slow readers, and
// graceful shutdown, each against a real node process.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlesTestClient } from './helpers/mles-client.ts';
import { clientFrame, rawUpgrade } from './helpers/raw-ws.ts';
import { OP_TEXT } from '../src/websocket/frame.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';

/** Sends a raw HTTP request (no client-side path normalisation) and returns the status. */
async function rawStatus(port: number, path: string, method = 'GET'): Promise<number> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  let response = '';
  for await (const chunk of socket) response += String(chunk);
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
}

describe('http endpoints and static files', () => {
  let node: NodeProcess;
  let wwwroot: string;
  before(async () => {
    wwwroot = mkdtempSync(join(tmpdir(), 'parley-www-'));
    mkdirSync(join(wwwroot, 'sub'));
    writeFileSync(join(wwwroot, 'index.html'), '<h1>custom</h1>');
    writeFileSync(join(wwwroot, 'sub', 'app.js'), 'export {}');
    symlinkSync('/etc/passwd', join(wwwroot, 'escape'));
    node = await startNode(['--wwwroot', wwwroot]);
  });
  after(() => node.stop());

  test('/healthz answers ok with counts', async () => {
    const response = await fetch(new URL('/healthz', node.url));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok', connections: 0, channels: 0, peers: 0 });
  });

  test('/metrics exposes the node counters in Prometheus text', async () => {
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 'm' });
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 'm' });
    a.send('12345');
    await b.waitForText('12345');
    const response = await fetch(new URL('/metrics', node.url));
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const text = await response.text();
    for (const pattern of [
      /^parley_connections 2$/m,
      /^parley_channels_active 1$/m,
      /^parley_frames_in_total 3$/m, // two headers and one frame
      /^parley_frames_out_total 2$/m, // a's header replayed to b, then the frame
      /^parley_history_frames 1$/m, // the one message: join headers are not messages
      /^parley_history_bytes \d+$/m,
      /^parley_slow_consumers_dropped_total 0$/m,
      /^process_resident_memory_bytes \d+$/m,
      /^parley_store_commit_seconds_count [1-9]\d*$/m,
    ]) {
      assert.match(text, pattern);
    }
    await Promise.all([a.close(), b.close()]);
  });

  test('serves files from --wwwroot, index.html for directories', async () => {
    const index = await fetch(node.url);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(await index.text(), '<h1>custom</h1>');
    const script = await fetch(new URL('/sub/app.js', node.url));
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(new URL('/missing.txt', node.url))).status, 404);
  });

  test('never serves a file outside the root', async () => {
    for (const path of ['/../package.json', '/sub/../../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/escape']) {
      const status = await rawStatus(node.port, path);
      assert.ok(status === 403 || status === 404, `${path} gave ${status}`);
    }
    assert.equal(await rawStatus(node.port, '/%E0%A4%A'), 400);
  });

  test('other methods get 405', async () => {
    assert.equal(await rawStatus(node.port, '/', 'POST'), 405);
  });
});

describe('the bundled chat page', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode()));
  after(() => node.stop());

  test('is served at / when no wwwroot is given', async () => {
    const response = await fetch(node.url);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /<html/i);
  });
});

describe('slow readers', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode(['--max-buffered', '262144', '--history-bytes', '65536', '--limit', '0'])));
  after(() => node.stop());

  test('a client that never reads is dropped; the others get everything', async () => {
    // A raw connection that completes the handshake and joins, then stops reading.
    const stalled = await rawUpgrade(node.port);
    await once(stalled, 'data'); // 101 Switching Protocols
    stalled.write(clientFrame(OP_TEXT, '{"uid":"stalled","channel":"flood"}'));
    stalled.pause();

    const publisher = await MlesTestClient.join(node.wsUrl, { uid: 'pub', channel: 'flood' });
    const reader = await MlesTestClient.join(node.wsUrl, { uid: 'reader', channel: 'flood' });
    const payload = Buffer.alloc(64 * 1024, 7);
    const count = 400; // 25 MiB: far past what socket buffers hold
    // The reader shares this process with the publisher, so keep at most two frames in
    // flight: a well-behaved reader must never come near its own --max-buffered.
    for (let i = 0; i < count; i++) {
      publisher.send(payload);
      if (i >= 2) await reader.waitFor(i - 1, 20_000);
    }
    await reader.waitFor(count, 20_000);
    assert.equal(reader.received.length, count);

    const metrics = await (await fetch(new URL('/metrics', node.url))).text();
    assert.match(metrics, /^parley_slow_consumers_dropped_total 1$/m);
    assert.match(metrics, /^parley_rejected_total\{reason="TOO_SLOW"\} 1$/m);
    stalled.resume();
    await once(stalled, 'close');
    await Promise.all([publisher.close(), reader.close()]);
  });
});

describe('keepalive', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode(['--ping-interval', '1'])));
  after(() => node.stop());

  test('a client that never answers pings is dropped; one that does stays', async () => {
    const silent = await MlesTestClient.join(node.wsUrl, { uid: 'silent', channel: 'k' }, { autoPong: false });
    const lively = await MlesTestClient.join(node.wsUrl, { uid: 'lively', channel: 'k' });
    let pings = 0;
    silent.ws.on('ping', () => pings++);
    assert.deepEqual(await silent.closed, { code: 1001, reason: 'no pong' });
    assert.equal(pings, 3);
    lively.send('still alive');
    const check = await MlesTestClient.join(node.wsUrl, { uid: 'check', channel: 'k' });
    await check.waitForText('still alive');
    await Promise.all([lively.close(), check.close()]);
  });

  test("a client's ping is answered, not relayed", async () => {
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 'p' });
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 'p' });
    await b.waitFor(1);
    const pong = once(a.ws, 'pong');
    a.ws.ping('are you there');
    assert.equal(String((await pong)[0]), 'are you there');
    a.send('after ping');
    await b.waitForText('after ping');
    assert.deepEqual(b.texts().slice(1), ['after ping']);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM closes clients with 1001 and exits 0', async () => {
    const node = await startNode();
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 's' });
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 's' });
    await b.waitFor(1);
    const code = await node.stop('SIGTERM');
    assert.equal(code, 0);
    assert.deepEqual(await a.closed, { code: 1001, reason: 'node shutting down' });
    assert.deepEqual(await b.closed, { code: 1001, reason: 'node shutting down' });
  });

  test('SIGINT does the same', async () => {
    const node = await startNode();
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 's' });
    assert.equal(await node.stop('SIGINT'), 0);
    assert.equal((await a.closed).code, 1001);
  });
});
