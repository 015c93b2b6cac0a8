// The HTTP query API, for tools and clients that only need to fetch:
//   GET /v1/channels?after=NAME&limit=N
//   GET /v1/channels/{channel}/messages?after=SEQ&before=SEQ&limit=N&uid=U&auth=A&encoding=text
// Pages as a native query does (see query-page.ts): `before` without `after` pages back.
// Same auth rules as an Mles header. Parameters are validated here, once, into a typed
// query (pure, table-tested); the handler only reads the store and writes JSON.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { authAccepted, isAuthText, MAX_AUTH_DIGITS } from '../access/auth.ts';
import { isName, NAME_RULE } from '../access/names.ts';
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT } from '../native/frames.ts';
import type { Store } from '../store/store.ts';
import { readPage } from '../native/query-page.ts';
import type { Route } from './handlers.ts';
import { AUTH_FAILED, channelOf, limitParam, MESSAGES_PATH, sendJson, unknownParameter, utf8Text } from './request.ts';

export interface MessagesQuery {
  readonly channel: string;
  readonly after: number | undefined;
  readonly before: number | undefined;
  readonly limit: number;
  readonly uid: string | undefined;
  readonly auth: string | undefined;
  /** How payloads are written: base64 (the default), or text where they are UTF-8. */
  readonly encoding: PayloadEncoding;
}

export type PayloadEncoding = 'base64' | 'text';

export type ParsedRequest =
  | { readonly ok: true; readonly query: MessagesQuery }
  | { readonly ok: false; readonly status: 400 | 404; readonly error: string };

/**
 * Every query parameter the API reads. Any other is refused with 400 rather than ignored:
 * a misspelt `limt=1` would otherwise quietly give a default page.
 */
export const KNOWN_PARAMETERS: readonly string[] = ['after', 'before', 'limit', 'uid', 'auth', 'encoding'];

function seqParam(params: URLSearchParams, name: string): number | undefined | string {
  const value = params.get(name);
  if (value === null) return undefined;
  if (!/^\d{1,15}$/.test(value)) return `${name} must be a whole number >= 0`;
  return Number(value);
}

/** Parses the request target into a query, or says what is wrong with it. Pure. */
export function parseMessagesRequest(target: string): ParsedRequest {
  const url = new URL(target, 'http://node.invalid');
  const match = MESSAGES_PATH.exec(url.pathname);
  if (!match) return { ok: false, status: 404, error: 'no such endpoint: use /v1/channels or /v1/channels/{channel}/messages' };
  const named = channelOf(match);
  if (!named.ok) return named;
  const { channel } = named;
  const params = url.searchParams;
  const unknown = unknownParameter(params, KNOWN_PARAMETERS);
  if (unknown !== undefined) return { ok: false, status: 400, error: unknown };
  const after = seqParam(params, 'after');
  if (typeof after === 'string') return { ok: false, status: 400, error: after };
  const before = seqParam(params, 'before');
  if (typeof before === 'string') return { ok: false, status: 400, error: before };
  const limit = limitParam(params, DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT);
  if (typeof limit === 'string') return { ok: false, status: 400, error: limit };
  const auth = params.get('auth') ?? undefined;
  if (auth !== undefined && !isAuthText(auth)) return { ok: false, status: 400, error: `auth must be 1-${MAX_AUTH_DIGITS} hex digits` };
  const encoding = params.get('encoding') ?? 'base64';
  if (encoding !== 'base64' && encoding !== 'text') return { ok: false, status: 400, error: 'encoding must be base64 or text' };
  return { ok: true, query: { channel, after, before, limit, uid: params.get('uid') ?? undefined, auth, encoding } };
}

const LIST_ROUTE = /^\/v1\/channels\/?$/;

export const DEFAULT_CHANNELS_LIMIT = 100;
export const MAX_CHANNELS_LIMIT = 1000;

export interface ChannelsQuery {
  /** Only channels named after this one (the `next` of the page before). */
  readonly after: string | undefined;
  readonly limit: number;
}

export type ParsedChannelsRequest =
  | { readonly ok: true; readonly query: ChannelsQuery }
  | { readonly ok: false; readonly status: 400; readonly error: string };

/** Every query parameter the channel listing reads. */
export const CHANNELS_PARAMETERS: readonly string[] = ['after', 'limit'];

/** Parses a channel listing's parameters, or says what is wrong with them. Pure. */
export function parseChannelsRequest(params: URLSearchParams): ParsedChannelsRequest {
  const unknown = unknownParameter(params, CHANNELS_PARAMETERS);
  if (unknown !== undefined) return { ok: false, status: 400, error: unknown };
  const after = params.get('after') ?? undefined;
  if (after !== undefined && !isName(after)) return { ok: false, status: 400, error: `after must be a channel name: ${NAME_RULE}` };
  const limit = limitParam(params, DEFAULT_CHANNELS_LIMIT, MAX_CHANNELS_LIMIT);
  if (typeof limit === 'string') return { ok: false, status: 400, error: limit };
  return { ok: true, query: { after, limit } };
}

/**
 * Lists the channels with messages stored, by name. A node with an MLES_KEY refuses:
 * its channels are only for those who know their names (and the key), and a list would
 * give the names away. `next`, when there may be more, is the `after` of the next page.
 */
export function serveChannels(req: IncomingMessage, res: ServerResponse, store: Store, mlesKey: string | undefined): void {
  if (mlesKey !== undefined) {
    return sendJson(res, 403, { error: 'listing channels is off on a node with an MLES_KEY: it would give their names away' });
  }
  const parsed = parseChannelsRequest(new URL(req.url ?? '/', 'http://node.invalid').searchParams);
  if (!parsed.ok) return sendJson(res, parsed.status, { error: parsed.error });
  const { after, limit } = parsed.query;
  const found = store.channels(after, limit + 1);
  const page = found.slice(0, limit);
  sendJson(res, 200, {
    channels: page.map((c) => ({ channel: c.channel, count: c.count, newest: c.last })),
    ...(found.length > limit ? { next: page[page.length - 1]!.channel } : {}),
  });
}

/**
 * A payload as the query asked for it. With `encoding=text` a payload that is not valid
 * UTF-8 stays base64 and says so, rather than failing the request with 422: one binary
 * message would otherwise make a whole channel unreadable as text, and a client that
 * asks for text can still decode the odd message. So with `text` every message carries
 * its `encoding`; without it, payloads are base64 and messages carry none (as before).
 */
export function payloadFields(payload: Uint8Array, encoding: PayloadEncoding): { payload: string; encoding?: PayloadEncoding } {
  if (encoding === 'text') {
    const text = utf8Text(payload);
    return text === undefined ? { payload: Buffer.from(payload).toString('base64'), encoding: 'base64' } : { payload: text, encoding: 'text' };
  }
  return { payload: Buffer.from(payload).toString('base64') };
}

/** The query API as a route: every path under /v1/. */
export function queryApi(store: Store, mlesKey: string | undefined, catchUp: (channel: string) => Promise<void>): Route {
  return {
    paths: ['/v1/channels', '/v1/channels/{channel}/messages'],
    // Every other /v1/ path too: it gets a 404 that names the endpoints, not a static file.
    matches: (path) => path.startsWith('/v1/'),
    handle: async (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (LIST_ROUTE.test(path)) return serveChannels(req, res, store, mlesKey);
      return serveMessages(req, res, store, mlesKey, catchUp);
    },
  };
}

/**
 * Answers a query. `catchUp`, called once the request has passed its checks, resolves when
 * the channel is as current on this node as its peers can make it.
 */
export async function serveMessages(
  req: IncomingMessage,
  res: ServerResponse,
  store: Store,
  mlesKey: string | undefined,
  catchUp: (channel: string) => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const parsed = parseMessagesRequest(req.url ?? '/');
  if (!parsed.ok) return sendJson(res, parsed.status, { error: parsed.error });
  const { query } = parsed;
  if (query.auth !== undefined || mlesKey !== undefined) {
    if (query.uid === undefined || !authAccepted(query.uid, query.channel, query.auth, mlesKey)) {
      return sendJson(res, 401, AUTH_FAILED);
    }
  }
  await catchUp(query.channel);
  const { messages, last, next } = readPage(store, query.channel, query);
  const bounds = store.bounds(query.channel);
  sendJson(res, 200, {
    // The HTTP API's own format, not the native protocol's message (src/native/frames.ts):
    // JSON, so a hex id and a base64 (or text) payload, under the names of the store;
    // the channel is the path's, and no origin.
    messages: messages.map((m) => ({
      seq: m.seq,
      id: Buffer.from(m.id).toString('hex'),
      ts: m.ts,
      uid: m.uid,
      binary: m.binary,
      ...payloadFields(m.payload, query.encoding),
    })),
    first: bounds.first,
    // A channel nothing was ever stored in still answers 200 (anyone may publish to any
    // name, so there is no "no such channel"), and `newest: 0` tells it from an empty
    // page of a channel that has messages. The newest seq ever assigned, rather than a
    // `stored: false` flag: it also tells a channel whose messages all expired (an empty
    // list, `newest` above 0) and gives any client the end of the channel in one answer.
    newest: bounds.last,
    last,
    ...(next === undefined ? {} : { next }),
  });
}
