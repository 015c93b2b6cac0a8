import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nameCid, nodeCid, parseFindQuery } from './records.ts';

const isPeerId = (text: string) => text.startsWith('12D3KooW');

test('a name and a node id map to fixed raw sha2-256 CIDs, kept apart by their prefixes', () => {
  assert.equal(nameCid('alice').toString(), nameCid('alice').toString());
  assert.notEqual(nameCid('alice').toString(), nameCid('bob').toString());
  assert.notEqual(nameCid('0123456789abcdef0123456789abcdef').toString(), nodeCid('0123456789abcdef0123456789abcdef').toString());
  assert.equal(nameCid('alice').code, 0x55);
  assert.equal(nameCid('alice').multihash.code, 0x12);
  // The CID of sha256("parley-name:alice"): other implementations must derive the same.
  assert.equal(nameCid('alice').toString(), 'bafkreiab75b6lcjyvfnecefwidui2ocxraauudit5xeus22ztp5binhmsi');
});

test('a query is a node id, a peer id or a name, in that order', () => {
  assert.deepEqual(parseFindQuery('0123456789abcdef0123456789abcdef', isPeerId), { kind: 'node', nodeId: '0123456789abcdef0123456789abcdef' });
  assert.deepEqual(parseFindQuery('0123456789ABCDEF0123456789ABCDEF', isPeerId), { kind: 'node', nodeId: '0123456789abcdef0123456789abcdef' });
  assert.deepEqual(parseFindQuery('12D3KooWabc', isPeerId), { kind: 'peer', peerId: '12D3KooWabc' });
  assert.deepEqual(parseFindQuery('alice', isPeerId), { kind: 'name', name: 'alice' });
  assert.deepEqual(parseFindQuery('alice smith', isPeerId), { kind: 'name', name: 'alice smith' });
  assert.match((parseFindQuery('', isPeerId) as { error: string }).error, /node id \(32 hex digits\), a peer id/);
  assert.ok('error' in parseFindQuery('tab\there', isPeerId));
  assert.ok('error' in parseFindQuery('x'.repeat(1025), isPeerId));
});
