// One channel's subscription: the messages the node delivers, deduplicated by seq, handed
// to the application through an async iterator or 'message' listeners, and the cursor
// that records what the application has processed. SubscriptionCore holds the state and
// is driven by the client; Subscription is the application's view of it. No I/O.
//
// Cursor rule (at-least-once to the application, never twice per cursor):
// - with listeners, a message's seq becomes the cursor once its listeners have returned;
// - with the iterator, once the application asks for the next message or leaves the
//   loop, i.e. after the loop body for it has run.
// `received` (the highest seq taken in) is what a resubscription resumes after, so
// messages still queued for the application are not fetched again.

import { Emitter } from './events.ts';
import { ParleyError } from './errors.ts';
import type { Message } from './wire.ts';

export type SubscribeFrom =
  /** Everything the node still stores for the channel (no GAP error for what retention removed). */
  | 'stored'
  /** Only messages published from now on. */
  | 'now'
  /** Messages after this seq. */
  | { readonly after: number }
  /** The newest `last` stored messages, then live. */
  | { readonly last: number };

export interface SubscribeOptions {
  /**
   * Where to start when the cursor store has no cursor for the channel (with a cursor,
   * the subscription always resumes after it). Default 'now'.
   */
  readonly from?: SubscribeFrom;
  /**
   * When retention removed messages the cursor still needed (GAP): 'error' ends the
   * subscription with a GAP error (default); 'skip' emits 'gap' and goes on from the
   * oldest stored message.
   */
  readonly onGap?: 'error' | 'skip';
  /**
   * When the node does not know the cursor (its store was wiped, or the cursor is from
   * another node): 'error' ends the subscription with UNKNOWN_CURSOR (default);
   * 'restart' emits 'restart', resets the cursor to 0 and replays the channel.
   */
  readonly onUnknownCursor?: 'error' | 'restart';
  /**
   * Ask the node who is in the channel: 'members' on every (re)subscription, then
   * 'presence' as uids arrive and leave. Presence is per node: the clients connected to
   * the node this client is connected to. Default false.
   */
  readonly presence?: boolean;
}

export interface SubscriptionEvents {
  message: Message;
  /** The replay is over: `last` was the newest seq when the subscription went live. */
  live: { readonly channel: string; readonly last: number };
  /** Messages after `after` up to `first - 1` were removed by retention and skipped. */
  gap: { readonly channel: string; readonly after: number; readonly first: number };
  /** The node did not know cursor `after`; the channel is replayed from the start. */
  restart: { readonly channel: string; readonly after: number };
  /** With `presence`: who is in the channel now (on every subscription, reconnects included). */
  members: {
    readonly channel: string;
    /** Distinct uids, yours included, sorted; at most 1000 (see `count`). */
    readonly uids: readonly string[];
    readonly count: number;
    /** Your uid was already there through another connection (another tab or device). */
    readonly elsewhere: boolean;
  };
  /** With `presence`: a uid arrived (its first connection) or left (its last). */
  presence: { readonly channel: string; readonly uid: string; readonly here: boolean };
  /** The subscription failed and has ended. */
  error: ParleyError;
}

export interface SubscriptionHost {
  /** Records the cursor (the application has processed `seq`). */
  commit(channel: string, seq: number): void;
  /** Ends the subscription on the node; resolves when done. */
  unsubscribe(core: SubscriptionCore): Promise<void>;
}

type State = 'starting' | 'ready' | 'subscribing' | 'live' | 'ended';

export class SubscriptionCore {
  readonly channel: string;
  readonly options: Required<SubscribeOptions>;
  readonly host: SubscriptionHost;
  readonly view: Subscription;
  state: State = 'starting';
  /** Highest seq taken in; undefined until known (a 'now' subscription before it is live). */
  received: number | undefined;
  /** Highest seq the application has processed. */
  committed: number | undefined;
  /**
   * Started from 'stored' or {last} and nothing taken in yet: the application asked for
   * whatever the node still has, so a GAP (retention removed the oldest messages) loses
   * it nothing and is skipped silently.
   */
  fresh = false;
  readonly #queue: Message[] = [];
  #handedOut: Message | undefined;
  readonly #waiters: Array<{ resolve: (result: IteratorResult<Message>) => void; reject: (error: unknown) => void }> = [];
  #error: ParleyError | undefined;
  #errorThrown = false;
  /** Messages of a store the node no longer has (see restart()): delivered, never committed. */
  readonly #stale = new WeakSet<Message>();
  #emit!: <K extends keyof SubscriptionEvents>(event: K, value: SubscriptionEvents[K]) => boolean;

  constructor(channel: string, host: SubscriptionHost, options: SubscribeOptions = {}) {
    this.channel = channel;
    this.host = host;
    this.options = {
      from: options.from ?? 'now',
      onGap: options.onGap ?? 'error',
      onUnknownCursor: options.onUnknownCursor ?? 'error',
      presence: options.presence ?? false,
    };
    this.view = new Subscription(this, (emit) => {
      this.#emit = emit;
    });
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  /** The cursor to send with the next `sub` frame; undefined = live only. */
  get resumeAfter(): number | undefined {
    return this.received;
  }

  /** The starting point is known (from the cursor store or `from`): ready to subscribe. */
  start(after: number | undefined, committed: number | undefined, fresh = false): void {
    if (this.state !== 'starting') return;
    this.received = after;
    this.committed = committed;
    this.fresh = fresh;
    this.state = 'ready';
  }

  /** Takes in a delivered message; duplicates (seq already taken in) are dropped. */
  deliver(message: Message): void {
    if (this.state !== 'subscribing' && this.state !== 'live') return;
    if (this.received !== undefined && message.seq <= this.received) return;
    this.received = message.seq;
    this.fresh = false;
    this.#queue.push(message);
    this.#drain();
  }

  live(last: number): void {
    if (this.state !== 'subscribing') return;
    this.state = 'live';
    if (this.received === undefined) {
      // A 'now' subscription: everything up to `last` is, by choice, processed.
      this.received = last;
      this.#commit(last);
    }
    this.#emit('live', { channel: this.channel, last });
  }

  members(members: SubscriptionEvents['members']): void {
    if (this.state === 'subscribing' || this.state === 'live') this.#emit('members', members);
  }

  presence(uid: string, here: boolean): void {
    if (this.state === 'subscribing' || this.state === 'live') this.#emit('presence', { channel: this.channel, uid, here });
  }

  /** GAP with onGap 'skip' (or a fresh start): go on from the oldest stored message. */
  skipTo(first: number): void {
    const after = this.received ?? 0;
    this.received = Math.max(after, first - 1);
    this.state = 'ready';
    if (!this.fresh) this.#emit('gap', { channel: this.channel, after, first });
  }

  /** UNKNOWN_CURSOR with onUnknownCursor 'restart': replay the channel from its start. */
  restart(): void {
    const after = this.received ?? 0;
    this.received = 0;
    // Messages still queued carry the old store's seqs: they are delivered, but must not
    // move the new cursor.
    for (const message of this.#queue) this.#stale.add(message);
    this.#handedOut = undefined;
    this.committed = 0;
    this.host.commit(this.channel, 0);
    this.state = 'ready';
    this.#emit('restart', { channel: this.channel, after });
  }

  /** The connection dropped: subscribe again once reconnected. */
  disconnected(): void {
    if (this.state === 'subscribing' || this.state === 'live') this.state = 'ready';
  }

  fail(error: ParleyError): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.#error = error;
    this.#emit('error', error);
    this.#drain();
  }

  /**
   * Ends without error (the client closed, or unsubscribe()): no more messages, not even
   * queued ones; they were not processed, so the cursor brings them again next time.
   */
  end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.#queue.length = 0;
    this.#drain();
  }

  #commit(seq: number): void {
    if (this.committed !== undefined && seq <= this.committed) return;
    this.committed = seq;
    this.host.commit(this.channel, seq);
  }

  #commitHandedOut(): void {
    if (this.#handedOut !== undefined && !this.#stale.has(this.#handedOut)) this.#commit(this.#handedOut.seq);
    this.#handedOut = undefined;
  }

  /** Hands queued messages to listeners or waiting iterators, and settles waiters at the end. */
  #drain(): void {
    if (this.view.listenerCount('message') > 0) {
      while (this.#queue.length > 0) {
        const message = this.#queue.shift()!;
        this.#emit('message', message);
        if (!this.#stale.has(message)) this.#commit(message.seq);
      }
    }
    while (this.#waiters.length > 0 && this.#queue.length > 0) {
      this.#commitHandedOut();
      const message = this.#queue.shift()!;
      this.#handedOut = message;
      this.#waiters.shift()!.resolve({ value: message, done: false });
    }
    if (this.state === 'ended' && this.#queue.length === 0) {
      for (const waiter of this.#waiters.splice(0)) this.#settleEnd(waiter);
    }
  }

  #settleEnd(waiter: { resolve: (result: IteratorResult<Message>) => void; reject: (error: unknown) => void }): void {
    if (this.#error !== undefined && !this.#errorThrown) {
      this.#errorThrown = true;
      waiter.reject(this.#error);
    } else {
      waiter.resolve({ value: undefined, done: true });
    }
  }

  flushToListeners(): void {
    this.#drain();
  }

  next(): Promise<IteratorResult<Message>> {
    this.#commitHandedOut();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#drain();
    });
  }

  async return(): Promise<IteratorResult<Message>> {
    this.#commitHandedOut();
    await this.view.close();
    return { value: undefined, done: true };
  }
}

/** A channel subscription: iterate it (`for await`) or listen to 'message'. */
export class Subscription extends Emitter<SubscriptionEvents> implements AsyncIterable<Message> {
  readonly #core: SubscriptionCore;

  /** Made by ParleyClient.subscribe(); `connect` hands the core its way to emit events. */
  constructor(core: SubscriptionCore, connect: (emit: <K extends keyof SubscriptionEvents>(event: K, value: SubscriptionEvents[K]) => boolean) => void) {
    super();
    this.#core = core;
    connect((event, value) => this.emit(event, value));
  }

  get channel(): string {
    return this.#core.channel;
  }

  /** The seq of the last message the application processed, if any. */
  get cursor(): number | undefined {
    return this.#core.committed;
  }

  /** Whether the replay is over and messages arrive as they are published. */
  get live(): boolean {
    return this.#core.state === 'live';
  }

  get closed(): boolean {
    return this.#core.ended;
  }

  /** Leaves the channel: the iterator ends, no more 'message' events. */
  async close(): Promise<void> {
    if (this.#core.ended) return;
    await this.#core.host.unsubscribe(this.#core);
  }

  unsubscribe(): Promise<void> {
    return this.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    const core = this.#core;
    return {
      next: () => core.next(),
      return: () => core.return(),
    };
  }

  protected override listenerAdded(event: keyof SubscriptionEvents): void {
    if (event === 'message') queueMicrotask(() => this.#core.flushToListeners());
  }
}
