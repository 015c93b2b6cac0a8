// The mutual peer handshake. Each side sends a hello with its node id, public key and a
// fresh random nonce, then a proof: an Ed25519 signature (and, with a shared PEER_KEY, an
// HMAC) over a transcript that binds both node ids and both nonces. A proof only fits
// the handshake it was made for, so a recorded one replayed later fails; a node id only
// fits the key it is derived from, so no one can claim another node's id.

import { createHash, createHmac, createPublicKey, randomBytes, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type { NodeIdentity } from '../server/identity.ts';
import { nodeIdOf } from '../server/identity.ts';
import { PEER_PROTOCOL_VERSION, type HelloFrame, type PeerCloseCode, type ProofFrame } from './peer-protocol.ts';

const CONTEXT = 'parley-peer-v1';
/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function rawPublicKey(key: KeyObject): Uint8Array {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32);
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function makeHello(identity: NodeIdentity, rate = 0): HelloFrame {
  return { t: 'hello', v: PEER_PROTOCOL_VERSION, node: identity.nodeId, key: rawPublicKey(identity.publicKey), nonce: randomBytes(32), rate };
}

/** What a proof covers: who signs, for whom, the challenge it answers, and its own. */
function transcript(signer: HelloFrame, verifier: HelloFrame): Buffer {
  const h = createHash('sha256');
  for (const part of [Buffer.from(CONTEXT), Buffer.from(signer.node), Buffer.from(verifier.node), verifier.nonce, signer.nonce]) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.length);
    h.update(length).update(part);
  }
  return h.digest();
}

export function makeProof(identity: NodeIdentity, mine: HelloFrame, theirs: HelloFrame, peerKey: string | undefined): ProofFrame {
  const data = transcript(mine, theirs);
  const sig = sign(null, data, identity.privateKey);
  return peerKey === undefined ? { t: 'proof', sig } : { t: 'proof', sig, mac: createHmac('sha256', peerKey).update(data).digest() };
}

export interface TrustPolicy {
  readonly selfId: string;
  /** The shared secret every peer must prove it knows, if set. */
  readonly peerKey: string | undefined;
  /** Node ids allowed to link, if set; otherwise any node that passes the key check. */
  readonly trusted: ReadonlySet<string> | undefined;
}

export type Check = { readonly ok: true } | { readonly ok: false; readonly code: PeerCloseCode; readonly detail: string };

/** Checks the other side's hello: its id fits its key, it is not us, it is allowed. */
export function checkHello(hello: HelloFrame, policy: TrustPolicy): Check {
  if (hello.v !== PEER_PROTOCOL_VERSION) return { ok: false, code: 'BAD_FRAME', detail: `peer protocol version ${hello.v}; this node speaks ${PEER_PROTOCOL_VERSION}` };
  let key: KeyObject;
  try {
    key = publicKeyFromRaw(hello.key);
  } catch {
    return { ok: false, code: 'BAD_PROOF', detail: 'key is not an Ed25519 public key' };
  }
  if (nodeIdOf(key) !== hello.node) return { ok: false, code: 'BAD_PROOF', detail: 'node id does not belong to the key' };
  if (hello.node === policy.selfId) return { ok: false, code: 'SELF', detail: 'the peer is this node' };
  if (policy.trusted !== undefined && !policy.trusted.has(hello.node)) return { ok: false, code: 'UNTRUSTED', detail: `node ${hello.node} is not in --trust` };
  return { ok: true };
}

/** Checks the other side's proof against the hellos of this handshake. */
export function checkProof(proof: ProofFrame, theirs: HelloFrame, mine: HelloFrame, policy: TrustPolicy): Check {
  const data = transcript(theirs, mine);
  if (!verify(null, data, publicKeyFromRaw(theirs.key), proof.sig)) return { ok: false, code: 'BAD_PROOF', detail: 'bad signature' };
  if (policy.peerKey !== undefined) {
    if (proof.mac === undefined) return { ok: false, code: 'BAD_PROOF', detail: 'no PEER_KEY proof (is PEER_KEY set on the peer?)' };
    const expected = createHmac('sha256', policy.peerKey).update(data).digest();
    if (!timingSafeEqual(expected, proof.mac)) return { ok: false, code: 'BAD_PROOF', detail: 'wrong PEER_KEY' };
  }
  return { ok: true };
}
