import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING } from '../node/config.ts';
import { parseListen, parseServeArgs, UsageError } from './serve-args.ts';

test('defaults: plain listener on 127.0.0.1:8080, history 200, data ./data', () => {
  const { config, logLevel } = parseServeArgs([], {});
  assert.deepEqual(config.http.listen, [{ host: '127.0.0.1', port: 8080 }]);
  assert.equal(config.mles.historyLimit, 200);
  assert.equal(config.dataDir, './data');
  assert.equal(config.tls.cacheDir, 'data/acme');
  assert.equal(config.mles.key, undefined);
  assert.equal(config.websocket.rateLimit, 600);
  assert.equal(logLevel, 'info');
});

test('Mles flags keep their short forms and meanings', () => {
  const { config } = parseServeArgs(
    ['-d', 'a.example', '-d', 'B.example', '-e', 'me@example.org', '-c', '/tmp/c', '-l', '50', '-w', '/srv', '-s', '-p', '8443', '-r', '--rate-limit', '10'],
    { MLES_KEY: '' },
  );
  assert.deepEqual(config.tls.domains, ['a.example', 'b.example']);
  assert.deepEqual(config.tls.emails, ['me@example.org']);
  assert.equal(config.tls.cacheDir, '/tmp/c');
  assert.equal(config.mles.historyLimit, 50);
  assert.equal(config.http.wwwroot, '/srv');
  assert.equal(config.tls.staging, true);
  assert.equal(config.tls.acmeDirectory, LETS_ENCRYPT_STAGING);
  assert.equal(config.tls.port, 8443);
  assert.equal(config.tls.redirect, true);
  assert.equal(config.websocket.rateLimit, 10);
  assert.equal(config.mles.key, '', 'an empty MLES_KEY is set, not absent');
  assert.deepEqual(config.http.listen, [], 'with domains there is no plain listener unless asked for');
});

test('with domains the TLS port defaults to 443; without, -p sets the plain port', () => {
  assert.equal(parseServeArgs(['-d', 'a.example'], {}).config.tls.port, 443);
  assert.equal(parseServeArgs(['-d', 'a.example'], {}).config.tls.acmeDirectory, LETS_ENCRYPT);
  assert.deepEqual(parseServeArgs(['-p', '9000'], {}).config.http.listen, [{ host: '127.0.0.1', port: 9000 }]);
});

test('store flags', () => {
  const defaults = parseServeArgs([], {}).config;
  assert.equal(defaults.store.backend, 'sqlite');
  assert.equal(defaults.store.retainCount, 100_000);
  assert.equal(defaults.store.retainAgeMs, 30 * 86_400_000);
  const { config } = parseServeArgs(['--memory', '--retain-count', '5', '--retain-age', '90m', '--retain-bytes', '0'], {});
  assert.equal(config.store.backend, 'memory');
  assert.equal(config.store.retainCount, 5);
  assert.equal(config.store.retainAgeMs, 90 * 60_000);
  assert.equal(config.store.retainBytes, 0);
  assert.equal(parseServeArgs(['--retain-age', '0'], {}).config.store.retainAgeMs, 0);
  assert.throws(() => parseServeArgs(['--retain-age', '5'], {}), /number with a unit/);
  assert.throws(() => parseServeArgs(['--retain-age', '5w'], {}), /number with a unit/);
});

test('--listen forms', () => {
  assert.deepEqual(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  assert.deepEqual(parseListen('[::1]:9'), { host: '::1', port: 9 });
  assert.deepEqual(parseListen(':7'), { host: '0.0.0.0', port: 7 });
  assert.deepEqual(parseListen('7'), { host: '127.0.0.1', port: 7 });
  assert.throws(() => parseListen('localhost'), UsageError);
  assert.throws(() => parseListen('h:99999'), UsageError);
});

test('parley flags', () => {
  const { config, logLevel } = parseServeArgs(
    ['--listen', '127.0.0.1:0', '--listen', '[::1]:0', '--max-message', '100', '--header-timeout', '3', '--data', '/d', '--log-level', 'debug', '--history-bytes', '1000', '--max-buffered', '2000'],
    {},
  );
  assert.equal(config.http.listen.length, 2);
  assert.equal(config.websocket.maxMessage, 100);
  assert.equal(config.websocket.headerTimeoutMs, 3000);
  assert.equal(config.dataDir, '/d');
  assert.equal(config.mles.historyBytes, 1000);
  assert.equal(config.websocket.maxBuffered, 2000);
  assert.equal(logLevel, 'debug');
});

test('bad flags give a specific usage error', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--nope'], /Unknown option '--nope'/],
    [['-l', 'many'], /--limit must be a whole number/],
    [['--max-message', '0'], /--max-message must be at least 1/],
    [['--log-level', 'loud'], /--log-level must be one of/],
    [['--tls-cert', 'x'], /--tls-cert and --tls-key go together/],
    [['-r'], /--redirect needs --domains/],
    [['-d', 'a.example', '-s', '--acme-directory', 'https://x/dir'], /give one/],
    [['-d', 'not a domain'], /not a valid domain/],
    [['--acme-directory', 'ftp://x'], /must be an http\(s\) URL/],
    [['--tls-cert', '/nonexistent', '--tls-key', '/nonexistent'], /cannot read \/nonexistent/],
    [['--max-buffered', '1024', '--history-bytes', '4096'], /must be at least --history-bytes/],
    [['extra'], /Unexpected argument 'extra'/],
  ];
  for (const [argv, message] of cases) assert.throws(() => parseServeArgs(argv, {}), message, argv.join(' '));
});

test('peering flags', () => {
  const id = 'ab'.repeat(16);
  const { config } = parseServeArgs(
    ['--peer', 'ws://a.example:8080/', '--peer', 'wss://b.example/', '--peers-file', 'peers.txt', '--peers-url', 'https://c.example/peers', '--peers-interval', '5m', '--trust', id, '--peer-rate', '1000'],
    { PEER_KEY: 'secret' },
  );
  assert.deepEqual(config.network.peers, ['ws://a.example:8080/', 'wss://b.example/']);
  assert.equal(config.network.peersFile, 'peers.txt');
  assert.equal(config.network.peersUrl, 'https://c.example/peers');
  assert.equal(config.network.peersIntervalMs, 300_000);
  assert.deepEqual(config.network.trust, [id]);
  assert.equal(config.network.peerKey, 'secret');
  assert.equal(config.network.peerRate, 1000);
  const defaults = parseServeArgs([], {}).config;
  assert.deepEqual([defaults.network.peers, defaults.network.trust, defaults.network.peerKey, defaults.network.peerRate], [[], [], undefined, 200_000]);
  for (const [args, message] of [
    [['--peer', 'http://a.example/'], /--peer must be a ws:\/\/ or wss:\/\/ URL/],
    [['--peer', 'nonsense'], /--peer must be a ws:\/\/ or wss:\/\/ URL/],
    [['--trust', 'alice'], /--trust takes a node id \(32 hex digits/],
    [['--peers-url', 'ftp://x/'], /--peers-url must be an http\(s\) URL/],
  ] as const) {
    assert.throws(() => parseServeArgs(args, {}), (e: unknown) => e instanceof UsageError && message.test(e.message));
  }
});

test('p2p is off by default; --p2p turns it on with mDNS and the default listen addresses', () => {
  assert.equal(parseServeArgs([], {}).config.p2p.enabled, false);
  const { p2p } = parseServeArgs(['--p2p'], {}).config;
  assert.equal(p2p.enabled, true);
  assert.equal(p2p.mdns, true);
  assert.deepEqual(p2p.listen, ['/ip4/0.0.0.0/tcp/4100', '/ip4/0.0.0.0/tcp/4101/ws']);
  assert.deepEqual([p2p.announce, p2p.bootstrap, p2p.names, p2p.channels], [[], [], [], []]);
  assert.equal(p2p.relay, false);
  assert.equal(p2p.secretFile, undefined);
});

test('the p2p flags fill the p2p section', () => {
  const boot = '/ip4/10.0.0.2/tcp/4100/p2p/12D3KooWGzBvL6ArZ3wiS3wNJ6tQwNNNh8TLGPmL4yJ3sZJ4jB3L';
  const { p2p } = parseServeArgs(
    ['--p2p', '--p2p-listen', '/ip4/0.0.0.0/tcp/5000', '--p2p-announce', '/dns4/chat.example.org/tcp/5000', '--bootstrap', boot, '--no-mdns', '--p2p-secret', 'swarm.key',
      '--relay', '--p2p-name', 'alice', '--p2p-name', 'alice', '--p2p-name', 'bob', '--p2p-channels', 'lobby, news,,lobby'],
    {},
  ).config;
  assert.deepEqual(p2p.listen, ['/ip4/0.0.0.0/tcp/5000']);
  assert.deepEqual(p2p.announce, ['/dns4/chat.example.org/tcp/5000']);
  assert.deepEqual(p2p.bootstrap, [boot]);
  assert.equal(p2p.mdns, false);
  assert.equal(p2p.secretFile, 'swarm.key');
  assert.equal(p2p.relay, true);
  assert.deepEqual(p2p.names, ['alice', 'bob']);
  assert.deepEqual(p2p.channels, ['lobby', 'news']);
});

test('p2p flags without --p2p, and unusable names, are usage errors that say what to do', () => {
  assert.throws(() => parseServeArgs(['--bootstrap', '/ip4/1.2.3.4/tcp/1'], {}), /--bootstrap needs --p2p/);
  assert.throws(() => parseServeArgs(['--no-mdns'], {}), /--no-mdns needs --p2p/);
  assert.throws(() => parseServeArgs(['--p2p', '--p2p-name', ''], {}), /--p2p-name must not be empty/);
  assert.throws(() => parseServeArgs(['--p2p', '--p2p-name', '0123456789abcdef0123456789abcdef'], {}), /looks like a node id/);
  assert.throws(() => parseServeArgs(['--p2p', '--p2p-channels', 'ok,t\tab'], {}), /--p2p-channels: "t\tab" is not a channel name/);
});
