// The store under Mles clients: history comes from SQLite, so it survives restarts,
// and a kill -9 loses nothing a client has seen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MlesTestClient } from '../helpers/mles-client.ts';
import { startNode } from '../helpers/node-process.ts';

test('Mles history survives a restart of the node', async () => {
  const first = await startNode(['--limit', '10']);
  const a = await MlesTestClient.join(first.wsUrl, { uid: 'a', channel: 'durable' });
  const b = await MlesTestClient.join(first.wsUrl, { uid: 'b', channel: 'durable' });
  await b.waitFor(1);
  for (const text of ['one', 'two', 'three']) a.send(text);
  await b.waitForText('three');
  assert.equal(await first.stop(), 0);
  assert.ok(existsSync(join(first.dataDir, 'parley.db')));
  assert.ok(existsSync(join(first.dataDir, 'node.key')));

  const second = await startNode(['--limit', '10', '--data', first.dataDir]);
  const c = await MlesTestClient.join(second.wsUrl, { uid: 'c', channel: 'durable' });
  await c.waitFor(5);
  assert.deepEqual(c.texts(), ['{"uid":"a","channel":"durable"}', '{"uid":"b","channel":"durable"}', 'one', 'two', 'three']);
  await c.close();
  await second.stop();
});

test('what a client saw is still there after kill -9', async () => {
  const first = await startNode();
  const a = await MlesTestClient.join(first.wsUrl, { uid: 'a', channel: 'crash' });
  const b = await MlesTestClient.join(first.wsUrl, { uid: 'b', channel: 'crash' });
  await b.waitFor(1);
  for (let i = 0; i < 50; i++) a.send(`m${i}`);
  await b.waitForText('m49');
  await first.stop('SIGKILL');
  const second = await startNode(['--limit', '100', '--data', first.dataDir]);
  const c = await MlesTestClient.join(second.wsUrl, { uid: 'c', channel: 'crash' });
  await c.waitFor(52);
  assert.deepEqual(c.texts().slice(2), Array.from({ length: 50 }, (_, i) => `m${i}`));
  await c.close();
  await second.stop();
});

test('--memory keeps nothing across a restart', async () => {
  const first = await startNode(['--memory']);
  const a = await MlesTestClient.join(first.wsUrl, { uid: 'a', channel: 'gone' });
  a.send('x');
  const b = await MlesTestClient.join(first.wsUrl, { uid: 'b', channel: 'gone' });
  await b.waitForText('x');
  await first.stop();
  assert.equal(existsSync(join(first.dataDir, 'parley.db')), false);
  const second = await startNode(['--memory', '--data', first.dataDir]);
  const c = await MlesTestClient.join(second.wsUrl, { uid: 'c', channel: 'gone' });
  const d = await MlesTestClient.join(second.wsUrl, { uid: 'd', channel: 'gone' });
  await d.waitFor(1);
  assert.deepEqual(c.texts(), []);
  await Promise.all([c.close(), d.close()]);
  await second.stop();
});
