// Noise's ChaCha20-Poly1305 with the session keys kept as Node key objects.
//
// @chainsafe/libp2p-noise hands Node's cipher the raw 32-byte key of the session for
// every frame, and Node then builds a key object each time, through checks that throw
// and catch an error to tell a raw key from a key object. Per frame that was most of the
// cost of a small frame and half of a 4 KiB one (measured on Node 24: 21.7 against 11.2 µs
// to encrypt 4 KiB, 21.4 against 6.6 µs to decrypt it). A session's key never changes,
// so its key object is made once. Small frames (window updates, control messages) stay
// with noise's WebAssembly cipher, which is faster than any call into Node's below 1 KiB.

import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import type { ICryptoInterface } from '@chainsafe/libp2p-noise';

const ALGORITHM = 'chacha20-poly1305';
const TAG_LENGTH = 16;
/** Below these sizes noise's own cipher is faster than Node's, even with a key object. */
const NODE_ENCRYPT_FROM = 1200;
const NODE_DECRYPT_FROM = 600;

/** What noise passes for data: a Uint8Array or a Uint8ArrayList. */
type Bytes = Parameters<ICryptoInterface['chaCha20Poly1305Encrypt']>[0];

function contiguous(data: Bytes): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray();
}

/** Key objects by the key array noise holds for a session (the same array for every frame). */
class SessionKeys {
  readonly #keys = new WeakMap<Uint8Array, { readonly raw: Buffer; readonly object: KeyObject }>();

  get(key: Uint8Array): KeyObject {
    const known = this.#keys.get(key);
    // The bytes are compared too: an array changed in place must not keep the old key.
    if (known !== undefined && known.raw.equals(key)) return known.object;
    const entry = { raw: Buffer.from(key), object: createSecretKey(key) };
    this.#keys.set(key, entry);
    return entry.object;
  }
}

/** Noise's default crypto, with ChaCha20-Poly1305 keyed by cached key objects. */
export function noiseCrypto(): ICryptoInterface {
  const keys = new SessionKeys();
  return {
    ...defaultCrypto,
    chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
      if (plaintext.byteLength < NODE_ENCRYPT_FROM) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
      const data = contiguous(plaintext);
      const cipher = createCipheriv(ALGORITHM, keys.get(k), nonce, { authTagLength: TAG_LENGTH });
      cipher.setAAD(ad, { plaintextLength: data.byteLength });
      const body = cipher.update(data);
      cipher.final();
      const tag = cipher.getAuthTag();
      const out = Buffer.allocUnsafe(body.byteLength + TAG_LENGTH);
      out.set(body);
      out.set(tag, body.byteLength);
      return out;
    },
    chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
      if (ciphertext.byteLength < NODE_DECRYPT_FROM) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst);
      const data = contiguous(ciphertext);
      const decipher = createDecipheriv(ALGORITHM, keys.get(k), nonce, { authTagLength: TAG_LENGTH });
      decipher.setAAD(ad, { plaintextLength: data.byteLength - TAG_LENGTH });
      decipher.setAuthTag(data.subarray(data.byteLength - TAG_LENGTH));
      const text = decipher.update(data.subarray(0, data.byteLength - TAG_LENGTH));
      // final() checks the tag: a frame that fails it throws, and noise closes the connection.
      decipher.final();
      return text;
    },
  };
}
