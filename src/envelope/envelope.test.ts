import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder, Encoder } from 'cbor-x';
import { messageId, NO_PREV } from '../store/message-id.ts';
import type { Store, StoredMessage } from '../store/store.ts';
import {
  chainIds,
  envelopeBytes,
  envelopeFromWire,
  envelopeToWire,
  InvalidEnvelope,
  MAX_CLOCK_AHEAD_MS,
  packEnvelopes,
  RUN_BYTES,
  RUN_MESSAGES,
  type Envelope,
  type EnvelopeLimits,
} from './envelope.ts';
import { OriginWriter } from './origin-writer.testkit.ts';
import { identity, ReceivingNode, STORE_KINDS } from './receiving-node.testkit.ts';
import { SealChecker, Sealer } from './seal.ts';

const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString('hex'));

/** An envelope with its bytes as hex, so that a Buffer and a Uint8Array of the same bytes compare equal. */
function plain(envelope: Envelope) {
  return {
    origin: envelope.origin,
    firstSeq: envelope.firstSeq,
    prev: hex(envelope.prev),
    messages: envelope.messages.map((m) => ({ ts: m.ts, uid: m.uid, binary: m.binary, payload: hex(m.payload) })),
    seal: hex(envelope.seal),
  };
}

const origin = identity();

describe('the wire form', () => {
  const limits: EnvelopeLimits = { maxPayload: 64 * 1024, maxMessages: 100, now: Date.now() };

  test('an envelope comes back from its wire form as it was, sealed or not, also through CBOR', () => {
    const writer = new OriginWriter(origin);
    const sealed = writer.envelope('c', 1, ['one', 'two', 'three']);
    const open = writer.envelope('c', 4, ['four'], { seal: false });
    const binary: Envelope = { ...open, messages: [{ ts: Date.now(), uid: 'bob', binary: true, payload: Uint8Array.of(0, 255, 7) }] };
    const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
    const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });
    for (const envelope of [sealed, open, binary]) {
      const wire = envelopeToWire(envelope);
      assert.deepEqual(plain(envelopeFromWire(wire, limits)), plain(envelope));
      assert.deepEqual(plain(envelopeFromWire(decoder.decode(encoder.encode(wire)), limits)), plain(envelope));
    }
    assert.equal(envelopeToWire(open)[4], null, 'an unsealed run has a null seal on the wire');
    assert.equal(envelopeFromWire(envelopeToWire(open), limits).seal, undefined);
  });

  describe('every field is checked, with an error that says what is wrong', () => {
    const now = Date.UTC(2025, 5, 1);
    const small: EnvelopeLimits = { maxPayload: 10, maxMessages: 3, now };
    const ORIGIN = '0123456789abcdef0123456789abcdef';
    const message = () => [now, 'alice', false, Buffer.from('hi')];
    const base = () => [ORIGIN, 7, new Uint8Array(32), [message(), message()], null] as unknown[];
    /** The base envelope with one part replaced: [index, value], or [index in messages, field index, value]. */
    const withField = (at: number, value: unknown) => {
      const wire = base();
      wire[at] = value;
      return wire;
    };
    const withMessageField = (field: number, value: unknown, which = 1) => {
      const wire = base();
      const list = wire[3] as unknown[][];
      list[which]![field] = value;
      return wire;
    };
    const cases: Array<[string, unknown, string]> = [
      ['not an array', { origin: ORIGIN }, 'an envelope is [origin, firstSeq, prev, messages, seal]'],
      ['four parts', base().slice(0, 4), 'an envelope is [origin, firstSeq, prev, messages, seal]'],
      ['six parts', [...base(), null], 'an envelope is [origin, firstSeq, prev, messages, seal]'],
      ['origin a number', withField(0, 12), 'origin must be a node id (32 hex digits)'],
      ['origin too short', withField(0, ORIGIN.slice(1)), 'origin must be a node id (32 hex digits)'],
      ['origin too long', withField(0, `${ORIGIN}0`), 'origin must be a node id (32 hex digits)'],
      ['origin in capitals', withField(0, ORIGIN.toUpperCase()), 'origin must be a node id (32 hex digits)'],
      ['origin not hex', withField(0, `${ORIGIN.slice(1)}g`), 'origin must be a node id (32 hex digits)'],
      ['firstSeq 0', withField(1, 0), 'firstSeq must be an integer >= 1'],
      ['firstSeq negative', withField(1, -1), 'firstSeq must be an integer >= 1'],
      ['firstSeq a fraction', withField(1, 1.5), 'firstSeq must be an integer >= 1'],
      ['firstSeq a string', withField(1, '7'), 'firstSeq must be an integer >= 1'],
      ['firstSeq past 2^53', withField(1, 2 ** 53), 'firstSeq must be an integer >= 1'],
      ['prev 31 bytes', withField(2, new Uint8Array(31)), 'prev must be 32 bytes'],
      ['prev 33 bytes', withField(2, new Uint8Array(33)), 'prev must be 32 bytes'],
      ['prev a list of numbers', withField(2, new Array(32).fill(0)), 'prev must be 32 bytes'],
      ['prev missing', withField(2, null), 'prev must be 32 bytes'],
      ['messages not a list', withField(3, 'hi'), 'an envelope holds 1-3 messages'],
      ['no messages', withField(3, []), 'an envelope holds 1-3 messages'],
      ['more messages than the limit', withField(3, [message(), message(), message(), message()]), 'an envelope holds 1-3 messages'],
      ['seal 95 bytes', withField(4, new Uint8Array(95)), 'seal must be 96 bytes or null'],
      ['seal 97 bytes', withField(4, new Uint8Array(97)), 'seal must be 96 bytes or null'],
      ['seal a string', withField(4, 'x'.repeat(96)), 'seal must be 96 bytes or null'],
      ['seal missing', withField(4, undefined), 'seal must be 96 bytes or null'],
      ['a message not a list', withField(3, [message(), 'hi']), 'each message is [ts, uid, bin, payload]'],
      ['a message of three fields', withField(3, [message().slice(0, 3)]), 'each message is [ts, uid, bin, payload]'],
      ['a message of five fields', withField(3, [[...message(), 1]]), 'each message is [ts, uid, bin, payload]'],
      ['ts a string', withMessageField(0, String(now)), 'ts must be a time in ms after 2020-01-01T00:00:00.000Z'],
      ['ts a fraction', withMessageField(0, now + 0.5), 'ts must be a time in ms after 2020-01-01T00:00:00.000Z'],
      ['ts negative', withMessageField(0, -1), 'ts must be a time in ms after 2020-01-01T00:00:00.000Z'],
      ['ts before 2020', withMessageField(0, Date.UTC(2020, 0, 1) - 1), 'ts must be a time in ms after 2020-01-01T00:00:00.000Z'],
      ['ts too far ahead', withMessageField(0, now + MAX_CLOCK_AHEAD_MS + 1), `message ${ORIGIN}/8 is dated 10 min ahead of this node's clock`],
      ['ts a day ahead', withMessageField(0, now + 86_400_000, 0), `message ${ORIGIN}/7 is dated 1440 min ahead of this node's clock`],
      ['uid a number', withMessageField(1, 5), 'uid must be a string'],
      ['uid empty', withMessageField(1, ''), 'uid must not be empty'],
      ['uid too long', withMessageField(1, 'u'.repeat(1025)), 'uid longer than 1024'],
      ['uid with a control character', withMessageField(1, 'al\nice'), 'uid must be printable ASCII'],
      ['uid not ASCII', withMessageField(1, 'alïce'), 'uid must be printable ASCII'],
      ['bin a number', withMessageField(2, 1), 'bin must be a boolean'],
      ['payload a string', withMessageField(3, 'hi'), 'payload must be bytes'],
      ['payload a list of numbers', withMessageField(3, [1, 2]), 'payload must be bytes'],
      ['payload over the limit', withMessageField(3, new Uint8Array(11)), 'payload over 10 bytes'],
      ['seqs past 2^53', withField(1, Number.MAX_SAFE_INTEGER), 'origin seqs past 2^53'],
    ];
    for (const [name, wire, error] of cases) {
      test(name, () => {
        assert.throws(
          () => envelopeFromWire(wire, small),
          (e: unknown) => e instanceof InvalidEnvelope && e.message === error,
          `expected InvalidEnvelope: ${error}`,
        );
      });
    }

    test('the limits themselves are accepted', () => {
      const edge = [
        ORIGIN,
        Number.MAX_SAFE_INTEGER - 3,
        new Uint8Array(32),
        [
          [Date.UTC(2020, 0, 1), 'u'.repeat(1024), true, new Uint8Array(10)],
          [now + MAX_CLOCK_AHEAD_MS, ' ~', false, new Uint8Array(0)],
          [now, 'alice', false, Buffer.alloc(10)],
        ],
        new Uint8Array(96),
      ];
      const envelope = envelopeFromWire(edge, small);
      assert.equal(envelope.messages.length, 3);
      assert.equal(envelope.seal?.length, 96);
      assert.equal(envelopeBytes(envelope), 20);
    });
  });
});

test('chainIds gives the ids messageId gives one by one, each over the one before', () => {
  const writer = new OriginWriter(origin);
  writer.envelope('c', 1, ['a', 'b']);
  const envelope = writer.envelope('c', 3, ['c', 'd', 'e']);
  let prev = envelope.prev;
  const expected = envelope.messages.map((m, i) => (prev = messageId({ prev, origin: origin.nodeId, channel: 'c', originSeq: 3 + i, ...m })));
  const ids = chainIds('c', envelope);
  assert.deepEqual(ids.map(hex), expected.map(hex));
  assert.deepEqual(ids.map(hex), [3, 4, 5].map((seq) => hex(writer.idOf('c', seq))));
  assert.equal(hex(envelope.prev), hex(writer.idOf('c', 2)));
  // Another prev, channel or first seq changes every id.
  const others = [chainIds('c', { ...envelope, prev: NO_PREV }), chainIds('d', envelope), chainIds('c', { ...envelope, firstSeq: 4 })];
  for (const other of others) for (let i = 0; i < ids.length; i++) assert.notEqual(hex(other[i]), hex(ids[i]));
});

/** Stores an origin's envelope as the replicas a receiving node would store. */
function storeReplicas(store: Store, channel: string, envelope: Envelope): void {
  const ids = chainIds(channel, envelope);
  const results = store.append(
    envelope.messages.map((m, i) => ({
      channel,
      uid: m.uid,
      binary: m.binary,
      payload: m.payload,
      replica: {
        origin: envelope.origin,
        originSeq: envelope.firstSeq + i,
        ts: m.ts,
        id: ids[i]!,
        prev: i === 0 ? envelope.prev : ids[i - 1]!,
        seal: i === ids.length - 1 ? envelope.seal : undefined,
      },
    })),
  );
  for (const result of results) assert.equal(result.duplicate, false);
}

function publish(store: Store, channel: string, payloads: readonly Uint8Array[]): void {
  store.append(payloads.map((payload) => ({ channel, uid: 'owner', binary: true, payload })));
}

const everything = (store: Store, channel: string) => store.read(channel, { limit: 1_000_000 });
const seqs = (envelope: Envelope) => [envelope.firstSeq, envelope.firstSeq + envelope.messages.length - 1];

/** Checks that an envelope's chain starts at `prev`, and that its seal, if any, is the origin's over its last id. */
function assertChained(channel: string, envelope: Envelope, prev: Uint8Array | undefined): void {
  assert.equal(hex(envelope.prev), hex(prev));
  if (envelope.seal !== undefined) assert.equal(new SealChecker().check(envelope.origin, chainIds(channel, envelope).at(-1)!, envelope.seal), 'ok');
}

for (const [kind, makeStore] of STORE_KINDS) {
  describe(`packEnvelopes (${kind} store)`, () => {
    const self = identity();
    const sealer = new Sealer(self);

    test(`own messages are sealed every ${RUN_MESSAGES} messages and at the end`, () => {
      const store = makeStore(self.nodeId);
      publish(store, 'c', Array.from({ length: 2 * RUN_MESSAGES + 1 }, (_, i) => Buffer.from(`m${i}`)));
      const stored = everything(store, 'c');
      const envelopes = packEnvelopes(stored, self.nodeId, sealer);
      assert.deepEqual(envelopes.map(seqs), [
        [1, RUN_MESSAGES],
        [RUN_MESSAGES + 1, 2 * RUN_MESSAGES],
        [2 * RUN_MESSAGES + 1, 2 * RUN_MESSAGES + 1],
      ]);
      assertChained('c', envelopes[0]!, NO_PREV);
      assertChained('c', envelopes[1]!, stored[RUN_MESSAGES - 1]!.id);
      assertChained('c', envelopes[2]!, stored[2 * RUN_MESSAGES - 1]!.id);
      for (const envelope of envelopes) assert.notEqual(envelope.seal, undefined);
      store.close();
    });

    test(`own messages are sealed before a run would pass ${RUN_BYTES} bytes`, () => {
      const store = makeStore(self.nodeId);
      const quarter = RUN_BYTES / 4;
      // Four quarters fill a run exactly; a fifth byte starts the next one.
      publish(store, 'c', [quarter, quarter, quarter, quarter, 1].map((n) => Buffer.alloc(n)));
      // Three quarters and a byte more than a quarter do not fit.
      publish(store, 'c', [quarter, quarter, quarter, quarter + 1].map((n) => Buffer.alloc(n)));
      const envelopes = packEnvelopes(everything(store, 'c'), self.nodeId, sealer);
      assert.deepEqual(envelopes.map(seqs), [[1, 4], [5, 8], [9, 9]]);
      for (const envelope of envelopes) {
        assert.ok(envelopeBytes(envelope) <= RUN_BYTES);
        assertChained('c', envelope, envelope.firstSeq === 1 ? NO_PREV : everything(store, 'c')[envelope.firstSeq - 2]!.id);
      }
      store.close();
    });

    test('a single own message over the run size is a run of its own', () => {
      const store = makeStore(self.nodeId);
      publish(store, 'c', [10, RUN_BYTES + 1, 10, RUN_BYTES + 1].map((n) => Buffer.alloc(n, 1)));
      const stored = everything(store, 'c');
      const envelopes = packEnvelopes(stored, self.nodeId, sealer);
      assert.deepEqual(envelopes.map(seqs), [[1, 1], [2, 2], [3, 3], [4, 4]]);
      envelopes.forEach((envelope, i) => assertChained('c', envelope, i === 0 ? NO_PREV : stored[i - 1]!.id));
      store.close();
    });

    test('replica runs end where their origin sealed them; an unsealed tail stays open', () => {
      const store = makeStore(self.nodeId);
      const alice = new OriginWriter(identity());
      const sent = [alice.envelope('c', 1, ['1', '2', '3']), alice.envelope('c', 4, ['4', '5']), alice.envelope('c', 6, ['6', '7'], { seal: false })];
      for (const envelope of sent) storeReplicas(store, 'c', envelope);
      const envelopes = packEnvelopes(everything(store, 'c'), self.nodeId, sealer);
      assert.deepEqual(envelopes.map(plain), sent.map(plain));
      assert.equal(envelopes[2]!.seal, undefined);
      store.close();
    });

    test('interleaved origins each get their own envelopes, in store order', () => {
      const store = makeStore(self.nodeId);
      const alice = new OriginWriter(identity());
      const bob = new OriginWriter(identity());
      publish(store, 'c', [Buffer.from('o1')]);
      storeReplicas(store, 'c', alice.envelope('c', 1, ['a1', 'a2']));
      publish(store, 'c', [Buffer.from('o2')]);
      storeReplicas(store, 'c', bob.envelope('c', 1, ['b1'], { seal: false }));
      storeReplicas(store, 'c', alice.envelope('c', 3, ['a3']));
      publish(store, 'c', [Buffer.from('o3')]);
      storeReplicas(store, 'c', bob.envelope('c', 2, ['b2']));
      const stored = everything(store, 'c');
      const envelopes = packEnvelopes(stored, self.nodeId, sealer);
      const list = (e: Envelope) => [e.origin, ...seqs(e), e.seal !== undefined];
      assert.deepEqual(envelopes.map(list), [
        [self.nodeId, 1, 3, true],
        [alice.nodeId, 1, 2, true],
        [bob.nodeId, 1, 2, true],
        [alice.nodeId, 3, 3, true],
      ]);
      assertChained('c', envelopes[0]!, NO_PREV);
      assertChained('c', envelopes[2]!, NO_PREV);
      assertChained('c', envelopes[3]!, alice.idOf('c', 2));
      assert.deepEqual(
        envelopes[0]!.messages.map((m) => Buffer.from(m.payload).toString()),
        ['o1', 'o2', 'o3'],
      );
      store.close();
    });

    test('messages stored before ids were chained (no prev) are left out', () => {
      const store = makeStore(self.nodeId);
      const alice = new OriginWriter(identity());
      publish(store, 'c', ['o1', 'o2', 'o3', 'o4'].map((s) => Buffer.from(s)));
      storeReplicas(store, 'c', alice.envelope('c', 1, ['a1', 'a2', 'a3']));
      // As a store of an older schema gives them: the oldest of each origin without prev.
      const unchained = new Set([1, 2, 5]);
      const stored: StoredMessage[] = everything(store, 'c').map((m) => ({
        channel: m.channel,
        seq: m.seq,
        id: m.id,
        ts: m.ts,
        origin: m.origin,
        originSeq: m.originSeq,
        uid: m.uid,
        binary: m.binary,
        payload: m.payload,
        prev: unchained.has(m.seq) ? undefined : m.prev,
        seal: m.seal,
      }));
      const envelopes = packEnvelopes(stored, self.nodeId, sealer);
      assert.deepEqual(envelopes.map((e) => [e.origin, ...seqs(e)]), [
        [self.nodeId, 3, 4],
        [alice.nodeId, 2, 3],
      ]);
      assertChained('c', envelopes[0]!, stored[1]!.id);
      assertChained('c', envelopes[1]!, alice.idOf('c', 1));
      store.close();
    });

    test('every envelope it packs passes the intake of a node that holds nothing, which then holds the same', () => {
      const store = makeStore(self.nodeId);
      const alice = new OriginWriter(identity());
      const bob = new OriginWriter(identity());
      publish(store, 'c', Array.from({ length: RUN_MESSAGES + 10 }, (_, i) => Buffer.from(`own ${i}`)));
      storeReplicas(store, 'c', alice.envelope('c', 1, ['a1', 'a2', 'a3']));
      publish(store, 'c', [Buffer.alloc(RUN_BYTES - 5), Buffer.alloc(RUN_BYTES + 1), Buffer.from('after')]);
      storeReplicas(store, 'c', bob.envelope('c', 1, ['b1', 'b2'], { seal: false }));
      storeReplicas(store, 'c', alice.envelope('c', 4, ['a4']));
      storeReplicas(store, 'c', bob.envelope('c', 3, ['b3']));
      publish(store, 'c', [Buffer.from('last own')]);
      storeReplicas(store, 'c', alice.envelope('c', 5, ['a5', 'a6'], { seal: false }));
      const stored = everything(store, 'c');
      const envelopes = packEnvelopes(stored, self.nodeId, sealer);

      const receiver = new ReceivingNode(makeStore);
      const source = receiver.intake.source();
      for (const envelope of envelopes) {
        const result = source.take('c', envelope);
        assert.ok(result.ok, `${envelope.origin}/${envelope.firstSeq}: ${result.ok ? '' : result.detail}`);
        assert.equal(result.nothingNew, false);
        const committed = receiver.commit(result.messages);
        for (const { duplicate } of committed) assert.equal(duplicate, false);
      }
      // Alice's unsealed tail waits for its seal; everything else is held, in the same chains.
      assert.equal(source.holdsUnsealed(), true);
      const sealedOnly = stored.filter((m) => !(m.origin === alice.nodeId && m.originSeq > 4));
      const received = everything(receiver.store, 'c');
      const key = (m: StoredMessage) => `${m.origin}/${m.originSeq} ${hex(m.id)} ${hex(m.prev)} ${hex(m.payload)}`;
      assert.deepEqual(received.map(key).sort(), sealedOnly.map(key).sort());
      assert.equal(receiver.intake.accepted, sealedOnly.length);
      assert.equal(receiver.intake.rejected.size, 0);

      // Sent again, on another link, nothing is new.
      const again = receiver.intake.source();
      for (const envelope of envelopes.filter((e) => e.seal !== undefined)) {
        const result = again.take('c', envelope);
        assert.ok(result.ok && result.nothingNew && result.messages.length === 0);
      }
      receiver.close();
      store.close();
    });
  });
}
