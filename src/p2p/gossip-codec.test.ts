import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chainIds } from '../envelope/envelope.ts';
import { OriginWriter } from '../envelope/origin-writer.testkit.ts';
import { nodeIdOf, type NodeIdentity } from '../identity/node-identity.ts';
import { decodeGossip, encodeGossip, GossipDecoder, type GossipLimits } from './gossip-codec.ts';

const CHANNEL = 'news';
const LIMITS: GossipLimits = { maxPayload: 1 << 20 };

function identity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}

/** A decoder that counts how often it really decodes. */
function countingDecoder(): { decoder: GossipDecoder; decodings: () => number } {
  let count = 0;
  const decoder = new GossipDecoder(LIMITS, (data, limits) => {
    count++;
    return decodeGossip(data, limits);
  });
  return { decoder, decodings: () => count };
}

const writer = new OriginWriter(identity());
const envelope = writer.envelope(CHANNEL, 1, ['one', 'two', 'three'], { uid: 'alice' });
const data = encodeGossip(CHANNEL, envelope);

test('a copy of a message already seen gets its id from the bytes, without decoding again', () => {
  const { decoder, decodings } = countingDecoder();
  const id = decoder.messageId(data);
  assert.equal(decodings(), 1);
  // What gossipsub hands over for a copy from another neighbour: the same bytes, another array.
  const copy = Uint8Array.from(data);
  assert.deepEqual(decoder.messageId(copy), id);
  assert.equal(decodings(), 1);
  // The validator runs on the first array: its decoding is remembered too.
  assert.equal(decoder.decode(data).ok, true);
  assert.equal(decodings(), 1);
});

test('a copy of what this node published costs no decoding', () => {
  const { decoder, decodings } = countingDecoder();
  decoder.prime(data, { channel: CHANNEL, envelope, ids: chainIds(CHANNEL, envelope) });
  const id = decoder.messageId(data);
  assert.deepEqual(decoder.messageId(Uint8Array.from(data)), id);
  assert.equal(decodings(), 0);
  // The same id as a node that decodes it.
  assert.deepEqual(new GossipDecoder(LIMITS).messageId(Uint8Array.from(data)), id);
});

test('an altered copy with the real seal is decoded and gets an id of its own', () => {
  const { decoder, decodings } = countingDecoder();
  const id = decoder.messageId(data);
  const altered = encodeGossip(CHANNEL, { ...envelope, messages: envelope.messages.map((m, i) => (i === 1 ? { ...m, payload: Buffer.from('TWO') } : m)) });
  const alteredId = decoder.messageId(altered);
  assert.equal(decodings(), 2);
  assert.notDeepEqual(alteredId, id);
  // Seen after the altered copy, the real message still has its own id.
  assert.deepEqual(decoder.messageId(Uint8Array.from(data)), id);
});

test('garbage gets a hash of its bytes as id, and is refused by decode', () => {
  const { decoder } = countingDecoder();
  const garbage = Uint8Array.from([0xff, 0x00, 0x13]);
  assert.equal(decoder.messageId(garbage).length, 32);
  assert.deepEqual(decoder.messageId(Uint8Array.from(garbage)), decoder.messageId(garbage));
  assert.equal(decoder.decode(garbage).ok, false);
});
