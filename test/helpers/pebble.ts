// A real ACME CA for end-to-end tests: Debian's `pebble` with `pebble-challtestsrv` as
// its DNS server (every name resolves to 127.0.0.1), on free ports, with real
// validation (PEBBLE_VA_ALWAYS_VALID unset). Pebble's own HTTPS certificate is made
// with the openssl CLI, since the Debian package ships no test certificates.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { connect as connectTcp, createServer, type AddressInfo } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const PEBBLE = '/usr/bin/pebble';
export const CHALLTESTSRV = '/usr/bin/pebble-challtestsrv';

export interface Pebble {
  /** ACME directory URL, e.g. https://127.0.0.1:40123/dir */
  readonly directoryUrl: string;
  /** PEM file of pebble's own HTTPS certificate (pass as --acme-ca). */
  readonly httpsCaFile: string;
  /** The port pebble's validator connects to for tls-alpn-01 (run the node there). */
  readonly tlsAlpnPort: number;
  /** The port of challtestsrv's DNS server that pebble resolves names with. */
  readonly dnsPort: number;
  /** PEM of the root CA that signs issued certificates (from the management API). */
  rootCa(): Promise<string>;
  stop(): Promise<void>;
}

export function pebbleInstalled(): boolean {
  return existsSync(PEBBLE) && existsSync(CHALLTESTSRV);
}

/** A port that is free for TCP on all addresses (and UDP on loopback when `udp`). */
export async function freePort(udp = false): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = createServer();
    server.listen(0, '0.0.0.0');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    server.close();
    await once(server, 'close');
    if (!udp) return port;
    const socket = createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    socket.close();
    if (bound) return port;
  }
  throw new Error('no free port found');
}

interface Child {
  readonly process: ChildProcess;
  readonly output: string[];
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      output.push(`${command}: ${error.message}`);
      resolve();
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => {
      output.push(line);
      for (const listener of listeners) listener(line);
    });
  }
  return {
    process: child,
    output,
    waitForLine(pattern, timeoutMs) {
      const seen = output.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(onLine);
        };
        const onLine = (line: string): void => {
          if (!pattern.test(line)) return;
          done();
          resolve(line);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${command}: no line matching ${pattern} within ${timeoutMs} ms:\n${output.join('\n')}`));
        }, timeoutMs);
        listeners.add(onLine);
        void exited.then(() => {
          done();
          reject(new Error(`${command} exited (${child.exitCode}) before ${pattern}:\n${output.join('\n')}`));
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A self-signed certificate for 127.0.0.1 and localhost, as PEM files in `dir`. */
export function makeLocalCertificate(dir: string, name = 'pebble-https'): { cert: string; key: string } {
  const cert = join(dir, `${name}.cert.pem`);
  const key = join(dir, `${name}.key.pem`);
  const result = spawnSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=pebble-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', key, '-out', cert,
    ],
    { encoding: 'utf8' },
  );
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(`openssl could not make a certificate (install Debian's openssl): ${result.error?.message ?? result.stderr}`);
  }
  return { cert, key };
}

export async function startPebble(timeoutMs = 15_000): Promise<Pebble> {
  if (!pebbleInstalled()) {
    throw new Error(`${PEBBLE} or ${CHALLTESTSRV} is missing: apt-get install pebble (Debian ships both in it)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'parley-pebble-'));
  const https = makeLocalCertificate(dir);
  const [dnsPort, challMgmtPort, acmePort, mgmtPort, httpPort, tlsAlpnPort] = [
    await freePort(true), await freePort(), await freePort(), await freePort(), await freePort(), await freePort(),
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, PEBBLE_VA_NOSLEEP: '1' };
  delete env.PEBBLE_VA_ALWAYS_VALID; // validation must really connect to the node

  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => c.stop()));
  };
  try {
    const dns = run(
      CHALLTESTSRV,
      [
        '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
        '-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${challMgmtPort}`,
        '-http01', '', '-https01', '', '-tlsalpn01', '',
      ],
      env,
    );
    children.push(dns);
    await dns.waitForLine(/Starting challenge servers/, timeoutMs);

    const configFile = join(dir, 'pebble-config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: https.cert,
          privateKey: https.key,
          httpPort,
          tlsPort: tlsAlpnPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }),
    );
    const pebble = run(PEBBLE, ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], env);
    children.push(pebble);
    await pebble.waitForLine(/ACME directory available at/, timeoutMs);
    await pebble.waitForLine(/Root CA certificate available at/, timeoutMs);
    // pebble prints those lines just before its listeners accept: a test that asks
    // for the root CA at once could be refused.
    await Promise.all([acmePort, mgmtPort].map((port) => acceptsConnections(port, timeoutMs)));
  } catch (error) {
    await stop();
    throw error;
  }

  const httpsCa = readFileSync(https.cert, 'utf8');
  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    httpsCaFile: https.cert,
    tlsAlpnPort,
    dnsPort,
    rootCa: () => fetchText(`https://127.0.0.1:${mgmtPort}/roots/0`, httpsCa, timeoutMs),
    stop,
  };
}

/**
 * Resolves once something accepts TCP connections on 127.0.0.1:port. A process that says
 * it listens gives no event when its socket is ready, so this asks until it is, for at
 * most `timeoutMs`.
 */
async function acceptsConnections(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const socket = connectTcp(port, '127.0.0.1');
    const accepted = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    socket.destroy();
    if (accepted) return;
    if (Date.now() > deadline) throw new Error(`nothing accepts connections on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function fetchText(url: string, ca: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(url, { ca, agent: false, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        response.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${response.statusCode}`)),
      );
    });
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}
