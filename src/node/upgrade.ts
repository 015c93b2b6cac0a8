// Where each WebSocket upgrade goes: refused with an HTTP status (rate limit, a bad
// handshake, an unknown subprotocol), handed to peering (the peer subprotocol), or
// accepted by the client protocol whose subprotocol it asked for (Mles, native: the
// list the node is given).

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { UpgradeHandler } from '../http/handlers.ts';
import { PEER_SUBPROTOCOL } from '../network/protocol.ts';
import { checkUpgrade } from '../websocket/handshake.ts';
import { refuseUpgrade } from '../websocket/http-refusal.ts';
import type { ConnectionRateLimiter } from '../websocket/rate-limit.ts';
import type { HttpRefusalCode } from '../websocket/refusals.ts';
import type { NodeStats } from '../websocket/stats.ts';
import { checkSubprotocol, offeredSubprotocols } from '../websocket/upgrade-check.ts';
import type { ClientConnections } from './client-connections.ts';
import type { WebSocketProtocol } from '../websocket/client-connection.ts';

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
  /** The client protocols spoken, by subprotocol; a client's first offered one that is here wins. */
  readonly protocols: readonly WebSocketProtocol[];
}

export function createUpgradeHandler(deps: UpgradeDependencies): UpgradeHandler {
  const { stats, log, limiter, peering } = deps;
  const spoken = deps.protocols.map((p) => p.subprotocol);
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
    const subprotocol = checkSubprotocol(req.headers['sec-websocket-protocol'], spoken);
    if (!subprotocol.ok) return refuse(subprotocol.code);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${handshake.accept}\r\nSec-WebSocket-Protocol: ${subprotocol.protocol}\r\n\r\n`,
    );
    stats.connections++;
    stats.connectionsTotal++;
    const protocol = deps.protocols.find((p) => p.subprotocol === subprotocol.protocol)!;
    deps.clients.add(protocol.accept(socket, head, remote));
  };
}
