import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { noiseCrypto } from './noise-crypto.ts';

const nonce = new Uint8Array(12).fill(7);
const ad = Buffer.from('handshake hash');
const bytes = (data: Uint8Array | { subarray(): Uint8Array }): Buffer => Buffer.from(data instanceof Uint8Array ? data : data.subarray());

test('frames of every size go both ways between this cipher and noise\'s own', () => {
  const ours = noiseCrypto();
  const key = randomBytes(32);
  for (const size of [0, 1, 100, 599, 600, 1199, 1200, 4096, 65_519]) {
    const plaintext = randomBytes(size);
    const sealed = bytes(ours.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
    assert.equal(sealed.length, size + 16, `size ${size}`);
    assert.deepEqual(sealed, bytes(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key)), `size ${size}: same ciphertext`);
    assert.deepEqual(bytes(defaultCrypto.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonce, ad, key)), plaintext, `size ${size}: noise opens ours`);
    assert.deepEqual(bytes(ours.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonce, ad, key)), plaintext, `size ${size}: we open it`);
  }
});

test('an altered frame, another nonce or other associated data is refused', () => {
  const ours = noiseCrypto();
  const key = randomBytes(32);
  for (const size of [10, 5000]) {
    const sealed = bytes(ours.chaCha20Poly1305Encrypt(randomBytes(size), nonce, ad, key));
    const altered = Buffer.from(sealed);
    altered[3]! ^= 1;
    assert.throws(() => ours.chaCha20Poly1305Decrypt(altered, nonce, ad, key), `size ${size}: altered`);
    assert.throws(() => ours.chaCha20Poly1305Decrypt(Buffer.from(sealed), new Uint8Array(12), ad, key), `size ${size}: nonce`);
    assert.throws(() => ours.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonce, Buffer.from('other'), key), `size ${size}: ad`);
  }
});

test('a key array changed in place is used with its new bytes', () => {
  const ours = noiseCrypto();
  const key = randomBytes(32);
  const plaintext = randomBytes(3000);
  const first = bytes(ours.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
  key.set(randomBytes(32));
  const second = bytes(ours.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
  assert.notDeepEqual(second, first);
  assert.deepEqual(second, bytes(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key)));
});
