import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFound, formatStatus, nodeBaseUrl } from './p2p.ts';

test('--node takes http(s) and ws(s) URLs, and nothing else', () => {
  assert.equal(nodeBaseUrl('ws://127.0.0.1:8080/')?.href, 'http://127.0.0.1:8080/');
  assert.equal(nodeBaseUrl('wss://chat.example.org/')?.href, 'https://chat.example.org/');
  assert.equal(nodeBaseUrl('http://127.0.0.1:9000')?.href, 'http://127.0.0.1:9000/');
  assert.equal(nodeBaseUrl('ftp://x/'), undefined);
  assert.equal(nodeBaseUrl('127.0.0.1:8080'), undefined);
});

test('status lists the addresses and each peer with its addresses; a node without p2p says so', () => {
  const text = formatStatus({ id: 'a'.repeat(32), peerId: '12D3KooWA', addrs: ['/ip4/1.2.3.4/tcp/4100/p2p/12D3KooWA'], peers: [{ peerId: '12D3KooWB', addrs: ['/ip4/5.6.7.8/tcp/4100/p2p/12D3KooWB'] }] });
  assert.equal(text, `node id:  ${'a'.repeat(32)}\npeer id:  12D3KooWA\naddresses (1):\n  /ip4/1.2.3.4/tcp/4100/p2p/12D3KooWA\npeers (1):\n  12D3KooWB\n    /ip4/5.6.7.8/tcp/4100/p2p/12D3KooWB\n`);
  assert.match(formatStatus({ id: 'a'.repeat(32), addrs: [], peers: [] }), /peer-to-peer mode is off on this node \(start it with --p2p\)/);
});

test('find prints each node with its addresses', () => {
  assert.equal(
    formatFound([{ nodeId: 'n1', peerId: 'p1', addrs: ['/a', '/b'] }, { nodeId: 'n2', peerId: 'p2', addrs: [] }]),
    'node n1  peer p1\n  /a\n  /b\nnode n2  peer p2\n  (no known address)\n',
  );
});
