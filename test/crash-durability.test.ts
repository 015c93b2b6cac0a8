// "Acked means durable": kill -9 the node while five publishers send as fast as acks
// allow; after a restart every acked message is there exactly once, and publishers
// retrying what they never saw acked create no duplicates.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NativeTestClient, type Frame } from './helpers/native-client.ts';
import { startNode } from './helpers/node-process.ts';

const CHANNEL = 'crash';
const WINDOW = 32;

class Publisher {
  readonly name: string;
  readonly acked = new Map<string, number>(); // cid -> seq
  sent = 0;
  client: NativeTestClient | undefined;
  constructor(name: string) {
    this.name = name;
  }
  cid(i: number): string {
    return `${this.name}-${i}`;
  }
  /** Sends as fast as the window of unacked publishes allows, until the socket dies. */
  async run(): Promise<void> {
    const client = this.client!;
    client.ws.on('message', () => {
      for (const f of client.frames.splice(0)) if (f.t === 'ack') this.acked.set(f.cid as string, f.seq as number);
      this.#fill();
    });
    this.#fill();
    await client.closed;
  }
  #fill(): void {
    const client = this.client!;
    while (this.sent - this.acked.size < WINDOW && client.ws.readyState === client.ws.OPEN) {
      client.send({ t: 'pub', ch: CHANNEL, cid: this.cid(this.sent), p: Buffer.from(this.cid(this.sent)) });
      this.sent++;
    }
  }
}

test('kill -9 under load loses no acked message and retries duplicate nothing', { timeout: 60_000 }, async () => {
  const first = await startNode();
  const publishers = ['p0', 'p1', 'p2', 'p3', 'p4'].map((n) => new Publisher(n));
  for (const p of publishers) p.client = await NativeTestClient.connect(first.wsUrl, p.name);
  const running = publishers.map((p) => p.run());
  // Let them get well under way, then pull the plug mid-stream.
  while (publishers.reduce((n, p) => n + p.acked.size, 0) < 3000) await new Promise((resolve) => setImmediate(resolve));
  await first.stop('SIGKILL');
  await Promise.all(running);
  const ackedBefore = publishers.reduce((n, p) => n + p.acked.size, 0);
  const sentBefore = publishers.reduce((n, p) => n + p.sent, 0);
  assert.ok(sentBefore > ackedBefore, 'some publishes were in flight when the node died');

  const second = await startNode(['--data', first.dataDir]);
  // Every publisher retries everything it sent, acked or not, marked as a retry.
  const retried = new Map<string, Frame>();
  for (const p of publishers) {
    const client = await NativeTestClient.connect(second.wsUrl, p.name);
    for (let i = 0; i < p.sent; i++) client.send({ t: 'pub', ch: CHANNEL, cid: p.cid(i), p: Buffer.from(p.cid(i)), retry: true });
    const last = p.cid(p.sent - 1);
    await client.next((f) => f.t === 'ack' && f.cid === last, 20_000);
    for (const f of client.frames) if (f.t === 'ack') retried.set(f.cid as string, f);
    await client.close();
  }
  // Acked before the crash: the retry found the same seq.
  for (const p of publishers) {
    for (const [cid, seq] of p.acked) {
      const again = retried.get(cid)!;
      assert.equal(again.dup, true, `${cid} was acked before the crash`);
      assert.equal(again.seq, seq, `${cid} kept its seq`);
    }
  }
  // The store holds each publish exactly once, with gap-free seqs.
  const reader = await NativeTestClient.connect(second.wsUrl, 'reader');
  reader.send({ t: 'sub', ch: CHANNEL, after: 0 });
  await reader.next((f) => f.t === 'live', 20_000);
  const stored = reader.messages(CHANNEL);
  const payloads = stored.map((m) => Buffer.from(m.p as Uint8Array).toString());
  assert.equal(new Set(payloads).size, payloads.length, 'no publish is stored twice');
  assert.equal(stored.length, sentBefore, 'every publish is stored once');
  assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: stored.length }, (_, i) => i + 1));
  console.log(`kill -9: ${ackedBefore} acked and ${sentBefore - ackedBefore} unacked before the crash; ${stored.length} stored after retries`);
  await reader.close();
  await second.stop();
});
