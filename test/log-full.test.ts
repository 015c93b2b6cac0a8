// A node whose log (stdout) is a file on a full 1 MB filesystem, driven with traffic
// that logs: refused upgrades and bad hellos by the hundred. Logging must never stop
// the node: it stays up, /healthz answers at once, messages are still stored and
// served, and what the log lost is counted in /metrics and reported once it can be
// written again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, rmSync, statfsSync, watch, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { NativeTestClient } from './helpers/native-client.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';
import { canMount, mountTmpfs } from './helpers/tmpfs.ts';

/** An upgrade offering `protocol` (none by default): refused, and logged ('upgrade refused'). */
async function refusedUpgrade(port: number, protocol?: string): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.resume();
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      (protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${protocol}\r\n`) +
      '\r\n',
  );
  await once(socket, 'close');
}

/** Milliseconds /healthz takes to answer 200. */
async function healthz(node: NodeProcess): Promise<number> {
  const started = performance.now();
  const response = await fetch(new URL('/healthz', node.url), { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  await response.text();
  return performance.now() - started;
}

/** Fills the filesystem: writes until the OS says there is no space left. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  try {
    writeFileSync(path, Buffer.alloc(statfsSync(dir).bsize * (statfsSync(dir).blocks + 1)));
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  assert.equal(statfsSync(dir).bavail, 0);
  return path;
}

/** Resolves once the file contains `text`, watching it for changes. */
async function fileContains(path: string, text: string, timeoutMs: number): Promise<void> {
  const watcher = watch(path);
  try {
    const deadline = AbortSignal.timeout(timeoutMs);
    while (!readFileSync(path, 'utf8').includes(text)) {
      await Promise.race([once(watcher, 'change', { signal: deadline })]);
    }
  } finally {
    watcher.close();
  }
}

function metric(text: string, name: string, reason: string): number {
  const match = new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return match === null ? Number.NaN : Number(match[1]);
}

test('a full log disk neither stops nor stalls the node', { skip: !canMount && 'mounting a tmpfs needs root', timeout: 120_000 }, async (t) => {
  const disk = mountTmpfs(1024 * 1024);
  const nodes: NodeProcess[] = [];
  t.after(async () => {
    for (const node of nodes) await node.stop('SIGKILL');
    disk.unmount();
  });
  const logFile = join(disk.dir, 'parley.log');
  const fd = openSync(logFile, 'a');
  const node = await startNode(['--rate-limit', '0'], {}, 10_000, { stdout: fd });
  closeSync(fd);
  nodes.push(node);
  const filler = fill(disk.dir);

  // Hundreds of lines to log, in parallel waves, with /healthz asked during each wave.
  const latencies: number[] = [];
  for (let wave = 0; wave < 10; wave++) {
    const refusals = Array.from({ length: 50 }, () => refusedUpgrade(node.port));
    latencies.push(await healthz(node));
    await Promise.all(refusals);
  }
  const bad = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const client = new NativeTestClient(node.wsUrl);
      await once(client.ws, 'open');
      client.ws.send('not cbor', { binary: false }); // refused: BAD_HELLO
      return client.closed.then(() => i);
    }),
  );
  assert.equal(bad.length, 50);
  latencies.push(await healthz(node));
  t.diagnostic(`/healthz with the log disk full: max ${Math.max(...latencies).toFixed(1)} ms over ${latencies.length} asks`);
  assert.ok(Math.max(...latencies) < 2000, `slowest /healthz took ${Math.max(...latencies)} ms`);

  // Still storing and serving messages.
  const client = await NativeTestClient.connect(node.wsUrl, 'still-here');
  client.send({ t: 'pub', ch: 'alive', cid: 'c1', p: Buffer.from('hello') });
  const ack = await client.next((f) => f.t === 'ack' && f.cid === 'c1');
  client.send({ t: 'query', qid: 'q', ch: 'alive', after: 0, limit: 10 });
  const page = await client.next((f) => f.t === 'page' && f.qid === 'q');
  assert.deepEqual((page.msgs as Array<{ seq: number }>).map((m) => m.seq), [ack.seq]);
  await client.close();

  const metrics = await (await fetch(new URL('/metrics', node.url))).text();
  const failed = metric(metrics, 'parley_log_lines_dropped_total', 'write_failed');
  const repeated = metric(metrics, 'parley_log_lines_dropped_total', 'repeated');
  t.diagnostic(`log lines dropped: ${failed} failed to write, ${repeated} repeats held back`);
  assert.ok(failed > 0);
  assert.ok(repeated > 0);

  // Space again: the next line is written (one of a kind not held back as a repeat),
  // after one saying what was lost.
  rmSync(filler);
  await refusedUpgrade(node.port, 'mqtt');
  await fileContains(logFile, '"msg":"log lines were lost: writing the log failed"', 10_000);
  const lost = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('log lines were lost'))
    .map((line) => JSON.parse(line) as { dropped: number; code: string });
  assert.equal(lost[0]!.code, 'ENOSPC');
  assert.ok(lost[0]!.dropped > 0);
  assert.equal(await node.stop(), 0);
});
