// Queries of channel names nobody ever used cost the node nothing it keeps: without
// MLES_KEY anyone may send them, so memory that grew with each distinct name would let
// any client exhaust the node.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, type NodeProcess } from '../helpers/node-process.ts';

/** Long names make anything kept per name show in the process's memory. */
const NAME_LENGTH = 1000;
const WARM_UP = 5_000;
const QUERIES = 40_000;
const CONCURRENCY = 8;
/** What the queries may add to the resident set: heap settling, not a record per name. */
const ALLOWED_GROWTH = 30 * 1024 * 1024;

let node: NodeProcess;
before(async () => (node = await startNode()));
after(() => node.stop());

async function residentBytes(): Promise<number> {
  const text = await (await fetch(new URL('/metrics', node.url))).text();
  const match = /^process_resident_memory_bytes (\d+)$/m.exec(text);
  assert.ok(match, 'the metrics show the resident set');
  return Number(match[1]);
}

/** GETs the messages of `count` distinct made-up channels, `CONCURRENCY` at a time. */
async function queryMadeUpChannels(prefix: string, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const name = `${prefix}-${next++}-`.padEnd(NAME_LENGTH, 'x');
      const response = await fetch(new URL(`/v1/channels/${name}/messages?before=10`, node.url));
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { messages: [], first: 1, newest: 0, last: true });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

test(`${QUERIES} queries of made-up channel names leave the memory where it was`, async () => {
  await queryMadeUpChannels('warm', WARM_UP);
  const baseline = await residentBytes();
  await queryMadeUpChannels('probe', QUERIES);
  const grown = (await residentBytes()) - baseline;
  console.log(`resident set: ${(baseline / 2 ** 20).toFixed(1)} MiB after the warm-up, grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(grown < ALLOWED_GROWTH, `grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
});
