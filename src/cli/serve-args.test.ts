import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING } from '../node/config.ts';
import { COMMAND_LINE_ONLY, parseListen, parseServeArgs, SECRET_ENVIRONMENT, SERVE_DEFAULTS, SERVE_OPTIONS, UsageError } from './serve-args.ts';
import { renderSettings } from './print-config.ts';

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
  // A Matrix room's state needs all its events: --matrix keeps everything unless told otherwise.
  const matrix = parseServeArgs(['--matrix'], {}).config.store;
  assert.deepEqual([matrix.retainCount, matrix.retainAgeMs, matrix.retainBytes], [0, 0, 0]);
  assert.equal(parseServeArgs(['--matrix', '--retain-count', '9'], {}).config.store.retainCount, 9);
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
  assert.throws(() => parseServeArgs(['--p2p', '--public', 'bad\tname'], {}), /--public: "bad\tname" is not a channel name/);
  assert.throws(() => parseServeArgs(['--public', 'lobby'], {}), /--public needs --p2p/);
  assert.deepEqual(parseServeArgs(['--p2p', '--public', 'lobby=Come in = all', '--public', 'quiet'], {}).config.p2p.public, [
    { channel: 'lobby', about: 'Come in = all' },
    { channel: 'quiet', about: '' },
  ]);
});

/** parseServeArgs with --config reading `files` instead of the disk. */
function withFiles(argv: string[], files: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  return parseServeArgs(argv, env, (file) => {
    const text = files[file];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${file}'`);
    return text;
  });
}

test('--config takes every setting from a file; flags override it, repeatable ones as a whole', () => {
  const files = {
    'node.conf': ['# production', 'listen = 0.0.0.0:8080', 'listen = [::]:8080', 'peer = ws://a.example/', 'peer = ws://b.example/', 'limit = 50', 'memory = true', 'log-level = warn'].join('\n'),
  };
  const fromFile = withFiles(['--config', 'node.conf'], files);
  assert.deepEqual(fromFile.config.http.listen, [{ host: '0.0.0.0', port: 8080 }, { host: '::', port: 8080 }]);
  assert.deepEqual(fromFile.config.network.peers, ['ws://a.example/', 'ws://b.example/']);
  assert.equal(fromFile.config.mles.historyLimit, 50);
  assert.equal(fromFile.config.store.backend, 'memory');
  assert.equal(fromFile.logLevel, 'warn');

  const overridden = withFiles(['--config', 'node.conf', '-l', '7', '--peer', 'ws://c.example/'], files);
  assert.equal(overridden.config.mles.historyLimit, 7, 'a flag (short or long) wins over the file');
  assert.deepEqual(overridden.config.network.peers, ['ws://c.example/'], "a repeatable flag replaces the file's lines");
  assert.deepEqual(overridden.config.http.listen.length, 2, 'what no flag names comes from the file');
});

test('--config errors name the file and line, and say what to fix', () => {
  const cases: Array<[string, RegExp]> = [
    ['# x\nlimit = many', /^node\.conf:2: --limit must be a whole number, got "many"$/],
    ['peer = ws://a.example/\npeer = http://b.example/', /^node\.conf:2: --peer must be a ws:\/\/ or wss:\/\/ URL, got "http:\/\/b.example\/"$/],
    ['retain-cont = 5', /^node\.conf:1: unknown setting "retain-cont"; did you mean "retain-count"\?/],
    ['help = true', /^node\.conf:1: --help cannot be set in a config file$/],
    ['redirect = true', /^node\.conf:1: --redirect needs --domains$/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => withFiles(['--config', 'node.conf'], { 'node.conf': text }), (e: unknown) => e instanceof UsageError && message.test(e.message), text);
  }
  assert.throws(() => withFiles(['--config', 'missing.conf'], {}), (e: unknown) => e instanceof UsageError && /^--config: cannot read missing.conf: ENOENT/.test(e.message));
  assert.throws(() => withFiles(['--lisen', ':80'], {}), /unknown option --lisen; did you mean --listen\?/);
});

// Generic over the option table: a flag added to SERVE_OPTIONS works in the file with no
// further code. For each option, a value the flag accepts (or, if none of these, the same
// refusal) must give the same result from the file.
test('every flag works the same from a config file', () => {
  const samples = ['5', '127.0.0.1:0', 'ws://a.example/', 'https://ca.example/dir', '30s', 'info', 'a.example', 'ab'.repeat(16), 'peers.txt'];
  const outcome = (argv: string[], files: Record<string, string> = {}) => {
    try {
      const { config, logLevel } = withFiles(argv, files);
      return JSON.stringify({ config, logLevel });
    } catch (error) {
      return `error: ${(error as Error).message.replace(/^node\.conf:\d+: /, '')}`;
    }
  };
  const settings = Object.entries(SERVE_OPTIONS).filter(([name]) => !COMMAND_LINE_ONLY.includes(name as never));
  assert.ok(settings.length >= 30);
  for (const [name, spec] of settings) {
    const values = spec.type === 'boolean' ? [true] : samples;
    const value = values.find((v) => !outcome([`--${name}=${v}`]).startsWith('error')) ?? values[0]!;
    const flag = value === true ? [`--${name}`] : [`--${name}=${value}`];
    assert.equal(outcome(['--config', 'node.conf'], { 'node.conf': `${name} = ${value}\n` }), outcome(flag), name);
  }
});

test('--print-config shows the settings in effect, in the file format, with secrets hidden', () => {
  const files = { 'node.conf': 'data = /srv/parley\npeer = wss://op:hunter2@a.example/\nmemory = true\n' };
  const options = withFiles(['--config', 'node.conf', '--listen', ':8080', '--print-config'], files);
  assert.equal(options.printConfig, true);
  const env = { MLES_KEY: 'sesame', PEER_KEY: undefined, DIRECTORY_KEY: 'opensesame' };
  const text = renderSettings({
    options: SERVE_OPTIONS,
    skip: COMMAND_LINE_ONLY,
    given: options.given,
    defaults: SERVE_DEFAULTS,
    secretEnvironment: Object.fromEntries(SECRET_ENVIRONMENT.map((name) => [name, env[name]])),
  });
  assert.match(text, /^# from the command line\nlisten = :8080$/m);
  assert.match(text, /^# from node\.conf\ndata = \/srv\/parley\npeer = wss:\/\/op:\*{8}@a\.example\/\nmemory = true$/m);
  assert.match(text, /^# limit = 200$/m);
  assert.match(text, /^# domains \(not set\)$/m);
  assert.match(text, /^# MLES_KEY: set \(not shown\)$/m);
  assert.match(text, /^# PEER_KEY: not set$/m);
  assert.match(text, /^# DIRECTORY_KEY: set \(not shown\)$/m);
  assert.doesNotMatch(text, /hunter2|sesame/);
  assert.doesNotMatch(text, /^(config|print-config|help)\b/m);

  // What it prints reads back as a config file with the same settings.
  const saved = text.replace('op:********@', '');
  const again = withFiles(['--config', 'saved.conf'], { 'saved.conf': saved });
  assert.equal(again.config.dataDir, '/srv/parley');
  assert.deepEqual(again.config.http.listen, [{ host: '0.0.0.0', port: 8080 }]);
});

test('--nats: URLs comma-separated and repeatable, stream and replicas checked, the other nats flags need it', () => {
  const { config } = parseServeArgs(['--nats', 'nats://a:4222, nats://b:4222', '--nats', 'tls://c:4222', '--nats-replicas', '3'], {});
  assert.deepEqual(config.nats?.servers, ['nats://a:4222', 'nats://b:4222', 'tls://c:4222']);
  assert.equal(config.nats?.stream, 'PARLEY');
  assert.equal(config.nats?.replicas, 3);
  assert.equal(parseServeArgs([], {}).config.nats, undefined);
  assert.throws(() => parseServeArgs(['--nats-stream', 'X'], {}), /--nats-stream needs --nats/);
  assert.throws(() => parseServeArgs(['--nats', 'http://a:80/x'], {}), /--nats: "http:\/\/a:80\/x" is not a NATS server URL/);
  assert.throws(() => parseServeArgs(['--nats', ','], {}), /--nats needs at least one server URL/);
  assert.throws(() => parseServeArgs(['--nats', 'a:4222', '--nats-stream', 'a.b'], {}), /--nats-stream: "a.b" must be/);
  assert.throws(() => parseServeArgs(['--nats', 'a:4222', '--nats-replicas', '0'], {}), /--nats-replicas must be at least 1/);
  assert.throws(() => parseServeArgs(['--nats', 'a:4222', '--nats-replicas', '7'], {}), /--nats-replicas must be 1 to 5/);
  assert.throws(() => parseServeArgs(['--nats', 'a:4222', '--nats-tls-cert', 'c.pem'], {}), /--nats-tls-cert and --nats-tls-key go together/);
  assert.throws(() => parseServeArgs(['--nats', 'a:4222', '--memory'], {}), /--memory and --nats both choose/);
});

test('the Matrix flags: defaults, registration modes, and what each refuses', () => {
  const off = parseServeArgs([], {}).config.matrix;
  assert.equal(off.enabled, false);
  const on = parseServeArgs(['--matrix'], {}).config.matrix;
  assert.deepEqual([on.enabled, on.serverName, on.registration, on.loginRate, on.sendRate], [true, undefined, 'closed', 30, 20]);
  const token = parseServeArgs(['--matrix', '--server-name', 'chat.example.org:8448', '--matrix-registration-token', 'sesame'], {}).config.matrix;
  assert.deepEqual([token.serverName, token.registration, token.registrationToken], ['chat.example.org:8448', 'token', 'sesame']);
  assert.equal(parseServeArgs(['--matrix', '--matrix-registration', 'open'], {}).config.matrix.registration, 'open');
  assert.throws(() => parseServeArgs(['--server-name', 'x.org'], {}), /--server-name needs --matrix/);
  assert.throws(() => parseServeArgs(['--matrix', '--matrix-registration', 'sometimes'], {}), /open, token or closed/);
  assert.throws(() => parseServeArgs(['--matrix', '--matrix-registration', 'token'], {}), /needs --matrix-registration-token/);
  assert.throws(() => parseServeArgs(['--matrix', '--matrix-registration', 'open', '--matrix-registration-token', 't'], {}), /goes with --matrix-registration token/);
  assert.throws(() => parseServeArgs(['--matrix', '--server-name', 'bad name'], {}), /host name/);
  assert.throws(() => parseServeArgs(['--matrix', '--matrix-send-rate', 'fast'], {}), /whole number/);
});
