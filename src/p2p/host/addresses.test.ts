import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBootstrap, parseMultiaddr } from './addresses.ts';
import { P2PStartError } from './errors.ts';

const PEER = '12D3KooWGzBvL6ArZ3wiS3wNJ6tQwNNNh8TLGPmL4yJ3sZJ4jB3L';

test('multiaddrs from flags parse, and a bad one names the flag, the value and an example', () => {
  assert.equal(parseMultiaddr('--p2p-listen', '/ip4/0.0.0.0/tcp/4101/ws').toString(), '/ip4/0.0.0.0/tcp/4101/ws');
  for (const bad of ['tcp/4100', '/ip4/1.2.3/tcp/1', '/ip4/1.2.3.4/tcp/99999', '/nonsense/1']) {
    assert.throws(
      () => parseMultiaddr('--p2p-listen', bad),
      (error: unknown) => error instanceof P2PStartError && error.code === 'ERR_P2P_ADDRESS' && error.message.startsWith(`--p2p-listen: "${bad}" is not a multiaddr`) && /\/ip4\/203\.0\.113\.7\/tcp\/4100/.test(error.message),
      bad,
    );
  }
});

test('a bootstrap address must end in a valid peer id', () => {
  assert.equal(parseBootstrap(`/ip4/127.0.0.1/tcp/4100/p2p/${PEER}`).peerId, PEER);
  assert.throws(() => parseBootstrap('/ip4/127.0.0.1/tcp/4100'), /--bootstrap: .* has no \/p2p\/PEERID part/);
  assert.throws(() => parseBootstrap('/ip4/127.0.0.1/tcp/4100/p2p/QmNotAPeer'), /--bootstrap: .*not (a valid peer id|a multiaddr)/);
});
