// The node's listeners: plain http/ws ones (https/wss with an own certificate), and the
// ACME-managed TLS one for domains. All serve the same request and upgrade handlers.

import { once } from 'node:events';
import type { Server } from 'node:http';
import { createServer as createHttpServer } from '../http/node-http.ts';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { RequestHandler, UpgradeHandler } from '../http/handlers.ts';
import type { ManagedTls, ManagedTlsSettings } from '../tls/acme-listener.ts';
import type { ListenAddress } from './config.ts';

export interface ListenerSettings {
  readonly listen: readonly ListenAddress[];
  /** Own certificate and key (PEM) for the `listen` listeners; without, they are plain. */
  readonly certificate: { readonly cert: string; readonly key: string } | undefined;
  /** The ACME-managed listener, when there are domains. */
  readonly managed: ManagedTlsSettings | undefined;
}

export interface Listeners {
  /** Base URLs, e.g. `http://127.0.0.1:8080/`. */
  readonly urls: readonly string[];
  /** Stops taking connections; open ones go on until `close`. */
  stopAccepting(): void;
  /** Ends the connections still open and waits for the managed listener to stop. */
  close(): Promise<void>;
}

/** Starts every listener; if one fails, those already up are stopped and the error thrown. */
export async function startListeners(
  settings: ListenerSettings,
  log: Logger,
  onRequest: RequestHandler,
  onUpgrade: UpgradeHandler,
): Promise<Listeners> {
  const servers: Server[] = [];
  const urls: string[] = [];
  const listen = async (server: Server, host: string, port: number, scheme: string): Promise<void> => {
    server.on('request', onRequest);
    server.on('upgrade', onUpgrade);
    server.on('clientError', (_error, socket) => socket.destroy());
    server.listen(port, host);
    await once(server, 'listening');
    servers.push(server);
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    urls.push(`${scheme}://${shownHost}:${address.port}/`);
  };

  let managed: ManagedTls | undefined;
  try {
    for (const address of settings.listen) {
      if (settings.certificate !== undefined) {
        await listen(createHttpsServer(settings.certificate), address.host, address.port, 'https');
      } else {
        await listen(createHttpServer(), address.host, address.port, 'http');
      }
    }
    if (settings.managed !== undefined) {
      // Loaded only when needed: acme-client alone adds ~38 MB to a node's memory.
      const { startManagedTls } = await import('../tls/acme-listener.ts');
      managed = await startManagedTls({ config: settings.managed, log, onRequest, onUpgrade });
      urls.push(...managed.urls);
    }
  } catch (error) {
    for (const server of servers) server.close();
    await managed?.close();
    throw error;
  }

  let managedClosed: Promise<void> | undefined;
  return {
    urls,
    stopAccepting() {
      for (const server of servers) server.close();
      managedClosed = managed?.close();
    },
    async close() {
      for (const server of servers) server.closeAllConnections();
      await (managedClosed ??= managed?.close());
    },
  };
}
