// The mutual peer handshake. Each side sends a hello with its node id, public key, a fresh
// random nonce and a fresh X25519 key; then each proves who it is with an Ed25519
// signature (and, with a shared PEER_KEY, an HMAC) over a transcript that binds both
// roles, both node ids, both nonces and both X25519 keys. A proof only fits the
// handshake it was made for, so a recorded one replayed later fails; a node id only fits
// the key it is derived from, so no one can claim another node's id.
//
// The PEER_KEY must not leak to someone who does not know it. An HMAC of the key over
// data anyone can see lets whoever holds it test guesses at the key offline, as fast as
// they can hash: so nothing keyed goes to a side that has not proven itself, and what
// does go cannot be checked against a guess by someone who only watches.
//
// - The HMAC key is the PEER_KEY mixed with the X25519 secret of this handshake: someone
//   who only sees (or records) a handshake cannot test a guess against its HMACs.
// - The dialer proves first. The side that was dialed (anyone may connect to it) signs
//   first, which reveals nothing of the PEER_KEY, and sends its HMAC only once the
//   dialer's signature and HMAC check out: a stranger who connects learns nothing keyed.
// - The dialer sends its HMAC only once the dialed side's signature checks out: only to
//   the node whose id that signature proves, and with --trust, only to an allowed one,
//   whoever answers at the URL.
//
// What is left: a node that dials a URL where some other node answers with a key of its
// own (a hostile entry in its peer list, or whoever controls the path of a plain ws://
// link) and is not kept out by --trust gives that node one HMAC it can test guesses
// against. The dialer chose that URL; wss:// and --trust narrow who can answer, and a
// long random PEER_KEY makes the guessing hopeless. Only a PAKE would close this, and it
// needs group arithmetic (hashing the key to a curve point) that Node's crypto lacks.

import { createHash, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type { NodeIdentity } from '../identity/node-identity.ts';
import { nodeIdOf, publicKeyFromRaw, rawPublicKey } from '../identity/node-identity.ts';
import { PEER_PROTOCOL_VERSION, type HelloFrame, type PeerCloseCode, type ProofFrame } from './protocol.ts';

const CONTEXT = 'parley-peer-v2';
/** DER prefix of an X25519 SubjectPublicKeyInfo. */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** Which end of the link a side is: the one that dialed, or the one that was dialed. */
export type Role = 'dialer' | 'dialed';

/** This side's hello, with the X25519 private key behind its `dh` (which never leaves the node). */
export interface OwnHello {
  readonly frame: HelloFrame;
  readonly ephemeral: KeyObject;
}

export function makeHello(identity: NodeIdentity, rate = 0): OwnHello {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const frame: HelloFrame = {
    t: 'hello',
    v: PEER_PROTOCOL_VERSION,
    node: identity.nodeId,
    key: rawPublicKey(identity.publicKey),
    nonce: randomBytes(32),
    dh: rawPublicKey(publicKey),
    rate,
  };
  return { frame, ephemeral: privateKey };
}

export interface TrustPolicy {
  readonly selfId: string;
  /** The shared secret every peer must prove it knows, if set. */
  readonly peerKey: string | undefined;
  /** Node ids allowed to link, if set; otherwise any node that passes the key check. */
  readonly trusted: ReadonlySet<string> | undefined;
}

export type Refusal = { readonly ok: false; readonly code: PeerCloseCode; readonly detail: string };
export type Check = { readonly ok: true } | Refusal;

/** One handshake, once both hellos are known: what proofs are made over, and with what key. */
export interface Session {
  readonly role: Role;
  readonly mine: HelloFrame;
  readonly theirs: HelloFrame;
  /** The HMAC key: the PEER_KEY and this handshake's X25519 secret; none without a PEER_KEY. */
  readonly macKey: Buffer | undefined;
}

/** Checks the other side's hello: its id fits its key, it is not us, it is allowed. */
export function checkHello(hello: HelloFrame, policy: TrustPolicy): Check {
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

/** Checks the other side's hello and fixes the session both proofs are made over. */
export function openSession(own: OwnHello, theirs: HelloFrame, role: Role, policy: TrustPolicy): { readonly ok: true; readonly session: Session } | Refusal {
  const check = checkHello(theirs, policy);
  if (!check.ok) return check;
  let macKey: Buffer | undefined;
  if (policy.peerKey !== undefined) {
    let secret: Buffer;
    try {
      secret = diffieHellman({ privateKey: own.ephemeral, publicKey: createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, theirs.dh]), format: 'der', type: 'spki' }) });
    } catch {
      // A low-order point gives an all-zero secret, which OpenSSL refuses.
      return { ok: false, code: 'BAD_PROOF', detail: 'dh is not a usable X25519 key' };
    }
    macKey = Buffer.from(hkdfSync('sha256', secret, policy.peerKey, CONTEXT, 32));
  }
  return { ok: true, session: { role, mine: own.frame, theirs, macKey } };
}

const other = (role: Role): Role => (role === 'dialer' ? 'dialed' : 'dialer');

/** What a proof covers: the signer's role, who signs, for whom, the challenge it answers, its own, and both X25519 keys. */
function transcript(role: Role, signer: HelloFrame, verifier: HelloFrame): Buffer {
  const h = createHash('sha256');
  for (const part of [Buffer.from(CONTEXT), Buffer.from(role), Buffer.from(signer.node), Buffer.from(verifier.node), verifier.nonce, signer.nonce, signer.dh, verifier.dh]) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.length);
    h.update(length).update(part);
  }
  return h.digest();
}

/** This side's signature alone: who it is, and nothing of the PEER_KEY. */
export function makeSignature(identity: NodeIdentity, session: Session): ProofFrame {
  return { t: 'proof', sig: sign(null, transcript(session.role, session.mine, session.theirs), identity.privateKey) };
}

/** This side's signature and, with a PEER_KEY, its HMAC: only for a side that may see it. */
export function makeProof(identity: NodeIdentity, session: Session): ProofFrame {
  const data = transcript(session.role, session.mine, session.theirs);
  const sig = sign(null, data, identity.privateKey);
  return session.macKey === undefined ? { t: 'proof', sig } : { t: 'proof', sig, mac: createHmac('sha256', session.macKey).update(data).digest() };
}

/** Checks the dialed side's first proof: its signature, and no HMAC before the dialer's. */
export function checkSignature(proof: ProofFrame, session: Session): Check {
  if (proof.mac !== undefined) return { ok: false, code: 'BAD_FRAME', detail: 'a PEER_KEY proof before the dialer proved itself' };
  return verifySignature(proof, transcript(other(session.role), session.theirs, session.mine), session.theirs);
}

/** Checks the other side's full proof: its signature and, with a PEER_KEY, its HMAC. */
export function checkProof(proof: ProofFrame, session: Session): Check {
  const data = transcript(other(session.role), session.theirs, session.mine);
  const signed = verifySignature(proof, data, session.theirs);
  if (!signed.ok || session.macKey === undefined) return signed;
  if (proof.mac === undefined) return { ok: false, code: 'BAD_PROOF', detail: 'no PEER_KEY proof (is PEER_KEY set on the peer?)' };
  const expected = createHmac('sha256', session.macKey).update(data).digest();
  if (!timingSafeEqual(expected, proof.mac)) return { ok: false, code: 'BAD_PROOF', detail: 'wrong PEER_KEY' };
  return { ok: true };
}

function verifySignature(proof: ProofFrame, data: Buffer, signer: HelloFrame): Check {
  if (!verify(null, data, publicKeyFromRaw(signer.key), proof.sig)) return { ok: false, code: 'BAD_PROOF', detail: 'bad signature' };
  return { ok: true };
}
