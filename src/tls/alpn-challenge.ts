// The TLS-ALPN-01 responder (RFC 8737): the challenge certificates waiting for
// validation, by domain, and the TLS server that shows one to a connection offering
// ALPN `acme-tls/1` with that domain as SNI, then hangs up.

import { createSecureContext, createServer, type SecureContext, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

export const ACME_TLS_ALPN = 'acme-tls/1';
const HANDSHAKE_TIMEOUT_MS = 10_000;

export class AlpnChallenges {
  private readonly contexts = new Map<string, SecureContext>();

  /** Makes `domain` answer validations with this self-signed challenge certificate. */
  add(domain: string, key: string, cert: string): void {
    this.contexts.set(domain.toLowerCase(), createSecureContext({ key, cert }));
  }

  remove(domain: string): void {
    this.contexts.delete(domain.toLowerCase());
  }

  get(domain: string): SecureContext | undefined {
    return this.contexts.get(domain.toLowerCase());
  }

  has(domain: string): boolean {
    return this.contexts.has(domain.toLowerCase());
  }
}

/**
 * A TLS server that never listens: sockets are handed to it with
 * `emit('connection', socket)` once their ClientHello shows `acme-tls/1`.
 */
export function createChallengeResponder(challenges: AlpnChallenges, log: Logger): Server {
  const server = createServer({
    ALPNProtocols: [ACME_TLS_ALPN],
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    SNICallback: (servername, callback) => {
      const context = challenges.get(servername);
      if (context === undefined) callback(new Error(`no pending TLS-ALPN-01 challenge for ${servername}`));
      else callback(null, context);
    },
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const domain = typeof socket.servername === 'string' ? socket.servername : undefined;
    log.info({ domain, remote: socket.remoteAddress }, 'acme challenge answered');
    socket.on('error', () => socket.destroy());
    socket.end(); // RFC 8737 3: the handshake is the whole exchange
  });
  server.on('tlsClientError', (error, socket) => {
    log.debug({ remote: socket.remoteAddress, err: error.message }, 'acme challenge handshake failed');
  });
  return server;
}
