// Chaos: five nodes in a full mesh, every link through a proxy that can be cut, and a
// publisher on every node, while links are cut and nodes restarted (killed or stopped)
// at random. In the end every store must hold the same messages, no client may have
// been handed a message twice, and no acked message may be missing. The seed is
// printed, and PARLEY_CHAOS_SEED replays a run.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../helpers/random.ts';
import { converged, storedMessages, TestNetwork } from '../helpers/peer-network.ts';
import type { TcpProxy } from '../helpers/tcp-proxy.ts';

// PARLEY_CHAOS_NODES and PARLEY_CHAOS_EVENTS make a longer run for a soak test.
const NODES = Number(process.env.PARLEY_CHAOS_NODES ?? 5);
const EVENTS = Number(process.env.PARLEY_CHAOS_EVENTS ?? 36);
const CHANNEL = 'chaos';

const net = new TestNetwork();
const { nodes, participants } = net;
after(() => net.close());

test(`chaos: ${NODES} nodes in a mesh, ${EVENTS} random link cuts and restarts, publishers running`, async () => {
  const seed = Number(process.env.PARLEY_CHAOS_SEED ?? Date.now() % 1_000_000);
  const random = new Random(seed);
  console.log(`chaos seed ${seed} (replay with PARLEY_CHAOS_SEED=${seed})`);
  const started = Date.now();
  // Node i dials every earlier node j through a proxy of its own: one cuttable link per pair.
  const links: Array<{ from: number; to: number; proxy: TcpProxy }> = [];
  for (let i = 0; i < NODES; i++) {
    const peers: string[] = [];
    for (let j = 0; j < i; j++) {
      const proxy = await net.proxyTo(nodes[j]!);
      links.push({ from: i, to: j, proxy });
      peers.push(proxy.url);
    }
    await net.node(`N${i}`, { peers });
  }
  await Promise.all(nodes.map((n) => n.process.waitForLogCount('peer link up', NODES - 1)));
  for (const [i, n] of nodes.entries()) await net.join(n, `p${i}`, CHANNEL);

  // Every publisher sends until the chaos is over, remembering what was acked.
  const acked: string[] = [];
  let stop = false;
  const publishing = participants.map(async (p, i) => {
    for (let k = 0; !stop; k++) {
      const text = `p${i}-${k}`;
      await p.client.publish(CHANNEL, text);
      acked.push(text);
    }
  });

  const counts = { cuts: 0, kills: 0, stops: 0 };
  const heals: Array<Promise<void>> = [];
  for (let e = 0; e < EVENTS; e++) {
    if (random.next() < 0.7) {
      const link = random.pick(links);
      link.proxy.partition();
      counts.cuts++;
      const downMs = 50 + random.int(500);
      heals.push(new Promise((resolve) => setTimeout(() => resolve(link.proxy.heal()), downMs)));
    } else {
      const victim = random.pick(nodes);
      const signal = random.next() < 0.5 ? 'SIGKILL' : 'SIGTERM';
      counts[signal === 'SIGKILL' ? 'kills' : 'stops']++;
      await victim.restart(signal);
    }
    await new Promise((resolve) => setTimeout(resolve, 100 + random.int(300))); // pacing between chaos events
  }
  await Promise.all(heals);
  stop = true;
  await Promise.all(publishing);
  const chaosMs = Date.now() - started;

  const stored = await converged(nodes, CHANNEL, acked.length, 60_000).catch(async (error: unknown) => {
    // What each node lacks, and what its log says went wrong: enough to replay the seed.
    const all = await Promise.all(nodes.map((n) => storedMessages(n, CHANNEL)));
    const union = new Map(all.flat().map((m) => [m.id, m]));
    for (const [i, n] of nodes.entries()) {
      const have = new Set(all[i]!.map((m) => m.id));
      const lacking = [...union.values()].filter((m) => !have.has(m.id)).map((m) => `${m.uid}:${m.text}`);
      const warnings = n.process.stdout.filter((line) => /"level":[4-6]0/.test(line)).slice(-10);
      console.log(`${n.name} lacks ${lacking.length}: ${lacking.slice(0, 20).join(' ')}\n  ${warnings.join('\n  ')}`);
    }
    throw error;
  });
  const storedTexts = new Set(stored.map((m) => m.text));
  const missing = acked.filter((t) => !storedTexts.has(t));
  assert.deepEqual(missing, [], 'every acked message is stored everywhere');
  assert.equal(storedTexts.size, stored.length, 'no message is stored twice under two ids (a retry stored anew)');
  for (const p of participants) {
    await p.waitUntil((m) => m.length >= stored.length, `all ${stored.length} messages`, 60_000);
    const texts = p.texts();
    assert.equal(new Set(texts).size, texts.length, `${p.uid} was handed a message twice`);
    assert.equal(texts.length, stored.length, `${p.uid} got every message`);
  }
  const convergedMs = Date.now() - started - chaosMs;
  console.log(
    `chaos seed ${seed}: ${counts.cuts} link cuts, ${counts.kills} kills, ${counts.stops} stops in ${(chaosMs / 1000).toFixed(1)} s; ` +
      `${acked.length} acked messages, ${stored.length} stored on each of ${NODES} nodes, converged ${convergedMs} ms after the chaos; ` +
      `each of ${participants.length} clients got each message once`,
  );
});
