import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { nodeIdOf, type NodeIdentity } from '../identity/node-identity.ts';
import { checkHello, checkProof, checkSignature, makeHello, makeProof, makeSignature, openSession, type OwnHello, type Role, type Session, type TrustPolicy } from './handshake.ts';
import { decodePeerFrame, encodePeerFrame, type HelloFrame } from './protocol.ts';

function identity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}
const policy = (self: NodeIdentity, extra: Partial<TrustPolicy> = {}): TrustPolicy => ({ selfId: self.nodeId, peerKey: undefined, trusted: undefined, ...extra });
/** Through the codec, as the other side would see it. */
const wire = <T>(frame: T): T => {
  const decoded = decodePeerFrame(encodePeerFrame(frame as never), 1024);
  assert.ok(decoded.ok, decoded.ok ? '' : decoded.error);
  return decoded.frame as T;
};
function session(own: OwnHello, theirs: HelloFrame, role: Role, p: TrustPolicy): Session {
  const opened = openSession(own, wire(theirs), role, p);
  assert.ok(opened.ok, opened.ok ? '' : opened.detail);
  return opened.session;
}
/** Dialer `a` and dialed `b`, each with its own PEER_KEY (or none). */
function pair(keyA: string | undefined, keyB: string | undefined) {
  const [a, b] = [identity(), identity()];
  const [helloA, helloB] = [makeHello(a), makeHello(b)];
  return { a, b, atA: session(helloA, helloB.frame, 'dialer', policy(a, { peerKey: keyA })), atB: session(helloB, helloA.frame, 'dialed', policy(b, { peerKey: keyB })) };
}

test('the dialed side signs, the dialer proves, the dialed side proves: with a PEER_KEY, knowledge of it too', () => {
  const { a, b, atA, atB } = pair('secret', 'secret');
  const signature = wire(makeSignature(b, atB));
  assert.equal(signature.mac, undefined, 'the first word of the dialed side reveals nothing keyed');
  assert.deepEqual(checkSignature(signature, atA), { ok: true });
  const proofA = wire(makeProof(a, atA));
  assert.deepEqual(checkProof(proofA, atB), { ok: true });
  assert.deepEqual(checkProof(wire(makeProof(b, atB)), atA), { ok: true });
  // Without a PEER_KEY, the signatures alone.
  const open = pair(undefined, undefined);
  assert.equal(makeProof(open.a, open.atA).mac, undefined);
  assert.deepEqual(checkProof(wire(makeProof(open.a, open.atA)), open.atB), { ok: true });
});

test('a wrong or missing PEER_KEY is refused, and an HMAC sent too early is refused', () => {
  const wrong = pair('other', 'secret');
  assert.deepEqual(checkProof(wire(makeProof(wrong.a, wrong.atA)), wrong.atB), { ok: false, code: 'BAD_PROOF', detail: 'wrong PEER_KEY' });
  const none = pair(undefined, 'secret');
  assert.deepEqual(checkProof(wire(makeProof(none.a, none.atA)), none.atB), { ok: false, code: 'BAD_PROOF', detail: 'no PEER_KEY proof (is PEER_KEY set on the peer?)' });
  const { b, atA, atB } = pair('secret', 'secret');
  assert.equal(checkSignature(wire(makeProof(b, atB)), atA).ok, false);
});

test('a proof made in one role does not pass in the other', () => {
  const { a, atA, atB } = pair('secret', 'secret');
  assert.deepEqual(checkProof(wire(makeProof(a, atA)), atB), { ok: true });
  // The same two hellos, signed as the dialed side: no use where the dialer must prove.
  assert.deepEqual(checkProof(wire(makeProof(a, { ...atA, role: 'dialed' })), atB), { ok: false, code: 'BAD_PROOF', detail: 'bad signature' });
});

test('what crosses the wire does not let an onlooker test a guess at the PEER_KEY', () => {
  const { a, atA } = pair('secret', 'secret');
  const proof = makeProof(a, atA);
  // An onlooker who guessed the key right, and has both hellos, still cannot reproduce
  // the HMAC: the X25519 secret he can compute (with a key of his own) is not theirs.
  const onlooker = session(makeHello(identity()), atA.theirs, 'dialer', policy(identity(), { peerKey: 'secret' }));
  assert.notDeepEqual(makeProof(a, { ...atA, macKey: onlooker.macKey }).mac, proof.mac);
  assert.notDeepEqual(createHmac('sha256', 'secret').update(encodePeerFrame(atA.mine)).digest(), proof.mac);
  // Every handshake's HMAC differs, even between the same two nodes.
  assert.notDeepEqual(proof.mac, makeProof(a, pair('secret', 'secret').atA).mac);
});

test('a recorded proof replayed against a new challenge fails', () => {
  const [a, b] = [identity(), identity()];
  const helloB = makeHello(b);
  const recorded = makeProof(b, session(helloB, makeHello(a).frame, 'dialer', policy(b, { peerKey: 'k' })));
  const fresh = session(makeHello(a), helloB.frame, 'dialed', policy(a, { peerKey: 'k' }));
  assert.deepEqual(checkProof(recorded, fresh), { ok: false, code: 'BAD_PROOF', detail: 'bad signature' });
});

test('a hello is refused for a stolen id, itself, a node not trusted, or an unusable X25519 key', () => {
  const [a, b, c] = [identity(), identity(), identity()];
  const stolen: HelloFrame = { ...makeHello(c).frame, node: b.nodeId };
  assert.deepEqual(checkHello(stolen, policy(a)), { ok: false, code: 'BAD_PROOF', detail: 'node id does not belong to the key' });
  assert.equal((checkHello(makeHello(a).frame, policy(a)) as { code: string }).code, 'SELF');
  assert.equal((checkHello(makeHello(c).frame, policy(a, { trusted: new Set([b.nodeId]) })) as { code: string }).code, 'UNTRUSTED');
  assert.deepEqual(checkHello(makeHello(b).frame, policy(a, { trusted: new Set([b.nodeId]) })), { ok: true });
  const lowOrder: HelloFrame = { ...makeHello(b).frame, dh: new Uint8Array(32) };
  assert.deepEqual(openSession(makeHello(a), lowOrder, 'dialed', policy(a, { peerKey: 'k' })), { ok: false, code: 'BAD_PROOF', detail: 'dh is not a usable X25519 key' });
  // Someone signing with their own key while claiming the other's hello: the signature fails.
  const helloB = makeHello(b);
  const atA = session(makeHello(a), helloB.frame, 'dialer', policy(a));
  const atB = session(helloB, atA.mine, 'dialed', policy(b));
  assert.deepEqual(checkSignature(makeSignature(b, atB), atA), { ok: true });
  assert.deepEqual(checkSignature(makeSignature(c, atB), atA), { ok: false, code: 'BAD_PROOF', detail: 'bad signature' });
});
