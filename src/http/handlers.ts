// What every listener of the node serves: one handler for requests, one for WebSocket
// upgrades. The plain listeners and the ACME-managed TLS one take the same pair.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
