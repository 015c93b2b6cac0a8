import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { nodeIdOf, type NodeIdentity } from '../server/identity.ts';
import { checkHello, checkProof, makeHello, makeProof, type TrustPolicy } from './handshake.ts';
import { decodePeerFrame, encodePeerFrame, type HelloFrame } from './peer-protocol.ts';

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

test('both sides prove their keys; with a PEER_KEY, knowledge of it too', () => {
  const [a, b] = [identity(), identity()];
  const [helloA, helloB] = [wire(makeHello(a)), wire(makeHello(b))];
  assert.deepEqual(checkHello(helloB, policy(a)), { ok: true });
  assert.deepEqual(checkHello(helloA, policy(b)), { ok: true });
  const proofB = wire(makeProof(b, helloB, helloA, 'secret'));
  assert.deepEqual(checkProof(proofB, helloB, helloA, policy(a, { peerKey: 'secret' })), { ok: true });
  assert.deepEqual(checkProof(proofB, helloB, helloA, policy(a, { peerKey: 'other' })), { ok: false, code: 'BAD_PROOF', detail: 'wrong PEER_KEY' });
  const noMac = wire(makeProof(b, helloB, helloA, undefined));
  assert.equal(checkProof(noMac, helloB, helloA, policy(a, { peerKey: 'secret' })).ok, false);
  assert.deepEqual(checkProof(noMac, helloB, helloA, policy(a)), { ok: true });
});

test('a recorded proof replayed against a new challenge fails', () => {
  const [a, b] = [identity(), identity()];
  const helloB = makeHello(b);
  const recorded = makeProof(b, helloB, makeHello(a), 'k');
  const freshChallenge = makeHello(a);
  assert.deepEqual(checkProof(recorded, helloB, freshChallenge, policy(a, { peerKey: 'k' })), { ok: false, code: 'BAD_PROOF', detail: 'bad signature' });
});

test('a hello is refused for a stolen id, itself, or a node not trusted', () => {
  const [a, b, c] = [identity(), identity(), identity()];
  const stolen: HelloFrame = { ...makeHello(c), node: b.nodeId };
  assert.deepEqual(checkHello(stolen, policy(a)), { ok: false, code: 'BAD_PROOF', detail: 'node id does not belong to the key' });
  assert.equal((checkHello(makeHello(a), policy(a)) as { code: string }).code, 'SELF');
  assert.equal((checkHello(makeHello(c), policy(a, { trusted: new Set([b.nodeId]) })) as { code: string }).code, 'UNTRUSTED');
  assert.deepEqual(checkHello(makeHello(b), policy(a, { trusted: new Set([b.nodeId]) })), { ok: true });
  // Someone signing with their own key while claiming the other's hello: the signature fails.
  const helloB = makeHello(b);
  const forged = makeProof(c, helloB, makeHello(a), undefined);
  assert.equal(checkProof(forged, helloB, makeHello(a), policy(a)).ok, false);
});
