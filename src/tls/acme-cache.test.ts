import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AcmeCache, directorySlug, domainSetSlug } from './acme-cache.ts';

test('names the cache folder after the ACME directory', () => {
  assert.equal(directorySlug('https://acme-v02.api.letsencrypt.org/directory'), 'acme-v02.api.letsencrypt.org_directory');
  assert.equal(
    directorySlug('https://acme-staging-v02.api.letsencrypt.org/directory'),
    'acme-staging-v02.api.letsencrypt.org_directory',
  );
  assert.equal(directorySlug('https://127.0.0.1:14000/dir'), '127.0.0.1_14000_dir');
  assert.equal(directorySlug('https://ca.example/'), 'ca.example');
});

test('names certificate files after the set of domains, whatever their order', () => {
  assert.equal(domainSetSlug(['b.test', 'a.test', 'a.test']), 'a.test+b.test');
  assert.equal(domainSetSlug(['a.test', 'b.test']), domainSetSlug(['b.test', 'a.test']));
  const many = Array.from({ length: 20 }, (_, i) => `host-${i}.example.com`);
  const slug = domainSetSlug(many);
  assert.match(slug, /^host-0\.example\.com\+19-more-[0-9a-f]{16}$/);
  assert.notEqual(slug, domainSetSlug(many.slice(1)));
});

test('creates the account key once and keeps it private', async () => {
  const cache = new AcmeCache(mkdtempSync(join(tmpdir(), 'parley-cache-')), 'https://ca.test/dir', ['a.test']);
  let created = 0;
  const create = async (): Promise<string> => `KEY ${++created}`;
  assert.equal(await cache.accountKey(create), 'KEY 1');
  assert.equal(await cache.accountKey(create), 'KEY 1');
  assert.equal(created, 1);
  assert.equal(statSync(cache.accountKeyFile).mode & 0o777, 0o600);
  assert.equal(statSync(cache.dir).mode & 0o777, 0o700);
});

test('saves and loads a certificate with its key, leaving no temporary files', async () => {
  const root = mkdtempSync(join(tmpdir(), 'parley-cache-'));
  const cache = new AcmeCache(root, 'https://ca.test/dir', ['b.test', 'a.test']);
  assert.equal(await cache.loadCertificate(), undefined);
  await cache.saveCertificate({ key: 'KEY', cert: 'CERT' });
  assert.deepEqual(await cache.loadCertificate(), { key: 'KEY', cert: 'CERT' });
  assert.deepEqual(readdirSync(cache.dir).sort(), ['a.test+b.test.cert.pem', 'a.test+b.test.key.pem']);
  assert.equal(basename(cache.dir), 'ca.test_dir');
  assert.equal(statSync(cache.keyFile).mode & 0o777, 0o600);
  // Another CA's cache is separate.
  assert.equal(await new AcmeCache(root, 'https://other.test/dir', ['a.test', 'b.test']).loadCertificate(), undefined);
});
