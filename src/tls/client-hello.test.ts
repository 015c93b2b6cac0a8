import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { connect } from 'node:tls';
import { MAX_CLIENT_HELLO, parseClientHello, type ClientHelloResult } from './client-hello.ts';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const u16 = (n: number): string => n.toString(16).padStart(4, '0');
const u24 = (n: number): string => n.toString(16).padStart(6, '0');
const ascii = (text: string): string => Buffer.from(text, 'latin1').toString('hex');

function sniExtension(...names: string[]): string {
  const entries = names.map((n) => `00${u16(n.length)}${ascii(n)}`).join('');
  return `0000${u16(entries.length / 2 + 2)}${u16(entries.length / 2)}${entries}`;
}

function alpnExtension(...protocols: string[]): string {
  const entries = protocols.map((p) => `${p.length.toString(16).padStart(2, '0')}${ascii(p)}`).join('');
  return `0010${u16(entries.length / 2 + 2)}${u16(entries.length / 2)}${entries}`;
}

/** ClientHello body: TLS 1.2 version, zero random, empty session id, one suite, null compression. */
function helloBody(extensions: string | undefined): string {
  const fixed = `0303${'00'.repeat(32)}00 00021301 0100`.replace(/\s+/g, '');
  return extensions === undefined ? fixed : `${fixed}${u16(extensions.length / 2)}${extensions}`;
}

function handshake(spacedBody: string): string {
  const body = spacedBody.replace(/\s+/g, '');
  return `01${u24(body.length / 2)}${body}`;
}

/** Wraps handshake bytes into records of at most `size` bytes each. */
function records(handshakeHex: string, size = 1 << 14): Buffer {
  const bytes = hex(handshakeHex);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const part = bytes.subarray(at, at + size);
    out.push(hex(`160301${u16(part.length)}`), part);
  }
  return Buffer.concat(out);
}

const hello = (extensions?: string, recordSize?: number): Buffer =>
  records(handshake(helloBody(extensions?.replace(/\s+/g, ''))), recordSize);

const parsed = (serverName: string | undefined, alpn: string[]): ClientHelloResult => ({
  kind: 'client-hello',
  hello: { serverName, alpn },
});

const valid: Array<[string, Buffer, ClientHelloResult]> = [
  [
    'minimal hello as literal hex, no extensions',
    hex(`16 0301 002d  01 000029  0303 ${'00'.repeat(32)} 00 0002 1301 01 00`),
    parsed(undefined, []),
  ],
  ['SNI and ALPN acme-tls/1', hello(sniExtension('parley.test') + alpnExtension('acme-tls/1')), parsed('parley.test', ['acme-tls/1'])],
  ['SNI is lower-cased', hello(sniExtension('Parley.TEST')), parsed('parley.test', [])],
  ['ALPN order kept', hello(alpnExtension('h2', 'http/1.1')), parsed(undefined, ['h2', 'http/1.1'])],
  ['unknown extensions skipped', hello(`ff01 0001 00 ${sniExtension('a.b')} 002b 0003 020304`), parsed('a.b', [])],
  ['empty extensions block', hello(''), parsed(undefined, [])],
  ['first host_name wins', hello(sniExtension('one.test', 'two.test')), parsed('one.test', [])],
  ['split over three records', hello(sniExtension('x.test') + alpnExtension('acme-tls/1'), 30), parsed('x.test', ['acme-tls/1'])],
  ['trailing bytes after the hello ignored', Buffer.concat([hello(alpnExtension('h2')), hex('170303000501')]), parsed(undefined, ['h2'])],
];

test('parses SNI and ALPN from ClientHello bytes', () => {
  for (const [name, bytes, expected] of valid) assert.deepEqual(parseClientHello(bytes), expected, name);
});

test('every strict prefix of a valid hello is incomplete; the whole parses the same', () => {
  for (const [name, bytes, expected] of valid) {
    const end = bytes.length - (name.startsWith('trailing') ? 6 : 0);
    for (let cut = 0; cut < end; cut++) {
      assert.deepEqual(parseClientHello(bytes.subarray(0, cut)), { kind: 'incomplete' }, `${name} cut at ${cut}`);
    }
    for (let cut = end; cut <= bytes.length; cut++) assert.deepEqual(parseClientHello(bytes.subarray(0, cut)), expected);
  }
});

const invalid: Array<[string, Buffer, string]> = [
  ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\n'), 'not a TLS handshake record'],
  ['one byte of HTTP is enough', Buffer.from('G'), 'not a TLS handshake record'],
  ['SSLv2 compatible hello', hex('8046010301'), 'not a TLS handshake record'],
  ['application data record', hex('1703030005'), 'not a TLS handshake record'],
  ['bad record version', hex('160201'), 'not a TLS record version'],
  ['empty record', hex('1603010000'), 'bad TLS record length'],
  ['record over 2^14', hex(`160301${u16((1 << 14) + 1)}`), 'bad TLS record length'],
  ['ServerHello', records(`02000004 03030000`), 'first handshake message is not a ClientHello'],
  ['ClientHello over the cap', hex(`160301000401${u24(MAX_CLIENT_HELLO + 1)}`), 'ClientHello too large'],
  ['next record is not a handshake', Buffer.concat([hello(sniExtension('a.test'), 10).subarray(0, 15), hex('170301')]), 'not a TLS handshake record'],
  ['truncated random', records(handshake(`0303${'00'.repeat(10)}`)), 'ClientHello truncated: version and random'],
  ['session id over 32', records(handshake(`0303${'00'.repeat(32)}21${'00'.repeat(33)}00021301 0100`)), 'ClientHello: bad session id'],
  ['odd cipher suites length', records(handshake(`0303${'00'.repeat(32)}00 0001 13 0100`)), 'ClientHello: bad cipher suites'],
  ['no compression method', records(handshake(`0303${'00'.repeat(32)}00 00021301 00`)), 'ClientHello: bad compression methods'],
  ['extensions length too long', records(handshake(`${helloBody(undefined)}00100000`)), 'ClientHello: bad extensions length'],
  ['bytes after extensions', records(handshake(`${helloBody('')}00`)), 'ClientHello: bad extensions length'],
  ['truncated extension', hello('00000005 00'), 'ClientHello: truncated extension'],
  ['empty server_name list', hello('0000 0002 0000'), 'ClientHello: bad server_name extension'],
  ['empty host_name', hello('0000 0005 0003 00 0000'), 'ClientHello: bad server_name extension'],
  ['server_name list overruns', hello('0000 0005 0009 00 0000'), 'ClientHello: bad server_name extension'],
  ['empty ALPN list', hello('0010 0002 0000'), 'ClientHello: bad ALPN extension'],
  ['empty ALPN name', hello('0010 0003 0001 00'), 'ClientHello: bad ALPN extension'],
  ['ALPN name overruns', hello('0010 0004 0002 05 68'), 'ClientHello: bad ALPN extension'],
];

test('refuses what is not a readable ClientHello, with a reason', () => {
  for (const [name, bytes, reason] of invalid) {
    assert.deepEqual(parseClientHello(bytes), { kind: 'not-tls', reason }, name);
  }
});

test('empty input is incomplete', () => {
  assert.deepEqual(parseClientHello(new Uint8Array(0)), { kind: 'incomplete' });
});

/** Deterministic xorshift32, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

test('fuzz: random bytes and mutated hellos never throw', () => {
  const next = random(0x5eed);
  const kinds = new Set(['incomplete', 'client-hello', 'not-tls']);
  const base = hello(sniExtension('fuzz.test') + alpnExtension('acme-tls/1', 'http/1.1'), 40);
  for (let i = 0; i < 20_000; i++) {
    let bytes: Buffer;
    if (i % 2 === 0) {
      bytes = Buffer.alloc(Math.floor(next() * 300));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(next() * 256);
      if (next() < 0.5 && bytes.length > 2) bytes.set([0x16, 0x03], 0); // get past the first check
    } else {
      bytes = Buffer.from(base.subarray(0, Math.floor(next() * (base.length + 1))));
      for (let flips = Math.floor(next() * 4); flips > 0 && bytes.length > 0; flips--) {
        bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      }
    }
    const result = parseClientHello(bytes);
    assert.ok(kinds.has(result.kind), `input ${bytes.toString('hex')}`);
  }
});

test("reads Node's own ClientHello (TLS 1.3 client with SNI and ALPN)", async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const got = new Promise<Buffer>((resolve) => {
    server.once('connection', (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const all = Buffer.concat(chunks);
        if (parseClientHello(all).kind !== 'incomplete') {
          socket.destroy();
          resolve(all);
        }
      });
    });
  });
  const { port } = server.address() as AddressInfo;
  const client = connect({ port, host: '127.0.0.1', servername: 'node.test', ALPNProtocols: ['acme-tls/1', 'http/1.1'] });
  client.on('error', () => {});
  const bytes = await got;
  client.destroy();
  server.close();
  assert.deepEqual(parseClientHello(bytes), parsed('node.test', ['acme-tls/1', 'http/1.1']));
  for (let cut = 0; cut < bytes.length; cut++) assert.equal(parseClientHello(bytes.subarray(0, cut)).kind, 'incomplete');
});
