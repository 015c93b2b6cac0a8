// Reads each new connection's ClientHello before a TLS server sees it, and sends the
// ones offering ALPN `acme-tls/1` (ACME TLS-ALPN-01 validations) elsewhere; all other
// connections go on to the server as if nothing had happened.
//
// Why peek instead of Node's own callbacks: the certificate is chosen in SNICallback,
// which is told the server name but not the ALPN offer, and ALPNCallback, which sees
// both, cannot choose a certificate. (SNICallback happens to run after ALPNCallback with
// the socket as `this`, but that is undocumented.) Without the ALPN offer, a renewal
// would show the challenge certificate to ordinary visitors of that domain.
//
// Why inside the https server rather than a net.Server in front of it: connections
// stay the https server's own, so its request/headers timeouts, closeIdleConnections()
// and close() keep working (they only track connections of a server that listens).

import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { parseClientHello, type ClientHello } from './client-hello.ts';
import { ACME_TLS_ALPN } from './alpn-challenge.ts';

/** Bytes read while looking for a ClientHello; even 1-byte records fit a real one. */
export const MAX_PEEK_BYTES = 64 * 1024;
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;

export interface HelloRouting {
  /** Takes a connection whose ClientHello offers `acme-tls/1`; its bytes are unread. */
  readonly onAcme: (socket: Socket, hello: ClientHello) => void;
  /** False while the server has no certificate: ordinary connections are then dropped. */
  readonly acceptOrdinary: () => boolean;
  readonly helloTimeoutMs?: number;
}

export interface HelloRouter {
  /** Drops connections still waiting for their ClientHello (for shutdown). */
  destroyPending(): void;
}

type ConnectionListener = (socket: Socket) => void;

/**
 * Puts the peek in front of `server`'s own connection handling (the TLS wrapping that
 * tls.Server installs as its 'connection' listener), which then runs for ordinary ones.
 */
export function routeByClientHello(server: TlsServer, routing: HelloRouting): HelloRouter {
  const tlsListeners = server.listeners('connection') as ConnectionListener[];
  server.removeAllListeners('connection');
  const pending = new Set<Socket>();
  const timeoutMs = routing.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;

  const ordinary = (socket: Socket): void => {
    if (!routing.acceptOrdinary()) {
      socket.destroy();
      return;
    }
    for (const listener of tlsListeners) listener.call(server, socket);
  };

  server.on('connection', (socket: Socket) => {
    pending.add(socket);
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (): Buffer => {
      pending.delete(socket);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('timeout', onTimeout);
      socket.setTimeout(0);
      socket.pause();
      const bytes = Buffer.concat(chunks, size);
      socket.unshift(bytes); // the TLS socket replays what the raw socket has buffered
      return bytes;
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      const result = parseClientHello(Buffer.concat(chunks, size));
      if (result.kind === 'incomplete' && size < MAX_PEEK_BYTES) return;
      finish();
      if (result.kind === 'client-hello' && result.hello.alpn.includes(ACME_TLS_ALPN)) routing.onAcme(socket, result.hello);
      else ordinary(socket); // not-tls too: the TLS server fails it the usual way
    };
    const drop = (): void => {
      pending.delete(socket);
      socket.destroy();
    };
    const onEnd = drop;
    const onError = drop;
    const onTimeout = drop;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('timeout', onTimeout);
    socket.setTimeout(timeoutMs);
  });

  return {
    destroyPending() {
      for (const socket of pending) socket.destroy();
      pending.clear();
    },
  };
}
