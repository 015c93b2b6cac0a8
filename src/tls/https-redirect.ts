// `--redirect`: a plain http listener that sends every request to the https site with
// a 301. The target host is taken from the Host header only when it is one of our
// domains, so the listener never redirects visitors to a name it does not serve.

import type { Server } from 'node:http';
import { createServer } from '../http/node-http.ts';

export function redirectLocation(
  hostHeader: string | undefined,
  path: string | undefined,
  domains: readonly string[],
  httpsPort: number,
): string {
  const requested = (hostHeader ?? '').replace(/:\d*$/, '').replace(/\.$/, '').toLowerCase();
  const host = domains.includes(requested) ? requested : (domains[0] ?? 'localhost');
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  const target = path?.startsWith('/') ? path : '/';
  return `https://${host}${port}${target}`;
}

export function createRedirectServer(domains: readonly string[], httpsPort: number): Server {
  const server = createServer((req, res) => {
    const location = redirectLocation(req.headers.host, req.url, domains, httpsPort);
    res.writeHead(301, { location, 'content-type': 'text/plain', connection: 'close' }).end(`moved to ${location}\n`);
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  return server;
}
