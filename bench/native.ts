// parley's native protocol (`parley.v1`, docs/native-protocol.md) for the generator:
// binary WebSocket frames each holding one CBOR map. Control frames (hello, sub, and the
// node's welcome, live, err) go through the project's codec; the hot path is hand-made:
// `pub` frames are a prebuilt CBOR template (the client message id is the sequence as 8
// hex digits, stamped per frame by FrameBatcher), and `msg` and `ack` frames are
// recognised by their first key and read in place, without decoding them into objects.

import type { Adapter, BenchClient, ClientOptions, MessageHandler } from './adapter.ts';
import { localOf } from './mles.ts';
import { FrameBatcher, PAYLOAD_SIZE, readHexSeq } from './payload.ts';
import { rxClock, WsConn } from './ws-client.ts';
import { decodeMap, encodeFrame, NATIVE_SUBPROTOCOL } from '../src/native/frames.ts';
import { OP_BINARY } from '../src/websocket/frame.ts';

// ---- CBOR, just enough ------------------------------------------------------------

/** The header of a CBOR item of major type `major` (0-5) with argument `n`. */
export function cborHead(major: number, n: number): Buffer {
  const m = major << 5;
  if (n < 24) return Buffer.from([m | n]);
  if (n < 0x100) return Buffer.from([m | 24, n]);
  if (n < 0x10000) return Buffer.from([m | 25, n >> 8, n & 0xff]);
  const b = Buffer.allocUnsafe(5);
  b[0] = m | 26;
  b.writeUInt32BE(n >>> 0, 1);
  return b;
}

/** A CBOR text string (major type 3). */
export function cborText(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([cborHead(3, bytes.length), bytes]);
}

/** Set by readHead: the argument of the item just read. */
let headArg = 0;

/** Reads an item's header at `at`; returns the offset after it (its argument in headArg), or -1. */
function readHead(buf: Buffer, at: number, end: number): number {
  if (at >= end) return -1;
  const ai = (buf[at] ?? 0) & 0x1f;
  if (ai < 24) {
    headArg = ai;
    return at + 1;
  }
  if (ai === 24) {
    if (at + 2 > end) return -1;
    headArg = buf[at + 1] ?? 0;
    return at + 2;
  }
  if (ai === 25) {
    if (at + 3 > end) return -1;
    headArg = buf.readUInt16BE(at + 1);
    return at + 3;
  }
  if (ai === 26) {
    if (at + 5 > end) return -1;
    headArg = buf.readUInt32BE(at + 1);
    return at + 5;
  }
  if (ai === 27) {
    if (at + 9 > end) return -1;
    headArg = buf.readUInt32BE(at + 1) * 0x100000000 + buf.readUInt32BE(at + 5);
    return at + 9;
  }
  return -1; // indefinite lengths: never sent by the node
}

/** The offset just past the item at `at`, or -1 if it is truncated or unsupported. */
export function skipItem(buf: Buffer, at: number, end: number): number {
  const major = (buf[at] ?? 0) >> 5;
  if (major === 7) {
    const ai = (buf[at] ?? 0) & 0x1f;
    const next = ai < 24 ? at + 1 : ai === 24 ? at + 2 : ai === 25 ? at + 3 : ai === 26 ? at + 5 : ai === 27 ? at + 9 : -1;
    return next > end ? -1 : next;
  }
  let p = readHead(buf, at, end);
  if (p < 0) return -1;
  switch (major) {
    case 0:
    case 1:
      return p;
    case 2:
    case 3:
      return p + headArg > end ? -1 : p + headArg;
    case 4: {
      for (let n = headArg; n > 0 && p >= 0; n--) p = skipItem(buf, p, end);
      return p;
    }
    case 5: {
      for (let n = headArg * 2; n > 0 && p >= 0; n--) p = skipItem(buf, p, end);
      return p;
    }
    default: // 6: a tag, then its item
      return skipItem(buf, p, end);
  }
}

/**
 * The offset just past the CBOR map at `at` when all its keys and values are numbers,
 * strings or simple values (as in `msg` and `ack` frames), else -1 (use skipItem). One
 * loop without recursion: walking a message batch item by item with skipItem was most
 * of the generator's time.
 */
export function flatMapEnd(buf: Buffer, at: number, end: number): number {
  if ((buf[at] ?? 0) >> 5 !== 5) return -1;
  let p = readHead(buf, at, end);
  if (p < 0) return -1;
  for (let n = headArg; n > 0; n--) {
    if (p + 1 >= end) return -1;
    // The key: a short text, as all keys of the node's frames are.
    const k = buf[p]!;
    if (k >> 5 !== 3 || (k & 0x1f) >= 24) return -1;
    p += 1 + (k & 0x1f);
    if (p >= end) return -1;
    // The value: a number, a string or a simple value.
    const b = buf[p]!;
    const major = b >> 5;
    const ai = b & 0x1f;
    if (major === 2 || major === 3) {
      if (ai < 24) p += 1 + ai;
      else if (ai === 24) p += 2 + buf[p + 1]!;
      else if (ai === 25) p += 3 + ((buf[p + 1]! << 8) | buf[p + 2]!);
      else if (ai === 26 && p + 5 <= end) p += 5 + buf.readUInt32BE(p + 1);
      else return -1;
    } else if (major === 0 || major === 1 || major === 7) {
      p += ai < 24 ? 1 : ai === 24 ? 2 : ai === 25 ? 3 : ai === 26 ? 5 : ai === 27 ? 9 : end + 1;
    } else {
      return -1;
    }
  }
  return p <= end ? p : -1;
}

/**
 * The offset of the value of text key `key` in the CBOR map at `buf[start, end)`, or -1.
 * Keys are compared as bytes.
 */
export function findKey(buf: Buffer, start: number, end: number, key: Buffer): number {
  if ((buf[start] ?? 0) >> 5 !== 5) return -1;
  let p = readHead(buf, start, end);
  for (let n = headArg; n > 0 && p >= 0; n--) {
    const k = p;
    p = skipItem(buf, p, end);
    if (p < 0) return -1;
    if (p - k === key.length && sameBytes(buf, k, key)) return p;
    p = skipItem(buf, p, end);
  }
  return -1;
}

/**
 * Whether `buf` holds `bytes` at `at`. A loop: Buffer#compare validates its arguments
 * and calls into C++, and with a few bytes to compare per frame that was a third of the
 * generator's time in the fan-out.
 */
function sameBytes(buf: Buffer, at: number, bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

/** The length of the text or byte string at `at` (its bytes follow at the returned offset), or -1. */
function stringAt(buf: Buffer, at: number, end: number): number {
  const major = (buf[at] ?? 0) >> 5;
  if (major !== 2 && major !== 3) return -1;
  const p = readHead(buf, at, end);
  return p < 0 || p + headArg > end ? -1 : p;
}

const KEY_CID = cborText('cid');
const KEY_P = cborText('p');
const KEY_DUP = cborText('dup');
/** `"t"` then the start of a 3-letter text value: what every hot frame begins with after the map header. */
const T3 = Buffer.concat([cborText('t'), Buffer.from([0x63])]);

export const FRAME_OTHER = 0;
export const FRAME_MSG = 1;
export const FRAME_ACK = 2;

/** Whether the node frame at `buf[start, end)` is a `msg`, an `ack` or something else. */
export function frameKind(buf: Buffer, start: number, end: number): number {
  if ((buf[start] ?? 0) >> 5 !== 5) return FRAME_OTHER;
  const p = readHead(buf, start, end);
  if (p < 0 || p + 7 > end || !sameBytes(buf, p, T3)) return FRAME_OTHER;
  const v = p + T3.length;
  const a = buf[v];
  const b = buf[v + 1];
  const c = buf[v + 2];
  if (a === 0x6d && b === 0x73 && c === 0x67) return FRAME_MSG; // "msg"
  if (a === 0x61 && b === 0x63 && c === 0x6b) return FRAME_ACK; // "ack"
  return FRAME_OTHER;
}

/**
 * Where the 64-byte benchmark payload of a `msg` frame starts, or -1 if its `p` is not
 * 64 bytes. The node writes `p` last, so that is checked first.
 */
export function msgPayloadAt(buf: Buffer, start: number, end: number): number {
  const tail = end - PAYLOAD_SIZE;
  if (tail - 4 > start && buf[tail - 4] === 0x61 && buf[tail - 3] === 0x70 && buf[tail - 2] === 0x58 && buf[tail - 1] === PAYLOAD_SIZE) {
    return tail;
  }
  const v = findKey(buf, start, end, KEY_P);
  const at = v < 0 ? -1 : stringAt(buf, v, end);
  return at >= 0 && headArg === PAYLOAD_SIZE && (buf[v] ?? 0) >> 5 === 2 ? at : -1;
}

/** The sequence in an `ack`'s client message id (8 hex digits), or -1. */
export function ackSeq(buf: Buffer, start: number, end: number): number {
  const v = findKey(buf, start, end, KEY_CID);
  const at = v < 0 ? -1 : stringAt(buf, v, end);
  return at < 0 || headArg !== 8 ? -1 : readHexSeq(buf, at);
}

/** Whether an `ack` says `dup: true` (the publish was a retry of a stored one). */
export function ackDuplicate(buf: Buffer, start: number, end: number): boolean {
  const d = findKey(buf, start, end, KEY_DUP);
  return d >= 0 && buf[d] === 0xf5;
}

/**
 * The bytes of a `pub` frame for channel `ch` that precede the 64-byte payload (which goes
 * last, as `p`), and the offset of the 8 hex digits of its client message id.
 */
export function pubEnvelope(ch: string): { before: Buffer; hexSeqAt: number } {
  const head = Buffer.concat([
    cborHead(5, 4),
    cborText('t'),
    cborText('pub'),
    cborText('ch'),
    cborText(ch),
    cborText('cid'),
    cborHead(3, 8),
  ]);
  const tail = Buffer.concat([Buffer.from('00000000', 'latin1'), cborText('p'), cborHead(2, PAYLOAD_SIZE)]);
  return { before: Buffer.concat([head, tail]), hexSeqAt: head.length };
}

// ---- the client ---------------------------------------------------------------------

export interface NativeHandlers {
  /** A `msg` frame whose payload is 64 bytes, at `buf[at, at + 64)`. */
  readonly onMessage?: MessageHandler;
  /** An `ack` of the publish whose client message id carried `seq`. */
  readonly onAck?: (seq: number) => void;
}

interface Waiter {
  resolve(frame: Record<string, unknown>): void;
  reject(e: Error): void;
}

export class NativeError extends Error {}

/** A native protocol connection that has had its `welcome`. */
export class NativeClient {
  readonly conn: WsConn;
  readonly problems: string[];
  /** Waiting for a `live` (or `err`) per channel, and for `welcome`. */
  readonly #waiters = new Map<string, Waiter>();

  private constructor(conn: WsConn, problems: string[]) {
    this.conn = conn;
    this.problems = problems;
  }

  static async open(
    o: { host: string; port: number; uid: string; localAddress?: string },
    handlers: NativeHandlers,
  ): Promise<NativeClient> {
    const problems: string[] = [];
    const onMessage = handlers.onMessage;
    const onAck = handlers.onAck;
    let client: NativeClient | undefined;
    const pending: Record<string, unknown>[] = [];
    const control = (frame: Record<string, unknown>): void => {
      if (client === undefined) pending.push(frame);
      else client.#control(frame);
    };
    const onItem = (buf: Buffer, start: number, end: number): void => {
      const kind = frameKind(buf, start, end);
      if (kind === FRAME_MSG) {
        const at = msgPayloadAt(buf, start, end);
        if (at >= 0) onMessage?.(buf, at);
        return;
      }
      if (kind === FRAME_ACK) {
        if (onAck === undefined) return;
        const seq = ackSeq(buf, start, end);
        if (seq < 0) {
          if (problems.length < 20) problems.push('ack without a bench cid');
          return;
        }
        if (ackDuplicate(buf, start, end) && problems.length < 20) problems.push(`dup ack for cid ${seq}`);
        onAck(seq);
        return;
      }
      const frame = decodeMap(buf.subarray(start, end));
      if (frame === undefined) {
        if (problems.length < 20) problems.push('undecodable frame');
        return;
      }
      control(frame);
    };
    const conn = await WsConn.open(
      { host: o.host, port: o.port, path: '/', protocol: NATIVE_SUBPROTOCOL, ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }) },
      {
        onFrame(opcode, _fin, buf, start, end) {
          if (opcode !== OP_BINARY) {
            if (problems.length < 20) problems.push(`unexpected frame opcode ${opcode}`);
            return;
          }
          // A WebSocket message of the node is a CBOR sequence: one or more frames back to back.
          for (let at = start; at < end; ) {
            let next = flatMapEnd(buf, at, end);
            if (next < 0) next = skipItem(buf, at, end);
            if (next < 0) {
              if (problems.length < 20) problems.push('undecodable frame');
              return;
            }
            onItem(buf, at, next);
            at = next;
          }
        },
        onClose(code, reason) {
          problems.push(`closed ${code} ${reason}`);
          if (client !== undefined) client.#failAll(new NativeError(`connection closed ${code} ${reason}`));
        },
      },
    );
    client = new NativeClient(conn, problems);
    const c = client;
    const welcome = c.#expect('welcome');
    for (const f of pending.splice(0)) c.#control(f);
    conn.send(OP_BINARY, encodeFrame({ t: 'hello', uid: o.uid }));
    try {
      await welcome;
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return c;
  }

  /**
   * Subscribes to `ch` (from `after`, or live only) and resolves at its `live` frame with
   * the frame's `last` and the receive time (performance.now() ms of the read it came in).
   */
  async subscribe(ch: string, after?: number): Promise<{ last: number; at: number }> {
    const live = this.#expect(`live ${ch}`);
    this.conn.send(OP_BINARY, encodeFrame(after === undefined ? { t: 'sub', ch } : { t: 'sub', ch, after }));
    const frame = await live;
    return { last: typeof frame.last === 'number' ? frame.last : -1, at: typeof frame.at === 'number' ? frame.at : rxClock.now };
  }

  close(): void {
    this.conn.destroy();
  }

  #expect(key: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(key);
        reject(new NativeError(`no ${key} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#waiters.set(key, {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  #settle(key: string, frame: Record<string, unknown> | Error): boolean {
    const w = this.#waiters.get(key);
    if (w === undefined) return false;
    this.#waiters.delete(key);
    if (frame instanceof Error) w.reject(frame);
    else w.resolve(frame);
    return true;
  }

  #failAll(e: Error): void {
    for (const key of [...this.#waiters.keys()]) this.#settle(key, e);
  }

  #control(frame: Record<string, unknown>): void {
    const ch = typeof frame.ch === 'string' ? frame.ch : '';
    switch (frame.t) {
      case 'welcome':
        if (this.#settle('welcome', frame)) return;
        break;
      case 'live':
        if (this.#settle(`live ${ch}`, { ...frame, at: rxClock.now })) return;
        break;
      case 'err': {
        const text = `err ${String(frame.code)}: ${String(frame.msg)}`;
        if (ch !== '' && this.#settle(`live ${ch}`, new NativeError(text))) return;
        if (this.#settle('welcome', new NativeError(text))) return;
        if (this.problems.length < 20) this.problems.push(text);
        return;
      }
      case 'msg':
        return; // a message whose payload is not a benchmark message (e.g. replayed history)
    }
    if (this.problems.length < 20) this.problems.push(`unexpected ${String(frame.t)} frame`);
  }
}

const EMPTY = new Uint8Array(0);

/** A FrameBatcher of `pub` frames to `ch` stamped with `sender`; client message id = sequence. */
export function pubBatcher(ch: string, sender: number): FrameBatcher {
  const env = pubEnvelope(ch);
  return new FrameBatcher(OP_BINARY, env.before, EMPTY, sender, env.hexSeqAt);
}

export const native: Adapter = {
  name: 'native',
  // A subscriber gets its own publishes too (its cursor covers them).
  noEcho: false,
  async connect(o: ClientOptions): Promise<BenchClient> {
    const client = await NativeClient.open(
      { host: o.host, port: o.port, uid: o.uid, ...localOf(o) },
      { onMessage: o.onMessage, ...(o.onAck === undefined ? {} : { onAck: o.onAck }) },
    );
    try {
      if (o.listen !== undefined) await client.subscribe(o.listen);
    } catch (e) {
      client.close();
      throw e;
    }
    return {
      conn: client.conn,
      batcher: o.publish === undefined ? undefined : pubBatcher(o.publish, o.sender),
      problems: client.problems,
      close: () => client.close(),
    };
  },
};
