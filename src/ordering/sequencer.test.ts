// The ordering node's decisions for one channel: numbering, chaining, resuming after a
// restart from its own records, and channels it does not order.

import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { nodeIdOf } from '../identity/node-identity.ts';
import { Sequencer, type OrderingKey } from './sequencer.ts';
import {
  decodeOrdered,
  encodeGenesis,
  encodeHandover,
  encodeOrdered,
  encodeSubmission,
  handoverSignedBytes,
  NO_PREVIOUS,
  orderedHash,
  signOrdered,
  verifyOrdered,
} from './wire.ts';

function key(): OrderingKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}

const groupId = new Uint8Array([1, 2, 3]);

const admin = generateKeyPairSync('ed25519');
const adminKey = new Uint8Array(admin.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));

function published(steps: ReturnType<Sequencer['take']>): Uint8Array {
  assert.equal(steps.length, 1);
  const step = steps[0]!;
  assert.equal(step.kind, 'publish');
  return step.kind === 'publish' ? step.payload : new Uint8Array();
}

test('each new submission is numbered once, in order, each record chained to the one before', () => {
  const k = key();
  const sequencer = new Sequencer(k, 1 << 20);
  assert.deepEqual(sequencer.take(encodeGenesis({ groupId, orderer: k.nodeId, admin: adminKey })), []);
  assert.equal(sequencer.role, 'mine');
  const one = decodeOrdered(published(sequencer.take(encodeSubmission(new Uint8Array([7])))))!;
  const two = decodeOrdered(published(sequencer.take(encodeSubmission(new Uint8Array([8])))))!;
  assert.deepEqual(sequencer.take(encodeSubmission(new Uint8Array([7]))), [], 'the same submission again');
  assert.deepEqual([one.n, two.n], [1, 2]);
  assert.deepEqual(one.prev, NO_PREVIOUS);
  assert.deepEqual(two.prev, orderedHash(one));
  assert.ok(verifyOrdered(one, k.nodeId) && verifyOrdered(two, k.nodeId));
  assert.equal(verifyOrdered(two, key().nodeId), false, 'not the node the genesis names');
  assert.equal(verifyOrdered({ ...two, n: 3 }, k.nodeId), false, 'a number changed in transit');
  assert.deepEqual(sequencer.take(new Uint8Array([0, 1, 2])), [], 'application messages are not ordered');
});

test('a restarted node carries on after its own records and numbers only what it has not', () => {
  const k = key();
  const first = new Sequencer(k, 1 << 20);
  const channel = [encodeGenesis({ groupId, orderer: k.nodeId, admin: adminKey }), encodeSubmission(new Uint8Array([7]))];
  first.take(channel[0]!);
  channel.push(published(first.take(channel[1]!)));
  channel.push(encodeSubmission(new Uint8Array([9])));
  // A record signed by someone else claims the new submission: it changes nothing.
  const forged = signOrdered({ groupId, n: 2, prev: orderedHash(decodeOrdered(channel[2]!)!), submission: channel[3]! }, key().privateKey, key().publicKey);
  channel.push(encodeOrdered(forged));
  const again = new Sequencer(k, 1 << 20);
  for (const payload of channel) again.learn(payload);
  const next = decodeOrdered(published(again.flush()))!;
  assert.equal(next.n, 2, 'submission 1 was numbered before the restart');
  assert.deepEqual(next.prev, orderedHash(decodeOrdered(channel[2]!)!));
});

test('a group another node orders, or a channel without a genesis, is left alone; an oversized record is refused', () => {
  const k = key();
  const other = new Sequencer(k, 1 << 20);
  other.take(encodeGenesis({ groupId, orderer: key().nodeId, admin: adminKey }));
  assert.deepEqual(other.take(encodeSubmission(new Uint8Array([7]))), []);
  assert.equal(other.role, 'other');
  const noGenesis = new Sequencer(k, 1 << 20);
  noGenesis.take(encodeSubmission(new Uint8Array([7])));
  assert.equal(noGenesis.isGroup, false);
  const small = new Sequencer(k, 300);
  small.take(encodeGenesis({ groupId, orderer: k.nodeId, admin: adminKey }));
  const steps = small.take(encodeSubmission(new Uint8Array(400)));
  assert.equal(steps[0]?.kind, 'refused');
});

test('a handover signed by the admin makes the named node number what waits, after the named record', () => {
  const old = key();
  const next = key();
  const channel = [encodeGenesis({ groupId, orderer: old.nodeId, admin: adminKey }), encodeSubmission(new Uint8Array([7]))];
  const first = new Sequencer(old, 1 << 20);
  channel.push(...channel.map((p) => first.take(p)).flat().map((s) => (s.kind === 'publish' ? s.payload : new Uint8Array())));
  const one = decodeOrdered(channel[2]!)!;
  // The old node is gone; a submission waits.
  channel.push(encodeSubmission(new Uint8Array([8])));
  const fields = { groupId, afterN: 1, afterHash: orderedHash(one), orderer: next.nodeId };
  const signature = new Uint8Array(sign(null, handoverSignedBytes(groupId, 1, fields.afterHash, next.nodeId), admin.privateKey));
  const forged = new Uint8Array(sign(null, handoverSignedBytes(groupId, 1, fields.afterHash, next.nodeId), generateKeyPairSync('ed25519').privateKey));
  const successor = new Sequencer(next, 1 << 20);
  for (const payload of channel) successor.learn(payload);
  assert.deepEqual(successor.take(encodeHandover({ ...fields, signature: forged })), [], 'not signed by the admin');
  assert.equal(successor.role, 'other');
  const two = decodeOrdered(published(successor.take(encodeHandover({ ...fields, signature }))))!;
  assert.equal(successor.role, 'mine');
  assert.equal(two.n, 2);
  assert.deepEqual(two.prev, orderedHash(one));
  assert.deepEqual(two.submission, channel[3]);
  assert.ok(verifyOrdered(two, next.nodeId));
});
