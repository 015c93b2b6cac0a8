// ParleyClient: one native-protocol session that outlives its connections. It connects,
// says hello, and after every reconnect (jittered exponential backoff) subscribes each
// channel again after its cursor, re-sends unanswered queries, and re-sends unacked
// publishes with their original cid and `retry: true`, so nothing is lost or stored
// twice. Frames, backoff, pending requests, the outbox, subscriptions and cursor stores
// each live in their own module; this file wires them to the connection (about 460
// lines: the public API of the SDK, each method short, kept in one class for readers).

import { mlesAuth } from '../access/auth.ts';
import { MAX_QUERY_LIMIT } from '../native/frames.ts';
import type { ReceivedNodeFrame } from '../native/frames.ts';
import { Backoff } from '../timing/backoff.ts';
import { Connection } from './connection.ts';
import type { ConnectionClosed, WebSocketConstructor, Welcome } from './connection.ts';
import { MemoryCursorStore } from './cursor-store.ts';
import type { CursorStore } from './cursor-store.ts';
import { ParleyError, isProtocolErrorCode } from './errors.ts';
import { Emitter } from './events.ts';
import { checkName, nodeUrl } from './options.ts';
import type { ClientEvents, ClientState, Listed, ListPublicOptions, Page, ParleyClientOptions, PublishOptions, PublishResult, QueryOptions, ScrollbackOptions, UnlistPublicOptions } from './options.ts';
import { Listings } from './listings.ts';
import { Publisher } from './publisher.ts';
import { Queries } from './queries.ts';
import { checkScrollbackOptions, scrollback } from './scrollback.ts';
import { SubscriptionCore } from './subscription.ts';
import type { SubscribeOptions, Subscription, SubscriptionHost } from './subscription.ts';
import { toMessage } from './wire.ts';

export type { ClientEvents, ClientState, Listed, ListPublicOptions, Page, ParleyClientOptions, PublishOptions, PublishResult, QueryOptions, ScrollbackOptions, UnlistPublicOptions } from './options.ts';

/** Close codes after which the same hello would be refused again. */
const REFUSAL_CLOSE_CODES = new Set([4400, 4401, 4409]);
/** How long close() waits for the WebSocket to finish closing. */
const CLOSE_WAIT_MS = 2000;

function timeout(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

export class ParleyClient extends Emitter<ClientEvents> implements AsyncDisposable {
  readonly url: string;
  readonly uid: string;
  readonly #key: string | undefined;
  readonly #cursors: CursorStore;
  readonly #WebSocket: WebSocketConstructor;
  readonly #backoff: Backoff;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #retryFirstConnect: boolean;

  #state: ClientState = 'idle';
  #connection: Connection | undefined;
  #welcome: Welcome | undefined;
  #everConnected = false;
  #connectedAt: number | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #connectWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  #closing: Promise<void> | undefined;

  readonly #subscriptions = new Map<string, SubscriptionCore>();
  /** Channels whose `unsub` awaits its `unsubbed`, with what to run then. */
  readonly #unsubscribing = new Map<string, () => void>();
  readonly #publisher: Publisher;
  readonly #queries: Queries;
  readonly #listings: Listings;
  readonly #auth = new Map<string, string>();
  readonly #host: SubscriptionHost;

  constructor(options: ParleyClientOptions) {
    super();
    this.url = nodeUrl(options.url);
    checkName('uid', options.uid);
    this.uid = options.uid;
    this.#key = options.key;
    this.#cursors = options.cursors ?? new MemoryCursorStore();
    const WebSocketClass = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
    if (WebSocketClass === undefined) throw new Error('no WebSocket: pass options.WebSocket (Node.js 22+ and browsers have one built in)');
    this.#WebSocket = WebSocketClass;
    this.#backoff = new Backoff(options.backoff);
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#retryFirstConnect = options.retryFirstConnect ?? false;
    this.#publisher = new Publisher(
      { connection: () => this.#connection, maxFrame: () => this.#welcome?.max, authFor: (channel) => this.#authFor(channel) },
      options.outbox,
      this.#requestTimeoutMs,
    );
    this.#queries = new Queries({ connection: () => this.#connection, authFor: (channel) => this.#authFor(channel) }, this.#requestTimeoutMs);
    this.#listings = new Listings({ connection: () => this.#connection, uid: this.uid }, this.#requestTimeoutMs);
    this.#host = {
      commit: (channel, seq) => this.#commit(channel, seq),
      unsubscribe: (core) => this.#unsubscribe(core),
    };
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The node's id, once welcomed. */
  get node(): string | undefined {
    return this.#welcome?.node;
  }

  /** Publishes waiting for their ack. */
  get pendingPublishes(): number {
    return this.#publisher.waiting;
  }

  /**
   * Connects (or, while waiting to reconnect, reconnects now). Resolves once the node has
   * welcomed us; the first connection failing rejects with CONNECT_FAILED unless
   * retryFirstConnect is set. Later drops are retried by themselves.
   */
  connect(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ParleyError('CLOSED'));
    if (this.#state === 'connected') return Promise.resolve();
    const connected = new Promise<void>((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    if (this.#state === 'idle' || this.#state === 'reconnecting') this.#open();
    return connected;
  }

  /** Subscribes to a channel; see SubscribeOptions for where it starts. */
  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    checkName('channel', channel);
    if (this.#state === 'closed') throw new ParleyError('CLOSED');
    if (this.#subscriptions.has(channel)) throw new ParleyError('ALREADY_SUBSCRIBED', `channel ${channel} is already subscribed by this client`, { channel });
    const from = options.from;
    if (typeof from === 'object') {
      const n = 'after' in from ? from.after : from.last;
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('from.after and from.last must be whole numbers >= 0');
    }
    const core = new SubscriptionCore(channel, this.#host, options);
    this.#subscriptions.set(channel, core);
    void this.#start(core);
    return core.view;
  }

  /** Publishes a payload (bytes, or a string sent as UTF-8); resolves with the node's ack. */
  publish(channel: string, payload: Uint8Array | string, options: PublishOptions = {}): Promise<PublishResult> {
    checkName('channel', channel);
    if (this.#state === 'closed') return Promise.reject(new ParleyError('CLOSED'));
    return this.#publisher.publish(channel, payload, options);
  }

  /** Reads stored messages without subscribing. */
  query(channel: string, options: QueryOptions = {}): Promise<Page> {
    checkName('channel', channel);
    if (this.#state === 'closed') return Promise.reject(new ParleyError('CLOSED'));
    return this.#queries.query(channel, options);
  }

  /**
   * Lists the channel in the network's directory of public channels (a node with --p2p
   * announces it to every node, as `--public` does). The right is the node operator's:
   * `key` is the node's DIRECTORY_KEY. Refused with NOT_ALLOWED (no key on the node, or
   * the wrong one) or NO_DIRECTORY (the node runs without --p2p).
   */
  listPublic(channel: string, options: ListPublicOptions): Promise<Listed> {
    checkName('channel', channel);
    if (this.#state === 'closed') return Promise.reject(new ParleyError('CLOSED'));
    return this.#listings.list(channel, options);
  }

  /**
   * Takes a channel this node's clients listed off the directory: the node stops
   * announcing it and tells the network, whose nodes drop it at once. Resolves too when
   * no client listed it (so a request sent again after a reconnect does not fail).
   * Refused with NOT_ALLOWED, NO_DIRECTORY, or NOT_LISTED for a channel the node's
   * operator made public with --public.
   */
  unlistPublic(channel: string, options: UnlistPublicOptions): Promise<void> {
    checkName('channel', channel);
    if (this.#state === 'closed') return Promise.reject(new ParleyError('CLOSED'));
    return this.#listings.unlist(channel, options);
  }

  /**
   * Pages of the channel's stored messages going back from `before` (default: from the
   * newest), each oldest first, until the oldest stored one: for showing history above
   * what is on screen. Each page is a query, asked when the iteration gets to it.
   */
  scrollback(channel: string, options: ScrollbackOptions = {}): AsyncGenerator<Page, void, undefined> {
    checkName('channel', channel);
    checkScrollbackOptions(options);
    return scrollback((query) => this.query(channel, query), options);
  }

  /**
   * Ends the session: pending publishes and queries reject with CLOSED (a publish may
   * still have been stored), subscriptions end, cursors are flushed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- connection lifecycle ----

  #open(): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#state = 'connecting';
    let connection: Connection | undefined;
    try {
      connection = new Connection(
        { WebSocket: this.#WebSocket, url: this.url, uid: this.uid, connectTimeoutMs: this.#connectTimeoutMs },
        {
          welcome: (welcome) => this.#welcomed(welcome),
          frame: (frame) => this.#frame(frame),
          invalid: (reason) => this.emit('error', new ParleyError('PROTOCOL', `unexpected frame from the node: ${reason}`)),
          closed: (info) => {
            if (this.#connection === connection) this.#lost(info);
          },
        },
      );
    } catch (error) {
      this.#connection = undefined;
      this.#lost({ code: 1006, reason: error instanceof Error ? error.message : String(error), welcomed: false, refusal: undefined });
      return;
    }
    this.#connection = connection;
  }

  #welcomed(welcome: Welcome): void {
    this.#state = 'connected';
    this.#welcome = welcome;
    this.#connectedAt = Date.now();
    const reconnected = this.#everConnected;
    this.#everConnected = true;
    for (const waiter of this.#connectWaiters.splice(0)) waiter.resolve();
    // Subscriptions first, so our own re-sent publishes reach them live.
    for (const core of this.#subscriptions.values()) this.#sendSubscribe(core);
    this.#queries.resendAll();
    this.#listings.resendAll();
    this.#publisher.resendAll();
    this.emit('connected', { node: welcome.node, max: welcome.max, reconnected });
  }

  #lost(info: ConnectionClosed): void {
    this.#connection = undefined;
    for (const core of this.#subscriptions.values()) core.disconnected();
    // The connection that owed an `unsubbed` is gone, and with it the subscription.
    for (const done of [...this.#unsubscribing.values()]) done();
    this.#unsubscribing.clear();
    if (this.#state === 'closed') return;
    if (this.#connectedAt !== undefined) this.#backoff.connectionEnded(Date.now() - this.#connectedAt);
    this.#connectedAt = undefined;

    if (info.refusal !== undefined || REFUSAL_CLOSE_CODES.has(info.code)) {
      const detail = info.refusal !== undefined ? `${info.refusal.code}: ${info.refusal.msg}` : info.reason || `close code ${info.code}`;
      this.emit('disconnected', { code: info.code, reason: info.reason, reconnectInMs: undefined });
      this.#fail(new ParleyError('REFUSED', `the node refused the connection (${detail})`, { closeCode: info.code }));
      return;
    }
    if (!this.#everConnected && !this.#retryFirstConnect) {
      this.#state = 'idle';
      const error = new ParleyError('CONNECT_FAILED', `could not connect to ${this.url} (${info.code}${info.reason ? `: ${info.reason}` : ''})`, { closeCode: info.code });
      this.emit('disconnected', { code: info.code, reason: info.reason, reconnectInMs: undefined });
      for (const waiter of this.#connectWaiters.splice(0)) waiter.reject(error);
      return;
    }
    const delay = this.#backoff.next();
    this.#state = 'reconnecting';
    this.#reconnectTimer = setTimeout(() => this.#open(), delay);
    this.emit('disconnected', { code: info.code, reason: info.reason, reconnectInMs: delay });
  }

  /** A fatal error: like close(), with `error` as the reason everything ends. */
  #fail(error: ParleyError): void {
    this.#state = 'closed';
    this.#closing ??= this.#flushCursors();
    this.#settleAll(error);
    this.emit('error', error);
  }

  async #close(): Promise<void> {
    const connection = this.#connection;
    this.#state = 'closed';
    this.#settleAll(new ParleyError('CLOSED'));
    if (connection !== undefined) {
      connection.close(1000, 'bye');
      const wait = timeout(CLOSE_WAIT_MS);
      await Promise.race([connection.socketClosed, wait.promise]);
      wait.cancel();
    }
    await this.#flushCursors();
  }

  async #flushCursors(): Promise<void> {
    try {
      await this.#cursors.flush?.();
    } catch (error) {
      this.emit('error', new ParleyError('CURSOR_STORE', `could not save cursors: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    }
  }

  #settleAll(error: ParleyError): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    for (const waiter of this.#connectWaiters.splice(0)) waiter.reject(error);
    this.#publisher.rejectAll(error);
    this.#queries.rejectAll(error);
    this.#listings.rejectAll(error);
    const subscriptions = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    for (const core of subscriptions) {
      if (error.code === 'CLOSED') core.end();
      else core.fail(error);
    }
    for (const done of [...this.#unsubscribing.values()]) done();
    this.#unsubscribing.clear();
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.close(1000, 'bye');
  }

  // ---- frames from the node ----

  #frame(frame: Exclude<ReceivedNodeFrame, { t: 'welcome' }>): void {
    switch (frame.t) {
      case 'msg':
        this.#subscriptions.get(frame.ch)?.deliver(toMessage(frame));
        return;
      case 'members':
        this.#subscriptions.get(frame.ch)?.members({ channel: frame.ch, uids: frame.uids, count: frame.count, elsewhere: frame.elsewhere });
        return;
      case 'presence':
        this.#subscriptions.get(frame.ch)?.presence(frame.uid, frame.here);
        return;
      case 'live':
        this.#subscriptions.get(frame.ch)?.live(frame.last);
        return;
      case 'unsubbed':
        this.#unsubscribed(frame.ch);
        return;
      case 'ack':
        this.#publisher.acked(frame);
        return;
      case 'page':
        this.#queries.answered(frame);
        return;
      case 'listed':
        this.#listings.answered(frame);
        return;
      case 'unlisted':
        this.#listings.unlisted(frame);
        return;
      case 'err':
        this.#errorFrame(frame);
        return;
    }
  }

  #errorFrame(frame: Extract<ReceivedNodeFrame, { t: 'err' }>): void {
    const known = isProtocolErrorCode(frame.code);
    const error = new ParleyError(known ? frame.code : 'PROTOCOL', known ? frame.msg : `${frame.code}: ${frame.msg}`, {
      channel: frame.ch,
      cid: frame.cid,
      qid: frame.qid,
      first: frame.first,
      last: frame.last,
      storeCode: frame.store,
    });
    if (frame.cid !== undefined) {
      if (!this.#publisher.refused(frame.cid, error)) this.emit('error', error);
      return;
    }
    if (frame.qid !== undefined) {
      if (!this.#queries.refused(frame.qid, error) && !this.#listings.refused(frame.qid, error)) this.emit('error', error);
      return;
    }
    if (frame.ch !== undefined) {
      if (frame.code === 'NOT_SUBSCRIBED' && this.#unsubscribing.has(frame.ch)) {
        this.#unsubscribed(frame.ch);
        return;
      }
      const core = this.#subscriptions.get(frame.ch);
      if (core !== undefined && core.state === 'subscribing' && frame.code !== 'ALREADY_SUBSCRIBED') {
        this.#subscriptionRefused(core, error);
        return;
      }
    }
    this.emit('error', error);
  }

  #subscriptionRefused(core: SubscriptionCore, error: ParleyError): void {
    if (error.code === 'GAP' && (core.options.onGap === 'skip' || core.fresh) && error.first !== undefined) {
      core.skipTo(error.first);
      this.#sendSubscribe(core);
      return;
    }
    if (error.code === 'UNKNOWN_CURSOR' && core.options.onUnknownCursor === 'restart') {
      core.restart();
      this.#sendSubscribe(core);
      return;
    }
    this.#subscriptions.delete(core.channel);
    if (core.view.listenerCount('error') === 0) this.emit('error', error);
    core.fail(error);
  }

  // ---- subscriptions ----

  async #start(core: SubscriptionCore): Promise<void> {
    try {
      const stored = await this.#cursors.get(core.channel);
      let after: number | undefined;
      const from = core.options.from;
      if (stored !== undefined) after = stored;
      else if (from === 'stored') after = 0;
      else if (from === 'now') after = undefined;
      else if ('after' in from) after = from.after;
      else after = await this.#startOfLast(core.channel, from.last);
      if (core.ended) return;
      const fresh = stored === undefined && (from === 'stored' || (typeof from === 'object' && 'last' in from));
      core.start(after, stored, fresh);
      this.#sendSubscribe(core);
    } catch (error) {
      if (core.ended) return;
      if (this.#subscriptions.get(core.channel) === core) this.#subscriptions.delete(core.channel);
      const failure = error instanceof ParleyError ? error : new ParleyError('CURSOR_STORE', `could not read the cursor: ${String(error)}`, { channel: core.channel, cause: error });
      if (core.view.listenerCount('error') === 0) this.emit('error', failure);
      core.fail(failure);
    }
  }

  /** The cursor that makes a subscription start with the newest `count` stored messages. */
  async #startOfLast(channel: string, count: number): Promise<number | undefined> {
    if (count === 0) return undefined;
    let remaining = count;
    let before: number | undefined;
    let oldest: number | undefined;
    for (;;) {
      const page = await this.query(channel, { desc: true, limit: Math.min(remaining, MAX_QUERY_LIMIT), before });
      const last = page.messages.at(-1);
      if (last === undefined) return oldest === undefined ? Math.max(0, page.first - 1) : oldest - 1;
      oldest = last.seq;
      remaining -= page.messages.length;
      if (remaining <= 0 || page.last || page.next === undefined) return oldest - 1;
      before = page.next;
    }
  }

  #sendSubscribe(core: SubscriptionCore): void {
    const connection = this.#connection;
    if (connection === undefined || !connection.open || core.state !== 'ready' || this.#unsubscribing.has(core.channel)) return;
    core.state = 'subscribing';
    connection.send({
      t: 'sub',
      ch: core.channel,
      auth: this.#authFor(core.channel),
      after: core.resumeAfter,
      presence: core.options.presence ? true : undefined,
    });
  }

  async #unsubscribe(core: SubscriptionCore): Promise<void> {
    if (core.ended) return;
    const wasSubscribed = core.state === 'subscribing' || core.state === 'live';
    if (this.#subscriptions.get(core.channel) === core) this.#subscriptions.delete(core.channel);
    core.end();
    const connection = this.#connection;
    if (!wasSubscribed || connection === undefined || !connection.open) return;
    // Until `unsubbed`, frames for the channel belong to the old subscription: a new one
    // for it waits (see #sendSubscribe), so their seqs cannot mix.
    const done = new Promise<void>((resolve) => this.#unsubscribing.set(core.channel, resolve));
    connection.send({ t: 'unsub', ch: core.channel });
    const wait = timeout(this.#requestTimeoutMs || 30_000);
    await Promise.race([done, wait.promise]);
    wait.cancel();
  }

  #unsubscribed(channel: string): void {
    const done = this.#unsubscribing.get(channel);
    if (done === undefined) return;
    this.#unsubscribing.delete(channel);
    done();
    const next = this.#subscriptions.get(channel);
    if (next !== undefined) this.#sendSubscribe(next);
  }

  #commit(channel: string, seq: number): void {
    const report = (error: unknown): void => {
      this.emit('error', new ParleyError('CURSOR_STORE', `could not save the cursor of ${channel}: ${error instanceof Error ? error.message : String(error)}`, { channel, cause: error }));
    };
    try {
      const written = this.#cursors.set(channel, seq);
      if (written instanceof Promise) written.catch(report);
    } catch (error) {
      report(error);
    }
  }

  #authFor(channel: string): string | undefined {
    if (this.#key === undefined) return undefined;
    let auth = this.#auth.get(channel);
    if (auth === undefined) {
      auth = mlesAuth(this.uid, channel, this.#key);
      this.#auth.set(channel, auth);
    }
    return auth;
  }
}
