// Frames as the client sees them: client frames in, bytes out; node bytes in, validated
// typed frames out. Reuses the node's own codec (src/native/frames.ts) so both sides
// agree on the CBOR details; the node's frames are checked here field by field, since
// nothing the client does later should have to trust their shape. No I/O.

import { decodeMaps, encodeClientFrame } from '../native/frames.ts';

/** A message as the application receives it. */
export interface Message {
  readonly channel: string;
  /** Per-channel sequence number on the node: 1, 2, 3, ... */
  readonly seq: number;
  /** 32-byte content id (SHA-256), the same on every node. */
  readonly id: Uint8Array;
  /** Milliseconds since the epoch, from the accepting node's clock. */
  readonly ts: number;
  /** The publisher's uid. */
  readonly from: string;
  /** Id of the node that first accepted the message. */
  readonly origin: string;
  /** Whether Mles clients get it as a binary frame (false: a text frame). */
  readonly binary: boolean;
  readonly payload: Uint8Array;
}

export type OutgoingFrame =
  | { readonly t: 'hello'; readonly uid: string }
  | { readonly t: 'sub'; readonly ch: string; readonly auth?: string | undefined; readonly after?: number | undefined }
  | { readonly t: 'unsub'; readonly ch: string }
  | {
      readonly t: 'pub';
      readonly ch: string;
      readonly cid: string;
      readonly p: Uint8Array;
      readonly auth?: string | undefined;
      readonly bin?: boolean | undefined;
      readonly retry?: boolean | undefined;
    }
  | {
      readonly t: 'query';
      readonly qid: string;
      readonly ch: string;
      readonly auth?: string | undefined;
      readonly after?: number | undefined;
      readonly before?: number | undefined;
      readonly since?: number | undefined;
      readonly until?: number | undefined;
      readonly limit?: number | undefined;
      readonly desc?: boolean | undefined;
      readonly ids?: readonly Uint8Array[] | undefined;
    };

export type IncomingFrame =
  | { readonly t: 'welcome'; readonly v: number; readonly node: string; readonly max: number }
  | { readonly t: 'msg'; readonly message: Message }
  | { readonly t: 'live'; readonly ch: string; readonly last: number }
  | { readonly t: 'unsubbed'; readonly ch: string }
  | { readonly t: 'ack'; readonly ch: string; readonly cid: string; readonly seq: number; readonly id: Uint8Array; readonly ts: number; readonly dup: boolean }
  | {
      readonly t: 'page';
      readonly qid: string;
      readonly ch: string;
      readonly msgs: readonly Message[];
      readonly first: number;
      readonly last: boolean;
      readonly next: number | undefined;
    }
  | {
      readonly t: 'err';
      /** As sent; may be a code this client does not know yet. */
      readonly code: string;
      readonly msg: string;
      readonly ch: string | undefined;
      readonly cid: string | undefined;
      readonly qid: string | undefined;
      readonly first: number | undefined;
      readonly last: number | undefined;
      /** With STORE_FAILED: why the node's store failed (full, unavailable, corrupt, timeout, failed). */
      readonly store: string | undefined;
    };

type DecodedFrame = { readonly ok: true; readonly frame: IncomingFrame } | { readonly ok: false; readonly reason: string };

/** Encodes a client frame, leaving out absent optional fields. */
export function encodeFrame(frame: OutgoingFrame): Uint8Array {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(frame)) if (value !== undefined) fields[key] = value;
  return encodeClientFrame(fields);
}

class Malformed extends Error {}

function string(fields: Record<string, unknown>, key: string): string {
  const value = fields[key];
  if (typeof value !== 'string') throw new Malformed(`${key} must be a string`);
  return value;
}

function optionalString(fields: Record<string, unknown>, key: string): string | undefined {
  return fields[key] === undefined || fields[key] === null ? undefined : string(fields, key);
}

function whole(fields: Record<string, unknown>, key: string): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Malformed(`${key} must be a whole number`);
  return value;
}

function optionalWhole(fields: Record<string, unknown>, key: string): number | undefined {
  return fields[key] === undefined || fields[key] === null ? undefined : whole(fields, key);
}

function bool(fields: Record<string, unknown>, key: string): boolean {
  const value = fields[key];
  if (typeof value !== 'boolean') throw new Malformed(`${key} must be a boolean`);
  return value;
}

function bytes(fields: Record<string, unknown>, key: string): Uint8Array {
  const value = fields[key];
  if (!(value instanceof Uint8Array)) throw new Malformed(`${key} must be a byte string`);
  return value;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function message(fields: Record<string, unknown>): Message {
  const seq = whole(fields, 'seq');
  if (seq < 1) throw new Malformed('seq must be at least 1');
  return {
    channel: string(fields, 'ch'),
    seq,
    id: bytes(fields, 'id'),
    ts: whole(fields, 'ts'),
    from: string(fields, 'from'),
    origin: string(fields, 'o'),
    binary: bool(fields, 'bin'),
    payload: bytes(fields, 'p'),
  };
}

function parse(fields: Record<string, unknown>): IncomingFrame {
  switch (fields.t) {
    case 'welcome':
      return { t: 'welcome', v: whole(fields, 'v'), node: string(fields, 'node'), max: whole(fields, 'max') };
    case 'msg':
      return { t: 'msg', message: message(fields) };
    case 'live':
      return { t: 'live', ch: string(fields, 'ch'), last: whole(fields, 'last') };
    case 'unsubbed':
      return { t: 'unsubbed', ch: string(fields, 'ch') };
    case 'ack':
      return {
        t: 'ack',
        ch: string(fields, 'ch'),
        cid: string(fields, 'cid'),
        seq: whole(fields, 'seq'),
        id: bytes(fields, 'id'),
        ts: whole(fields, 'ts'),
        dup: bool(fields, 'dup'),
      };
    case 'page': {
      const msgs = fields.msgs;
      if (!Array.isArray(msgs)) throw new Malformed('msgs must be an array');
      return {
        t: 'page',
        qid: string(fields, 'qid'),
        ch: string(fields, 'ch'),
        msgs: msgs.map((entry: unknown, i) => {
          if (!isMap(entry)) throw new Malformed(`msgs[${i}] must be a map`);
          return message(entry);
        }),
        first: whole(fields, 'first'),
        last: bool(fields, 'last'),
        next: optionalWhole(fields, 'next'),
      };
    }
    case 'err':
      return {
        t: 'err',
        code: string(fields, 'code'),
        msg: optionalString(fields, 'msg') ?? '',
        ch: optionalString(fields, 'ch'),
        cid: optionalString(fields, 'cid'),
        qid: optionalString(fields, 'qid'),
        first: optionalWhole(fields, 'first'),
        last: optionalWhole(fields, 'last'),
        store: optionalString(fields, 'store'),
      };
    default:
      throw new Malformed(typeof fields.t === 'string' ? `unknown frame type "${fields.t.slice(0, 40)}"` : 't must be a frame type');
  }
}

/** Validates one decoded node frame. */
function validate(fields: Record<string, unknown>): DecodedFrame {
  try {
    return { ok: true, frame: parse(fields) };
  } catch (error) {
    if (error instanceof Malformed) return { ok: false, reason: `${String(fields.t).slice(0, 40)}: ${error.message}` };
    throw error;
  }
}

export type DecodedFrames = { readonly ok: true; readonly frames: IncomingFrame[] } | { readonly ok: false; readonly reason: string };

/**
 * Decodes and validates the node frames of one WebSocket message: one frame, or several
 * back to back (a CBOR sequence). Total: never throws; one bad frame fails the message.
 */
export function decodeFrames(data: Uint8Array): DecodedFrames {
  const maps = decodeMaps(data);
  if (maps === undefined) return { ok: false, reason: 'not a CBOR map, nor a sequence of them' };
  const frames: IncomingFrame[] = [];
  for (const fields of maps) {
    const decoded = validate(fields);
    if (!decoded.ok) return decoded;
    frames.push(decoded.frame);
  }
  return { ok: true, frames };
}
