// `/parley/sync/1`: how a node gets what it missed of a channel from a peer that stores
// it, with no server: it sends its origin vector, and the peer streams the envelopes it
// lacks, a page at a time (never more than a page in memory on either side), then says
// it is done. Used when a peer connects, periodically, and when gossip shows a gap.
//
//   request   {ch, have: {origin: highest origin seq}}
//   response  {e: [envelope, ...]}*  then  {done: true}
// each a CBOR map in a varint-length-prefixed frame.

import { Decoder, Encoder } from 'cbor-x';
import type { Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { nameError } from '../access/names.ts';
import { envelopeFromWire, envelopeToWire, InvalidEnvelope, packEnvelopes, UNSEALED_MESSAGES, type Envelope } from '../envelope/envelope.ts';
import type { ReplicaIntake, Rejection, VerifiedMessage } from '../envelope/intake.ts';
import type { Sealer } from '../envelope/seal.ts';
import type { Store } from '../store/store.ts';

export const SYNC_PROTOCOL = '/parley/sync/1';
/** Messages and payload bytes the server reads and sends per frame. */
const PAGE_ROWS = 1000;
const PAGE_BYTES = 1024 * 1024;
/** Largest frame read: a page, plus its largest message, plus the envelope around them. */
export function maxSyncFrame(maxPayload: number): number {
  return PAGE_BYTES + 2 * maxPayload + 256 * 1024;
}
/** What one sync may bring at most; the next one goes on from there. */
const SESSION_MESSAGES = 200_000;
const SESSION_BYTES = 256 * 1024 * 1024;
const MAX_HAVE = 65536;

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export class SyncError extends Error {
  readonly reason: Rejection | 'protocol' | 'limit';
  constructor(reason: SyncError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface SyncRequest {
  readonly channel: string;
  readonly have: ReadonlyMap<string, number>;
}

export function encodeRequest(request: SyncRequest): Uint8Array {
  return encoder.encode({ ch: request.channel, have: Object.fromEntries(request.have) });
}

export function decodeRequest(data: Uint8Array): SyncRequest {
  let raw: unknown;
  try {
    raw = decoder.decode(data);
  } catch {
    throw new SyncError('protocol', 'sync request is not CBOR');
  }
  if (typeof raw !== 'object' || raw === null) throw new SyncError('protocol', 'sync request must be a map');
  const { ch, have } = raw as Record<string, unknown>;
  const error = nameError('ch', ch);
  if (error !== undefined) throw new SyncError('protocol', error);
  if (typeof have !== 'object' || have === null || Array.isArray(have)) throw new SyncError('protocol', 'have must be a map of node id to origin seq');
  const entries = Object.entries(have);
  if (entries.length > MAX_HAVE) throw new SyncError('protocol', `have names more than ${MAX_HAVE} origins`);
  const vector = new Map<string, number>();
  for (const [origin, seq] of entries) {
    if (!/^[0-9a-f]{32}$/.test(origin) || !Number.isSafeInteger(seq) || (seq as number) < 0) throw new SyncError('protocol', 'have must map node ids to origin seqs');
    vector.set(origin, seq as number);
  }
  return { channel: ch as string, have: vector };
}

/** The frames of a response. */
export type SyncFrame = { readonly done: true } | { readonly envelopes: readonly Envelope[] };

export function decodeFrame(data: Uint8Array, maxPayload: number, now = Date.now()): SyncFrame {
  let raw: unknown;
  try {
    raw = decoder.decode(data);
  } catch {
    throw new SyncError('malformed', 'sync frame is not CBOR');
  }
  if (typeof raw !== 'object' || raw === null) throw new SyncError('malformed', 'sync frame must be a map');
  const { done, e } = raw as Record<string, unknown>;
  if (done === true) return { done: true };
  if (!Array.isArray(e) || e.length === 0 || e.length > PAGE_ROWS) throw new SyncError('malformed', `e must list 1-${PAGE_ROWS} envelopes`);
  try {
    return { envelopes: e.map((x) => envelopeFromWire(x, { maxPayload, maxMessages: UNSEALED_MESSAGES, now })) };
  } catch (error) {
    if (error instanceof InvalidEnvelope) throw new SyncError('malformed', error.message);
    throw error;
  }
}

export interface SyncServerOptions {
  readonly store: Store;
  readonly sealer: Sealer;
  readonly maxPayload: number;
}

/** Answers one sync stream: reads the request, streams what the asker lacks, page by page. */
export async function serveSync(stream: Stream, options: SyncServerOptions, signal: AbortSignal): Promise<number> {
  const lp = lpStream(stream, { maxDataLength: 1024 * 1024 });
  const request = decodeRequest((await lp.read({ signal })).subarray());
  const { store, sealer } = options;
  const peerHas = new Map(request.have);
  const first = store.firstMissing(request.channel, peerHas);
  let sent = 0;
  if (first !== undefined) {
    const end = store.bounds(request.channel).last;
    let position = first - 1;
    while (position < end && !signal.aborted) {
      const page = store.read(request.channel, { after: position, before: end + 1, limit: PAGE_ROWS, maxBytes: PAGE_BYTES });
      if (page.length === 0) break;
      position = page.at(-1)!.seq;
      const lacking = page.filter((m) => {
        if (m.originSeq <= (peerHas.get(m.origin) ?? 0)) return false;
        peerHas.set(m.origin, m.originSeq);
        return true;
      });
      const envelopes = packEnvelopes(lacking, store.nodeId, sealer);
      if (envelopes.length === 0) continue;
      sent += lacking.length;
      await lp.write(encoder.encode({ e: envelopes.map(envelopeToWire) }), { signal });
    }
  }
  await lp.write(encoder.encode({ done: true }), { signal });
  await stream.close({ signal });
  return sent;
}

export interface SyncClientOptions {
  readonly store: Store;
  readonly intake: ReplicaIntake;
  readonly maxPayload: number;
  /** Stores verified messages (through the hub). */
  readonly take: (messages: readonly VerifiedMessage[]) => void;
}

/** Asks over `stream` for what this node lacks of `channel`; resolves with how many messages it took. */
export async function requestSync(stream: Stream, channel: string, options: SyncClientOptions, signal: AbortSignal): Promise<number> {
  const lp = lpStream(stream, { maxDataLength: maxSyncFrame(options.maxPayload) });
  await lp.write(encodeRequest({ channel, have: options.store.vector(channel) }), { signal });
  const source = options.intake.source();
  let taken = 0;
  let messages = 0;
  let bytes = 0;
  for (;;) {
    const data = (await lp.read({ signal })).subarray();
    bytes += data.length;
    const frame = decodeFrame(data, options.maxPayload);
    if ('done' in frame) break;
    for (const envelope of frame.envelopes) {
      messages += envelope.messages.length;
      const result = source.take(channel, envelope);
      if (!result.ok) {
        options.intake.reset();
        throw new SyncError(result.reason, result.detail);
      }
      taken += result.messages.length;
      options.take(result.messages);
    }
    if (messages > SESSION_MESSAGES || bytes > SESSION_BYTES) {
      throw new SyncError('limit', `over ${SESSION_MESSAGES} messages or ${SESSION_BYTES} bytes in one sync; the next one goes on from here`);
    }
    // Let the hub commit what came before the next page is read.
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (source.holdsUnsealed()) options.intake.count('unsealed');
  await stream.close({ signal }).catch(() => {});
  return taken;
}
