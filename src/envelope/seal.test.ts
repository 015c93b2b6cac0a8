import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { nodeIdOf, nodeIdOfRaw, rawPublicKey, type NodeIdentity } from '../identity/node-identity.ts';
import { SEAL_LENGTH, SealChecker, Sealer } from './seal.ts';

function identity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}

const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => {
  const copy = Uint8Array.from(bytes);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
};

const alice = identity();
const bob = identity();
const id = randomBytes(32);

test('a seal is the raw public key and an Ed25519 signature over the domain and the id, and checks', () => {
  const seal = new Sealer(alice).seal(id);
  assert.equal(seal.length, SEAL_LENGTH);
  assert.deepEqual(Buffer.from(seal.subarray(0, 32)), Buffer.from(rawPublicKey(alice.publicKey)));
  const signed = Buffer.concat([Buffer.from('parley-seal-v1\0'), id]);
  assert.equal(verify(null, signed, alice.publicKey, seal.subarray(32)), true);
  assert.equal(new SealChecker().check(alice.nodeId, id, seal), 'ok');
});

test('a seal made with another key is not the origin\'s', () => {
  const checker = new SealChecker();
  assert.equal(checker.check(alice.nodeId, id, new Sealer(bob).seal(id)), 'wrong_key');
  // The origin's key with another key's signature: the key is right, the signature is not.
  const forged = Uint8Array.from(new Sealer(bob).seal(id));
  forged.set(rawPublicKey(alice.publicKey));
  assert.equal(checker.check(alice.nodeId, id, forged), 'bad_signature');
});

test('a flipped bit in the signature or the id makes a bad signature; one in the key a wrong key', () => {
  const checker = new SealChecker();
  const seal = new Sealer(alice).seal(id);
  for (const bit of [32 * 8, 32 * 8 + 7, 50 * 8 + 3, SEAL_LENGTH * 8 - 1]) {
    assert.equal(checker.check(alice.nodeId, id, flipBit(seal, bit)), 'bad_signature', `bit ${bit}`);
  }
  for (const bit of [0, 100, 255]) assert.equal(checker.check(alice.nodeId, flipBit(id, bit), seal), 'bad_signature', `id bit ${bit}`);
  for (const bit of [0, 131, 255]) assert.equal(checker.check(alice.nodeId, id, flipBit(seal, bit)), 'wrong_key', `key bit ${bit}`);
  assert.equal(checker.check(alice.nodeId, id, seal), 'ok');
});

test('a signature over the bare id (without the domain) does not check', () => {
  const seal = new Uint8Array(SEAL_LENGTH);
  seal.set(rawPublicKey(alice.publicKey));
  seal.set(sign(null, id, alice.privateKey), 32);
  assert.equal(new SealChecker().check(alice.nodeId, id, seal), 'bad_signature');
});

test('a seal of the wrong length is a bad signature', () => {
  const checker = new SealChecker();
  const seal = new Sealer(alice).seal(id);
  for (const wrong of [new Uint8Array(0), seal.subarray(0, 95), Buffer.concat([seal, Buffer.alloc(1)]), seal.subarray(0, 32)]) {
    assert.equal(checker.check(alice.nodeId, id, wrong), 'bad_signature', `${wrong.length} bytes`);
  }
});

test('a key that is not an Ed25519 point, named by its own hash, is refused without throwing', () => {
  const checker = new SealChecker();
  // y = 2^255 - 1 is at least the field prime: no point encodes as this.
  const raw = Buffer.alloc(32, 0xff);
  const seal = Buffer.concat([raw, randomBytes(64)]);
  const result = checker.check(nodeIdOfRaw(raw), id, seal);
  assert.notEqual(result, 'ok');
  for (let i = 0; i < 20; i++) {
    const anyKey = randomBytes(32);
    assert.notEqual(checker.check(nodeIdOfRaw(anyKey), id, Buffer.concat([anyKey, randomBytes(64)])), 'ok');
  }
});

test('the key cache does not let a second key pass for an origin it holds', () => {
  const checker = new SealChecker();
  assert.equal(checker.check(alice.nodeId, id, new Sealer(alice).seal(id)), 'ok');
  assert.equal(checker.check(alice.nodeId, id, new Sealer(bob).seal(id)), 'wrong_key');
  // Bob's own seals still check under his id, and Alice's key does not pass for him.
  assert.equal(checker.check(bob.nodeId, id, new Sealer(bob).seal(id)), 'ok');
  assert.equal(checker.check(bob.nodeId, id, new Sealer(alice).seal(id)), 'wrong_key');
  assert.equal(checker.check(alice.nodeId, id, new Sealer(alice).seal(id)), 'ok');
});

test('a refused key is not cached: the origin\'s real key still checks after it', () => {
  const checker = new SealChecker();
  assert.equal(checker.check(alice.nodeId, id, new Sealer(bob).seal(id)), 'wrong_key');
  assert.equal(checker.check(alice.nodeId, id, new Sealer(alice).seal(id)), 'ok');
});

test('a key cache of one still checks each origin, in turn, and refuses the other\'s key', () => {
  const checker = new SealChecker(1);
  for (let round = 0; round < 3; round++) {
    assert.equal(checker.check(alice.nodeId, id, new Sealer(alice).seal(id)), 'ok');
    assert.equal(checker.check(bob.nodeId, id, new Sealer(bob).seal(id)), 'ok');
    assert.equal(checker.check(alice.nodeId, id, new Sealer(bob).seal(id)), 'wrong_key');
  }
});

test('Sealer is deterministic, and its cache gives the same bytes again', () => {
  const sealer = new Sealer(alice, 2);
  const first = sealer.seal(id);
  assert.equal(sealer.seal(Uint8Array.from(id)), first, 'the same id, in another buffer, is served from the cache');
  assert.deepEqual(new Sealer(alice).seal(id), first, 'another sealer with the same key makes the same seal');
  const other = randomBytes(32);
  assert.notDeepEqual(sealer.seal(other), first);
  sealer.seal(randomBytes(32));
  // Pushed out of the cache of two: made again, the same bytes in a new array.
  const again = sealer.seal(id);
  assert.notEqual(again, first);
  assert.deepEqual(again, first);
  assert.equal(new SealChecker().check(alice.nodeId, id, again), 'ok');
});
