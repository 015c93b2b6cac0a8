// The OpenAPI 3.1 description of the HTTP API, served at /v1/openapi.json. Built from the
// same constants the routes check (parameters, limits), so the two cannot drift apart
// quietly: a parameter the API takes without a description here fails the build of the
// document, and test/http-openapi.test.ts compares its paths with the routes served.

import { MAX_AUTH_DIGITS } from '../access/auth.ts';
import { MAX_NAME_LENGTH, NAME_RULE } from '../access/names.ts';
import { DEFAULT_QUERY_LIMIT, MAX_PAGE_BYTES, MAX_QUERY_LIMIT, MAX_TOKEN_LENGTH } from '../native/frames.ts';
import { DEFAULT_CHANNELS_LIMIT, KNOWN_PARAMETERS, MAX_CHANNELS_LIMIT } from './api.ts';
import type { Route } from './handlers.ts';
import { PUBLISH_PARAMETERS } from './publish.ts';
import { sendJson } from './request.ts';

export const OPENAPI_PATH = '/v1/openapi.json';

export interface DescriptionSettings {
  /** parley's version, the document's `info.version`. */
  readonly version: string;
  /** The largest message the node takes (--max-message). */
  readonly maxMessage: number;
}

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);
const seq = { type: 'integer', minimum: 0 };

const name = (what: string): Schema => ({ type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH, pattern: '^[\\x20-\\x7e]+$', description: `${what}: ${NAME_RULE}` });
const auth = { type: 'string', pattern: `^[0-9a-fA-F]{1,${MAX_AUTH_DIGITS}}$` };

/** Every query parameter the API reads, by name. */
const PARAMETERS: Record<string, Schema> = {
  after: { in: 'query', name: 'after', schema: seq, description: 'Only messages with a seq above this one (read forward from here).' },
  before: {
    in: 'query',
    name: 'before',
    schema: seq,
    description: 'Only messages with a seq below this one; without `after`, the page holds the newest `limit` of them (paging back), still oldest first.',
  },
  limit: {
    in: 'query',
    name: 'limit',
    schema: { type: 'integer', minimum: 1, maximum: MAX_QUERY_LIMIT, default: DEFAULT_QUERY_LIMIT },
    description: `Messages in a page at most; a page also stops at ${MAX_PAGE_BYTES} bytes of payloads.`,
  },
  uid: { in: 'query', name: 'uid', schema: name('the user id'), description: 'The reader or publisher, as in an Mles header; needed with `auth`.' },
  auth: {
    in: 'query',
    name: 'auth',
    schema: auth,
    description: 'Hex SipHash-2-4 of uid, channel and MLES_KEY, as in an Mles header; required on a node with an MLES_KEY.',
  },
  encoding: {
    in: 'query',
    name: 'encoding',
    schema: { type: 'string', enum: ['base64', 'text'], default: 'base64' },
    description: '`text` writes each payload that is UTF-8 as a string, others stay base64; each message then says which it got.',
  },
  cid: {
    in: 'query',
    name: 'cid',
    schema: { type: 'string', minLength: 1, maxLength: MAX_TOKEN_LENGTH },
    description: 'Makes a retry safe: the same cid from the same uid in the channel gets the first result, with `duplicate: true`.',
  },
};

function parameters(names: readonly string[], overrides: Record<string, Schema> = {}): Schema[] {
  return names.map((n) => {
    const described = overrides[n] ?? PARAMETERS[n];
    if (described === undefined) throw new Error(`the OpenAPI description has no query parameter ${n}: add it to PARAMETERS`);
    return described;
  });
}

const channelParameter = { in: 'path', name: 'channel', required: true, schema: name('the channel'), description: 'The channel, percent-encoded.' };

const addrs = { type: 'array', items: { type: 'string' }, description: 'Full multiaddrs, each ending in /p2p/PEERID.' };
const p2pOff = error('Peer-to-peer mode is off on this node (start it with --p2p).');

const SCHEMAS: Record<string, Schema> = {
  Node: {
    type: 'object',
    required: ['id', 'addrs', 'peers'],
    properties: {
      id: { type: 'string', pattern: '^[0-9a-f]{32}$', description: "The node id: the first 16 bytes of SHA-256 of its Ed25519 key, in hex." },
      peerId: { type: 'string', description: 'The libp2p peer id, from the same key (only with --p2p).' },
      addrs,
      peers: { type: 'array', items: { type: 'object', required: ['peerId', 'addrs'], properties: { peerId: { type: 'string' }, addrs } } },
    },
  },
  Found: {
    type: 'object',
    required: ['found'],
    properties: {
      found: { type: 'array', items: { type: 'object', required: ['nodeId', 'peerId', 'addrs'], properties: { nodeId: { type: 'string' }, peerId: { type: 'string' }, addrs } } },
    },
  },
  Directory: {
    type: 'object',
    required: ['channels'],
    properties: {
      channels: {
        type: 'array',
        items: {
          type: 'object',
          required: ['channel', 'about', 'node', 'announced', 'lastActivity'],
          properties: {
            channel: { type: 'string' },
            about: { type: 'string', description: 'What the announcing node says the channel is about.' },
            node: { type: 'string', description: 'The node id of the node that announced it (names are not unique: this says who claims it).' },
            announced: { type: 'integer', description: 'When it was last announced, in ms since the epoch.' },
            lastActivity: { type: 'integer', description: "The newest message's time on the announcing node (ms), 0 for none." },
          },
        },
      },
    },
  },
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: { type: 'string', description: 'What is wrong, in words.' },
      storeCode: { type: 'string', description: 'With 503: the store failure code (see STORE_FAILED in docs/native-protocol.md).' },
    },
  },
  Health: {
    type: 'object',
    required: ['status', 'connections', 'channels', 'peers'],
    properties: {
      status: { enum: ['ok', 'degraded'], description: "'degraded' while the node cannot reach NATS (with --nats)." },
      connections: { type: 'integer' },
      channels: { type: 'integer' },
      peers: { type: 'integer', description: 'Peer links up.' },
      nats: {
        type: 'object',
        description: 'With --nats: the NATS connection, and the last stream sequence this node applied.',
        required: ['connected', 'stream', 'applied'],
        properties: { connected: { type: 'boolean' }, server: { type: 'string' }, stream: { type: 'string' }, applied: { type: 'integer' } },
      },
    },
  },
  ChannelsPage: {
    type: 'object',
    required: ['channels'],
    properties: {
      channels: {
        type: 'array',
        items: {
          type: 'object',
          required: ['channel', 'count', 'newest'],
          properties: { channel: { type: 'string' }, count: { type: 'integer', description: 'Messages stored.' }, newest: { ...seq, description: 'The newest seq.' } },
        },
      },
      next: { type: 'string', description: 'There when there may be more: the `after` of the next page.' },
    },
  },
  Message: {
    type: 'object',
    required: ['seq', 'id', 'ts', 'uid', 'binary', 'payload'],
    properties: {
      seq: { ...seq, description: "The message's place in the channel." },
      id: { type: 'string', pattern: '^[0-9a-f]+$', description: 'The message id, in hex.' },
      ts: { type: 'integer', description: 'When the node stored it, in milliseconds since 1970.' },
      uid: { type: 'string' },
      binary: { type: 'boolean', description: 'Sent as binary rather than text.' },
      payload: { type: 'string', description: 'Base64, or with encoding=text the text where it is UTF-8.' },
      encoding: { type: 'string', enum: ['base64', 'text'], description: 'With encoding=text only: how this payload is written.' },
    },
  },
  MessagesPage: {
    type: 'object',
    required: ['messages', 'first', 'newest', 'last'],
    properties: {
      messages: { type: 'array', items: ref('Message'), description: 'Oldest first.' },
      first: { ...seq, description: 'The oldest seq still stored.' },
      newest: { ...seq, description: 'The newest seq ever stored in the channel; 0 when nothing ever was.' },
      last: { type: 'boolean', description: 'Nothing further matches in this direction.' },
      next: { ...seq, description: 'Where the next page starts: pass it as `after` going forward, as `before` going back.' },
    },
  },
  Published: {
    type: 'object',
    required: ['seq', 'id', 'ts', 'duplicate'],
    properties: {
      seq,
      id: { type: 'string', pattern: '^[0-9a-f]+$' },
      ts: { type: 'integer' },
      duplicate: { type: 'boolean', description: 'A retry with a cid already published: nothing new was stored.' },
    },
  },
};

/** The OpenAPI 3.1 document of the node's HTTP API. */
export function describeApi(settings: DescriptionSettings): Record<string, unknown> {
  const badRequest = error('A malformed or unknown parameter (named in `error`).');
  const unavailable = error('The store cannot be read or written; `storeCode` says why.');
  const unauthorized = error('Auth failed: give uid and auth as in an Mles header.');
  return {
    openapi: '3.1.0',
    info: {
      title: 'parley HTTP API',
      version: settings.version,
      description: 'Reads and publishes channel messages over HTTP, beside the Mles v2 and native WebSocket protocols (any path, by subprotocol).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    paths: {
      '/v1/channels': {
        get: {
          operationId: 'listChannels',
          summary: 'The channels that have messages stored, by name, paged.',
          parameters: [
            { in: 'query', name: 'after', schema: name('a channel'), description: 'Only channels named after this one (the `next` of the page before).' },
            { ...PARAMETERS.limit, schema: { type: 'integer', minimum: 1, maximum: MAX_CHANNELS_LIMIT, default: DEFAULT_CHANNELS_LIMIT }, description: 'Channels in a page at most.' },
          ],
          responses: { '200': json(ref('ChannelsPage'), 'A page of channels.'), '400': badRequest, '403': error('Listing is off on a node with an MLES_KEY.'), '503': unavailable },
        },
      },
      '/v1/channels/{channel}/messages': {
        parameters: [channelParameter],
        get: {
          operationId: 'readMessages',
          summary: 'Stored messages of a channel, oldest first, paged forward or back.',
          parameters: parameters(KNOWN_PARAMETERS),
          responses: { '200': json(ref('MessagesPage'), 'A page of messages (a channel nothing was stored in has none, and newest 0).'), '400': badRequest, '401': unauthorized, '503': unavailable },
        },
        post: {
          operationId: 'publishMessage',
          summary: 'Publishes the body as one message, to every member of the channel.',
          parameters: parameters(PUBLISH_PARAMETERS, { uid: { ...PARAMETERS.uid, required: true, description: 'The publisher.' } }),
          requestBody: {
            required: true,
            description: `The payload, at most ${settings.maxMessage} bytes. text/plain makes a text message (UTF-8 only); any other type a binary one.`,
            content: { 'text/plain': { schema: { type: 'string' } }, 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
          },
          responses: {
            '201': json(ref('Published'), 'Stored (or, a retry of a cid, stored before).'),
            '400': badRequest,
            '401': unauthorized,
            '403': error("The channel is one of the Matrix gateway's (matrix/ or matrix-): clients read it but do not write it."),
            '413': error(`The body is larger than ${settings.maxMessage} bytes.`),
            '503': unavailable,
          },
        },
      },
      '/v1/node': {
        get: { operationId: 'node', summary: 'This node: its id, and with --p2p its peer id, addresses and connected peers.', responses: { '200': json(ref('Node'), 'The node.'), '400': badRequest } },
      },
      '/v1/p2p/find': {
        get: {
          operationId: 'findNode',
          summary: "Finds nodes through the DHT by node id, peer id, or a name they claim (--p2p-name), with their addresses.",
          parameters: [{ in: 'query', name: 'q', required: true, schema: { type: 'string' }, description: 'A node id (32 hex digits), a peer id (12D3KooW...) or a name.' }],
          responses: { '200': json(ref('Found'), 'Every node found (a name may be claimed by several).'), '400': badRequest, '404': error('Nothing found.'), '503': p2pOff },
        },
      },
      '/v1/directory': {
        get: {
          operationId: 'directory',
          summary: "The network's public channels, as announced by the nodes that list them (--public).",
          responses: { '200': json(ref('Directory'), 'The channels, by name.'), '400': badRequest, '503': p2pOff },
        },
      },
      '/healthz': {
        get: { operationId: 'health', summary: 'Liveness and a few counts.', responses: { '200': json(ref('Health'), 'The node is up.') } },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics.',
          responses: { '200': { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      [OPENAPI_PATH]: {
        get: { operationId: 'openapi', summary: 'This document.', responses: { '200': json({ type: 'object' }, 'The OpenAPI 3.1 description of the HTTP API.') } },
      },
    },
    components: { schemas: SCHEMAS },
  };
}

/** The description as a route. */
export function openApiRoute(settings: DescriptionSettings): Route {
  const document = describeApi(settings);
  return {
    paths: [OPENAPI_PATH],
    matches: (path) => path === OPENAPI_PATH,
    handle: async (_req, res) => sendJson(res, 200, document),
  };
}
