import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { crypto as acmeCrypto, type Authorization } from 'acme-client';
import { checkCertificate, needsRenewal, renewalDate, RENEW_BEFORE_MS } from './certificate-facts.ts';

const DAY = 24 * 60 * 60 * 1000;

/** A self-signed certificate naming `domain` (acme-client's TLS-ALPN-01 generator). */
async function selfSigned(domain: string): Promise<{ key: string; cert: string }> {
  const authz = { identifier: { type: 'dns', value: domain } } as Authorization;
  const [key, cert] = await acmeCrypto.createAlpnCertificate(authz, 'key-authorization', await acmeCrypto.createPrivateEcdsaKey());
  return { key: key.toString(), cert: cert.toString() };
}

test('accepts a matching key and certificate and reports its facts', async () => {
  const { key, cert } = await selfSigned('a.test');
  const check = checkCertificate(key, cert, ['a.test']);
  assert.ok(check.ok, check.ok ? '' : check.reason);
  const x509 = new X509Certificate(cert);
  assert.equal(check.certificate.serial, x509.serialNumber.toUpperCase());
  assert.deepEqual(check.certificate.notAfter, x509.validToDate);
  assert.deepEqual(check.certificate.notBefore, x509.validFromDate);
  assert.deepEqual(check.certificate.domains, ['a.test']);
  assert.equal(check.certificate.key, key);
  assert.equal(check.certificate.cert, cert);
});

test('refuses a certificate that misses a domain, a foreign key, and garbage', async () => {
  const a = await selfSigned('a.test');
  const b = await selfSigned('b.test');
  assert.deepEqual(checkCertificate(a.key, a.cert, ['a.test', 'www.a.test', 'c.test']), {
    ok: false,
    reason: 'certificate does not name www.a.test, c.test',
  });
  assert.deepEqual(checkCertificate(b.key, a.cert, ['a.test']), { ok: false, reason: 'key does not match the certificate' });
  const badCert = checkCertificate(a.key, 'not a certificate', ['a.test']);
  assert.ok(!badCert.ok && badCert.reason.startsWith('unreadable certificate:'));
  const badKey = checkCertificate('not a key', a.cert, ['a.test']);
  assert.ok(!badKey.ok && badKey.reason.startsWith('unreadable key:'));
});

test('renewal is due 30 days before expiry, or after two thirds of a short lifetime', () => {
  const at = (days: number): Date => new Date(Date.UTC(2030, 0, 1) + days * DAY);
  const cases: Array<[string, number, number]> = [
    ['90-day certificate', 90, 60],
    ['1-year certificate', 365, 335],
    ['45-day certificate', 45, 30],
    ['6-day certificate', 6, 4],
  ];
  for (const [name, lifetime, renewDay] of cases) {
    const certificate = { notBefore: at(0), notAfter: at(lifetime) };
    assert.deepEqual(renewalDate(certificate), at(renewDay), name);
    assert.equal(needsRenewal(certificate, new Date(at(renewDay).getTime() - 1)), false, name);
    assert.equal(needsRenewal(certificate, at(renewDay)), true, name);
  }
  assert.equal(RENEW_BEFORE_MS, 30 * DAY);
});
