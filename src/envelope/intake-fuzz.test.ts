// Seeded fuzz of the intake: valid envelopes, mutated. The seed is printed; FUZZ_SEED replays a run.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../test/helpers/random.ts';
import { NO_PREV } from '../store/message-id.ts';
import { chainIds, envelopeFromWire, envelopeToWire, InvalidEnvelope, type Envelope, type EnvelopeMessage } from './envelope.ts';
import type { VerifiedMessage } from './intake.ts';
import { identity, ReceivingNode, STORE_KINDS } from './receiving-node.testkit.ts';
import { SealChecker, Sealer } from './seal.ts';

const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString('hex'));

describe('fuzz: mutated envelopes', () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
  console.log(`intake fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);

  /** An origin's canonical chain in one channel: what every taken message must equal. */
  interface Chain {
    readonly origin: string;
    readonly messages: EnvelopeMessage[];
    readonly ids: Uint8Array[];
    readonly sealer: Sealer;
  }
  const CHANNEL = 'fuzz';
  const LENGTH = 24;

  function chain(random: Random): Chain {
    const origin = identity();
    const messages: EnvelopeMessage[] = Array.from({ length: LENGTH }, () => ({
      ts: Date.now() - random.int(1_000_000),
      uid: `u${random.int(1000)}`,
      binary: random.next() < 0.5,
      payload: random.bytes(random.int(40)),
    }));
    const ids = chainIds(CHANNEL, { origin: origin.nodeId, firstSeq: 1, prev: NO_PREV, messages, seal: undefined });
    return { origin: origin.nodeId, messages, ids, sealer: new Sealer(origin) };
  }

  /** The honest envelope of seqs from..to (1-based, inclusive). */
  function slice(c: Chain, from: number, to: number, sealed: boolean): Envelope {
    return {
      origin: c.origin,
      firstSeq: from,
      prev: from === 1 ? NO_PREV : c.ids[from - 2]!,
      messages: c.messages.slice(from - 1, to),
      seal: sealed ? c.sealer.seal(c.ids[to - 1]!) : undefined,
    };
  }

  type Draft = { -readonly [K in keyof Envelope]: K extends 'messages' ? EnvelopeMessage[] : Envelope[K] };
  const flip = (bytes: Uint8Array, random: Random): Uint8Array => {
    if (bytes.length === 0) return Uint8Array.of(random.int(256));
    const copy = Uint8Array.from(bytes);
    const bit = random.int(bytes.length * 8);
    copy[bit >> 3]! ^= 1 << (bit & 7);
    return copy;
  };

  function mutations(alice: Chain, bob: Chain, self: string): Array<[string, (d: Draft, r: Random) => void]> {
    const at = (d: Draft, r: Random) => r.int(d.messages.length);
    const change = (d: Draft, r: Random, f: (m: EnvelopeMessage) => EnvelopeMessage) => {
      const i = at(d, r);
      d.messages[i] = f(d.messages[i]!);
    };
    return [
      ['payload bit', (d, r) => change(d, r, (m) => ({ ...m, payload: flip(m.payload, r) }))],
      ['ts', (d, r) => change(d, r, (m) => ({ ...m, ts: m.ts + (r.next() < 0.5 ? 1 : -1) }))],
      ['uid', (d, r) => change(d, r, (m) => ({ ...m, uid: `${m.uid}x` }))],
      ['bin', (d, r) => change(d, r, (m) => ({ ...m, binary: !m.binary }))],
      ['prev bit', (d, r) => void (d.prev = flip(d.prev, r))],
      ['prev of another seq', (d, r) => void (d.prev = r.pick(alice.ids))],
      ['seal bit', (d, r) => void (d.seal = d.seal === undefined ? alice.sealer.seal(r.pick(alice.ids)) : flip(d.seal, r))],
      ['seal over another id', (d, r) => void (d.seal = alice.sealer.seal(r.pick(alice.ids)))],
      ['seal of another key', (d, r) => void (d.seal = bob.sealer.seal(r.pick(alice.ids)))],
      ['no seal', (d) => void (d.seal = undefined)],
      ['seq', (d, r) => void (d.firstSeq = Math.max(1, d.firstSeq + r.pick([-3, -2, -1, 1, 2, 3])))],
      ['last dropped', (d) => void (d.messages.length > 1 && d.messages.pop())],
      ['first dropped', (d) => void (d.messages.length > 1 && (d.messages.shift(), d.firstSeq++))],
      ['reordered', (d, r) => {
        const i = at(d, r);
        const j = at(d, r);
        [d.messages[i], d.messages[j]] = [d.messages[j]!, d.messages[i]!];
      }],
      ['duplicated', (d, r) => {
        const i = at(d, r);
        d.messages.splice(i, 0, d.messages[i]!);
      }],
      ['another origin', (d, r) => void (d.origin = r.pick([bob.origin, self]))],
    ];
  }

  /** Replaces one part of the wire form with a value of another kind: only InvalidEnvelope may come of it. */
  function mutateWire(envelope: Envelope, random: Random): unknown {
    const wire = envelopeToWire(envelope) as unknown[];
    const values = [null, undefined, 0, -1, 1.5, 2 ** 53, '', 'x', true, new Uint8Array(0), new Uint8Array(32), new Uint8Array(96), [], {}];
    const messages = wire[3] as unknown[][];
    if (random.next() < 0.5) wire[random.int(5)] = random.pick(values);
    else messages[random.int(messages.length)]![random.int(4)] = random.pick(values);
    return wire;
  }

  const same = (m: VerifiedMessage, c: Chain) => {
    const i = m.originSeq - 1;
    const original = c.messages[i];
    return (
      m.origin === c.origin &&
      m.channel === CHANNEL &&
      original !== undefined &&
      m.ts === original.ts &&
      m.uid === original.uid &&
      m.binary === original.binary &&
      hex(m.payload) === hex(original.payload) &&
      hex(m.id) === hex(c.ids[i]) &&
      hex(m.prev) === hex(i === 0 ? NO_PREV : c.ids[i - 1]) &&
      (m.seal === undefined || hex(m.seal) === hex(c.sealer.seal(c.ids[i]!)))
    );
  };

  test(`nothing mutated is taken unless it equals the original, and nothing throws (seed ${seed})`, () => {
    const random = new Random(seed);
    const alice = chain(random);
    const bob = chain(random);
    const checker = new SealChecker();
    const outcomes = new Map<string, number>();
    const tally = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    const limits = { maxPayload: 1024, maxMessages: 64, now: Date.now() };
    const [, memory] = STORE_KINDS[0]!;
    const [, sqlite] = STORE_KINDS[1]!;
    const iterations = 600;

    for (let iteration = 0; iteration < iterations; iteration++) {
      const n = new ReceivingNode(iteration % 25 === 0 ? sqlite : memory, checker);
      const list = mutations(alice, bob, n.identity.nodeId);
      const context = (what: string) => `seed ${seed}, iteration ${iteration}: ${what}`;
      /** Takes an envelope as a link would, stores what was taken, and checks all of it is alice's own. */
      const deliver = (source: ReturnType<typeof n.intake.source>, envelope: Envelope, what: string) => {
        const result = source.take(CHANNEL, envelope);
        if (!result.ok) {
          tally(result.reason);
          n.intake.reset();
          return;
        }
        tally(result.messages.length > 0 ? 'taken' : result.nothingNew ? 'nothing new' : 'held unsealed');
        for (const m of result.messages) assert.ok(same(m, alice), context(`${what} gave ${m.origin}/${m.originSeq}, which is not the original`));
        if (n.commit(result.messages).some((r) => r.hole !== undefined)) n.intake.reset();
      };

      // What this node holds of alice already, and what this source holds unsealed.
      const held = random.int(8);
      if (held > 0) deliver(n.intake.source(), slice(alice, 1, held, true), 'the held prefix');
      const source = n.intake.source();
      const unsealedTo = held + random.int(3);
      if (unsealedTo > held) deliver(source, slice(alice, held + 1, unsealedTo, false), 'the unsealed prefix');

      const from = 1 + random.int(unsealedTo + 1);
      const to = Math.min(LENGTH - 2, from + random.int(6));
      const original = slice(alice, from, to, random.next() < 0.8);
      const draft: Draft = { ...original, messages: [...original.messages] };
      const applied: string[] = [];
      for (let k = 1 + random.int(3); k > 0; k--) {
        const [name, mutate] = random.pick(list);
        mutate(draft, random);
        applied.push(name);
      }
      let mutated: Envelope = draft;
      if (random.next() < 0.15) {
        applied.push('wire');
        try {
          mutated = envelopeFromWire(mutateWire(draft, random), limits);
        } catch (error) {
          assert.ok(error instanceof InvalidEnvelope, context(`the wire form threw ${String(error)}`));
          tally('malformed');
          n.close();
          continue;
        }
      }
      deliver(source, mutated, applied.join(' + '));
      // The honest continuation, on the same source: a mutated run held unsealed must not come out with it.
      deliver(source, slice(alice, to + 1, to + 2, true), `the continuation after ${applied.join(' + ')}`);
      // Whatever was refused, an honest source still brings the whole chain.
      deliver(n.intake.source(), slice(alice, 1, LENGTH, true), 'the whole chain');
      assert.equal(n.store.vector(CHANNEL).get(alice.origin), LENGTH, context(`after ${applied.join(' + ')}`));
      assert.equal(hex(n.store.lastId(CHANNEL, alice.origin)), hex(alice.ids.at(-1)), context('the stored chain'));
      n.close();
    }
    console.log(`intake fuzz outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    for (const outcome of ['taken', 'bad_seal', 'forged', 'out_of_order', 'malformed']) assert.ok((outcomes.get(outcome) ?? 0) > 0, `no ${outcome} in ${iterations} runs`);
  });
});
