// Hand-written encoders for the node frames sent in bulk: `msg` (every replay, every
// fan-out) and `ack` (one per publish). cbor-x spent about as long encoding a message as
// the store took to read it; these write the same maps straight into the caller's
// buffer: definite lengths, the keys of the schema (frames.ts: MESSAGE_KEYS, ACK_KEYS)
// in its order, integers in the shortest form and, like cbor-x, a float64 for integers
// of 2^32 and above (so decoders give a number, never a bigint). writer.test.ts checks
// them byte for byte against the schema's encoder, from which only the map heads differ
// (cbor-x spends two more bytes on a map's count). Plain Uint8Arrays, no I/O.

import type { AckFrame, WireMessage } from './frames.ts';
import type { StoredMessage } from '../store/store.ts';

/** A stored message as the node hands it to `writeMessage`. */
export type OutgoingMessage = Pick<StoredMessage, 'channel' | 'seq' | 'id' | 'ts' | 'uid' | 'origin' | 'binary' | 'payload'>;

/**
 * The native protocol's view of a stored message: what `writeMessage` writes (after
 * `t`), and each entry of a `page`. The one place the store's names meet the wire's.
 */
export function wireMessage(m: OutgoingMessage): WireMessage {
  return { ch: m.channel, seq: m.seq, id: m.id, ts: m.ts, from: m.uid, o: m.origin, bin: m.binary, p: m.payload };
}

/** The fields of an `ack` frame. */
export type AckFields = Omit<AckFrame, 't'>;

const utf8 = new TextEncoder();
/** A key (a short ASCII text string) as CBOR, checked against the schema's names. */
const key = (name: 't' | keyof WireMessage | keyof AckFrame): Uint8Array => utf8.encode(String.fromCharCode(0x60 + name.length) + name);
const KEY_T_MSG = utf8.encode('\x61t\x63msg'); // "t": "msg"
const KEY_CH = key('ch');
const KEY_SEQ = key('seq');
const KEY_ID = key('id');
const KEY_TS = key('ts');
const KEY_FROM = key('from');
const KEY_O = key('o');
const KEY_BIN = key('bin');
const KEY_P = key('p');
const KEY_T_ACK = utf8.encode('\x61t\x63ack'); // "t": "ack"
const KEY_CID = key('cid');
const KEY_DUP = key('dup');
const float = new Float64Array(1);
const floatBytes = new Uint8Array(float.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes of the head of a CBOR item whose argument is `n` (a length or a uint < 2^32). */
function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

function uintSize(n: number): number {
  return n <= 0xffffffff ? headSize(n) : 9;
}

/** UTF-8 length of `s`: its length when it is ASCII, as names are. */
function textLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return utf8.encode(s).length;
  return s.length;
}

function writeHead(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = m | 25;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  out[at] = m | 26;
  out[at + 1] = n >>> 24;
  out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 8) & 0xff;
  out[at + 4] = n & 0xff;
  return at + 5;
}

function writeUint(out: Uint8Array, at: number, n: number): number {
  if (n <= 0xffffffff) return writeHead(out, at, 0, n);
  out[at] = 0xfb;
  float[0] = n;
  for (let i = 0; i < 8; i++) out[at + 1 + i] = floatBytes[littleEndian ? 7 - i : i]!;
  return at + 9;
}

/** Writes `s` as a CBOR text string; ASCII (all names) is copied char by char. */
function writeText(out: Uint8Array, at: number, s: string): number {
  const start = writeHead(out, at, 3, s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) {
      const bytes = utf8.encode(s);
      const p = writeHead(out, at, 3, bytes.length);
      out.set(bytes, p);
      return p + bytes.length;
    }
    out[start + i] = c;
  }
  return start + s.length;
}

function writeBytes(out: Uint8Array, at: number, bytes: Uint8Array): number {
  at = writeHead(out, at, 2, bytes.length);
  out.set(bytes, at);
  return at + bytes.length;
}

function writeKey(out: Uint8Array, at: number, key: Uint8Array): number {
  for (let i = 0; i < key.length; i++) out[at + i] = key[i]!;
  return at + key.length;
}

/** The length of the `msg` frame (CBOR bytes) `writeMessage` writes for `m`. */
export function messageLength(m: OutgoingMessage): number {
  const ch = textLength(m.channel);
  const from = textLength(m.uid);
  const origin = textLength(m.origin);
  return (
    1 +
    KEY_T_MSG.length +
    KEY_CH.length + headSize(ch) + ch +
    KEY_SEQ.length + uintSize(m.seq) +
    KEY_ID.length + headSize(m.id.length) + m.id.length +
    KEY_TS.length + uintSize(m.ts) +
    KEY_FROM.length + headSize(from) + from +
    KEY_O.length + headSize(origin) + origin +
    KEY_BIN.length + 1 +
    KEY_P.length + headSize(m.payload.length) + m.payload.length
  );
}

/**
 * Writes the `msg` frame for `m` (the CBOR map, `messageLength(m)` bytes) at `out[at]`
 * and returns the offset after it. `out` must have room. The map is `t` and the fields
 * of `wireMessage(m)`, in MESSAGE_KEYS order.
 */
export function writeMessage(out: Uint8Array, at: number, m: OutgoingMessage): number {
  out[at++] = 0xa9; // a map of 9 pairs
  at = writeKey(out, at, KEY_T_MSG);
  at = writeKey(out, at, KEY_CH);
  at = writeText(out, at, m.channel);
  at = writeKey(out, at, KEY_SEQ);
  at = writeUint(out, at, m.seq);
  at = writeKey(out, at, KEY_ID);
  at = writeBytes(out, at, m.id);
  at = writeKey(out, at, KEY_TS);
  at = writeUint(out, at, m.ts);
  at = writeKey(out, at, KEY_FROM);
  at = writeText(out, at, m.uid);
  at = writeKey(out, at, KEY_O);
  at = writeText(out, at, m.origin);
  at = writeKey(out, at, KEY_BIN);
  out[at++] = m.binary ? 0xf5 : 0xf4;
  at = writeKey(out, at, KEY_P);
  return writeBytes(out, at, m.payload);
}

/** The length of the `ack` frame (CBOR bytes) `writeAck` writes for `a`. */
export function ackLength(a: AckFields): number {
  const ch = textLength(a.ch);
  const cid = textLength(a.cid);
  return (
    1 +
    KEY_T_ACK.length +
    KEY_CH.length + headSize(ch) + ch +
    KEY_CID.length + headSize(cid) + cid +
    KEY_SEQ.length + uintSize(a.seq) +
    KEY_ID.length + headSize(a.id.length) + a.id.length +
    KEY_TS.length + uintSize(a.ts) +
    KEY_DUP.length + 1
  );
}

/** Writes the `ack` frame for `a` (`ackLength(a)` bytes) at `out[at]`; returns the offset after it. */
export function writeAck(out: Uint8Array, at: number, a: AckFields): number {
  out[at++] = 0xa7; // a map of 7 pairs
  at = writeKey(out, at, KEY_T_ACK);
  at = writeKey(out, at, KEY_CH);
  at = writeText(out, at, a.ch);
  at = writeKey(out, at, KEY_CID);
  at = writeText(out, at, a.cid);
  at = writeKey(out, at, KEY_SEQ);
  at = writeUint(out, at, a.seq);
  at = writeKey(out, at, KEY_ID);
  at = writeBytes(out, at, a.id);
  at = writeKey(out, at, KEY_TS);
  at = writeUint(out, at, a.ts);
  at = writeKey(out, at, KEY_DUP);
  out[at++] = a.dup ? 0xf5 : 0xf4;
  return at;
}
