// Where each WebSocket upgrade goes: refused with an HTTP status (rate limit, a bad
// handshake, an unknown subprotocol), handed to peering (the peer subprotocol), or
// accepted as an Mles or native client connection.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { UpgradeHandler } from '../http/handlers.ts';
import { MLES_SUBPROTOCOL } from '../mles/header.ts';
import { MlesConnection, type ConnectionContext } from '../mles/session.ts';
import { NATIVE_SUBPROTOCOL } from '../native/frames.ts';
import { NativeConnection, type NativeContext } from '../native/session.ts';
import { PEER_SUBPROTOCOL } from '../network/protocol.ts';
import { checkUpgrade } from '../websocket/handshake.ts';
import { refuseUpgrade } from '../websocket/http-refusal.ts';
import type { ConnectionRateLimiter } from '../websocket/rate-limit.ts';
import type { HttpRefusalCode } from '../websocket/refusals.ts';
import type { NodeStats } from '../websocket/stats.ts';
import { checkSubprotocol, offeredSubprotocols } from '../websocket/upgrade-check.ts';
import type { ClientConnections } from './client-connections.ts';

/** The client protocols a WebSocket upgrade may ask for. */
const CLIENT_SUBPROTOCOLS = [MLES_SUBPROTOCOL, NATIVE_SUBPROTOCOL] as const;

/** What the upgrade routing needs of peering (Peering has it). */
export interface PeerUpgrades {
  readonly acceptsLinks: boolean;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface UpgradeDependencies {
  readonly stats: NodeStats;
  readonly log: Logger;
  readonly limiter: ConnectionRateLimiter;
  readonly peering: PeerUpgrades;
  readonly clients: ClientConnections;
  readonly mles: ConnectionContext;
  readonly native: NativeContext;
}

export function createUpgradeHandler(deps: UpgradeDependencies): UpgradeHandler {
  const { stats, log, limiter, peering } = deps;
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy()); // a reset before or during the handshake
    const remote = req.socket.remoteAddress ?? 'unknown';
    const refuse = (code: HttpRefusalCode, detail?: string): void => {
      stats.reject(code);
      log.info({ remote, code, detail }, 'upgrade refused');
      refuseUpgrade(socket, code, detail);
    };
    if (!limiter.allow(remote)) return refuse('RATE_LIMITED');
    const handshake = checkUpgrade({
      method: req.method,
      upgrade: req.headers.upgrade,
      connection: req.headers.connection,
      key: req.headers['sec-websocket-key'],
      version: req.headers['sec-websocket-version'],
    });
    if (!handshake.ok) return refuse(handshake.code, handshake.detail);
    if (offeredSubprotocols(req.headers['sec-websocket-protocol']).includes(PEER_SUBPROTOCOL)) {
      if (!peering.acceptsLinks) return refuse('PEERING_DISABLED');
      return peering.handleUpgrade(req, socket, head);
    }
    const subprotocol = checkSubprotocol(req.headers['sec-websocket-protocol'], CLIENT_SUBPROTOCOLS);
    if (!subprotocol.ok) return refuse(subprotocol.code);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${handshake.accept}\r\nSec-WebSocket-Protocol: ${subprotocol.protocol}\r\n\r\n`,
    );
    stats.connections++;
    stats.connectionsTotal++;
    deps.clients.add(
      subprotocol.protocol === MLES_SUBPROTOCOL
        ? new MlesConnection(socket, head, remote, deps.mles).session
        : new NativeConnection(socket, head, remote, deps.native).session,
    );
  };
}
