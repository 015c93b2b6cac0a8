import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryIdentityPins, PinnedAuthenticationService, identityOf, makeCredential } from './credential.ts';
import { createInstallationIdentity, type InstallationIdentity } from './identity.ts';
import {
  buildCommit,
  canRead,
  clientConfig,
  createGroupState,
  createKeyPackage,
  decodeKeyPackage,
  decodeState,
  encodeState,
  encryptApplication,
  epochOf,
  joinFromWelcome,
  leaves,
  loadSuite,
  processIncoming,
  type CommitPolicy,
  type MlsGroupState,
} from './mls.ts';

const acceptAll: CommitPolicy = () => true;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function member(uid: string): Promise<{ id: InstallationIdentity; config: ReturnType<typeof clientConfig> }> {
  const cs = await loadSuite();
  const id = await createInstallationIdentity(cs, uid);
  return { id, config: clientConfig(new PinnedAuthenticationService(cs.signature, new MemoryIdentityPins())) };
}

async function groupOfTwo(): Promise<{ alice: MlsGroupState; bob: MlsGroupState }> {
  const cs = await loadSuite();
  const a = await member('alice');
  const b = await member('bob');
  const alice0 = await createGroupState(cs, new Uint8Array(16).fill(1), await createKeyPackage(cs, a.id.credential, a.id.signatureKey), a.config);
  const bobKp = await createKeyPackage(cs, b.id.credential, b.id.signatureKey);
  const add = await buildCommit(cs, alice0, { add: [decodeKeyPackage(bobKp.publicBytes)!] });
  assert.ok(add.welcome);
  const bob = await joinFromWelcome(cs, add.welcome, bobKp, b.config);
  return { alice: add.state, bob };
}

test('a member added by Welcome reads messages and sees the verified author', async () => {
  const cs = await loadSuite();
  const { alice, bob } = await groupOfTwo();
  assert.equal(epochOf(bob), 1n);
  assert.deepEqual(leaves(bob).map((l) => identityOf(l.credential)?.uid), ['alice', 'bob']);
  const sent = await encryptApplication(cs, alice, text('hi bob'));
  const got = await processIncoming(cs, bob, sent.message, acceptAll);
  assert.equal(got.kind, 'application');
  if (got.kind !== 'application') return;
  assert.equal(new TextDecoder().decode(got.data), 'hi bob');
  assert.equal(identityOf(got.sender)?.uid, 'alice');
  // The same bytes again: the generation is used up.
  const again = await processIncoming(cs, got.state, sent.message, acceptAll);
  assert.equal(again.kind, 'skipped');
});

test('state survives encoding, and past-epoch keys read a message sent before a commit', async () => {
  const cs = await loadSuite();
  const { alice, bob } = await groupOfTwo();
  const config = bob.clientConfig;
  const early = await encryptApplication(cs, alice, text('before'));
  const update = await buildCommit(cs, early.state, {});
  const bob2 = await processIncoming(cs, decodeState(encodeState(bob), config), update.commit, acceptAll);
  assert.equal(bob2.kind, 'commit');
  if (bob2.kind !== 'commit') return;
  assert.equal(epochOf(bob2.state), 2n);
  assert.ok(canRead(bob2.state, 1n));
  const late = await processIncoming(cs, bob2.state, early.message, acceptAll);
  assert.equal(late.kind, 'application');
});

test('two commits for one epoch: the second is stale once the first is applied', async () => {
  const cs = await loadSuite();
  const { alice, bob } = await groupOfTwo();
  const fromAlice = await buildCommit(cs, alice, {});
  const fromBob = await buildCommit(cs, bob, {});
  // Alice applies Bob's (first in channel order) instead of her own pending one.
  const aliceSees = await processIncoming(cs, alice, fromBob.commit, acceptAll);
  assert.equal(aliceSees.kind, 'commit');
  if (aliceSees.kind !== 'commit') return;
  const stale = await processIncoming(cs, aliceSees.state, fromAlice.commit, acceptAll);
  assert.deepEqual(stale.kind === 'skipped' && stale.problem, 'stale-commit');
});

test('garbage, other groups and future epochs are classified, not thrown', async () => {
  const cs = await loadSuite();
  const { alice, bob } = await groupOfTwo();
  const garbage = await processIncoming(cs, bob, new Uint8Array([1, 2, 3]), acceptAll);
  assert.equal(garbage.kind === 'skipped' && garbage.problem, 'garbage');
  const next = await buildCommit(cs, alice, {});
  const future = await encryptApplication(cs, next.state, text('from the future'));
  const got = await processIncoming(cs, bob, future.message, acceptAll);
  assert.equal(got.kind === 'skipped' && got.problem, 'future-epoch');
  const refused = await processIncoming(cs, bob, next.commit, () => false);
  assert.equal(refused.kind === 'skipped' && refused.problem, 'rejected');
});

test('the authentication service rejects unbound and re-keyed credentials', async () => {
  const cs = await loadSuite();
  const pins = new MemoryIdentityPins();
  const auth = new PinnedAuthenticationService(cs.signature, pins);
  const alice = await createInstallationIdentity(cs, 'alice', 'aaaa');
  assert.equal(await auth.validateCredential(alice.credential, alice.signatureKey.publicKey), true);
  // The same credential presented with another signature key: the binding fails.
  const other = await cs.signature.keygen();
  assert.equal(await auth.validateCredential(alice.credential, other.publicKey), false);
  // Mallory makes a well-formed credential for alice/aaaa with her own identity key.
  const mallory = await cs.signature.keygen();
  const forged = await makeCredential(cs.signature, { uid: 'alice', installation: 'aaaa', identityKey: mallory.publicKey, identityPrivateKey: mallory.signKey }, other.publicKey);
  assert.equal(await auth.validateCredential(forged, other.publicKey), false);
  // Not our format at all.
  assert.equal(await auth.validateCredential({ credentialType: 'basic', identity: text('alice') }, other.publicKey), false);
});

test('a key package with a forged credential cannot be added', async () => {
  const cs = await loadSuite();
  const a = await member('alice');
  const group = await createGroupState(cs, new Uint8Array(16).fill(2), await createKeyPackage(cs, a.id.credential, a.id.signatureKey), a.config);
  const evil = await cs.signature.keygen();
  const signing = await cs.signature.keygen();
  // A credential whose binding was made by a different key than the one it names.
  const real = await makeCredential(cs.signature, { uid: 'eve', installation: 'eeee', identityKey: evil.publicKey, identityPrivateKey: signing.signKey }, signing.publicKey);
  const kp = await createKeyPackage(cs, real, signing);
  await assert.rejects(buildCommit(cs, group, { add: [decodeKeyPackage(kp.publicBytes)!] }));
});
