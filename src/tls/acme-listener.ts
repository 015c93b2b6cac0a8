// The ACME-managed https/wss listener for `--domains`: one TLS port that serves the
// node's request and upgrade handlers with a certificate from an ACME CA, answers the
// CA's TLS-ALPN-01 validations on the same port, swaps in renewed certificates live,
// and with `--redirect` a plain http listener that redirects to it.

import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Logger } from 'pino';
import { CertificateManager } from './acme.ts';
import { routeByClientHello } from './client-hello-router.ts';
import { createRedirectServer } from './https-redirect.ts';
import type { RequestHandler, UpgradeHandler } from '../http/handlers.ts';
import { AlpnChallenges, createChallengeResponder } from './alpn-challenge.ts';

export interface ManagedTls {
  readonly urls: readonly string[];
  close(): Promise<void>;
}

/** What the managed listener reads of the node's settings (its `tls` section has them all). */
export interface ManagedTlsSettings {
  readonly domains: readonly string[];
  readonly emails: readonly string[];
  readonly acmeDirectory: string;
  readonly acmeCa: string | undefined;
  readonly cacheDir: string;
  readonly port: number;
  readonly bindHost: string | undefined;
  readonly redirect: boolean;
  readonly redirectPort: number;
}

/** How long close() lets open connections finish before destroying them. */
const CLOSE_GRACE_MS = 3000;

export async function startManagedTls(options: {
  config: ManagedTlsSettings;
  log: Logger;
  onRequest: RequestHandler;
  onUpgrade: UpgradeHandler;
  /** For tests: the clock and how often renewal is checked (default: wall clock, 12 h). */
  renewal?: { readonly now?: () => Date; readonly checkIntervalMs?: number };
}): Promise<ManagedTls> {
  const { config, log } = options;
  const acmeLog = log.child({ component: 'acme' });
  const challenges = new AlpnChallenges();
  const responder = createChallengeResponder(challenges, acmeLog);

  // No certificate yet: it arrives through setSecureContext once obtained (or loaded).
  const server = createHttpsServer({});
  let hasCertificate = false;
  const router = routeByClientHello(server, {
    onAcme: (socket) => responder.emit('connection', socket),
    acceptOrdinary: () => hasCertificate,
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', options.onRequest);
  server.on('upgrade', options.onUpgrade);
  server.on('clientError', (_error, socket) => socket.destroy());

  const redirect = config.redirect ? createRedirectServer(config.domains, config.port) : undefined;
  const manager = new CertificateManager({
    directoryUrl: config.acmeDirectory,
    domains: config.domains,
    emails: config.emails,
    cacheDir: config.cacheDir,
    acmeCa: config.acmeCa,
    listening: { host: config.bindHost ?? '*', port: config.port },
    challenges,
    log: acmeLog,
    ...options.renewal,
    onCertificate: (certificate) => {
      server.setSecureContext({ key: certificate.key, cert: certificate.cert });
      hasCertificate = true;
    },
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      manager.close();
      router.destroyPending();
      const closed = Promise.all([closeServer(server), redirect && closeServer(redirect)]);
      server.closeIdleConnections();
      redirect?.closeAllConnections();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS);
      });
      await Promise.race([closed, grace]);
      clearTimeout(timer);
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy(); // upgraded (wss) ones, which http no longer tracks
    })();
    return closing;
  };

  try {
    server.listen(config.port, config.bindHost);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    acmeLog.info({ host: config.bindHost ?? '*', port }, 'tls listener up; answering acme tls-alpn-01 challenges');
    if (redirect) {
      redirect.listen(config.redirectPort, config.bindHost);
      await once(redirect, 'listening');
      acmeLog.info({ host: config.bindHost ?? '*', port: config.redirectPort }, 'redirecting http to https');
    }
    await manager.start();
    const urls = config.domains.map((domain) => (port === 443 ? `https://${domain}/` : `https://${domain}:${port}/`));
    return { urls, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Resolves once the server has stopped and its connections have ended (or it never ran). */
function closeServer(server: HttpServer | NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
