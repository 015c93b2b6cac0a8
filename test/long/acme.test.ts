// `parley serve --domains` against a real ACME CA (pebble): the node obtains a
// certificate over TLS-ALPN-01 on its serving port, serves https and wss with it,
// reuses the cached certificate after a restart, and exits with advice when the CA
// cannot validate the domain. In-process: renewal swaps the certificate live.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupFunction } from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { startManagedTls, type ManagedTls } from '../../src/tls/acme-listener.ts';
import { defaultConfig } from '../../src/node/config.ts';
import { MlesTestClient } from '../helpers/mles-client.ts';
import { startNode, type NodeProcess } from '../helpers/node-process.ts';
import { freePort, pebbleInstalled, startPebble, type Pebble } from '../helpers/pebble.ts';

const skip =
  !pebbleInstalled() && !process.env.CI
    ? 'pebble is not installed (apt-get install pebble, which ships pebble and pebble-challtestsrv; in CI this test must run)'
    : false;

const DOMAIN = 'parley.test';
const START_MS = 60_000;

/** parley.test is not in any real DNS: every name goes to loopback, as pebble's DNS says. */
const loopback: LookupFunction = (_hostname, options, callback) => {
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

interface HttpsResult {
  readonly status: number;
  readonly body: string;
  readonly certificate: PeerCertificate;
}

function httpsGet(url: string, options: RequestOptions): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, lookup: loopback, timeout: 10_000, ...options }, (response) => {
      const certificate = (response.socket as TLSSocket).getPeerCertificate();
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, certificate }));
    });
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer in time`)));
    request.on('error', reject);
  });
}

const logged = (node: NodeProcess, msg: string): Array<Record<string, unknown>> =>
  node.stdout.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return parsed.msg === msg ? [parsed] : [];
    } catch {
      return [];
    }
  });

describe('ACME TLS-ALPN-01 certificates from pebble', { skip }, () => {
  let pebble: Pebble | undefined;
  let root: string;
  const nodes: NodeProcess[] = [];
  const cacheDir = mkdtempSync(join(tmpdir(), 'parley-acme-cache-'));
  let firstSerial: string;

  const serveArgs = (domain: string, port: number, cache: string): string[] => [
    '--domains', domain,
    '--email', 't@parley.test',
    '--port', String(port),
    '--acme-directory', pebble!.directoryUrl,
    '--acme-ca', pebble!.httpsCaFile,
    '--cache', cache,
  ];

  before(async () => {
    pebble = await startPebble();
    root = await pebble.rootCa();
  });

  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await pebble?.stop();
  });

  test('fails to start with advice when the CA cannot reach the node', async () => {
    // pebble validates on its tlsAlpnPort, where nothing listens: the node uses another.
    const otherPort = await freePort();
    const failCache = mkdtempSync(join(tmpdir(), 'parley-acme-fail-'));
    await assert.rejects(
      startNode(serveArgs('fail.parley.test', otherPort, failCache), {}, START_MS),
      (error: Error) => {
        assert.match(error.message, /node exited \(1\) before "listening"/);
        assert.match(error.message, /parley serve: cannot start: the CA could not validate the domain: fail\.parley\.test: /);
        assert.match(error.message, /Check that DNS for fail\.parley\.test points to this machine/);
        assert.match(error.message, /"msg":"acme challenge ready; asking the CA to validate"/);
        return true;
      },
    );
  });

  test('obtains a certificate and serves https and wss with it', async () => {
    const node = await startNode(serveArgs(DOMAIN, pebble!.tlsAlpnPort, cacheDir), {}, START_MS);
    nodes.push(node);
    assert.equal(node.url, `https://${DOMAIN}:${pebble!.tlsAlpnPort}/`);
    for (const msg of ['ordering certificate', 'acme challenge answered', 'acme challenge validated', 'certificate obtained']) {
      assert.ok(logged(node, msg).length > 0, `log line "${msg}" missing:\n${node.stdout.join('\n')}`);
    }
    assert.equal(logged(node, 'acme challenge answered')[0]?.domain, DOMAIN);

    const page = await httpsGet(node.url, { ca: root });
    assert.equal(page.status, 200);
    assert.match(page.body, /<html/i);
    assert.equal(page.certificate.subjectaltname, `DNS:${DOMAIN}`);
    firstSerial = page.certificate.serialNumber;
    assert.equal(logged(node, 'certificate obtained')[0]?.serial, firstSerial);

    // The chain must verify against pebble's root and nothing else.
    await assert.rejects(httpsGet(node.url, {}), /certificate/);

    const tls = { ca: root, lookup: loopback };
    const a = await MlesTestClient.join(node.wsUrl, { uid: 'a', channel: 'c' }, tls);
    const b = await MlesTestClient.join(node.wsUrl, { uid: 'b', channel: 'c' }, tls);
    assert.equal(a.ws.protocol, 'mles-websocket');
    b.send('hello over wss');
    await a.waitForText('hello over wss');
    a.send(Buffer.from([1, 2, 3]));
    await b.waitFor(2); // a's replayed header, then the frame
    assert.deepEqual(b.received.at(-1), { binary: true, data: Buffer.from([1, 2, 3]) });
    await Promise.all([a.close(), b.close()]);
  });

  test('a restart serves the cached certificate without a new order', async () => {
    const first = nodes.pop();
    assert.ok(first, 'the first node did not start');
    assert.equal(await first.stop(), 0);

    const node = await startNode(serveArgs(DOMAIN, pebble!.tlsAlpnPort, cacheDir), {}, START_MS);
    nodes.push(node);
    const cached = logged(node, 'using cached certificate');
    assert.equal(cached.length, 1, node.stdout.join('\n'));
    assert.equal(cached[0]?.serial, firstSerial);
    assert.deepEqual(logged(node, 'ordering certificate'), []);

    const page = await httpsGet(node.url, { ca: root });
    assert.equal(page.status, 200);
    assert.equal(page.certificate.serialNumber, firstSerial);
  });
});

/** A pino destination that keeps parsed lines and lets a test await one by `msg`. */
class LogLines {
  readonly lines: Array<Record<string, unknown>> = [];
  private readonly waiters = new Set<() => void>();

  write(line: string): void {
    this.lines.push(JSON.parse(line) as Record<string, unknown>);
    for (const wake of this.waiters) wake();
  }

  find(msg: string): Record<string, unknown> | undefined {
    return this.lines.find((line) => line.msg === msg);
  }

  waitFor(msg: string, timeoutMs: number): Promise<Record<string, unknown>> {
    const seen = this.find(msg);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no "${msg}" log line within ${timeoutMs} ms:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      const check = (): void => {
        const line = this.find(msg);
        if (line === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(line);
      };
      this.waiters.add(check);
    });
  }
}

describe('ACME renewal and redirect, in process', { skip }, () => {
  let pebble: Pebble | undefined;
  let managed: ManagedTls | undefined;

  before(async () => {
    pebble = await startPebble();
  });

  after(async () => {
    await managed?.close();
    await pebble?.stop();
  });

  test('renews in the background and swaps the certificate without a restart', async () => {
    const root = await pebble!.rootCa();
    const domain = 'renew.parley.test';
    const port = pebble!.tlsAlpnPort;
    const redirectPort = await freePort();
    const logs = new LogLines();
    let now = new Date();
    managed = await startManagedTls({
      config: defaultConfig({
        tls: {
          domains: [domain],
          port,
          bindHost: '127.0.0.1',
          acmeDirectory: pebble!.directoryUrl,
          acmeCa: readFileSync(pebble!.httpsCaFile, 'utf8'),
          cacheDir: mkdtempSync(join(tmpdir(), 'parley-acme-renew-')),
          redirect: true,
          redirectPort,
        },
      }).tls,
      log: pino({ level: 'info' }, logs),
      onRequest: (_req, res) => res.end('ok'),
      onUpgrade: (_req, socket) => socket.destroy(),
      renewal: { now: () => now, checkIntervalMs: 50 },
    });
    assert.deepEqual(managed.urls, [`https://${domain}:${port}/`]);
    const obtained = logs.find('certificate obtained');
    assert.ok(obtained, 'no "certificate obtained" line');
    const before = await httpsGet(managed.urls[0]!, { ca: root });
    assert.equal(before.status, 200);
    assert.equal(before.certificate.serialNumber, obtained.serial);

    // A connection made before the renewal stays up through it.
    const open = connect({ host: '127.0.0.1', port, servername: domain, ca: root });
    await once(open, 'secureConnect');

    now = new Date(Date.parse(String(obtained.renewAfter)) + 1000);
    const renewed = await logs.waitFor('certificate renewed', 30_000);
    const after = await httpsGet(managed.urls[0]!, { ca: root });
    assert.equal(after.certificate.serialNumber, renewed.serial);
    assert.notEqual(after.certificate.serialNumber, before.certificate.serialNumber);

    assert.equal(open.getPeerCertificate().serialNumber, before.certificate.serialNumber);
    open.write(`GET / HTTP/1.1\r\nHost: ${domain}\r\nConnection: close\r\n\r\n`);
    let response = '';
    for await (const chunk of open) response += String(chunk);
    assert.match(response, /^HTTP\/1\.1 200 /);

    // --redirect: port-80 stand-in answers 301 to the https URL of the requested domain.
    const redirected = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: redirectPort, path: '/chat?x=1', headers: { host: `${domain}:${redirectPort}` }, agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location });
      }).on('error', reject);
    });
    assert.deepEqual(redirected, { status: 301, location: `https://${domain}:${port}/chat?x=1` });
  });
});
