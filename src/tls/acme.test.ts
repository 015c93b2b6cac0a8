// The certificate manager without a CA: cache reuse, advice on failure and failed
// renewals. Issuance against a real CA is covered by test/long/acme.test.ts (pebble).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crypto as acmeCrypto, type Authorization } from 'acme-client';
import { pino } from 'pino';
import { AcmeCache } from './acme-cache.ts';
import { AcmeError, CertificateManager } from './acme.ts';
import type { ServedCertificate } from './certificate-facts.ts';
import { AlpnChallenges } from './alpn-challenge.ts';

/** A URL where nothing listens, so any request to the CA fails at once. */
async function deadDirectory(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}/dir`;
}

class Lines {
  readonly lines: Array<Record<string, unknown>> = [];
  write(line: string): void {
    this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  msgs(): unknown[] {
    return this.lines.map((l) => l.msg);
  }
}

/** A manager whose cache holds a certificate for `cachedFor`; its clock is `cert time + offsetMs`. */
async function setup(cachedFor: string, offsetMs: number) {
  const cacheDir = mkdtempSync(join(tmpdir(), 'parley-acme-'));
  const directoryUrl = await deadDirectory();
  const authz = { identifier: { type: 'dns', value: cachedFor } } as Authorization;
  const [key, cert] = await acmeCrypto.createAlpnCertificate(authz, 'x', await acmeCrypto.createPrivateEcdsaKey());
  await new AcmeCache(cacheDir, directoryUrl, ['a.test']).saveCertificate({ key: key.toString(), cert: cert.toString() });
  const issued = Date.now();
  let now = new Date(issued + offsetMs);
  const logs = new Lines();
  const served: ServedCertificate[] = [];
  const manager = new CertificateManager({
    directoryUrl,
    domains: ['a.test'],
    emails: [],
    cacheDir,
    acmeCa: undefined,
    listening: { host: '0.0.0.0', port: 443 },
    challenges: new AlpnChallenges(),
    log: pino({ level: 'info' }, logs),
    onCertificate: (certificate) => served.push(certificate),
    now: () => now,
  });
  const setNow = (ms: number): void => {
    now = new Date(issued + ms);
  };
  return { manager, logs, served, directoryUrl, setNow };
}

const HOUR = 60 * 60 * 1000;

test('serves a fresh cached certificate without asking the CA', async (t) => {
  // acme-client's generator makes certificates that expire when issued: an hour earlier it is fresh.
  const s = await setup('a.test', -HOUR);
  t.after(() => s.manager.close());
  const certificate = await s.manager.start();
  assert.deepEqual(s.served, [certificate]);
  assert.deepEqual(s.logs.msgs(), ['using cached certificate']);
  assert.equal(s.logs.lines[0]?.serial, certificate.serial);
});

test('a failed renewal keeps the current certificate and says why', async (t) => {
  const s = await setup('a.test', -HOUR);
  t.after(() => s.manager.close());
  const certificate = await s.manager.start();
  s.setNow(HOUR);
  await s.manager.renewIfDue();
  assert.equal(s.manager.certificate, certificate);
  assert.deepEqual(s.served, [certificate]);
  const failed = s.logs.lines.at(-1);
  assert.equal(failed?.msg, 'certificate renewal failed; the current certificate stays in use and renewal is retried later');
  assert.equal(failed?.code, 'ERR_ACME_DIRECTORY');
  assert.match(String(failed?.err), /ECONNREFUSED/);
});

test('an expiring cached certificate is replaced; failing that, start rejects with advice', async (t) => {
  const s = await setup('a.test', HOUR);
  t.after(() => s.manager.close());
  await assert.rejects(s.manager.start(), (error: AcmeError) => {
    assert.ok(error instanceof AcmeError);
    assert.equal(error.code, 'ERR_ACME_DIRECTORY');
    assert.match(error.message, /^cannot reach the ACME directory: GET http:\/\/127\.0\.0\.1:\d+\/dir: connect ECONNREFUSED/);
    assert.match(error.message, new RegExp(`Check the directory URL \\(${s.directoryUrl.replace(/[./]/g, '\\$&')}\\)`));
    return true;
  });
  assert.deepEqual(s.logs.msgs(), ['cached certificate expires soon; ordering a new one']);
  assert.deepEqual(s.served, []);
});

test('a cached certificate for other domains is not used', async (t) => {
  const s = await setup('other.test', -HOUR);
  t.after(() => s.manager.close());
  await assert.rejects(s.manager.start(), AcmeError);
  assert.equal(s.logs.lines[0]?.msg, 'cached certificate not usable; ordering a new one');
  assert.equal(s.logs.lines[0]?.reason, 'certificate does not name a.test');
});
