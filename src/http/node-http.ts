// node:http, loaded with require rather than an ES import. An ES import of a built-in
// module reads every export to build the module's namespace, and node:http's `WebSocket`,
// `CloseEvent` and `MessageEvent` exports are getters that load Node's fetch
// implementation (undici, with web streams and http2) to answer: about 14 MB of resident
// memory in a node that never calls them. Runtime imports of node:http go through here;
// `import type` from node:http costs nothing and stays as it is.

import { createRequire } from 'node:module';

const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export const { createServer, request } = http;
