import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { axios as acmeAxios } from 'acme-client';
import { DirectoryUnreachable, probeDirectory, trustAcmeCa } from './acme-directory.ts';

async function directoryServer(t: { after(fn: () => void): void }): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url === '/dir') res.writeHead(200, { 'content-type': 'application/json' }).end('{"newOrder":"http://x/order"}');
    else if (req.url === '/not-json') res.writeHead(200).end('<html>');
    else if (req.url === '/not-acme') res.writeHead(200).end('{"hello":1}');
    else res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('accepts an ACME directory and names what is wrong with anything else', async (t) => {
  const base = await directoryServer(t);
  await probeDirectory(`${base}/dir`, undefined);
  const cases: Array<[string, RegExp]> = [
    ['/missing', /answered HTTP 404$/],
    ['/not-json', /did not answer JSON$/],
    ['/not-acme', /is not an ACME directory \(no newOrder\)$/],
  ];
  for (const [path, message] of cases) {
    await assert.rejects(probeDirectory(`${base}${path}`, undefined), (error: Error) => {
      assert.ok(error instanceof DirectoryUnreachable);
      assert.match(error.message, message);
      return true;
    });
  }
});

test('reports connection failures with their code', async (t) => {
  const base = await directoryServer(t);
  const port = new URL(base).port;
  // An https client against a plain http server fails the handshake: a TLS error code.
  await assert.rejects(probeDirectory(`https://127.0.0.1:${port}/dir`, undefined), (error: DirectoryUnreachable) => {
    assert.match(error.message, /^GET https:\/\/127\.0\.0\.1:\d+\/dir: /);
    assert.equal(typeof error.code, 'string');
    return true;
  });
});

/** What acme-client's axios would send with, without sending anything. */
async function agentFor(url: string): Promise<unknown> {
  const response = await acmeAxios.get(url, {
    adapter: async (config) => ({ data: config.httpsAgent, status: 200, statusText: 'OK', headers: {}, config }),
  });
  return response.data;
}

test('--acme-ca applies to requests to the directory origin only, until detached', async () => {
  const none = trustAcmeCa('https://ca.test/dir', undefined);
  assert.equal(none.agent, undefined);
  assert.equal(await agentFor('https://ca.test/dir'), undefined);

  const trust = trustAcmeCa('https://ca.test:14000/dir', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  assert.ok(trust.agent !== undefined);
  assert.equal(await agentFor('https://ca.test:14000/order-plz'), trust.agent);
  assert.equal(await agentFor('https://ca.test/dir'), undefined);
  assert.equal(await agentFor('https://elsewhere.test:14000/dir'), undefined);
  trust.detach();
  assert.equal(await agentFor('https://ca.test:14000/order-plz'), undefined);
});
