import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedirectServer, redirectLocation } from './https-redirect.ts';

const domains = ['example.com', 'www.example.com'];

test('redirects to the requested domain and path on the https port', () => {
  const cases: Array<[string | undefined, string | undefined, number, string]> = [
    ['example.com', '/', 443, 'https://example.com/'],
    ['www.example.com:80', '/chat?x=1', 443, 'https://www.example.com/chat?x=1'],
    ['WWW.Example.COM.', '/a', 443, 'https://www.example.com/a'],
    ['example.com', '/a', 8443, 'https://example.com:8443/a'],
    ['evil.test', '/a', 443, 'https://example.com/a'], // not ours: our first domain
    [undefined, undefined, 443, 'https://example.com/'],
    ['example.com', '//evil.test/x', 443, 'https://example.com//evil.test/x'], // a path, not a host
    ['example.com', 'http://evil.test/', 443, 'https://example.com/'], // absolute-form target
  ];
  for (const [host, path, port, expected] of cases) {
    assert.equal(redirectLocation(host, path, domains, port), expected, `${host} ${path}`);
  }
});

test('answers every request with 301 and closes', async () => {
  const server = createRedirectServer(domains, 443);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const response = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
    get({ port, host: '127.0.0.1', path: '/x', headers: { host: 'www.example.com' }, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    }).on('error', reject);
  });
  server.close();
  assert.deepEqual(response, { status: 301, location: 'https://www.example.com/x' });
});
