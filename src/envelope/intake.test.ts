import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NO_PREV } from '../store/message-id.ts';
import type { Store } from '../store/store.ts';
import { chainIds, RUN_MESSAGES, UNSEALED_BYTES, UNSEALED_MESSAGES, type Envelope } from './envelope.ts';
import type { IntakeResult, Rejection, VerifiedMessage } from './intake.ts';
import { OriginWriter } from './origin-writer.testkit.ts';
import { identity, ReceivingNode, STORE_KINDS } from './receiving-node.testkit.ts';
import { Sealer } from './seal.ts';

const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString('hex'));

function taken(result: IntakeResult): readonly VerifiedMessage[] {
  assert.ok(result.ok, result.ok ? '' : `refused (${result.reason}): ${result.detail}`);
  return result.messages;
}

function refused(result: IntakeResult, reason: Rejection, detail: RegExp): void {
  assert.ok(!result.ok, `taken, but should be refused as ${reason}`);
  assert.equal(result.reason, reason, result.detail);
  assert.match(result.detail, detail);
}

const seqsOf = (messages: readonly VerifiedMessage[]) => messages.map((m) => m.originSeq);
const tailOf = (node: ReceivingNode, channel: string, origin: string) => {
  const tail = node.intake.tail(channel, origin);
  return { seq: tail.seq, id: hex(tail.id) };
};
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

for (const [kind, makeStore] of STORE_KINDS) {
  describe(`ReplicaIntake (${kind} store)`, () => {
    const node = () => new ReceivingNode(makeStore);

    test('honest runs are taken, chained, with the seal on the message that ends each run', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const source = n.intake.source();
      const first = alice.envelope('c', 1, ['1', '2', '3']);
      const messages = taken(source.take('c', first));
      assert.deepEqual(seqsOf(messages), [1, 2, 3]);
      assert.deepEqual(messages.map((m) => hex(m.id)), [1, 2, 3].map((s) => hex(alice.idOf('c', s))));
      assert.deepEqual(messages.map((m) => hex(m.prev)), [hex(NO_PREV), hex(alice.idOf('c', 1)), hex(alice.idOf('c', 2))]);
      assert.deepEqual(messages.map((m) => hex(m.seal)), [undefined, undefined, hex(first.seal)]);
      assert.deepEqual(messages.map((m) => Buffer.from(m.payload).toString()), ['1', '2', '3']);
      assert.ok(messages.every((m) => m.channel === 'c' && m.origin === alice.nodeId && m.uid === 'mallory' && !m.binary));
      // In flight: the next run is judged against it before the store has it.
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 3, id: hex(alice.idOf('c', 3)) });
      const next = taken(source.take('c', alice.envelope('c', 4, ['4', '5'])));
      assert.deepEqual(seqsOf(next), [4, 5]);
      assert.equal(hex(next[0]!.prev), hex(alice.idOf('c', 3)));

      // An unsealed run is held until its seal comes, then given whole.
      assert.deepEqual(taken(source.take('c', alice.envelope('c', 6, ['6', '7'], { seal: false }))), []);
      assert.equal(source.holdsUnsealed(), true);
      const sealing = alice.envelope('c', 8, ['8']);
      const run = taken(source.take('c', sealing));
      assert.deepEqual(seqsOf(run), [6, 7, 8]);
      assert.deepEqual(run.map((m) => hex(m.seal)), [undefined, undefined, hex(sealing.seal)]);
      assert.equal(source.holdsUnsealed(), false);

      for (const result of n.commit([...messages, ...next, ...run])) assert.equal(result.duplicate, false);
      assert.equal(n.store.vector('c').get(alice.nodeId), 8);
      assert.equal(hex(n.store.lastId('c', alice.nodeId)), hex(alice.idOf('c', 8)));
      assert.equal(n.intake.accepted, 8);
      assert.equal(n.intake.rejected.size, 0);
      n.close();
    });

    test('a message changed in any field breaks the seal', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const honest = alice.envelope('c', 1, ['1', '2', '3']);
      const changes: Array<[string, (m: Envelope['messages'][number]) => Envelope['messages'][number]]> = [
        ['payload', (m) => ({ ...m, payload: Buffer.from('2!') })],
        ['a payload byte', (m) => ({ ...m, payload: Uint8Array.from(m.payload, (b, i) => (i === 0 ? b ^ 1 : b)) })],
        ['ts', (m) => ({ ...m, ts: m.ts + 1 })],
        ['uid', (m) => ({ ...m, uid: 'alice' })],
        ['bin', (m) => ({ ...m, binary: !m.binary })],
      ];
      for (const [field, change] of changes) {
        const forged = { ...honest, messages: honest.messages.map((m, i) => (i === 1 ? change(m) : m)) };
        refused(n.intake.source().take('c', forged), 'bad_seal', /does not match the messages/);
      }
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 0, id: undefined });
      assert.deepEqual(seqsOf(taken(n.intake.source().take('c', honest))), [1, 2, 3]);
      n.close();
    });

    test('a truncated run, or one moved to other seqs or another prev, keeps a seal that no longer matches', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      alice.envelope('c', 1, ['1']);
      const honest = alice.envelope('c', 2, ['2', '3', '4']);
      const source = n.intake.source();
      // Only what is just before the run (message 1) is held, so each of these starts where the store has its tail.
      taken(source.take('c', alice.envelope('c', 1, ['1'])));
      refused(source.take('c', { ...honest, messages: honest.messages.slice(0, 2) }), 'bad_seal', /does not match/);
      refused(source.take('c', { ...honest, messages: honest.messages.slice(1), firstSeq: 3 }), 'bad_seal', /does not match/);
      refused(source.take('c', { ...honest, messages: [honest.messages[1]!, honest.messages[0]!, honest.messages[2]!] }), 'bad_seal', /does not match/);
      refused(source.take('c', { ...honest, firstSeq: 3, prev: alice.idOf('c', 2)! }), 'bad_seal', /does not match/);
      refused(n.intake.source().take('other', honest), 'bad_seal', /does not match/);
      assert.deepEqual(seqsOf(taken(source.take('c', honest))), [2, 3, 4]);
      n.close();
    });

    test('a seal made with another key is refused, also for another origin\'s run claimed as this origin\'s', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const bobIdentity = identity();
      const honest = alice.envelope('c', 1, ['1', '2']);
      const resealed = { ...honest, seal: new Sealer(bobIdentity).seal(alice.idOf('c', 2)!) };
      refused(n.intake.source().take('c', resealed), 'bad_seal', /is not made with the key of its origin/);
      const bobs = new OriginWriter(bobIdentity).envelope('c', 1, ['1', '2']);
      refused(n.intake.source().take('c', { ...bobs, origin: alice.nodeId }), 'bad_seal', /is not made with the key of its origin/);
      // The origin's key, but no signature of it, or its signature over another of its ids.
      const unsigned = Buffer.concat([honest.seal!.subarray(0, 32), Buffer.alloc(64)]);
      refused(n.intake.source().take('c', { ...honest, seal: unsigned }), 'bad_seal', /does not match the messages/);
      refused(n.intake.source().take('c', { ...honest, seal: alice.envelope('c', 1, ['1']).seal }), 'bad_seal', /does not match the messages/);
      n.close();
    });

    test("an envelope of this node's own messages is nothing new, and one beyond what it sent is forged", () => {
      const n = node();
      n.store.append([1, 2].map((i) => ({ channel: 'c', uid: 'owner', binary: false, payload: Buffer.from(String(i)) })));
      const me = new OriginWriter(n.identity);
      const echo = taken(n.intake.source().take('c', me.envelope('c', 1, ['1', '2'])));
      assert.deepEqual(echo, []);
      refused(n.intake.source().take('c', me.envelope('c', 2, ['2', '3'])), 'forged', /claims to come from this node, which never sent it/);
      refused(n.intake.source().take('other', me.envelope('other', 1, ['1'], { seal: false })), 'forged', /claims to come from this node/);
      assert.equal(n.store.vector('c').get(n.identity.nodeId), 2);
      n.close();
    });

    test('a run that does not follow the held tail is forged, whether the tail is stored or in flight', () => {
      const n = node();
      const aliceIdentity = identity();
      const alice = new OriginWriter(aliceIdentity);
      const held = taken(n.intake.source().take('c', alice.envelope('c', 1, ['1', '2', '3'])));
      for (const committed of [false, true]) {
        if (committed) n.commit(held);
        const wrongPrev = new OriginWriter(identity()).envelope('c', 4, ['4']);
        refused(n.intake.source().take('c', { ...alice.envelope('c', 4, ['4'], { prev: randomBytes(32) }) }), 'forged', /4 in c does not follow the message this node holds before it/);
        refused(n.intake.source().take('c', { ...wrongPrev, origin: alice.nodeId }), 'forged', /does not follow/);
        // The origin itself, telling two stories: a second chain over seqs already held.
        const twin = new OriginWriter(aliceIdentity);
        refused(n.intake.source().take('c', twin.envelope('c', 1, ['1', '2', 'three', '4'])), 'forged', /\/4 in c does not follow/);
        refused(n.intake.source().take('c', twin.envelope('c', 3, ['three'], { prev: alice.idOf('c', 2) })), 'forged', /does not follow/);
      }
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 3, id: hex(alice.idOf('c', 3)) });
      n.close();
    });
  });
}
