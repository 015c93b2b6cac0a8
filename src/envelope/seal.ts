// Seals: an origin node's Ed25519 signature over one of its message ids, with the raw
// public key it was made with (32 + 64 bytes). Ids are chained (message-id.ts), so one
// seal over the newest id of a run vouches for every message of the run: signing costs
// one signature per run, not per message, and any node can check it, however many
// nodes the run passed through.

import { sign, verify, type KeyObject } from 'node:crypto';
import { nodeIdOfRaw, publicKeyFromRaw, rawPublicKey, type NodeIdentity } from '../identity/node-identity.ts';

export const SEAL_LENGTH = 96;
const KEY_LENGTH = 32;
/** What is signed: this domain, then the id. A seal cannot be taken for another kind of signature. */
const DOMAIN = Buffer.from('parley-seal-v1\0');

function signed(id: Uint8Array): Buffer {
  return Buffer.concat([DOMAIN, id]);
}

/** Seals this node's own message ids. Ed25519 is deterministic, so a seal can be made again whenever it is needed. */
export class Sealer {
  readonly #privateKey: KeyObject;
  readonly #key: Uint8Array;
  /** Recent seals by id (hex): a run sent on several links is signed once. */
  readonly #recent = new Map<string, Uint8Array>();
  readonly #limit: number;

  constructor(identity: NodeIdentity, recent = 1024) {
    this.#privateKey = identity.privateKey;
    this.#key = rawPublicKey(identity.publicKey);
    this.#limit = recent;
  }

  seal(id: Uint8Array): Uint8Array {
    const key = Buffer.from(id).toString('hex');
    let seal = this.#recent.get(key);
    if (seal === undefined) {
      seal = new Uint8Array(SEAL_LENGTH);
      seal.set(this.#key);
      seal.set(sign(null, signed(id), this.#privateKey), KEY_LENGTH);
      if (this.#recent.size >= this.#limit) this.#recent.delete(this.#recent.keys().next().value!);
      this.#recent.set(key, seal);
    }
    return seal;
  }
}

export type SealCheck = 'ok' | 'wrong_key' | 'bad_signature';

/** Checks seals; keeps the public keys it has seen (making a key object per check costs half the verification rate). */
export class SealChecker {
  readonly #keys = new Map<string, { readonly object: KeyObject; readonly raw: Buffer }>();
  readonly #limit: number;

  constructor(keys = 10_000) {
    this.#limit = keys;
  }

  check(origin: string, id: Uint8Array, seal: Uint8Array): SealCheck {
    if (seal.length !== SEAL_LENGTH) return 'bad_signature';
    const key = this.#key(origin, seal.subarray(0, KEY_LENGTH));
    if (key === undefined) return 'wrong_key';
    return verify(null, signed(id), key, seal.subarray(KEY_LENGTH)) ? 'ok' : 'bad_signature';
  }

  /** The origin's key object, if `raw` is the key the origin id names. */
  #key(origin: string, raw: Uint8Array): KeyObject | undefined {
    const known = this.#keys.get(origin);
    // The cached key is the one whose hash is the id: a seal with another key is not the origin's.
    if (known !== undefined) return known.raw.equals(raw) ? known.object : undefined;
    if (nodeIdOfRaw(raw) !== origin) return undefined;
    let object: KeyObject;
    try {
      object = publicKeyFromRaw(raw);
    } catch {
      return undefined;
    }
    if (this.#keys.size >= this.#limit) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(origin, { object, raw: Buffer.from(raw) });
    return object;
  }
}
