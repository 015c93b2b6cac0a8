// What every transport does with envelopes that other nodes send: checks that each run
// follows what this node holds of its origin (or what the same source sent before it),
// recomputes the ids, checks the origin's seal, and only then hands the messages on to
// be stored. One intake per node, shared by all its links and gossip, so that two
// sources of the same run agree on where each origin's chain stands; one source per
// link (or per gossip message), which holds a run whose seal has not come yet.

import type { AppendRequest, AppendResult, Store } from '../store/store.ts';
import { chainIds, envelopeBytes, UNSEALED_BYTES, UNSEALED_MESSAGES, type Envelope } from './envelope.ts';
import type { SealChecker } from './seal.ts';

/** Why an envelope was refused; /metrics counts them by these names. */
export type Rejection = 'malformed' | 'forged' | 'bad_seal' | 'out_of_order' | 'unsealed' | 'replayed';

/** The store request for a verified message: a replica, keeping its origin's stamp. */
export function replicaRequest(m: VerifiedMessage): AppendRequest {
  return { channel: m.channel, uid: m.uid, binary: m.binary, payload: m.payload, replica: { origin: m.origin, originSeq: m.originSeq, ts: m.ts, id: m.id, prev: m.prev, seal: m.seal } };
}

/** A message whose chain and seal checked out, ready to be stored as a replica. */
export interface VerifiedMessage {
  readonly channel: string;
  readonly origin: string;
  readonly originSeq: number;
  readonly ts: number;
  readonly uid: string;
  readonly binary: boolean;
  readonly payload: Uint8Array;
  readonly id: Uint8Array;
  readonly prev: Uint8Array;
  /** The origin's seal, on the message that ends a sealed run. */
  readonly seal: Uint8Array | undefined;
}

export type IntakeResult =
  | { readonly ok: true; readonly messages: readonly VerifiedMessage[]; readonly nothingNew: boolean }
  | { readonly ok: false; readonly reason: Rejection; readonly detail: string };

interface Tail {
  readonly seq: number;
  /** Unknown for a chain stored before ids were chained. */
  readonly id: Uint8Array | undefined;
}

const key = (channel: string, origin: string) => `${channel}\0${origin}`;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

export class ReplicaIntake {
  readonly #store: Store;
  readonly #checker: SealChecker;
  /** Runs taken but not yet committed, per channel and origin: the newest such message. */
  readonly #inFlight = new Map<string, Tail>();
  /** Envelopes refused, by reason, over all sources (for /metrics). */
  readonly rejected = new Map<Rejection, number>();
  /** Messages taken, over all sources. */
  accepted = 0;

  constructor(store: Store, checker: SealChecker) {
    this.#store = store;
    this.#checker = checker;
  }

  get selfId(): string {
    return this.#store.nodeId;
  }

  /** Where the origin's chain stands here: what is in flight to the store, or else what it holds. */
  tail(channel: string, origin: string): Tail {
    const inFlight = this.#inFlight.get(key(channel, origin));
    if (inFlight !== undefined) return inFlight;
    return { seq: this.#store.vector(channel).get(origin) ?? 0, id: this.#store.lastId(channel, origin) };
  }

  /**
   * What the store made of a replica this intake took (the hub's publish callback): the
   * in-flight entry is no longer ahead of the store, or, for a refused batch or a hole,
   * nothing in flight can be trusted to be stored. `failed` and `hole` are the caller's
   * to act on (a link closes, gossip logs).
   */
  stored(result: AppendResult | Error): 'stored' | 'hole' | 'failed' {
    if (result instanceof Error) {
      this.reset();
      return 'failed';
    }
    const { channel, origin, originSeq } = result.message;
    const k = key(channel, origin);
    const inFlight = this.#inFlight.get(k);
    if (inFlight !== undefined && inFlight.seq <= originSeq) this.#inFlight.delete(k);
    if (result.hole === undefined) return 'stored';
    this.reset();
    return 'hole';
  }

  /** A batch failed to commit: what was in flight is not stored; ask the store again. */
  reset(): void {
    this.#inFlight.clear();
  }

  checkSeal(origin: string, id: Uint8Array, seal: Uint8Array): ReturnType<SealChecker['check']> {
    return this.#checker.check(origin, id, seal);
  }

  taken(channel: string, origin: string, tail: Tail | undefined, count: number): void {
    if (count === 0) return;
    if (tail !== undefined) this.#inFlight.set(key(channel, origin), tail);
    this.accepted += count;
  }

  /** Counts an envelope refused for this reason. */
  count(reason: Rejection): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  source(): IntakeSource {
    return new IntakeSource(this);
  }
}

interface Pending {
  readonly messages: VerifiedMessage[];
  bytes: number;
}

/** One source of envelopes (a link, a sync stream, a gossip message): holds its unsealed runs. */
export class IntakeSource {
  readonly #intake: ReplicaIntake;
  readonly #pending = new Map<string, Pending>();

  constructor(intake: ReplicaIntake) {
    this.#intake = intake;
  }

  /** Forgets the unsealed runs of a channel (its stream was replaced or dropped). */
  drop(channel: string): void {
    for (const k of this.#pending.keys()) if (k.startsWith(`${channel}\0`)) this.#pending.delete(k);
  }

  /** Whether a run is waiting for its seal (a stream that ends so left it unsealed). */
  holdsUnsealed(): boolean {
    return this.#pending.size > 0;
  }

  #reject(reason: Rejection, detail: string): IntakeResult {
    this.#intake.count(reason);
    return { ok: false, reason, detail };
  }

  /** `ids`: the envelope's ids when the caller has computed them already (chainIds). */
  take(channel: string, envelope: Envelope, ids: readonly Uint8Array[] = chainIds(channel, envelope)): IntakeResult {
    const { origin, firstSeq } = envelope;
    const last = firstSeq + envelope.messages.length - 1;
    const self = this.#intake.selfId;
    if (origin === self) {
      const own = this.#intake.tail(channel, self).seq;
      if (last > own) return this.#reject('forged', `message ${origin}/${last} in ${channel} claims to come from this node, which never sent it`);
      return { ok: true, messages: [], nothingNew: true };
    }
    const k = key(channel, origin);
    const pending = this.#pending.get(k);
    const before = pending?.messages.at(-1);
    const tail: Tail = before !== undefined ? { seq: before.originSeq, id: before.id } : this.#intake.tail(channel, origin);
    if (firstSeq > tail.seq + 1) {
      // A hole. Inside one source's unsealed run it is a lie; after what is held, the store
      // decides (a hole is honest only where this node holds nothing of the origin: see
      // replicaPlace), and the chain starts from the envelope's own `prev`.
      if (pending !== undefined) return this.#reject('out_of_order', `message ${origin}/${firstSeq} in ${channel} skips to after ${tail.seq}`);
    } else if (tail.id !== undefined) {
      // The envelope overlaps or continues what is held: it must be the same chain.
      const at = tail.seq - firstSeq; // index of the held tail in the envelope, -1 for "just before it"
      const link = at < 0 ? envelope.prev : ids[at]!;
      if (at < ids.length && !same(link, tail.id)) {
        return this.#reject('forged', `message ${origin}/${tail.seq + 1} in ${channel} does not follow the message this node holds before it`);
      }
    }
    if (last <= tail.seq) {
      if (pending !== undefined && firstSeq <= tail.seq) return this.#reject('out_of_order', `message ${origin}/${firstSeq} in ${channel} repeats its unsealed run`);
      return { ok: true, messages: [], nothingNew: true };
    }
    const fresh: VerifiedMessage[] = [];
    for (let i = Math.max(0, tail.seq + 1 - firstSeq); i < envelope.messages.length; i++) {
      const m = envelope.messages[i]!;
      fresh.push({
        channel,
        origin,
        originSeq: firstSeq + i,
        ts: m.ts,
        uid: m.uid,
        binary: m.binary,
        payload: m.payload,
        id: ids[i]!,
        prev: i === 0 ? envelope.prev : ids[i - 1]!,
        seal: undefined,
      });
    }
    if (envelope.seal === undefined) {
      const held = pending ?? { messages: [], bytes: 0 };
      held.messages.push(...fresh);
      held.bytes += envelopeBytes(envelope);
      if (held.messages.length > UNSEALED_MESSAGES || held.bytes > UNSEALED_BYTES) {
        this.#pending.delete(k);
        return this.#reject('unsealed', `over ${UNSEALED_MESSAGES} messages or ${UNSEALED_BYTES} bytes of ${origin} in ${channel} without a seal`);
      }
      this.#pending.set(k, held);
      return { ok: true, messages: [], nothingNew: false };
    }
    const check = this.#intake.checkSeal(origin, ids.at(-1)!, envelope.seal);
    if (check !== 'ok') {
      this.#pending.delete(k);
      const why = check === 'wrong_key' ? 'is not made with the key of its origin' : 'does not match the messages';
      return this.#reject('bad_seal', `the seal of ${origin}/${firstSeq}-${last} in ${channel} ${why}`);
    }
    this.#pending.delete(k);
    const run = pending === undefined ? fresh : [...pending.messages, ...fresh];
    run[run.length - 1] = { ...run.at(-1)!, seal: envelope.seal };
    // Others may have brought part of the run meanwhile: take only what is still new.
    const now = pending === undefined ? tail : this.#intake.tail(channel, origin);
    const skip = run.findIndex((m) => m.originSeq > now.seq);
    if (skip > 0 && now.id !== undefined && run[skip - 1]!.originSeq === now.seq && !same(run[skip - 1]!.id, now.id)) {
      return this.#reject('forged', `message ${origin}/${now.seq} in ${channel} differs from the one this node holds`);
    }
    const messages = skip < 0 ? [] : skip === 0 ? run : run.slice(skip);
    // A run past a hole is not in flight until the store has taken it: it may refuse it
    // (a hole is honest only where it holds nothing of the origin), and the origin's
    // next messages must then still be judged against what it does hold.
    const gap = run[0]!.originSeq > now.seq + 1;
    this.#intake.taken(channel, origin, gap ? undefined : { seq: messages.at(-1)?.originSeq ?? now.seq, id: messages.at(-1)?.id ?? now.id }, messages.length);
    return { ok: true, messages, nothingNew: messages.length === 0 };
  }
}


