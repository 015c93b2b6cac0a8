import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { crypto as acmeCrypto, type Authorization } from 'acme-client';
import { pino } from 'pino';
import type { ClientHello } from './client-hello.ts';
import { routeByClientHello } from './client-hello-router.ts';
import { AlpnChallenges, createChallengeResponder } from './alpn-challenge.ts';

const KEY_AUTHORIZATION = 'key-authorization';

async function certificate(domain: string, keyAuthorization: string): Promise<{ key: string; cert: string }> {
  const authz = { identifier: { type: 'dns', value: domain } } as Authorization;
  const [key, cert] = await acmeCrypto.createAlpnCertificate(authz, keyAuthorization, await acmeCrypto.createPrivateEcdsaKey());
  return { key: key.toString(), cert: cert.toString() };
}

/** An https server behind the router with a pending challenge for a.test, as the ACME listener builds it. */
async function setup(options: { certificate: boolean; helloTimeoutMs?: number }) {
  const challenges = new AlpnChallenges();
  const challenge = await certificate('a.test', KEY_AUTHORIZATION);
  challenges.add('a.test', challenge.key, challenge.cert);
  const responder = createChallengeResponder(challenges, pino({ level: 'silent' }));
  const server = createHttpsServer({}, (_req, res) => res.end('ordinary'));
  if (options.certificate) server.setSecureContext(await certificate('a.test', 'ordinary certificate'));
  const hellos: ClientHello[] = [];
  const router = routeByClientHello(server, {
    onAcme: (socket, hello) => {
      hellos.push(hello);
      responder.emit('connection', socket);
    },
    acceptOrdinary: () => options.certificate,
    ...(options.helloTimeoutMs === undefined ? {} : { helloTimeoutMs: options.helloTimeoutMs }),
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const tls = (extra: ConnectionOptions): TLSSocket =>
    connect({ port, host: '127.0.0.1', servername: 'a.test', rejectUnauthorized: false, ...extra });
  const close = (): void => {
    router.destroyPending();
    server.closeAllConnections();
    server.close();
  };
  return { server, port, tls, hellos, router, close };
}

type Outcome = { readonly alpn: string | false | null; readonly challenge: boolean } | { readonly failed: true };

/** How a TLS client's handshake ended: the negotiated ALPN and whether it saw the challenge certificate. */
async function outcome(socket: TLSSocket): Promise<Outcome> {
  socket.on('error', () => {}); // a refused handshake: seen as 'close' without 'secureConnect'
  const result = await new Promise<Outcome>((resolve) => {
    socket.once('secureConnect', () => resolve({ alpn: socket.alpnProtocol ?? null, challenge: isChallenge(socket) }));
    socket.once('close', () => resolve({ failed: true }));
  });
  socket.destroy();
  return result;
}

function isChallenge(socket: TLSSocket): boolean {
  const peer = socket.getPeerX509Certificate();
  if (peer === undefined) return false;
  try {
    return acmeCrypto.isAlpnCertificateAuthorizationValid(peer.toString(), KEY_AUTHORIZATION);
  } catch {
    return false; // no acmeIdentifier extension
  }
}

/** A duplex over a TCP connection that sends what TLS writes one byte per event-loop turn. */
function dribbling(port: number): Duplex {
  const raw = netConnect({ port, host: '127.0.0.1', noDelay: true });
  const duplex: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      void (async () => {
        for (const byte of chunk) {
          raw.write(Buffer.from([byte]));
          await nextTurn();
        }
        callback();
      })();
    },
    destroy(error, callback) {
      raw.destroy();
      callback(error);
    },
  });
  raw.on('data', (data: Buffer) => duplex.push(data));
  raw.on('end', () => duplex.push(null));
  raw.on('error', (error) => duplex.destroy(error));
  return duplex;
}

test('ordinary clients reach the https server with its certificate', async (t) => {
  const s = await setup({ certificate: true });
  t.after(s.close);
  assert.deepEqual(await outcome(s.tls({ ALPNProtocols: ['h2', 'http/1.1'] })), { alpn: 'http/1.1', challenge: false });
  assert.deepEqual(await outcome(s.tls({})), { alpn: false, challenge: false });

  const client = s.tls({});
  await once(client, 'secureConnect');
  client.end('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
  let response = '';
  for await (const chunk of client) response += String(chunk);
  assert.match(response, /^HTTP\/1\.1 200 [\s\S]*ordinary$/);
  assert.deepEqual(s.hellos, []);
});

test('acme-tls/1 clients get the challenge certificate, even with ordinary ones offered too', async (t) => {
  const s = await setup({ certificate: true });
  t.after(s.close);
  assert.deepEqual(await outcome(s.tls({ ALPNProtocols: ['acme-tls/1'] })), { alpn: 'acme-tls/1', challenge: true });
  assert.deepEqual(await outcome(s.tls({ ALPNProtocols: ['http/1.1', 'acme-tls/1'] })), { alpn: 'acme-tls/1', challenge: true });
  assert.deepEqual(s.hellos, [
    { serverName: 'a.test', alpn: ['acme-tls/1'] },
    { serverName: 'a.test', alpn: ['http/1.1', 'acme-tls/1'] },
  ]);
  // No challenge pending for that name: the handshake fails rather than show another certificate.
  assert.deepEqual(await outcome(s.tls({ servername: 'b.test', ALPNProtocols: ['acme-tls/1'] })), { failed: true });
});

test('a ClientHello that arrives a byte at a time is routed the same', async (t) => {
  const s = await setup({ certificate: true });
  t.after(s.close);
  const acme = connect({ socket: dribbling(s.port), servername: 'a.test', ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false });
  assert.deepEqual(await outcome(acme), { alpn: 'acme-tls/1', challenge: true });
  const ordinary = connect({ socket: dribbling(s.port), servername: 'a.test', ALPNProtocols: ['http/1.1'], rejectUnauthorized: false });
  assert.deepEqual(await outcome(ordinary), { alpn: 'http/1.1', challenge: false });
});

test('before the first certificate only challenges are answered', async (t) => {
  const s = await setup({ certificate: false });
  t.after(s.close);
  assert.deepEqual(await outcome(s.tls({ ALPNProtocols: ['http/1.1'] })), { failed: true });
  assert.deepEqual(await outcome(s.tls({ ALPNProtocols: ['acme-tls/1'] })), { alpn: 'acme-tls/1', challenge: true });
});

test('non-TLS bytes go to the TLS server, which refuses them', async (t) => {
  const s = await setup({ certificate: true });
  t.after(s.close);
  const raw = netConnect({ port: s.port, host: '127.0.0.1' });
  raw.on('error', () => {});
  raw.end('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
  raw.resume();
  await once(raw, 'close');
  assert.deepEqual(s.hellos, []);
});

test('connections that send no ClientHello in time are dropped; destroyPending drops the rest', { timeout: 5000 }, async (t) => {
  const s = await setup({ certificate: true, helloTimeoutMs: 50 });
  t.after(s.close);
  const silent = netConnect({ port: s.port, host: '127.0.0.1' });
  silent.resume();
  await once(silent, 'close');

  const slow = await setup({ certificate: true, helloTimeoutMs: 60_000 });
  t.after(slow.close);
  const accepted = once(slow.server, 'connection'); // after the router's own listener
  const partial = netConnect({ port: slow.port, host: '127.0.0.1' });
  partial.on('error', () => {});
  partial.resume();
  partial.write(Buffer.from([0x16, 0x03, 0x01]));
  await accepted;
  slow.router.destroyPending();
  await once(partial, 'close');
});
