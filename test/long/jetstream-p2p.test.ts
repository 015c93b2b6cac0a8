// --p2p on a cluster of nodes over NATS: the nodes share the node key the libp2p peer id
// comes from, so one node runs libp2p. A second node started with --p2p stops at start
// and says which node runs it and what to do; once that node stops (or its claim lapses),
// another may take over, and a holder restarted from its data directory takes its claim back.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { natsUnavailable, startNatsCluster, type NatsCluster } from '../helpers/nats-servers.ts';
import { CLI } from '../helpers/node-process.ts';
import { startP2PNode } from '../helpers/p2p-node.ts';

const skip = natsUnavailable();
let nats: NatsCluster;

before(async () => {
  if (skip === undefined) nats = await startNatsCluster(1);
});

after(async () => {
  await nats?.stop();
});

/** Runs `parley serve --nats --p2p` expecting it to stop at start: its exit code and stderr. */
async function p2pServeFails(): Promise<{ code: number | null; stderr: string }> {
  const data = mkdtempSync(join(tmpdir(), 'parley-test-'));
  const args = ['serve', '--listen', '127.0.0.1:0', '--data', data, '--nats', nats.urls, '--p2p', '--no-mdns', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'];
  try {
    await promisify(execFile)(process.execPath, [CLI, ...args], { timeout: 30_000 });
    return { code: 0, stderr: '' };
  } catch (error) {
    return error as { code: number | null; stderr: string };
  }
}

test('a second node of the cluster started with --p2p exits 1 naming the node that runs it; the holder restarted takes its claim back, and once it stops another takes over', { skip }, async () => {
  const first = await startP2PNode(['--nats', nats.urls]);
  let firstStopped = false;
  try {
    const second = await p2pServeFails();
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /--p2p runs on one node of a NATS cluster only, and the node on \S+ \(key [0-9a-f]+\) runs it/);
    assert.match(second.stderr, /Start this node without --p2p/);
    // Killed, it leaves its claim; a restart from its data directory takes it back at once.
    await first.stop('SIGKILL');
    firstStopped = true;
    const again = await startP2PNode(['--nats', nats.urls, '--data', first.dataDir]);
    assert.equal(again.peerId, first.peerId, 'the same cluster key, the same peer id');
    await again.stop();
    // Stopped cleanly, it freed the claim: another node takes it.
    const other = await startP2PNode(['--nats', nats.urls]);
    assert.equal(other.peerId, first.peerId);
    await other.stop();
  } finally {
    if (!firstStopped) await first.stop();
  }
});
