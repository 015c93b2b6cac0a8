import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { loadOrCreateIdentity } from '../../identity/node-identity.ts';
import { libp2pPrivateKey, nodeIdOfPeer, parsePeerId, peerIdOf } from './peer-identity.ts';

test("the libp2p key is the node's own key: the same peer id from the private and the public half", async () => {
  const identity = loadOrCreateIdentity(mkdtempSync(join(tmpdir(), 'parley-peer-id-')));
  const privateKey = await libp2pPrivateKey(identity);
  const fromPrivate = peerIdFromPrivateKey(privateKey);
  assert.equal(fromPrivate.toString(), peerIdOf(identity.publicKey));
  assert.match(fromPrivate.toString(), /^12D3KooW/);
  // libp2p signs with the same key pair node:crypto holds.
  assert.deepEqual(Buffer.from(privateKey.publicKey.raw), Buffer.from(identity.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)));
});

test("a peer's node id is read off its peer id", () => {
  const identity = loadOrCreateIdentity(mkdtempSync(join(tmpdir(), 'parley-peer-id-')));
  const peer = parsePeerId(peerIdOf(identity.publicKey));
  assert.ok(peer !== undefined);
  assert.equal(nodeIdOfPeer(peer), identity.nodeId);
});

test('text that is not a peer id parses to undefined', () => {
  for (const text of ['', 'alice', '12D3KooWxyz', '0123456789abcdef0123456789abcdef']) assert.equal(parsePeerId(text), undefined, text);
});
