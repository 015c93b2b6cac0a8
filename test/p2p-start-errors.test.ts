// `parley serve --p2p` with something it cannot use exits 1 and says what to fix: a bad
// or unreadable swarm key file, an address that is no multiaddr, a bootstrap address
// without its peer id, a port already in use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parley } from './helpers/p2p-node.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-p2p-errors-'));

function serve(...args: string[]) {
  return parley(['serve', '--data', dir, '--memory', '--listen', '127.0.0.1:0', '--p2p', '--no-mdns', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', ...args]);
}

test('a swarm key file in the wrong format exits 1 with what is wrong and the format', async () => {
  const file = join(dir, 'bad.key');
  writeFileSync(file, '/key/swarm/psk/1.0.0/\n/base16/\nnot-hex\n');
  const { code, stderr } = await serve('--p2p-secret', file);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /--p2p-secret: .*bad\.key is not a swarm key: the third line must be hex digits/);
  assert.match(stderr, /three lines: "\/key\/swarm\/psk\/1\.0\.0\/", "\/base16\/" and 64 hex digits/);
});

test('a swarm key file that cannot be read exits 1 and says why', async () => {
  const { code, stderr } = await serve('--p2p-secret', join(dir, 'missing.key'));
  assert.equal(code, 1, stderr);
  assert.match(stderr, /--p2p-secret: cannot read .*missing\.key: ENOENT.*; give the path of a swarm key file: a swarm key file has three lines/);
});

test('an address that is not a multiaddr exits 1, naming the flag and showing a good one', async () => {
  const listen = await serve('--p2p-listen', 'tcp/4100');
  assert.equal(listen.code, 1, listen.stderr);
  assert.match(listen.stderr, /--p2p-listen: "tcp\/4100" is not a multiaddr .*one looks like \/ip4\/203\.0\.113\.7\/tcp\/4100/);
  const bootstrap = await serve('--bootstrap', '/ip4/127.0.0.1/tcp/4100');
  assert.equal(bootstrap.code, 1, bootstrap.stderr);
  assert.match(bootstrap.stderr, /--bootstrap: "\/ip4\/127\.0\.0\.1\/tcp\/4100" has no \/p2p\/PEERID part/);
});

test('a libp2p port in use exits 1 and says to choose another with --p2p-listen', async () => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const { port } = taken.address() as AddressInfo;
  try {
    const { code, stderr } = await serve('--p2p-listen', `/ip4/127.0.0.1/tcp/${port}`);
    assert.equal(code, 1, stderr);
    assert.match(stderr, new RegExp(`cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${port}: the port is in use .*choose another port with --p2p-listen`));
  } finally {
    taken.close();
  }
});

test('p2p flags without --p2p are usage errors (exit 2)', async () => {
  const { code, stderr } = await parley(['serve', '--data', dir, '--bootstrap', '/ip4/127.0.0.1/tcp/1']);
  assert.equal(code, 2);
  assert.match(stderr, /--bootstrap needs --p2p/);
});
