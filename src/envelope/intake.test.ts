import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NO_PREV } from '../store/message-id.ts';
import { RUN_MESSAGES, UNSEALED_BYTES, UNSEALED_MESSAGES, type Envelope } from './envelope.ts';
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

    test('a hole inside an unsealed run, or a repeat of it, is out of order', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const source = n.intake.source();
      assert.deepEqual(taken(source.take('c', alice.envelope('c', 1, ['1', '2'], { seal: false }))), []);
      alice.envelope('c', 3, ['3']);
      refused(source.take('c', alice.envelope('c', 4, ['4', '5'])), 'out_of_order', /message .*\/4 in c skips to after 2/);
      refused(source.take('c', alice.envelope('c', 4, ['4'], { seal: false })), 'out_of_order', /skips to after 2/);
      refused(source.take('c', alice.envelope('c', 1, ['1', '2'], { seal: false })), 'out_of_order', /\/1 in c repeats its unsealed run/);
      refused(source.take('c', alice.envelope('c', 2, ['2'])), 'out_of_order', /repeats its unsealed run/);
      // The run it holds still goes on where it stopped.
      assert.deepEqual(seqsOf(taken(source.take('c', alice.envelope('c', 3, ['3'])))), [1, 2, 3]);
      n.close();
    });

    test(`an unsealed run over ${UNSEALED_MESSAGES} messages or ${UNSEALED_BYTES} bytes is refused and forgotten`, () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const source = n.intake.source();
      // Up to the limit is held, and one seal then gives it all.
      const half = UNSEALED_MESSAGES / 2;
      assert.equal(half, RUN_MESSAGES);
      taken(source.take('c', alice.envelope('c', 1, range(1, half), { seal: false })));
      taken(source.take('c', alice.envelope('c', half + 1, range(half + 1, 2 * half), { seal: false })));
      assert.equal(taken(source.take('c', alice.envelope('c', 2 * half + 1, ['sealed']))).length, UNSEALED_MESSAGES + 1);

      const more = n.intake.source();
      taken(more.take('d', alice.envelope('d', 1, range(1, half), { seal: false })));
      taken(more.take('d', alice.envelope('d', half + 1, range(half + 1, 2 * half), { seal: false })));
      refused(more.take('d', alice.envelope('d', 2 * half + 1, ['one more'], { seal: false })), 'unsealed', /over 2048 messages or 1048576 bytes of .* in d without a seal/);
      assert.equal(more.holdsUnsealed(), false);

      const bytes = n.intake.source();
      const big = 'x'.repeat(UNSEALED_BYTES / 2);
      taken(bytes.take('e', alice.envelope('e', 1, [big], { seal: false })));
      taken(bytes.take('e', alice.envelope('e', 2, [big], { seal: false })));
      refused(bytes.take('e', alice.envelope('e', 3, ['x'], { seal: false })), 'unsealed', /without a seal/);
      assert.equal(bytes.holdsUnsealed(), false);
      // Forgotten: what comes next is a run past a hole, for the store to judge, without the held messages.
      assert.deepEqual(seqsOf(taken(bytes.take('e', alice.envelope('e', 4, ['4'])))), [4]);
      assert.deepEqual(tailOf(n, 'e', alice.nodeId), { seq: 0, id: undefined });
      n.close();
    });

    test('a replay is nothing new, from the same source or another, in flight or stored', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const envelope = alice.envelope('c', 1, ['1', '2', '3']);
      const messages = taken(n.intake.source().take('c', envelope));
      for (const stage of ['in flight', 'stored']) {
        if (stage === 'stored') n.commit(messages);
        for (const source of [n.intake.source(), n.intake.source()]) {
          const again = source.take('c', envelope);
          assert.ok(again.ok && again.nothingNew && again.messages.length === 0, stage);
          const part = source.take('c', alice.envelope('c', 2, ['2', '3']));
          assert.ok(part.ok && part.nothingNew, stage);
        }
      }
      assert.equal(n.intake.accepted, 3);
      assert.equal(n.intake.rejected.size, 0);
      n.close();
    });

    test('overlapping runs from two sources: the second gives only what is new, and a different message at a held seq is forged', () => {
      const n = node();
      const aliceIdentity = identity();
      const alice = new OriginWriter(aliceIdentity);
      const one = n.intake.source();
      const two = n.intake.source();
      assert.deepEqual(seqsOf(taken(one.take('c', alice.envelope('c', 1, range(1, 3))))), [1, 2, 3]);
      assert.deepEqual(seqsOf(taken(two.take('c', alice.envelope('c', 1, range(1, 5))))), [4, 5]);

      // The second source's unsealed run is overtaken by the first while it waits for its seal.
      taken(two.take('c', alice.envelope('c', 6, ['6', '7'], { seal: false })));
      assert.deepEqual(seqsOf(taken(one.take('c', alice.envelope('c', 6, ['6', '7', '8'])))), [6, 7, 8]);
      const rest = taken(two.take('c', alice.envelope('c', 8, ['8', '9'])));
      assert.deepEqual(seqsOf(rest), [9]);
      assert.equal(hex(rest[0]!.prev), hex(alice.idOf('c', 8)));

      // An origin telling two stories: a run that is sealed, but is not what this node took at seq 10.
      const twin = new OriginWriter(aliceIdentity);
      const twinPrev = alice.idOf('c', 9)!;
      taken(two.take('c', twin.envelope('c', 10, ['ten?', 'eleven?'], { seal: false, prev: twinPrev })));
      assert.deepEqual(seqsOf(taken(one.take('c', alice.envelope('c', 10, ['10', '11'])))), [10, 11]);
      refused(two.take('c', twin.envelope('c', 12, ['twelve?'])), 'forged', /\/11 in c differs from the one this node holds/);
      assert.equal(two.holdsUnsealed(), false);
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 11, id: hex(alice.idOf('c', 11)) });
      n.close();
    });

    test('drop(channel) forgets the unsealed runs of that channel only', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const source = n.intake.source();
      for (const channel of ['c', 'c2']) taken(source.take(channel, alice.envelope(channel, 1, ['1', '2'], { seal: false })));
      source.drop('c');
      assert.equal(source.holdsUnsealed(), true, 'c2 is still held');
      // Sent again, c's run is not a repeat; sealed, it gives the whole run.
      taken(source.take('c', alice.envelope('c', 1, ['1', '2'], { seal: false })));
      assert.deepEqual(seqsOf(taken(source.take('c', alice.envelope('c', 3, ['3'])))), [1, 2, 3]);
      assert.deepEqual(seqsOf(taken(source.take('c2', alice.envelope('c2', 3, ['3'])))), [1, 2, 3]);
      assert.equal(source.holdsUnsealed(), false);

      taken(source.take('c', alice.envelope('c', 4, ['4'], { seal: false })));
      source.drop('c');
      assert.equal(source.holdsUnsealed(), false);
      // Without the held part, 5 is a run past a hole (after 3): taken for the store to judge, not in flight, and without 4.
      assert.deepEqual(seqsOf(taken(source.take('c', alice.envelope('c', 5, ['5'])))), [5]);
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 3, id: hex(alice.idOf('c', 3)) });
      n.close();
    });

    test('rejected counts the refusals by reason', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const me = new OriginWriter(n.identity);
      const honest = alice.envelope('c', 1, ['1', '2']);
      const source = n.intake.source();
      source.take('c', { ...honest, seal: new Sealer(identity()).seal(alice.idOf('c', 2)!) });
      source.take('c', { ...honest, messages: honest.messages.slice(0, 1) });
      source.take('c', me.envelope('c', 1, ['mine']));
      source.take('c', alice.envelope('c', 1, ['1'], { seal: false }));
      source.take('c', alice.envelope('c', 3, ['3'], { seal: false }));
      source.take('c', alice.envelope('c', 1, ['1'], { seal: false }));
      assert.deepEqual(
        n.intake.rejected,
        new Map<Rejection, number>([
          ['bad_seal', 2],
          ['forged', 1],
          ['out_of_order', 2],
        ]),
      );
      assert.equal(n.intake.accepted, 0);
      n.close();
    });

    test('reset() makes the tail fall back to the store, and what was in flight can be taken again', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const envelope = alice.envelope('c', 1, range(1, 3));
      taken(n.intake.source().take('c', envelope));
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 3, id: hex(alice.idOf('c', 3)) });
      n.intake.reset();
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 0, id: undefined });
      const again = taken(n.intake.source().take('c', envelope));
      assert.deepEqual(seqsOf(again), [1, 2, 3]);
      n.commit(again);
      n.intake.reset();
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 3, id: hex(alice.idOf('c', 3)) });
      n.close();
    });

    test('once the store commits, the tail comes from the store; an earlier commit leaves a later run in flight', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      const first = taken(n.intake.source().take('c', alice.envelope('c', 1, range(1, 3))));
      const second = taken(n.intake.source().take('c', alice.envelope('c', 4, range(4, 5))));
      n.commit(first);
      // The store holds 3, but 4 and 5 are on their way: the tail is still 5.
      assert.equal(n.store.vector('c').get(alice.nodeId), 3);
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 5, id: hex(alice.idOf('c', 5)) });
      n.commit(second);
      n.intake.reset();
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 5, id: hex(alice.idOf('c', 5)) });
      // The store's tail is what a later run must follow.
      refused(n.intake.source().take('c', alice.envelope('c', 6, ['6'], { prev: NO_PREV })), 'forged', /does not follow/);
      assert.deepEqual(seqsOf(taken(n.intake.source().take('c', alice.envelope('c', 6, ['six'], { prev: alice.idOf('c', 5) })))), [6]);
      n.close();
    });

    test('a run past a hole is taken but not put in flight: the store takes it only where it holds nothing of the origin', () => {
      const n = node();
      const alice = new OriginWriter(identity());
      alice.envelope('c', 1, range(1, 3));
      // Nothing of alice here: her messages 1-3 may have aged out at the sender.
      const late = taken(n.intake.source().take('c', alice.envelope('c', 4, ['4', '5'])));
      assert.deepEqual(seqsOf(late), [4, 5]);
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 0, id: undefined });
      const [stored] = n.commit(late);
      assert.equal(stored!.hole, undefined);
      assert.deepEqual(tailOf(n, 'c', alice.nodeId), { seq: 5, id: hex(alice.idOf('c', 5)) });

      // Where alice's 1-2 are held, the same run is a hole the store refuses.
      const other = new ReceivingNode(makeStore);
      other.commit(taken(other.intake.source().take('c', alice.envelope('c', 1, ['1', '2']))));
      const skipping = taken(other.intake.source().take('c', alice.envelope('c', 4, ['4', '5'])));
      const results = other.commit(skipping);
      assert.deepEqual(results[0]!.hole, { after: 2 });
      assert.equal(other.store.vector('c').get(alice.nodeId), 2);
      assert.deepEqual(tailOf(other, 'c', alice.nodeId), { seq: 2, id: hex(alice.idOf('c', 2)) });
      other.close();
      n.close();
    });
  });
}
