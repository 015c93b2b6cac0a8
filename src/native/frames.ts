// The native protocol (`parley.v1`): typed frames, one CBOR map per binary WebSocket
// frame, many channels per connection. This module turns bytes into validated typed
// frames and back; it does no I/O. Every frame and error code is described in
// docs/native-protocol.md.

import { Decoder, Encoder } from 'cbor-x';
import { MAX_NAME_LENGTH } from '../mles/header.ts';

export const NATIVE_SUBPROTOCOL = 'parley.v1';
export const PROTOCOL_VERSION = 1;
/** Largest page a query may ask for. */
export const MAX_QUERY_LIMIT = 1000;
export const DEFAULT_QUERY_LIMIT = 100;
/** Payload bytes one page of messages carries at most (more only for a single message); a fuller page is cut short. */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** Ids a query may look up at once. */
export const MAX_QUERY_IDS = 1000;
/** Longest client message id, query id or auth, in characters. */
export const MAX_TOKEN_LENGTH = 256;

// Plain maps both ways: no cbor-x record extension, so any CBOR library can talk to us.
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });
// The client SDK bundles this module for browsers: no node: imports here.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

// ---- client -> node -------------------------------------------------------------

export interface HelloFrame {
  readonly t: 'hello';
  readonly uid: string;
}
export interface SubscribeFrame {
  readonly t: 'sub';
  readonly ch: string;
  readonly auth: string | undefined;
  /** Cursor: the last seq the client has; absent = only what comes from now on. */
  readonly after: number | undefined;
}
export interface UnsubscribeFrame {
  readonly t: 'unsub';
  readonly ch: string;
}
export interface PublishFrame {
  readonly t: 'pub';
  readonly ch: string;
  readonly auth: string | undefined;
  readonly cid: string;
  readonly p: Uint8Array;
  /** Delivered to Mles clients as a binary (default) or a text frame. */
  readonly bin: boolean;
  /** The client may have sent this before without seeing the ack. */
  readonly retry: boolean;
}
export interface QueryFrame {
  readonly t: 'query';
  readonly qid: string;
  readonly ch: string;
  readonly auth: string | undefined;
  readonly after: number | undefined;
  /** Without `after`, the query reads back: the newest `limit` messages below it. */
  readonly before: number | undefined;
  readonly since: number | undefined;
  readonly until: number | undefined;
  readonly limit: number;
  /** Read back from `before` (or from the newest), and answer newest first. */
  readonly desc: boolean;
  readonly ids: readonly Uint8Array[] | undefined;
}
export type ClientFrame = HelloFrame | SubscribeFrame | UnsubscribeFrame | PublishFrame | QueryFrame;

// ---- node -> client -------------------------------------------------------------

export interface WireMessage {
  readonly ch: string;
  readonly seq: number;
  readonly id: Uint8Array;
  readonly ts: number;
  readonly from: string;
  readonly o: string;
  readonly bin: boolean;
  readonly p: Uint8Array;
}
export type NodeFrame =
  | { readonly t: 'welcome'; readonly v: number; readonly node: string; readonly max: number }
  | ({ readonly t: 'msg' } & WireMessage)
  | { readonly t: 'live'; readonly ch: string; readonly last: number }
  | { readonly t: 'unsubbed'; readonly ch: string }
  | { readonly t: 'ack'; readonly ch: string; readonly cid: string; readonly seq: number; readonly id: Uint8Array; readonly ts: number; readonly dup: boolean }
  /** `next`: where the next page in the query's direction starts (an `after` forward, a `before` back). */
  | { readonly t: 'page'; readonly qid: string; readonly ch: string; readonly msgs: readonly WireMessage[]; readonly first: number; readonly last: boolean; readonly next?: number }
  | ErrorFrame;

export const ERROR_CODES = {
  BAD_FRAME: 'the frame is not a CBOR map of a known type with valid fields',
  NOT_HELLO: 'the first frame must be hello',
  ALREADY_HELLO: 'hello was already sent',
  AUTH_FAILED: 'auth missing or wrong for this uid and channel',
  BAD_CURSOR: 'the cursor is not a whole number >= 0',
  UNKNOWN_CURSOR: 'the cursor is beyond the newest message of the channel',
  GAP: 'messages after the cursor were removed by retention; first is the oldest still stored',
  ALREADY_SUBSCRIBED: 'the channel is already subscribed on this connection',
  NOT_SUBSCRIBED: 'the channel is not subscribed on this connection',
  TOO_MANY_SUBSCRIPTIONS: 'too many channels subscribed on this connection',
  LIMIT_TOO_LARGE: `a query may ask for at most ${MAX_QUERY_LIMIT} messages (and ${MAX_QUERY_IDS} ids)`,
  BAD_QUERY: 'the query fields contradict each other',
  STORE_FAILED: 'the node\'s store failed; retry',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorFrame {
  readonly t: 'err';
  readonly code: ErrorCode;
  readonly msg: string;
  /** What the error is about: the channel, client message id or query id concerned. */
  readonly ch?: string;
  readonly cid?: string;
  readonly qid?: string;
  /** With GAP: the oldest seq still stored, and the newest. */
  readonly first?: number;
  readonly last?: number;
  /** With STORE_FAILED: why, as the store's code (full, unavailable, corrupt, timeout, failed). */
  readonly store?: string;
}

export function errorFrame(code: ErrorCode, about: Omit<ErrorFrame, 't' | 'code' | 'msg'> = {}, detail?: string): ErrorFrame {
  return { t: 'err', code, msg: detail === undefined ? ERROR_CODES[code] : `${ERROR_CODES[code]}: ${detail}`, ...about };
}

export function encodeNodeFrame(frame: NodeFrame): Buffer {
  return encoder.encode(frame) as Buffer;
}

export function encodeClientFrame(frame: Record<string, unknown>): Buffer {
  return encoder.encode(frame) as Buffer;
}

/** Decodes any CBOR map (used by clients for node frames, which they trust less strictly). */
export function decodeMap(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = decoder.decode(bytes);
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes the node frames of one WebSocket message: a CBOR sequence (RFC 8742) of maps,
 * one frame or several (the node sends a channel's new messages together). Undefined
 * when the message is empty, or when any item is not a CBOR map.
 */
export function decodeMaps(bytes: Uint8Array): Record<string, unknown>[] | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const values = decoder.decodeMultiple(bytes) as unknown;
    if (!Array.isArray(values) || values.length === 0) return undefined;
    const maps: Record<string, unknown>[] = [];
    for (const value of values as unknown[]) {
      if (!isPlainObject(value)) return undefined;
      maps.push(value);
    }
    return maps;
  } catch {
    return undefined;
  }
}

// ---- validation -----------------------------------------------------------------

export interface FrameAbout {
  ch?: string;
  cid?: string;
  qid?: string;
}

export type DecodeResult =
  | { readonly ok: true; readonly frame: ClientFrame }
  | { readonly ok: false; readonly code: 'BAD_FRAME' | 'BAD_CURSOR'; readonly error: string; readonly about: FrameAbout };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && Object.getPrototypeOf(value) === Object.prototype;
}

class Invalid extends Error {}

function name(fields: Record<string, unknown>, key: string): string {
  const value = fields[key];
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH || !/^[\x20-\x7e]+$/.test(value)) {
    throw new Invalid(`${key} must be 1-${MAX_NAME_LENGTH} printable ASCII characters`);
  }
  return value;
}

function token(fields: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) {
    if (required) throw new Invalid(`${key} is required`);
    return undefined;
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TOKEN_LENGTH) {
    throw new Invalid(`${key} must be a string of 1-${MAX_TOKEN_LENGTH} characters`);
  }
  return value;
}

function count(fields: Record<string, unknown>, key: string): number | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Invalid(`${key} must be a whole number >= 0`);
  return value;
}

function positive(fields: Record<string, unknown>, key: string): number | undefined {
  const value = count(fields, key);
  if (value === 0) throw new Invalid(`${key} must be at least 1`);
  return value;
}

function flag(fields: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = fields[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new Invalid(`${key} must be true or false`);
  return value;
}

function bytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new Invalid(`${what} must be a byte string`);
  return value;
}

/** A cursor field: a CursorError (BAD_CURSOR) rather than BAD_FRAME when malformed. */
export class CursorError extends Error {}

function cursor(fields: Record<string, unknown>, key: string): number | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new CursorError(`${key} must be a whole number >= 0`);
  return value;
}

function parseFields(fields: Record<string, unknown>): ClientFrame {
  switch (fields.t) {
    case 'hello':
      return { t: 'hello', uid: name(fields, 'uid') };
    case 'sub':
      return { t: 'sub', ch: name(fields, 'ch'), auth: token(fields, 'auth', false), after: cursor(fields, 'after') };
    case 'unsub':
      return { t: 'unsub', ch: name(fields, 'ch') };
    case 'pub': {
      const p = bytes(fields.p, 'p');
      const bin = flag(fields, 'bin', true);
      // Mles clients get bin: false payloads as text frames, which must be UTF-8.
      if (!bin && !isUtf8(p)) throw new Invalid('p must be UTF-8 when bin is false');
      return { t: 'pub', ch: name(fields, 'ch'), auth: token(fields, 'auth', false), cid: token(fields, 'cid', true)!, p, bin, retry: flag(fields, 'retry', false) };
    }
    case 'query': {
      const ids = fields.ids;
      if (ids !== undefined && ids !== null && !Array.isArray(ids)) throw new Invalid('ids must be an array of byte strings');
      return {
        t: 'query',
        qid: token(fields, 'qid', true)!,
        ch: name(fields, 'ch'),
        auth: token(fields, 'auth', false),
        after: cursor(fields, 'after'),
        before: cursor(fields, 'before'),
        since: count(fields, 'since'),
        until: count(fields, 'until'),
        limit: positive(fields, 'limit') ?? DEFAULT_QUERY_LIMIT,
        desc: flag(fields, 'desc', false),
        ids: Array.isArray(ids) ? ids.map((id, i) => bytes(id, `ids[${i}]`)) : undefined,
      };
    }
    default:
      throw new Invalid(typeof fields.t === 'string' ? `unknown frame type "${fields.t.slice(0, 40)}"` : 't must be a frame type');
  }
}

/** Decodes and validates one client frame. Total: never throws. */
export function decodeClientFrame(data: Uint8Array): DecodeResult {
  let value: unknown;
  try {
    value = decoder.decode(data);
  } catch {
    return { ok: false, code: 'BAD_FRAME', error: 'not CBOR', about: {} };
  }
  if (!isPlainObject(value)) return { ok: false, code: 'BAD_FRAME', error: 'not a CBOR map', about: {} };
  const about: FrameAbout = {};
  for (const key of ['ch', 'cid', 'qid'] as const) {
    const v = value[key];
    if (typeof v === 'string' && v.length <= MAX_TOKEN_LENGTH) about[key] = v;
  }
  try {
    return { ok: true, frame: parseFields(value) };
  } catch (error) {
    if (error instanceof CursorError) return { ok: false, code: 'BAD_CURSOR', error: error.message, about };
    return { ok: false, code: 'BAD_FRAME', error: error instanceof Invalid ? error.message : 'malformed frame', about };
  }
}
