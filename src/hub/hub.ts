// The hub owns channels and their members. Publishes from every protocol go through
// it: it batches them, appends each batch to the store in one transaction at the end
// of the event-loop turn, and only once the batch is durable (committed, or synced
// with others by a group-commit store) fans the stored messages out, in sequence
// order, and reports each result to its publisher. Fan-out after that means no one
// ever sees a message (or a seq) that a crash could take back. No sockets and no
// protocol here: members are anything that can take a delivery, and each protocol
// keeps what it needs of its own (Mles joins and headers are in src/mles/).

import type { AppendRequest, AppendResult, Store, StoredMessage } from '../store/store.ts';

/**
 * A stored message on its way to members: one object per message of a commit, handed
 * to every member before the next, so members of one protocol can encode it once (by
 * remembering the last delivery they encoded) and share the bytes.
 */
export interface Delivery {
  readonly message: StoredMessage;
}

/**
 * The messages of one channel that one commit stored, in seq order, for members that
 * take them together (the native protocol sends them as one WebSocket message). One
 * object per run, handed to every such member before the next run.
 */
export interface DeliveryRun {
  readonly messages: readonly StoredMessage[];
}

export interface Member {
  readonly channel: string;
  /**
   * A link to another node rather than a client here. Links do not make a channel
   * locally used: peering asks for a channel only where someone uses it.
   */
  readonly peerLink?: boolean;
  /** Queues a delivery. Must not throw and must not block. */
  deliver(delivery: Delivery): void;
  /**
   * Queues a channel's messages of one commit at once, instead of `deliver` for each.
   * Members with it are called once per commit and channel rather than once per
   * message: with 100 subscribers and 500 messages a commit, 100 calls instead of
   * 50,000. Same rules as `deliver`.
   */
  deliverRun?(run: DeliveryRun): void;
}

export type PublishCallback = (result: AppendResult | Error) => void;

/**
 * A shared log that publishes go through before the store (src/jetstream/): the hub
 * hands it each turn's batch instead of appending it, and the log gives back, through
 * `Hub.commit`, everything it orders, from every node, in the log's order.
 */
export interface PublishLog {
  submit(requests: AppendRequest[], except: Array<Member | undefined>, done: Array<PublishCallback | undefined>): void;
}

export interface HubOptions {
  readonly store: Store;
  /** Runs a function at the end of this event-loop turn. */
  readonly schedule?: (run: () => void) => void;
  /** Publishes committed together at most; a full batch is committed at once. */
  readonly maxBatch?: number;
  /** Called after each batch has been committed and fanned out. */
  readonly afterBatch?: () => void;
  /** Called with each successful commit's duration in seconds and its size. */
  readonly onCommit?: (seconds: number, messages: number) => void;
  /** A channel gained its first or lost its last member that is not a peer link. */
  readonly onInterest?: (channel: string, used: boolean) => void;
  /** Called with each batch's results once stored and fanned out (duplicates included). */
  readonly onStored?: (results: readonly AppendResult[]) => void;
  /** A batch the store refused (disk full, I/O error); its publishers get the error. */
  readonly onStoreError?: (error: unknown) => void;
  /** Publishes go to this log first and reach the store through `commit`; unset, straight to the store. */
  readonly log?: PublishLog;
}

export class Hub {
  readonly #store: Store;
  readonly #options: HubOptions;
  readonly #schedule: (run: () => void) => void;
  /**
   * Members per channel. Arrays, replaced (not changed) on join and leave: they are
   * read once per message and changed once per member, so iteration must be cheap.
   */
  readonly #channels = new Map<string, readonly Member[]>();
  /** Members that are not peer links, per channel: the channels used here. */
  readonly #used = new Map<string, number>();
  // Queued publishes in three parallel arrays: no object per publish on the hot path.
  #pendingRequests: AppendRequest[] = [];
  #pendingExcept: Array<Member | undefined> = [];
  #pendingDone: Array<PublishCallback | undefined> = [];
  #scheduled = false;
  #members = 0;
  readonly #maxBatch: number;

  constructor(options: HubOptions) {
    this.#store = options.store;
    this.#options = options;
    this.#schedule = options.schedule ?? setImmediate;
    this.#maxBatch = options.maxBatch ?? 512;
  }

  /** Adds a member to its channel's live fan-out. */
  subscribe(member: Member): void {
    const members = this.#channels.get(member.channel) ?? [];
    if (members.includes(member)) return;
    this.#channels.set(member.channel, [...members, member]);
    this.#members++;
    if (member.peerLink !== true) {
      const used = (this.#used.get(member.channel) ?? 0) + 1;
      this.#used.set(member.channel, used);
      if (used === 1) this.#options.onInterest?.(member.channel, true);
    }
  }

  /** Channels with members that are not peer links. */
  usedChannels(): IterableIterator<string> {
    return this.#used.keys();
  }

  /** Removes a member; a no-op for one that is not there. */
  leave(member: Member): void {
    const members = this.#channels.get(member.channel);
    if (members?.includes(member)) {
      this.#members--;
      if (members.length === 1) this.#channels.delete(member.channel);
      else this.#channels.set(member.channel, members.filter((m) => m !== member));
      if (member.peerLink !== true) {
        const used = this.#used.get(member.channel)! - 1;
        if (used > 0) this.#used.set(member.channel, used);
        else {
          this.#used.delete(member.channel);
          this.#options.onInterest?.(member.channel, false);
        }
      }
    }
  }

  /**
   * Queues a publish. At the end of the turn it is stored, delivered to every member
   * of the channel but `except`, and reported through `done`.
   */
  publish(request: AppendRequest, except?: Member, done?: PublishCallback): void {
    this.#pendingRequests.push(request);
    this.#pendingExcept.push(except);
    this.#pendingDone.push(done);
    if (this.#pendingRequests.length >= this.#maxBatch) {
      // A full batch goes now: a turn that reads thousands of frames would otherwise
      // keep every one of them alive until its end, and the garbage collector would
      // copy them all (measured: a fifth of the CPU went to GC).
      this.flush();
    } else {
      this.#scheduleFlush();
    }
  }

  #scheduleFlush(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#schedule(() => this.flush());
  }

  /** Commits and fans out everything queued now. */
  flush(): void {
    this.#scheduled = false;
    const requests = this.#pendingRequests;
    if (requests.length === 0) return;
    const except = this.#pendingExcept;
    const done = this.#pendingDone;
    this.#pendingRequests = [];
    this.#pendingExcept = [];
    this.#pendingDone = [];
    if (this.#options.log !== undefined) this.#options.log.submit(requests, except, done);
    else this.commit(requests, except, done);
  }

  /**
   * Resolves once everything published so far is stored, durable and fanned out, so a
   * read after it sees it (with a group-commit store, a commit is read only once synced).
   * With a shared log, what went to the log is not waited for.
   */
  settled(): Promise<void> {
    this.flush();
    const sync = this.#store.sync;
    if (sync === undefined) return Promise.resolve();
    return new Promise((resolve) => sync(() => resolve()));
  }

  /**
   * Makes every committed batch durable now (blocking for one fsync, and only when some
   * commit of the channel waits for its sync), fanning each out and reporting it before it returns: for
   * a step that must read what was committed before it, at once (a Mles join's history,
   * which a client that leaves at once must still get).
   */
  settleNow(channel: string): void {
    this.#store.syncNow?.(channel);
  }

  /**
   * Appends a batch to the store, fans it out and reports each result: what `flush`
   * does with a turn's publishes, and what a shared log does with what it ordered.
   * With a store that syncs commits in groups, the fan-out and the results wait until
   * the batch is durable; batches are released in the order they were committed.
   */
  commit(requests: readonly AppendRequest[], except: ReadonlyArray<Member | undefined>, done: ReadonlyArray<PublishCallback | undefined>): AppendResult[] | undefined {
    let results: AppendResult[];
    const started = performance.now();
    try {
      results = this.#store.append(requests);
    } catch (error) {
      this.#failed(error, done);
      return undefined;
    }
    const sync = this.#store.sync;
    if (sync === undefined) {
      this.#committed(started, results, except, done);
      return results;
    }
    sync((error) => {
      if (error === undefined) this.#committed(started, results, except, done);
      else {
        // Committed but maybe not durable: readers see the messages (the store cannot
        // take them back), subscribers get them, publishers are told it failed.
        this.#fanOut(results, except);
        this.#options.onStored?.(results);
        this.#failed(error, done);
        this.#options.afterBatch?.();
      }
    });
    return results;
  }

  #failed(error: unknown, done: ReadonlyArray<PublishCallback | undefined>): void {
    this.#options.onStoreError?.(error);
    const failure = error instanceof Error ? error : new Error(String(error));
    for (const callback of done) callback?.(failure);
  }

  /** A batch is durable: it goes to members, then its publishers get their results. */
  #committed(started: number, results: readonly AppendResult[], except: ReadonlyArray<Member | undefined>, done: ReadonlyArray<PublishCallback | undefined>): void {
    this.#options.onCommit?.((performance.now() - started) / 1000, results.length);
    this.#fanOut(results, except);
    this.#options.onStored?.(results);
    // Results after the whole fan-out: an ack queued between two fanned-out messages
    // would split every recipient's run of frames, and each would copy its own.
    for (let i = 0; i < results.length; i++) done[i]?.(results[i]!);
    this.#options.afterBatch?.();
  }

  /**
   * Delivers the new messages of a commit channel by channel, in seq order. Members
   * that take one message at a time get them message by message, all members one
   * message before the next: each then pushes the same frame in turn, which the
   * outbound turn log joins once for all of them.
   */
  #fanOut(results: readonly AppendResult[], except: ReadonlyArray<Member | undefined>): void {
    let channel: string | undefined;
    let messages: StoredMessage[] = [];
    let excepts: Array<Member | undefined> = [];
    /** The members some message of the run is not for (its publisher), if any. */
    let excepted: Set<Member> | undefined;
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      if (result.duplicate) continue;
      const message = result.message;
      if (message.channel !== channel) {
        if (channel !== undefined) this.#fanOutRun(channel, messages, excepts, excepted);
        channel = message.channel;
        messages = [];
        excepts = [];
        excepted = undefined;
      }
      messages.push(message);
      const member = except[i];
      excepts.push(member);
      if (member !== undefined) (excepted ??= new Set()).add(member);
    }
    if (channel !== undefined) this.#fanOutRun(channel, messages, excepts, excepted);
  }

  /** Fans out consecutive messages of one channel (a commit of several channels has several runs). */
  #fanOutRun(channel: string, messages: readonly StoredMessage[], excepts: ReadonlyArray<Member | undefined>, excepted: ReadonlySet<Member> | undefined): void {
    const members = this.#channels.get(channel);
    if (members === undefined) return;
    let oneByOne = false;
    let run: DeliveryRun | undefined;
    for (let j = 0; j < members.length; j++) {
      const member = members[j]!;
      if (member.deliverRun === undefined) oneByOne = true;
      else if (excepted?.has(member) === true) member.deliverRun({ messages: messages.filter((_, i) => excepts[i] !== member) });
      else member.deliverRun((run ??= { messages }));
    }
    if (!oneByOne) return;
    for (let i = 0; i < messages.length; i++) {
      const delivery: Delivery = { message: messages[i]! };
      const except = excepts[i];
      for (let j = 0; j < members.length; j++) {
        const member = members[j]!;
        if (member.deliverRun === undefined && member !== except) member.deliver(delivery);
      }
    }
  }

  stats(): { members: number; activeChannels: number } {
    return { members: this.#members, activeChannels: this.#channels.size };
  }
}
