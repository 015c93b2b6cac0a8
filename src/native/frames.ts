// The native protocol (`parley.v1`): typed frames, one CBOR map per binary WebSocket
// frame, many channels per connection. This is its one schema, for the node and the
// client SDK alike: the frame types of both directions, one encoder, and one decoder
// per direction (the node's for client frames, the client's for node frames). It does
// no I/O and imports nothing of Node's: the SDK's browser bundle includes it. Every
// frame and error code is described in docs/native-protocol.md. (About 500 lines, as
// one file on purpose: the schema is read as a whole, types beside their checks.)

import { Decoder, Encoder } from 'cbor-x';
import { isName, NAME_RULE } from '../access/names.ts';

export const NATIVE_SUBPROTOCOL = 'parley.v1';
export const PROTOCOL_VERSION = 1;
/** Largest page a query may ask for. */
export const MAX_QUERY_LIMIT = 1000;
export const DEFAULT_QUERY_LIMIT = 100;
/** Payload bytes one page of messages carries at most (more only for a single message); a fuller page is cut short. */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** Ids a query may look up at once. */
export const MAX_QUERY_IDS = 1000;
/** Uids a `members` frame lists at most (its `count` says how many there are). */
export const MAX_MEMBERS_LISTED = 1000;
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

// ---- the schema: client -> node -----------------------------------------------------
//
// The frames as they go on the wire: what the SDK sends, and what the node's decoder
// accepts. A field that may be left out is optional here; the node's decoder fills in
// its default (the Received* types below).

export interface HelloFrame {
  readonly t: 'hello';
  readonly uid: string;
}
export interface SubscribeFrame {
  readonly t: 'sub';
  readonly ch: string;
  readonly auth?: string | undefined;
  /** Cursor: the last seq the client has; absent = only what comes from now on. */
  readonly after?: number | undefined;
  /** Also send `members` now and `presence` as uids arrive and leave (default false). */
  readonly presence?: boolean | undefined;
}
export interface UnsubscribeFrame {
  readonly t: 'unsub';
  readonly ch: string;
}
export interface PublishFrame {
  readonly t: 'pub';
  readonly ch: string;
  readonly cid: string;
  readonly p: Uint8Array;
  readonly auth?: string | undefined;
  /** Delivered to Mles clients as a binary (default) or a text frame. */
  readonly bin?: boolean | undefined;
  /** The client may have sent this before without seeing the ack (default false). */
  readonly retry?: boolean | undefined;
}
export interface QueryFrame {
  readonly t: 'query';
  readonly qid: string;
  readonly ch: string;
  readonly auth?: string | undefined;
  readonly after?: number | undefined;
  /** Without `after`, the query reads back: the newest `limit` messages below it. */
  readonly before?: number | undefined;
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  /** 1 to MAX_QUERY_LIMIT; default DEFAULT_QUERY_LIMIT. */
  readonly limit?: number | undefined;
  /** Read back from `before` (or from the newest), and answer newest first (default false). */
  readonly desc?: boolean | undefined;
  readonly ids?: readonly Uint8Array[] | undefined;
}
/**
 * Lists a channel in the network's directory of public channels (a node with --p2p);
 * answered by `listed`. `auth` is the Mles-style auth of this uid and channel computed
 * with the node's DIRECTORY_KEY instead of MLES_KEY: the right to list is the operator's.
 */
export interface PublicFrame {
  readonly t: 'public';
  readonly qid: string;
  readonly ch: string;
  /** What the channel is about, at most MAX_ABOUT_LENGTH characters (default empty). */
  readonly about?: string | undefined;
  readonly auth?: string | undefined;
}
/** Takes a channel this node's clients listed off the directory; answered by `unlisted`. `auth` as for `public`. */
export interface UnpublicFrame {
  readonly t: 'unpublic';
  readonly qid: string;
  readonly ch: string;
  readonly auth?: string | undefined;
}
/** Longest description of a public channel, as the directory takes it. */
export const MAX_ABOUT_LENGTH = 280;
export type ClientFrame = HelloFrame | SubscribeFrame | UnsubscribeFrame | PublishFrame | QueryFrame | PublicFrame | UnpublicFrame;

/** A `sub` as the node's decoder gives it: the default filled in. */
export type ReceivedSubscribe = SubscribeFrame & { readonly presence: boolean };
/** A `pub` as the node's decoder gives it: the defaults filled in. */
export type ReceivedPublish = PublishFrame & { readonly bin: boolean; readonly retry: boolean };
/** A `query` as the node's decoder gives it: the defaults filled in. */
export type ReceivedQuery = QueryFrame & { readonly limit: number; readonly desc: boolean };
/** A `public` as the node's decoder gives it: the default filled in. */
export type ReceivedPublic = PublicFrame & { readonly about: string };
export type ReceivedClientFrame = HelloFrame | ReceivedSubscribe | UnsubscribeFrame | ReceivedPublish | ReceivedQuery | ReceivedPublic | UnpublicFrame;

// ---- the schema: node -> client -----------------------------------------------------

/**
 * One message as the native protocol carries it: a `msg` frame (with `t`) and each entry
 * of a `page`. The keys in the order the node writes them (docs/native-protocol.md);
 * writer.ts writes the same map by hand, tested byte for byte against this schema's encoder
 * (but for the map's head: cbor-x writes its count in two more bytes than needed).
 */
export interface WireMessage {
  readonly ch: string;
  readonly seq: number;
  readonly id: Uint8Array;
  readonly ts: number;
  /** The publisher's uid. */
  readonly from: string;
  /** The origin node's id. */
  readonly o: string;
  readonly bin: boolean;
  readonly p: Uint8Array;
}
/** The keys of a WireMessage in the order the node writes them. */
export const MESSAGE_KEYS = ['ch', 'seq', 'id', 'ts', 'from', 'o', 'bin', 'p'] as const satisfies readonly (keyof WireMessage)[];

export interface WelcomeFrame {
  readonly t: 'welcome';
  readonly v: number;
  readonly node: string;
  /** The largest frame the node accepts, in bytes. */
  readonly max: number;
}
export type MessageFrame = { readonly t: 'msg' } & WireMessage;
export interface LiveFrame {
  readonly t: 'live';
  readonly ch: string;
  readonly last: number;
}
/** Who is in a channel on this node, answering a `sub` with `presence: true`. */
export interface MembersFrame {
  readonly t: 'members';
  readonly ch: string;
  /** Distinct uids in the channel (yours included), sorted, at most MAX_MEMBERS_LISTED. */
  readonly uids: readonly string[];
  /** Distinct uids in the channel in all. */
  readonly count: number;
  /** Your uid was already in the channel through another connection (another tab or device). */
  readonly elsewhere: boolean;
}
/** A uid arrived in a channel (its first connection there) or left it (its last). */
export interface PresenceFrame {
  readonly t: 'presence';
  readonly ch: string;
  readonly uid: string;
  readonly here: boolean;
}
export interface UnsubscribedFrame {
  readonly t: 'unsubbed';
  readonly ch: string;
}
export interface AckFrame {
  readonly t: 'ack';
  readonly ch: string;
  readonly cid: string;
  readonly seq: number;
  readonly id: Uint8Array;
  readonly ts: number;
  /** True when this was a retry of a publish already stored. */
  readonly dup: boolean;
}
/** The keys of an `ack` after `t`, in the order the node writes them. */
export const ACK_KEYS = ['ch', 'cid', 'seq', 'id', 'ts', 'dup'] as const satisfies readonly (keyof AckFrame)[];
export interface PageFrame {
  readonly t: 'page';
  readonly qid: string;
  readonly ch: string;
  readonly msgs: readonly WireMessage[];
  readonly first: number;
  readonly last: boolean;
  /** Where the next page in the query's direction starts (an `after` forward, a `before` back). */
  readonly next?: number | undefined;
}
/** The channel is listed: this node announces it in the directory from now on. */
export interface ListedFrame {
  readonly t: 'listed';
  readonly qid: string;
  readonly ch: string;
  readonly about: string;
}
/** The channel is no longer listed: this node stopped announcing it and told the network. */
export interface UnlistedFrame {
  readonly t: 'unlisted';
  readonly qid: string;
  readonly ch: string;
}
export type NodeFrame = WelcomeFrame | MessageFrame | LiveFrame | MembersFrame | PresenceFrame | UnsubscribedFrame | AckFrame | PageFrame | ListedFrame | UnlistedFrame | ErrorFrame;
/** A node frame as a client's decoder gives it: an `err` may carry a code newer than the client. */
export type ReceivedNodeFrame = Exclude<NodeFrame, ErrorFrame> | ErrorFrame<string>;

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
  NOT_ALLOWED: 'listing a channel in the directory, or taking it off, needs auth computed with the node\'s DIRECTORY_KEY',
  NO_DIRECTORY: 'this node has no directory of public channels: it runs without --p2p',
  NOT_LISTED: 'the channel is listed by the node itself (--public), not by its clients',
  READ_ONLY: 'clients may read the channel but not write it',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorFrame<Code extends string = ErrorCode> {
  readonly t: 'err';
  readonly code: Code;
  readonly msg: string;
  /** What the error is about: the channel, client message id or query id concerned. */
  readonly ch?: string | undefined;
  readonly cid?: string | undefined;
  readonly qid?: string | undefined;
  /** With GAP: the oldest seq still stored, and the newest. */
  readonly first?: number | undefined;
  readonly last?: number | undefined;
  /** With STORE_FAILED: why, as the store's code (full, unavailable, corrupt, timeout, failed). */
  readonly store?: string | undefined;
}

export function errorFrame(code: ErrorCode, about: Omit<ErrorFrame, 't' | 'code' | 'msg'> = {}, detail?: string): ErrorFrame {
  return { t: 'err', code, msg: detail === undefined ? ERROR_CODES[code] : `${ERROR_CODES[code]}: ${detail}`, ...about };
}

// ---- encoding -------------------------------------------------------------------

/**
 * Encodes a frame of either direction: a CBOR map with the frame's keys in the order
 * given, absent (undefined) fields left out. The node writes its `msg` and `ack` frames
 * with writer.ts instead: the same keys and values, in the same bytes.
 */
export function encodeFrame(frame: ClientFrame | NodeFrame): Buffer {
  const fields = frame as unknown as Record<string, unknown>;
  for (const key in fields) {
    if (fields[key] === undefined) return encodeMap(definedFields(fields));
  }
  return encodeMap(fields);
}

function definedFields(fields: Record<string, unknown>): Record<string, unknown> {
  const defined: Record<string, unknown> = {};
  for (const key in fields) if (fields[key] !== undefined) defined[key] = fields[key];
  return defined;
}

/** Encodes any map as it is, with the codec's settings: for tests and tools that send what no schema allows. */
export function encodeMap(fields: Record<string, unknown>): Buffer {
  return encoder.encode(fields) as Buffer;
}

/** Decodes one CBOR map; undefined when the bytes are not one. */
export function decodeMap(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = decoder.decode(bytes);
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes the maps of one WebSocket message: a CBOR sequence (RFC 8742) of maps, one
 * or several (the node sends a channel's new messages together). Undefined when the
 * message is empty, or when any item is not a CBOR map.
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

// ---- field checks, shared by both decoders -------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && Object.getPrototypeOf(value) === Object.prototype;
}

class Invalid extends Error {}

/** A cursor field: a CursorError (BAD_CURSOR) rather than BAD_FRAME when malformed. */
export class CursorError extends Error {}

type Fields = Record<string, unknown>;

const absent = (value: unknown): value is undefined | null => value === undefined || value === null;

function name(fields: Fields, key: string): string {
  const value = fields[key];
  if (!isName(value)) {
    throw new Invalid(`${key} must be ${NAME_RULE}`);
  }
  return value;
}

function token(fields: Fields, key: string, required: boolean): string | undefined {
  const value = fields[key];
  if (absent(value)) {
    if (required) throw new Invalid(`${key} is required`);
    return undefined;
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TOKEN_LENGTH) {
    throw new Invalid(`${key} must be a string of 1-${MAX_TOKEN_LENGTH} characters`);
  }
  return value;
}

function text(fields: Fields, key: string): string {
  const value = fields[key];
  if (typeof value !== 'string') throw new Invalid(`${key} must be a string`);
  return value;
}

function optionalText(fields: Fields, key: string): string | undefined {
  return absent(fields[key]) ? undefined : text(fields, key);
}

/** A whole number >= 0 (a safe integer). */
function whole(fields: Fields, key: string, failure: new (message: string) => Error = Invalid): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new failure(`${key} must be a whole number >= 0`);
  return value;
}

function optionalWhole(fields: Fields, key: string, failure: new (message: string) => Error = Invalid): number | undefined {
  return absent(fields[key]) ? undefined : whole(fields, key, failure);
}

function positive(fields: Fields, key: string): number | undefined {
  const value = optionalWhole(fields, key);
  if (value === 0) throw new Invalid(`${key} must be at least 1`);
  return value;
}

function flag(fields: Fields, key: string, fallback?: boolean): boolean {
  const value = fields[key];
  if (fallback !== undefined && absent(value)) return fallback;
  if (typeof value !== 'boolean') throw new Invalid(`${key} must be true or false`);
  return value;
}

function byteString(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new Invalid(`${what} must be a byte string`);
  return value;
}

function unknownType(fields: Fields): never {
  throw new Invalid(typeof fields.t === 'string' ? `unknown frame type "${fields.t.slice(0, 40)}"` : 't must be a frame type');
}

// ---- client -> node: the node's decoder ------------------------------------------------

export interface FrameAbout {
  ch?: string;
  cid?: string;
  qid?: string;
}

export type DecodeResult =
  | { readonly ok: true; readonly frame: ReceivedClientFrame }
  | { readonly ok: false; readonly code: 'BAD_FRAME' | 'BAD_CURSOR'; readonly error: string; readonly about: FrameAbout };

function clientFrame(fields: Fields): ReceivedClientFrame {
  switch (fields.t) {
    case 'hello':
      return { t: 'hello', uid: name(fields, 'uid') };
    case 'sub':
      return {
        t: 'sub',
        ch: name(fields, 'ch'),
        auth: token(fields, 'auth', false),
        after: optionalWhole(fields, 'after', CursorError),
        presence: flag(fields, 'presence', false),
      };
    case 'unsub':
      return { t: 'unsub', ch: name(fields, 'ch') };
    case 'pub': {
      const p = byteString(fields.p, 'p');
      const bin = flag(fields, 'bin', true);
      // Mles clients get bin: false payloads as text frames, which must be UTF-8.
      if (!bin && !isUtf8(p)) throw new Invalid('p must be UTF-8 when bin is false');
      return { t: 'pub', ch: name(fields, 'ch'), auth: token(fields, 'auth', false), cid: token(fields, 'cid', true)!, p, bin, retry: flag(fields, 'retry', false) };
    }
    case 'query': {
      const ids = fields.ids;
      if (!absent(ids) && !Array.isArray(ids)) throw new Invalid('ids must be an array of byte strings');
      return {
        t: 'query',
        qid: token(fields, 'qid', true)!,
        ch: name(fields, 'ch'),
        auth: token(fields, 'auth', false),
        after: optionalWhole(fields, 'after', CursorError),
        before: optionalWhole(fields, 'before', CursorError),
        since: optionalWhole(fields, 'since'),
        until: optionalWhole(fields, 'until'),
        limit: positive(fields, 'limit') ?? DEFAULT_QUERY_LIMIT,
        desc: flag(fields, 'desc', false),
        ids: Array.isArray(ids) ? ids.map((id, i) => byteString(id, `ids[${i}]`)) : undefined,
      };
    }
    case 'public': {
      const about = optionalText(fields, 'about') ?? '';
      if (about.length > MAX_ABOUT_LENGTH) throw new Invalid(`about must be at most ${MAX_ABOUT_LENGTH} characters`);
      return { t: 'public', qid: token(fields, 'qid', true)!, ch: name(fields, 'ch'), about, auth: token(fields, 'auth', false) };
    }
    case 'unpublic':
      return { t: 'unpublic', qid: token(fields, 'qid', true)!, ch: name(fields, 'ch'), auth: token(fields, 'auth', false) };
    default:
      return unknownType(fields);
  }
}

/** Decodes and validates one client frame (the node's side). Total: never throws. */
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
    return { ok: true, frame: clientFrame(value) };
  } catch (error) {
    if (error instanceof CursorError) return { ok: false, code: 'BAD_CURSOR', error: error.message, about };
    return { ok: false, code: 'BAD_FRAME', error: error instanceof Invalid ? error.message : 'malformed frame', about };
  }
}

// ---- node -> client: the client's decoder ----------------------------------------------
//
// Looser than the node's: names are not held to the Mles rules (the node checked them),
// but every field a client reads is checked for its type, so nothing later has to trust
// the frame's shape.

/**
 * Checks a message's fields in place and gives the map itself as a WireMessage: a
 * client decodes many of these, and makes its own object of each one anyway.
 */
function wireMessage(fields: Fields): WireMessage {
  text(fields, 'ch');
  if (whole(fields, 'seq') < 1) throw new Invalid('seq must be at least 1');
  byteString(fields.id, 'id');
  whole(fields, 'ts');
  text(fields, 'from');
  text(fields, 'o');
  flag(fields, 'bin');
  byteString(fields.p, 'p');
  return fields as unknown as WireMessage;
}

function nodeFrame(fields: Fields): ReceivedNodeFrame {
  switch (fields.t) {
    case 'welcome':
      return { t: 'welcome', v: whole(fields, 'v'), node: text(fields, 'node'), max: whole(fields, 'max') };
    case 'msg':
      return wireMessage(fields) as MessageFrame;
    case 'live':
      return { t: 'live', ch: text(fields, 'ch'), last: whole(fields, 'last') };
    case 'members': {
      const uids = fields.uids;
      if (!Array.isArray(uids) || !uids.every((uid) => typeof uid === 'string')) throw new Invalid('uids must be an array of strings');
      return { t: 'members', ch: text(fields, 'ch'), uids: uids as string[], count: whole(fields, 'count'), elsewhere: flag(fields, 'elsewhere') };
    }
    case 'presence':
      return { t: 'presence', ch: text(fields, 'ch'), uid: text(fields, 'uid'), here: flag(fields, 'here') };
    case 'unsubbed':
      return { t: 'unsubbed', ch: text(fields, 'ch') };
    case 'ack':
      return {
        t: 'ack',
        ch: text(fields, 'ch'),
        cid: text(fields, 'cid'),
        seq: whole(fields, 'seq'),
        id: byteString(fields.id, 'id'),
        ts: whole(fields, 'ts'),
        dup: flag(fields, 'dup'),
      };
    case 'page': {
      const msgs = fields.msgs;
      if (!Array.isArray(msgs)) throw new Invalid('msgs must be an array');
      return {
        t: 'page',
        qid: text(fields, 'qid'),
        ch: text(fields, 'ch'),
        msgs: msgs.map((entry: unknown, i) => {
          if (!isPlainObject(entry)) throw new Invalid(`msgs[${i}] must be a map`);
          return wireMessage(entry);
        }),
        first: whole(fields, 'first'),
        last: flag(fields, 'last'),
        next: optionalWhole(fields, 'next'),
      };
    }
    case 'listed':
      return { t: 'listed', qid: text(fields, 'qid'), ch: text(fields, 'ch'), about: text(fields, 'about') };
    case 'unlisted':
      return { t: 'unlisted', qid: text(fields, 'qid'), ch: text(fields, 'ch') };
    case 'err':
      return {
        t: 'err',
        code: text(fields, 'code'),
        msg: optionalText(fields, 'msg') ?? '',
        ch: optionalText(fields, 'ch'),
        cid: optionalText(fields, 'cid'),
        qid: optionalText(fields, 'qid'),
        first: optionalWhole(fields, 'first'),
        last: optionalWhole(fields, 'last'),
        store: optionalText(fields, 'store'),
      };
    default:
      return unknownType(fields);
  }
}

export type DecodedNodeFrames = { readonly ok: true; readonly frames: ReceivedNodeFrame[] } | { readonly ok: false; readonly reason: string };

/**
 * Decodes and validates the node frames of one WebSocket message (the client's side):
 * one frame, or several back to back (a CBOR sequence). Total: never throws; one bad
 * frame fails the message.
 */
export function decodeNodeFrames(data: Uint8Array): DecodedNodeFrames {
  const maps = decodeMaps(data);
  if (maps === undefined) return { ok: false, reason: 'not a CBOR map, nor a sequence of them' };
  const frames: ReceivedNodeFrame[] = [];
  for (const fields of maps) {
    try {
      frames.push(nodeFrame(fields));
    } catch (error) {
      if (error instanceof Invalid) return { ok: false, reason: `${String(fields.t).slice(0, 40)}: ${error.message}` };
      throw error;
    }
  }
  return { ok: true, frames };
}
