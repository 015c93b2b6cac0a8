import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Decoder, Encoder } from 'cbor-x';
import { nodeIdOf, type NodeIdentity } from '../identity/node-identity.ts';
import { ANNOUNCEMENT_LIFETIME_MS, checkAnnouncement, Directory, encodeAnnouncement, encodeWithdrawal } from './directory.ts';

function identity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}
const cbor = { decode: (b: Uint8Array) => new Decoder({ mapsAsObjects: true }).decode(b) as Record<string, unknown>, encode: (v: unknown) => new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false }).encode(v) };
const NOW = 1_800_000_000_000;

test('an announcement checks out with the node that signed it', () => {
  const me = identity();
  const checked = checkAnnouncement(encodeAnnouncement(me, { channel: 'lobby', about: 'hi there' }, NOW, NOW - 5), NOW);
  assert.deepEqual(checked, { ok: true, entry: { channel: 'lobby', about: 'hi there', node: me.nodeId, announced: NOW, lastActivity: NOW - 5 }, gone: false });
});

test('an altered, re-signed by another key, stale or malformed announcement is refused with a reason', () => {
  const me = identity();
  const good = cbor.decode(encodeAnnouncement(me, { channel: 'lobby', about: '' }, NOW, 0));
  const cases: Array<[Record<string, unknown> | Uint8Array, RegExp]> = [
    [{ ...good, ch: 'other' }, /bad signature/],
    [{ ...good, about: 'changed' }, /bad signature/],
    [{ ...good, key: cbor.decode(encodeAnnouncement(identity(), { channel: 'lobby', about: '' }, NOW, 0)).key }, /bad signature/],
    [{ ...good, ts: NOW - ANNOUNCEMENT_LIFETIME_MS - 1 }, /ts is not a time of the last hour/],
    [{ ...good, last: NOW + 3_600_000 }, /last must be a time no later than ts/],
    [{ ...good, ch: '' }, /ch must not be empty/],
    [{ ...good, about: 'x'.repeat(281) }, /about must be text of at most 280/],
    [{ ...good, v: 2 }, /announcement version 2/],
    [{ ...good, sig: new Uint8Array(3) }, /sig must be 64 bytes/],
    [Buffer.from([0xff]), /not CBOR/],
  ];
  for (const [value, reason] of cases) {
    const checked = checkAnnouncement(value instanceof Uint8Array ? value : cbor.encode(value), NOW);
    assert.equal(checked.ok, false, JSON.stringify(value));
    assert.match((checked as { error: string }).error, reason);
  }
});

test('the directory keeps the newest announcement per channel and node, and forgets those not renewed', () => {
  const a = identity();
  const b = identity();
  const directory = new Directory();
  assert.ok(directory.take(encodeAnnouncement(a, { channel: 'lobby', about: 'old' }, NOW - 10, 0), NOW).ok);
  assert.ok(directory.take(encodeAnnouncement(a, { channel: 'lobby', about: 'new' }, NOW, 5), NOW).ok);
  assert.ok(directory.take(encodeAnnouncement(a, { channel: 'lobby', about: 'older, later' }, NOW - 20, 0), NOW).ok);
  assert.ok(directory.take(encodeAnnouncement(b, { channel: 'lobby', about: 'mine too' }, NOW, 9), NOW).ok);
  assert.deepEqual(directory.list(NOW).map((e) => [e.node, e.about]), [[b.nodeId, 'mine too'], [a.nodeId, 'new']], 'most recently active first');
  assert.deepEqual(directory.list(NOW + ANNOUNCEMENT_LIFETIME_MS + 1), []);
});

test('a withdrawal drops the channel at once; an older listing coming late does not bring it back, a newer one does', () => {
  const a = identity();
  const b = identity();
  const directory = new Directory();
  assert.ok(directory.take(encodeAnnouncement(a, { channel: 'lobby', about: 'hi' }, NOW - 10, 0), NOW).ok);
  assert.ok(directory.take(encodeAnnouncement(b, { channel: 'lobby', about: 'mine too' }, NOW - 10, 0), NOW).ok);
  const withdrawn = directory.take(encodeWithdrawal(a, 'lobby', NOW - 5), NOW);
  assert.equal(withdrawn.ok && withdrawn.gone, true);
  assert.deepEqual(directory.list(NOW).map((e) => e.node), [b.nodeId], "only a's entry goes");
  assert.equal(directory.take(encodeAnnouncement(a, { channel: 'lobby', about: 'hi' }, NOW - 8, 0), NOW).added, false);
  assert.deepEqual(directory.list(NOW).map((e) => e.node), [b.nodeId]);
  assert.equal(directory.take(encodeAnnouncement(a, { channel: 'lobby', about: 'back' }, NOW, 0), NOW).added, true);
  assert.deepEqual(directory.list(NOW).map((e) => [e.node, e.about]).sort(), [[a.nodeId, 'back'], [b.nodeId, 'mine too']].sort());
});

test('a withdrawal cannot be made of a listing, nor a listing of a withdrawal, nor by another node', () => {
  const me = identity();
  const listing = cbor.decode(encodeAnnouncement(me, { channel: 'lobby', about: '' }, NOW, 0));
  const withdrawal = cbor.decode(encodeWithdrawal(me, 'lobby', NOW));
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...listing, gone: true }, /bad signature/],
    [{ ...withdrawal, gone: undefined }, /bad signature/],
    [{ ...withdrawal, gone: false }, /gone must be true or absent/],
    [{ ...withdrawal, ch: 'other' }, /bad signature/],
    [{ ...withdrawal, key: cbor.decode(encodeWithdrawal(identity(), 'lobby', NOW)).key }, /bad signature/],
  ];
  for (const [value, reason] of cases) {
    const checked = checkAnnouncement(cbor.encode(value), NOW);
    assert.equal(checked.ok, false, JSON.stringify(Object.keys(value)));
    assert.match((checked as { error: string }).error, reason);
  }
});
