import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { crypto as acmeCrypto, type Authorization } from 'acme-client';
import { pino } from 'pino';
import { AlpnChallenges, createChallengeResponder } from './alpn-challenge.ts';

const silent = pino({ level: 'silent' });

async function challengeCertificate(domain: string, keyAuthorization: string): Promise<{ key: string; cert: string }> {
  const authz = { identifier: { type: 'dns', value: domain } } as Authorization;
  const [key, cert] = await acmeCrypto.createAlpnCertificate(authz, keyAuthorization, await acmeCrypto.createPrivateEcdsaKey());
  return { key: key.toString(), cert: cert.toString() };
}

test('keeps challenges by domain, case-insensitively', async () => {
  const challenges = new AlpnChallenges();
  const { key, cert } = await challengeCertificate('a.test', 'ka');
  challenges.add('A.Test', key, cert);
  assert.ok(challenges.has('a.test'));
  assert.ok(challenges.get('a.TEST') !== undefined);
  challenges.remove('a.test');
  assert.equal(challenges.get('a.test'), undefined);
});

test('shows the challenge certificate to acme-tls/1 for a pending domain, then hangs up', async (t) => {
  const challenges = new AlpnChallenges();
  const { key, cert } = await challengeCertificate('a.test', 'key-authorization-a');
  challenges.add('a.test', key, cert);
  const responder = createChallengeResponder(challenges, silent);
  const front = createServer((socket) => responder.emit('connection', socket));
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  t.after(() => front.close());
  const { port } = front.address() as AddressInfo;

  const client = connect({ port, host: '127.0.0.1', servername: 'a.test', ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false });
  await once(client, 'secureConnect');
  assert.equal(client.alpnProtocol, 'acme-tls/1');
  const presented = client.getPeerX509Certificate();
  assert.ok(presented !== undefined);
  assert.ok(acmeCrypto.isAlpnCertificateAuthorizationValid(presented.toString(), 'key-authorization-a'));
  client.resume();
  await once(client, 'end'); // the responder closes after the handshake

  const unknown = connect({ port, host: '127.0.0.1', servername: 'b.test', ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false });
  const [error] = (await once(unknown, 'error')) as [Error];
  assert.match(error.message, /alert|socket|ECONNRESET/i);
});
