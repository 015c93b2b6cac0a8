// What every listener of the node serves: one handler for requests, one for WebSocket
// upgrades. The plain listeners and the ACME-managed TLS one take the same pair. And
// what a front-end adds to the HTTP side: routes, each owning the paths it matches.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Some paths of the HTTP side, served by one front-end (the query API; Matrix next). */
export interface Route {
  /**
   * The paths it serves, as OpenAPI path templates (`{channel}` for a segment). The
   * description at /v1/openapi.json must list each of them (a test holds it to that).
   */
  readonly paths: readonly string[];
  /** The methods it answers; GET and HEAD when not given. */
  readonly methods?: readonly string[];
  /** Whether this route answers the path (without the query string). */
  matches(path: string): boolean;
  /** Answers a request of a matching path, with one of its methods; resolves once answered. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** A path the HTTP side serves, with the methods it takes there. */
export interface ServedPath {
  readonly path: string;
  readonly methods: readonly string[];
}
