// The ordering node's decisions for one channel: numbering, chaining, resuming after a
// restart from its own records, and channels it does not order.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { nodeIdOf } from '../identity/node-identity.ts';
import { Sequencer, type OrderingKey } from './sequencer.ts';
import { decodeOrdered, encodeGenesis, encodeOrdered, encodeSubmission, NO_PREVIOUS, orderedHash, signOrdered, verifyOrdered } from './wire.ts';

function key(): OrderingKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}

const groupId = new Uint8Array([1, 2, 3]);

function published(step: ReturnType<Sequencer['take']>): Uint8Array {
  assert.equal(step.kind, 'publish');
  return step.kind === 'publish' ? step.payload : new Uint8Array();
}

test('each new submission is numbered once, in order, each record chained to the one before', () => {
  const k = key();
  const sequencer = new Sequencer(k, 1 << 20);
  assert.equal(sequencer.take(encodeGenesis({ groupId, orderer: k.nodeId })).kind, 'none');
  assert.equal(sequencer.role, 'mine');
  const one = decodeOrdered(published(sequencer.take(encodeSubmission(new Uint8Array([7])))))!;
  const two = decodeOrdered(published(sequencer.take(encodeSubmission(new Uint8Array([8])))))!;
  assert.equal(sequencer.take(encodeSubmission(new Uint8Array([7]))).kind, 'none', 'the same submission again');
  assert.deepEqual([one.n, two.n], [1, 2]);
  assert.deepEqual(one.prev, NO_PREVIOUS);
  assert.deepEqual(two.prev, orderedHash(one));
  assert.ok(verifyOrdered(one, k.nodeId) && verifyOrdered(two, k.nodeId));
  assert.equal(verifyOrdered(two, key().nodeId), false, 'not the node the genesis names');
  assert.equal(verifyOrdered({ ...two, n: 3 }, k.nodeId), false, 'a number changed in transit');
  assert.equal(sequencer.take(new Uint8Array([0, 1, 2])).kind, 'none', 'application messages are not ordered');
});

test('a restarted node carries on after its own records and numbers only what it has not', () => {
  const k = key();
  const first = new Sequencer(k, 1 << 20);
  const channel = [encodeGenesis({ groupId, orderer: k.nodeId }), encodeSubmission(new Uint8Array([7]))];
  first.take(channel[0]!);
  channel.push(published(first.take(channel[1]!)));
  channel.push(encodeSubmission(new Uint8Array([9])));
  // A record signed by someone else claims the new submission: it changes nothing.
  const forged = signOrdered({ groupId, n: 2, prev: orderedHash(decodeOrdered(channel[2]!)!), submission: channel[3]! }, key().privateKey, key().publicKey);
  channel.push(encodeOrdered(forged));
  const again = new Sequencer(k, 1 << 20);
  for (const payload of channel) again.learn(payload);
  const steps = channel.map((payload) => again.take(payload));
  const next = decodeOrdered(published(steps[3]!))!;
  assert.equal(next.n, 2);
  assert.deepEqual(next.prev, orderedHash(decodeOrdered(channel[2]!)!));
  assert.deepEqual(steps.filter((s) => s.kind === 'publish').length, 1, 'submission 1 was numbered before the restart');
});

test('a group another node orders, or a channel without a genesis, is left alone; an oversized record is refused', () => {
  const k = key();
  const other = new Sequencer(k, 1 << 20);
  other.take(encodeGenesis({ groupId, orderer: key().nodeId }));
  assert.equal(other.take(encodeSubmission(new Uint8Array([7]))).kind, 'none');
  assert.equal(other.mayBeMine, false);
  const noGenesis = new Sequencer(k, 1 << 20);
  noGenesis.take(encodeSubmission(new Uint8Array([7])));
  assert.equal(noGenesis.role, 'other');
  const small = new Sequencer(k, 300);
  small.take(encodeGenesis({ groupId, orderer: k.nodeId }));
  const step = small.take(encodeSubmission(new Uint8Array(400)));
  assert.equal(step.kind, 'refused');
});
