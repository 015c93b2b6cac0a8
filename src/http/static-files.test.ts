import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveStaticPath } from './static-files.ts';

const plain = { root: '/srv/www', perHost: false, domains: [], host: 'localhost:8080' };

test('maps paths under the root', () => {
  assert.deepEqual(resolveStaticPath({ ...plain, url: '/' }), { ok: true, root: '/srv/www', relative: '' });
  assert.deepEqual(resolveStaticPath({ ...plain, url: '/a/b.js?x=1' }), { ok: true, root: '/srv/www', relative: 'a/b.js' });
  assert.deepEqual(resolveStaticPath({ ...plain, url: '/a%20b.txt' }), { ok: true, root: '/srv/www', relative: 'a b.txt' });
});

test('refuses traversal in every spelling', () => {
  for (const url of ['/../etc/passwd', '/a/../../x', '/%2e%2e/x', '/%2E%2E%2Fx', '/..%5cx', '/a/./b', '/..\\x']) {
    const result = resolveStaticPath({ ...plain, url });
    assert.equal(result.ok, false, url);
    assert.equal(!result.ok && result.status, 403, url);
  }
});

test('refuses malformed encodings and NUL bytes with 400', () => {
  for (const url of ['/%zz', '/%', '/a%00b']) {
    const result = resolveStaticPath({ ...plain, url });
    assert.equal(!result.ok && result.status, 400, url);
  }
});

test('with domains, serves per host and only configured hosts', () => {
  const perHost = { root: '/srv/www', perHost: true, domains: ['example.org'] };
  assert.deepEqual(resolveStaticPath({ ...perHost, host: 'Example.org:443', url: '/i.html' }), {
    ok: true,
    root: '/srv/www/example.org',
    relative: 'i.html',
  });
  const other = resolveStaticPath({ ...perHost, host: 'evil.test', url: '/i.html' });
  assert.equal(!other.ok && other.status, 404);
  const none = resolveStaticPath({ ...perHost, host: undefined, url: '/' });
  assert.equal(!none.ok && none.status, 404);
});
