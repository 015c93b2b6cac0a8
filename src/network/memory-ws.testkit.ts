// Test kit: two real `ws` WebSockets joined in memory, for driving peer links without a
// port. The client dials through `createConnection`, which hands it one end of a
// node:stream duplexPair; an HTTP server (never listening) gets the other end through its
// 'connection' event, which takes any Duplex, and a WebSocketServer completes the upgrade
// on it. Both sides are the real library speaking real frames: nothing of ws is faked.

import { createServer } from 'node:http';
import type { createConnection } from 'node:net';
import { duplexPair } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';

export interface MemoryWsPair {
  /** The dialing side, not open yet (as a freshly dialed WebSocket is). */
  readonly client: WebSocket;
  /** Resolves with the accepting side once the upgrade is done. */
  readonly server: Promise<WebSocket>;
}

/**
 * Dials `protocol` over an in-memory socket pair. `accepted`, if given, is called with
 * the server's WebSocket in the upgrade callback, before any frame can arrive on it.
 */
export function memoryWsPair(protocol: string, accepted?: (ws: WebSocket) => void): MemoryWsPair {
  const [clientEnd, serverEnd] = duplexPair();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => protocol });
  const http = createServer();
  const server = new Promise<WebSocket>((resolve) => {
    http.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        accepted?.(ws);
        resolve(ws);
      });
    });
  });
  http.emit('connection', serverEnd);
  // ws types createConnection as net's, which returns a Socket; http.request, which it is
  // passed to, takes any Duplex (as the Node docs say), and this one is a Duplex.
  const dial = (() => clientEnd) as unknown as typeof createConnection;
  const client = new WebSocket('ws://peer.invalid/', protocol, { createConnection: dial });
  return { client, server };
}
