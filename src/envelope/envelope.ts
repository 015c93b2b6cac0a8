// Envelopes: how messages cross nodes, on every transport (WebSocket peering links,
// gossip, the sync protocol). An envelope is a run of one origin's consecutive
// messages in one channel: the id of the message before the run, the messages, and,
// when the run ends there, the origin's seal over the last id. Ids chain (each covers
// the one before, message-id.ts), so the receiver recomputes every id from `prev` and
// one seal check vouches for the whole run. No I/O here; docs/p2p.md has the format.
//
//   envelope = [origin, firstSeq, prev, [[ts, uid, bin, payload], ...], seal | null]

import { nameError } from '../access/names.ts';
import { ID_LENGTH, messageId } from '../store/message-id.ts';
import type { StoredMessage } from '../store/store.ts';
import { SEAL_LENGTH, type Sealer } from './seal.ts';

/** An origin seals its runs at least this often (a single larger message is a run of its own). */
export const RUN_MESSAGES = 1024;
export const RUN_BYTES = 512 * 1024;
/** What a receiver holds of a run whose seal has not come yet: twice what an origin may put in one. */
export const UNSEALED_MESSAGES = 2 * RUN_MESSAGES;
export const UNSEALED_BYTES = 2 * RUN_BYTES;

export interface EnvelopeMessage {
  readonly ts: number;
  readonly uid: string;
  readonly binary: boolean;
  readonly payload: Uint8Array;
}

export interface Envelope {
  readonly origin: string;
  /** The origin seq of the first message. */
  readonly firstSeq: number;
  /** The id of the origin's message before the first one. */
  readonly prev: Uint8Array;
  readonly messages: readonly EnvelopeMessage[];
  /** The origin's seal over the last message's id; absent when the run goes on in a later envelope. */
  readonly seal: Uint8Array | undefined;
  /** The messages' ids, when the envelope was packed from stored messages (never sent: a receiver computes them). */
  readonly ids?: readonly Uint8Array[];
}

export type EnvelopeWire = [string, number, Uint8Array, Array<[number, string, boolean, Uint8Array]>, Uint8Array | null];

export function envelopeToWire(envelope: Envelope): EnvelopeWire {
  return [
    envelope.origin,
    envelope.firstSeq,
    envelope.prev,
    envelope.messages.map((m) => [m.ts, m.uid, m.binary, m.payload]),
    envelope.seal ?? null,
  ];
}

export class InvalidEnvelope extends Error {}
function fail(message: string): never {
  throw new InvalidEnvelope(message);
}

const NODE_ID = /^[0-9a-f]{32}$/;
/** The earliest message time taken from a peer (2020-01-01): earlier would age out at once. */
const EARLIEST_TS = Date.UTC(2020, 0, 1);
/** How far ahead of this node's clock a message may be dated: clocks drift, but a message from the far future would never age out. */
export const MAX_CLOCK_AHEAD_MS = 10 * 60_000;

export interface EnvelopeLimits {
  /** Largest payload of one message. */
  readonly maxPayload: number;
  /** Most messages in one envelope. */
  readonly maxMessages: number;
  /** This node's clock, for the dates. */
  readonly now: number;
}

const isBytes = (v: unknown, length?: number): v is Uint8Array => v instanceof Uint8Array && (length === undefined || v.length === length);
const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Checks the shape of an envelope from the wire; throws InvalidEnvelope saying what is wrong. */
export function envelopeFromWire(v: unknown, limits: EnvelopeLimits): Envelope {
  if (!Array.isArray(v) || v.length !== 5) fail('an envelope is [origin, firstSeq, prev, messages, seal]');
  const [origin, firstSeq, prev, list, seal] = v as unknown[];
  if (typeof origin !== 'string' || !NODE_ID.test(origin)) fail('origin must be a node id (32 hex digits)');
  if (!count(firstSeq) || firstSeq === 0) fail('firstSeq must be an integer >= 1');
  if (!isBytes(prev, ID_LENGTH)) fail(`prev must be ${ID_LENGTH} bytes`);
  if (!Array.isArray(list) || list.length === 0 || list.length > limits.maxMessages) fail(`an envelope holds 1-${limits.maxMessages} messages`);
  if (seal !== null && !isBytes(seal, SEAL_LENGTH)) fail(`seal must be ${SEAL_LENGTH} bytes or null`);
  const latest = limits.now + MAX_CLOCK_AHEAD_MS;
  const messages = list.map((m: unknown, i): EnvelopeMessage => {
    if (!Array.isArray(m) || m.length !== 4) fail('each message is [ts, uid, bin, payload]');
    const [ts, uid, binary, payload] = m as unknown[];
    if (!count(ts) || ts < EARLIEST_TS) fail(`ts must be a time in ms after ${new Date(EARLIEST_TS).toISOString()}`);
    if (ts > latest) fail(`message ${origin}/${firstSeq + i} is dated ${Math.round((ts - limits.now) / 60_000)} min ahead of this node's clock`);
    // A peer's names are held to what a client may send: it relays what clients sent it.
    const uidError = nameError('uid', uid);
    if (uidError !== undefined) fail(uidError);
    if (typeof binary !== 'boolean') fail('bin must be a boolean');
    if (!isBytes(payload)) fail('payload must be bytes');
    if (payload.length > limits.maxPayload) fail(`payload over ${limits.maxPayload} bytes`);
    return { ts, uid: uid as string, binary, payload };
  });
  if (!Number.isSafeInteger(firstSeq + messages.length)) fail('origin seqs past 2^53');
  return { origin, firstSeq, prev, messages, seal: seal ?? undefined };
}

/** The ids of an envelope's messages, each computed from the one before, starting at `prev`. */
export function chainIds(channel: string, envelope: Envelope): Uint8Array[] {
  const ids: Uint8Array[] = [];
  let prev = envelope.prev;
  for (let i = 0; i < envelope.messages.length; i++) {
    const m = envelope.messages[i]!;
    prev = messageId({ prev, origin: envelope.origin, channel, originSeq: envelope.firstSeq + i, ts: m.ts, uid: m.uid, binary: m.binary, payload: m.payload });
    ids.push(prev);
  }
  return ids;
}

/** Payload bytes of an envelope's messages. */
export function envelopeBytes(envelope: Envelope): number {
  let bytes = 0;
  for (const m of envelope.messages) bytes += m.payload.length;
  return bytes;
}

interface OpenRun {
  readonly origin: string;
  readonly firstSeq: number;
  readonly prev: Uint8Array;
  readonly messages: EnvelopeMessage[];
  readonly ids: Uint8Array[];
  last: StoredMessage;
  bytes: number;
  seal: Uint8Array | undefined;
  done: boolean;
}

/**
 * Packs stored messages (of one channel, in store order, several origins mixed) into
 * envelopes, one origin's consecutive messages per envelope. A replica's run ends where
 * its origin sealed it; this node's own runs are sealed here, at most RUN_MESSAGES and
 * RUN_BYTES long, and at the end of what is packed. A replica run that goes on past the
 * end stays open: its next envelope continues it. Messages stored before ids were
 * chained have no `prev` and are left out (no peer could check them).
 */
export function packEnvelopes(messages: readonly StoredMessage[], self: string, sealer: Sealer): Envelope[] {
  const runs: OpenRun[] = [];
  const open = new Map<string, OpenRun>();
  for (const m of messages) {
    if (m.prev === undefined) {
      open.delete(m.origin);
      continue;
    }
    let run = open.get(m.origin);
    const own = m.origin === self;
    if (run !== undefined && (run.last.originSeq + 1 !== m.originSeq || (own && (run.messages.length >= RUN_MESSAGES || run.bytes + m.payload.length > RUN_BYTES)))) {
      if (own) run.seal = sealer.seal(run.last.id);
      run.done = true;
      run = undefined;
    }
    if (run === undefined) {
      run = { origin: m.origin, firstSeq: m.originSeq, prev: m.prev, messages: [], ids: [], last: m, bytes: 0, seal: undefined, done: false };
      runs.push(run);
      open.set(m.origin, run);
    }
    run.messages.push({ ts: m.ts, uid: m.uid, binary: m.binary, payload: m.payload });
    run.ids.push(m.id);
    run.last = m;
    run.bytes += m.payload.length;
    if (!own && m.seal !== undefined) {
      run.seal = m.seal;
      run.done = true;
      open.delete(m.origin);
    }
  }
  for (const run of runs) if (!run.done && run.origin === self) run.seal = sealer.seal(run.last.id);
  return runs.map(({ origin, firstSeq, prev, messages: list, seal, ids }) => ({ origin, firstSeq, prev, messages: list, seal, ids }));
}
