// The node's persistent identity: an Ed25519 key pair created on first start in the
// data directory. The node id, the origin of every message accepted here, is derived
// from the public key, so a peer can later check that a node owns its id.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NodeIdentity {
  readonly nodeId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export const KEY_FILE = 'node.key';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The raw 32 bytes of an Ed25519 public key, as the wire formats carry it. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32);
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The node id of a raw Ed25519 public key: the first 16 bytes of its SHA-256, in hex. */
export function nodeIdOfRaw(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 32);
}

/** The node id of a public key: the first 16 bytes of SHA-256 of its raw bytes, in hex. */
export function nodeIdOf(publicKey: KeyObject): string {
  return nodeIdOfRaw(rawPublicKey(publicKey));
}

/** The 32-byte seed of an Ed25519 private key, from which the whole key pair follows. */
export function privateKeySeed(privateKey: KeyObject): Uint8Array {
  return privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
}

/** The identity kept in dataDir, or undefined when there is no key file there; never creates anything. */
export function loadIdentity(dataDir: string): NodeIdentity | undefined {
  const file = join(dataDir, KEY_FILE);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return identityOf(file, pem);
}

export function loadOrCreateIdentity(dataDir: string): NodeIdentity {
  const file = join(dataDir, KEY_FILE);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const { privateKey } = generateKeyPairSync('ed25519');
    pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    // 'wx': never overwrite a key that appeared meanwhile; 0600: it is a secret.
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  }
  return identityOf(file, pem);
}

/** The identity of a PEM private key; `source` names where it came from in errors. */
export function identityOf(source: string, pem: string): NodeIdentity {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${source} is not an Ed25519 private key`);
  const publicKey = createPublicKey(privateKey);
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}
