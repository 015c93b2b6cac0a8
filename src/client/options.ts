// The client's option and result types, and the validation of what callers pass in
// (names and the node URL), in one place.

import { isName, NAME_RULE } from '../access/names.ts';
import type { BackoffOptions } from '../timing/backoff.ts';
import type { WebSocketConstructor } from './connection.ts';
import type { CursorStore } from './cursor-store.ts';
import type { ParleyError } from './errors.ts';
import type { OutboxLimits } from './outbox.ts';
import type { Message } from './wire.ts';

export interface ParleyClientOptions {
  /** The node: ws://host:port/ or wss://host/ (http:// and https:// are accepted too). */
  readonly url: string;
  /** Your name: 1-1024 printable ASCII characters. */
  readonly uid: string;
  /** The node's MLES_KEY, when it requires auth: each channel's auth is derived from it. */
  readonly key?: string | undefined;
  /** Where cursors are kept; default: in memory, for this client's lifetime. */
  readonly cursors?: CursorStore | undefined;
  readonly backoff?: BackoffOptions | undefined;
  /** Default timeout of publish() and query(), ms; 0 = none. Default 30 000. */
  readonly requestTimeoutMs?: number | undefined;
  /** Time from opening a connection to the node's welcome, ms. Default 10 000. */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Whether a failed first connection is retried like later drops (true), or makes
   * connect() reject with CONNECT_FAILED (false, the default).
   */
  readonly retryFirstConnect?: boolean | undefined;
  readonly outbox?: OutboxLimits | undefined;
  /** A WebSocket constructor; default: the global one (browsers, Node 22+). */
  readonly WebSocket?: WebSocketConstructor | undefined;
}

export interface PublishOptions {
  /** Mles clients get it as a binary frame (true, default) or a text frame. */
  readonly binary?: boolean | undefined;
  /** Your own client message id; reuse it to retry a publish whose outcome you do not know. */
  readonly cid?: string | undefined;
  /**
   * Set when a publish with this `cid` may have reached a node before, e.g. one you
   * publish again after your process restarted. The node then also looks past the
   * recent client ids it keeps in memory, so even an old publish is not stored twice.
   * (Re-sends by this client after a reconnect say so by themselves.)
   */
  readonly retry?: boolean | undefined;
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface PublishResult {
  readonly channel: string;
  readonly cid: string;
  readonly seq: number;
  readonly id: Uint8Array;
  readonly ts: number;
  /** True when the node already had this publish (a retry): nothing was stored twice. */
  readonly duplicate: boolean;
}

export interface QueryOptions {
  /** Messages with seq greater than this. */
  readonly after?: number | undefined;
  /** Messages with seq less than this. Without `after`, the page reads back: the newest `limit` below it. */
  readonly before?: number | undefined;
  /** Messages with ts at or after this (ms since the epoch). */
  readonly since?: number | undefined;
  /** Messages with ts before this (ms since the epoch). */
  readonly until?: number | undefined;
  /** Default 100, at most 1000. */
  readonly limit?: number | undefined;
  /** Newest first. */
  readonly desc?: boolean | undefined;
  /** Look these 32-byte ids up instead of a range. */
  readonly ids?: readonly Uint8Array[] | undefined;
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface ListPublicOptions {
  /** What the channel is about, for the directory (at most 280 characters; default none). */
  readonly about?: string | undefined;
  /**
   * The node's DIRECTORY_KEY: the right to list is its operator's. The key itself is not
   * sent, only the auth computed from it for this uid and channel (as with MLES_KEY).
   */
  readonly key: string;
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** How to take a channel off the directory: the same right as listing it. */
export type UnlistPublicOptions = Omit<ListPublicOptions, 'about'>;

/** A channel the node now lists in the network's directory. */
export interface Listed {
  readonly channel: string;
  readonly about: string;
}

export interface Page {
  readonly channel: string;
  readonly messages: readonly Message[];
  /** Oldest seq the node still stores for the channel. */
  readonly first: number;
  /** True when nothing further exists in the query's direction. */
  readonly last: boolean;
  /**
   * Where the next page in the same direction starts: pass it as `after` for a query that
   * reads forward, as `before` for one that reads back (`desc`, or `before` without `after`).
   */
  readonly next: number | undefined;
}

export interface ScrollbackOptions {
  /** Start with the messages below this seq (e.g. the oldest one shown); default: the newest. */
  readonly before?: number | undefined;
  /** Messages per page: default 100, at most 1000. */
  readonly limit?: number | undefined;
  /** Timeout of each page's query, as in query(). */
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ClientEvents {
  connected: { readonly node: string; readonly max: number; readonly reconnected: boolean };
  /** The connection ended; `reconnectInMs` is undefined when no reconnect follows. */
  disconnected: { readonly code: number; readonly reason: string; readonly reconnectInMs: number | undefined };
  /** A failure not tied to one call (those reject their promise or end their subscription). */
  error: ParleyError;
}

export function checkName(what: string, value: string): void {
  if (!isName(value)) {
    throw new RangeError(`${what} must be ${NAME_RULE}`);
  }
}

export function nodeUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError(`url must be a ws://, wss://, http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new RangeError(`url must be a ws://, wss://, http:// or https:// URL, got ${JSON.stringify(text)}`);
  return url.href;
}
