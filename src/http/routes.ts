// Where each HTTP request goes: GET and HEAD, or another method a route takes (POST to
// /v1/channels/{channel}/messages), then
//   /healthz   liveness and a few counts, as JSON
//   /metrics   Prometheus text
//   the front-ends' routes, in the order given (the query API at /v1/... today)
//   anything else: a static file (static-files.ts)
// Everything a route needs is passed in; nothing here knows how the node is built.

import type { Logger } from 'pino';
import { StoreError } from '../store/store-error.ts';
import type { RequestHandler, Route, ServedPath } from './handlers.ts';
import { serveStatic } from './static-files.ts';

/** The counts /healthz reports. */
export interface Health {
  readonly connections: number;
  readonly channels: number;
  /** Peer links that are up. */
  readonly peers: number;
  /** With --nats: the NATS connection and how far this node has applied the stream. */
  readonly nats?: { readonly connected: boolean; readonly server: string | undefined; readonly stream: string; readonly applied: number };
}

/** What /metrics reads: a prom-client Registry has this shape. */
export interface MetricsText {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface StaticSite {
  readonly root: string;
  /** Files come from `root/HOST/`, for the `domains` only. */
  readonly perHost: boolean;
  readonly domains: readonly string[];
}

export interface RouteDependencies {
  readonly log: Logger;
  readonly health: () => Health;
  readonly metrics: MetricsText;
  /** The front-ends' paths, asked in order. */
  readonly routes: readonly Route[];
  readonly site: StaticSite;
}

const READ_METHODS: readonly string[] = ['GET', 'HEAD'];

/** What the HTTP side serves besides static files: its own paths, then the routes'. */
export function servedPaths(routes: readonly Route[]): ServedPath[] {
  return [
    { path: '/healthz', methods: READ_METHODS },
    { path: '/metrics', methods: READ_METHODS },
    ...routes.flatMap((route) => route.paths.map((path) => ({ path, methods: route.methods ?? READ_METHODS }))),
  ];
}

export function createRequestHandler(deps: RouteDependencies): RequestHandler {
  const { log } = deps;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    const matching = path === undefined ? [] : deps.routes.filter((r) => r.matches(path));
    const route = matching.find((r) => (r.methods ?? READ_METHODS).includes(method));
    if (route === undefined && !READ_METHODS.includes(method)) {
      // Only routes take other methods, and only those they name.
      const allow = new Set([...READ_METHODS, ...matching.flatMap((r) => r.methods ?? READ_METHODS)]);
      res.writeHead(405, { allow: [...allow].join(', '), 'content-type': 'text/plain', connection: 'close' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      const { connections, channels, peers, nats } = deps.health();
      const body = JSON.stringify({ status: nats === undefined || nats.connected ? 'ok' : 'degraded', connections, channels, peers, ...(nats === undefined ? {} : { nats }) });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body + '\n');
      return;
    }
    if (route !== undefined) {
      route.handle(req, res).catch((error: unknown) => {
        if (!(error instanceof StoreError)) {
          log.error({ err: error, url: req.url }, 'query failed');
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal error"}');
          return;
        }
        // The store's trouble is the client's to know: a full or broken disk is not a bug.
        log.error({ err: error, storeCode: error.code, url: req.url }, 'query failed');
        const body = JSON.stringify({ error: error.message, storeCode: error.code });
        if (!res.headersSent) res.writeHead(503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
      });
      return;
    }
    if (path === '/metrics') {
      deps.metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': deps.metrics.contentType }).end(text),
        (error: unknown) => {
          log.error({ err: error }, 'metrics failed');
          res.writeHead(500).end('metrics failed\n');
        },
      );
      return;
    }
    serveStatic(req, res, deps.site).catch((error: unknown) => {
      log.error({ err: error, url: req.url }, 'static file failed');
      if (!res.headersSent) res.writeHead(500).end('internal error\n');
      else res.destroy();
    });
  };
}
