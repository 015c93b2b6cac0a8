// One publish as it is kept in the stream: everything a node needs to append it to its
// own view exactly as every other node does (the time the accepting node stamped, the
// origin stamp of a peer's message), and which node and publish it came from, so that
// node can answer its publisher once it has applied it. Pure: bytes in, values out.

import { Decoder, Encoder } from 'cbor-x';
import type { AppendRequest } from '../store/store.ts';

/** Which publish of which running node a record is, for the node to find its publisher. */
export interface PublishRef {
  /** Random per process: a restarted node never takes its predecessor's records for its own. */
  readonly node: string;
  readonly ref: number;
}

export interface LogRecord {
  readonly request: AppendRequest;
  readonly from: PublishRef | undefined;
}

interface WireStamp {
  o: string;
  s: number;
  t: number;
  i: Uint8Array;
  v: Uint8Array;
  z?: Uint8Array;
}

interface WireRecord {
  u: string;
  b: boolean;
  p: Uint8Array;
  t?: number;
  c?: string;
  r?: boolean;
  x?: WireStamp;
  n?: string;
  f?: number;
}

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
// Copies: a view would keep the whole buffer the record came in alive for as long as the store keeps the message.
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true });

/**
 * Records of one channel stored as one stream message, at most this many: a message's
 * records are told apart by their index in it (stream-positions.ts).
 */
export const MAX_RECORDS_PER_MESSAGE = 512;

/** The stream message of a run of one channel's publishes, in order. */
export function encodeRecords(items: ReadonlyArray<{ readonly request: AppendRequest; readonly from: PublishRef }>, ts: number): Uint8Array {
  if (items.length > MAX_RECORDS_PER_MESSAGE) throw new RangeError(`at most ${MAX_RECORDS_PER_MESSAGE} records in one stream message`);
  return encoder.encode(items.map(({ request, from }) => toWire(request, ts, from)));
}

/** The records of a stream message of `channel`; one this version cannot read is a BadRecordError. */
export function decodeRecords(channel: string, bytes: Uint8Array): LogRecord[] {
  const message = decodeStreamMessage(channel, bytes);
  if (message.kind !== 'records') throw new BadRecordError('join headers, not records');
  return message.records;
}

/**
 * A stream message of Mles join headers, in the order the node stored them. They go
 * through the stream with the messages, so every node places each one after the same
 * message. A map without a uid: a node that does not know them skips the stream message.
 */
export function encodeJoinHeaders(frames: readonly Uint8Array[]): Uint8Array {
  if (frames.length === 0 || frames.length > MAX_RECORDS_PER_MESSAGE) throw new RangeError(`1 to ${MAX_RECORDS_PER_MESSAGE} join headers in one stream message`);
  return encoder.encode({ h: frames });
}

export type StreamMessage = { readonly kind: 'records'; readonly records: LogRecord[] } | { readonly kind: 'joinHeaders'; readonly frames: Uint8Array[] };

/** What a stream message of `channel` holds; one this version cannot read is a BadRecordError. */
export function decodeStreamMessage(channel: string, bytes: Uint8Array): StreamMessage {
  let wire: unknown;
  try {
    wire = decoder.decode(bytes);
  } catch (error) {
    throw new BadRecordError(`not CBOR: ${(error as Error).message}`);
  }
  if (!Array.isArray(wire)) {
    const frames = typeof wire === 'object' && wire !== null ? (wire as { h?: unknown }).h : undefined;
    if (frames === undefined) return { kind: 'records', records: [fromWire(channel, wire)] };
    if (!Array.isArray(frames) || frames.length === 0 || frames.length > MAX_RECORDS_PER_MESSAGE || !frames.every((f) => f instanceof Uint8Array)) {
      throw new BadRecordError(`join headers that are not 1 to ${MAX_RECORDS_PER_MESSAGE} byte strings`);
    }
    return { kind: 'joinHeaders', frames: frames as Uint8Array[] };
  }
  if (wire.length === 0 || wire.length > MAX_RECORDS_PER_MESSAGE) throw new BadRecordError(`${wire.length} records in one message`);
  return { kind: 'records', records: wire.map((w: unknown) => fromWire(channel, w)) };
}

/** The record of a publish: own messages get `ts` here, once, so every node agrees on it. */
export function encodeRecord(request: AppendRequest, ts: number, from: PublishRef): Uint8Array {
  return encoder.encode(toWire(request, ts, from));
}

function toWire(request: AppendRequest, ts: number, from: PublishRef): WireRecord {
  const wire: WireRecord = { u: request.uid, b: request.binary, p: request.payload, n: from.node, f: from.ref };
  if (request.cid !== undefined) wire.c = request.cid;
  if (request.retry === true) wire.r = true;
  const replica = request.replica;
  if (replica === undefined) wire.t = ts;
  else {
    wire.x = { o: replica.origin, s: replica.originSeq, t: replica.ts, i: replica.id, v: replica.prev };
    if (replica.seal !== undefined) wire.x.z = replica.seal;
  }
  return wire;
}

export class BadRecordError extends Error {}

/** Decodes a record of `channel`; a record this version cannot read is a BadRecordError. */
export function decodeRecord(channel: string, bytes: Uint8Array): LogRecord {
  let wire: unknown;
  try {
    wire = decoder.decode(bytes);
  } catch (error) {
    throw new BadRecordError(`not CBOR: ${(error as Error).message}`);
  }
  return fromWire(channel, wire);
}

function fromWire(channel: string, wire: unknown): LogRecord {
  if (typeof wire !== 'object' || wire === null) throw new BadRecordError('not a map');
  const w = wire as Partial<WireRecord>;
  if (typeof w.u !== 'string' || typeof w.b !== 'boolean' || !(w.p instanceof Uint8Array)) throw new BadRecordError('uid, binary or payload missing');
  const x = w.x;
  let replica: AppendRequest['replica'];
  if (x !== undefined) {
    if (typeof x.o !== 'string' || typeof x.s !== 'number' || typeof x.t !== 'number' || !(x.i instanceof Uint8Array) || !(x.v instanceof Uint8Array)) {
      throw new BadRecordError('origin stamp incomplete');
    }
    replica = { origin: x.o, originSeq: x.s, ts: x.t, id: x.i, prev: x.v, seal: x.z instanceof Uint8Array ? x.z : undefined };
  } else if (typeof w.t !== 'number') throw new BadRecordError('time missing');
  const request: AppendRequest = {
    channel,
    uid: w.u,
    binary: w.b,
    payload: w.p,
    cid: typeof w.c === 'string' ? w.c : undefined,
    retry: w.r === true ? true : undefined,
    replica,
    ts: replica === undefined ? w.t : undefined,
  };
  const from = typeof w.n === 'string' && typeof w.f === 'number' ? { node: w.n, ref: w.f } : undefined;
  return { request, from };
}
