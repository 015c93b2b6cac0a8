// Group commit for a SQLite database in WAL mode with synchronous=NORMAL. A commit
// returns once its frames are in the write-ahead log (the OS's cache), and one
// fdatasync of the log, on libuv's thread pool, then makes every commit before it
// durable at once: WAL frames are appended in order and checksummed, so after a power
// loss SQLite recovers exactly the commits whose frames reached the disk. While one sync
// runs the event loop keeps reading and committing, and those commits wait for the
// next sync: batches grow with load, and no fsync ever blocks the loop.
//
// Until its sync completes a commit must not be seen by anyone (a reader, a peer, a
// subscriber), or a crash of the machine could take back what someone saw. This keeps,
// for each channel with commits not yet durable, the last durable seq: the store caps
// its reads there.

import { close, fdatasync, fdatasyncSync, openSync } from 'node:fs';

export type SyncDone = (error?: Error) => void;

/** One fdatasync under way: the commits it covers and who waits for it. */
interface RunningSync {
  readonly covered: ReadonlyMap<string, number>;
  readonly callers: readonly SyncDone[];
}

export class GroupSync {
  readonly #walPath: string;
  readonly #toError: (error: unknown) => Error;
  #fd: number | undefined;
  /** For each channel with commits not yet durable: its last durable seq. */
  readonly #durable = new Map<string, number>();
  /** The last seq committed per channel since the running sync began (or the last one ended). */
  #committed = new Map<string, number>();
  /** The running sync: what it covers and who waits for it; undefined when none runs. */
  #running: RunningSync | undefined;
  /** Callers of `sync` since the running one began: the next sync is theirs. */
  #waiting: SyncDone[] = [];
  /** fdatasync calls not back yet (one may be left over from before a `syncNow`). */
  #inFlight = 0;
  #closed = false;

  constructor(walPath: string, toError: (error: unknown) => Error) {
    this.#walPath = walPath;
    this.#toError = toError;
  }

  /** A commit of the channel moved its last seq from `before` to `last`. */
  committed(channel: string, before: number, last: number): void {
    if (!this.#durable.has(channel)) this.#durable.set(channel, before);
    this.#committed.set(channel, last);
  }

  /** The channel's last durable seq, when it has commits that are not durable yet. */
  durableLast(channel: string): number | undefined {
    return this.#durable.get(channel);
  }

  /** Calls `done` once every commit made before this call is durable (or with the error). */
  sync(done: SyncDone): void {
    if (this.#closed) return;
    this.#waiting.push(done);
    if (this.#running === undefined) this.#start();
  }

  /**
   * When the channel has commits not yet durable: makes every commit durable now,
   * blocking the event loop for one fdatasync, and calls everyone waiting, in order,
   * before it returns. For the rare step that must read what was just committed to a
   * channel before it goes on (a Mles join's history).
   */
  syncNow(channel: string): void {
    if (this.#closed || !this.#durable.has(channel)) return;
    let failure: Error | undefined;
    try {
      fdatasyncSync(this.#open());
    } catch (error) {
      failure = this.#toError(error);
    }
    // The running sync, when it comes back, finds it is no longer the running one.
    const callers = [...(this.#running?.callers ?? []), ...this.#waiting];
    this.#running = undefined;
    this.#waiting = [];
    this.#committed = new Map();
    this.#durable.clear();
    for (const done of callers) done(failure);
  }

  #open(): number {
    return (this.#fd ??= openSync(this.#walPath, 'r'));
  }

  #start(): void {
    const running: RunningSync = { covered: this.#committed, callers: this.#waiting };
    this.#running = running;
    this.#waiting = [];
    this.#committed = new Map();
    this.#inFlight++;
    let fd: number;
    try {
      fd = this.#open();
    } catch (error) {
      setImmediate(() => this.#finish(running, error));
      return;
    }
    fdatasync(fd, (error) => this.#finish(running, error));
  }

  #finish(running: RunningSync, error: unknown): void {
    this.#inFlight--;
    if (this.#closed) {
      // Closing the database synced what was committed; nobody is left to tell.
      if (this.#inFlight === 0) this.#closeFile();
      return;
    }
    if (this.#running !== running) return; // overtaken by syncNow, which told its callers
    this.#running = undefined;
    // Even a failed sync makes its commits visible: they are in the database, later
    // reads would find them anyway, and hiding them for good would leave a hole in
    // every subscriber's stream. Their publishers are told it failed.
    for (const [channel, last] of running.covered) {
      if (this.#committed.has(channel)) this.#durable.set(channel, last);
      else this.#durable.delete(channel);
    }
    const failure = error === null || error === undefined ? undefined : this.#toError(error);
    for (const done of running.callers) done(failure);
    if (this.#waiting.length > 0) this.#start();
  }

  /** Stops: callers still waiting are not called (the store is closing). */
  close(): void {
    this.#closed = true;
    this.#waiting = [];
    this.#running = undefined;
    if (this.#inFlight === 0) this.#closeFile();
  }

  #closeFile(): void {
    if (this.#fd === undefined) return;
    close(this.#fd, () => {});
    this.#fd = undefined;
  }
}
