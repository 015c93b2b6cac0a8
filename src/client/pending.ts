// Requests waiting for their answer from the node: publishes by client message id (cid),
// queries by query id (qid). Each entry is a promise settled exactly once, by the answer,
// by its timeout, by its AbortSignal, or by rejectAll when the client closes. No I/O.

import { ParleyError } from './errors.ts';

export interface WaitOptions {
  /** Reject with TIMEOUT after this many ms; 0 or undefined waits without limit. */
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called once whichever way the entry settles (e.g. to drop it from an outbox). */
  readonly onSettled?: (() => void) | undefined;
}

interface Entry<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: ReturnType<typeof setTimeout> | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
  readonly onSettled: (() => void) | undefined;
}

export class PendingTable<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #what: string;
  readonly #idField: 'cid' | 'qid';

  /** `what` names the requests in error messages ("publish"); `idField` is where errors carry the key. */
  constructor(what: string, idField: 'cid' | 'qid') {
    this.#what = what;
    this.#idField = idField;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  keys(): IterableIterator<string> {
    return this.#entries.keys();
  }

  /** Registers a request; the key must not be pending already. */
  add(key: string, options: WaitOptions = {}, details: { channel?: string } = {}): Promise<T> {
    if (this.#entries.has(key)) throw new Error(`${this.#what} ${key} is already pending`);
    const ids = { [this.#idField]: key };
    const { signal } = options;
    if (signal?.aborted) {
      options.onSettled?.();
      return Promise.reject(new ParleyError('ABORTED', `${this.#what} aborted`, { ...details, ...ids, cause: signal.reason }));
    }
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 0;
      const timer =
        timeoutMs > 0
          ? setTimeout(() => this.reject(key, new ParleyError('TIMEOUT', `${this.#what} timed out after ${timeoutMs} ms`, { ...details, ...ids })), timeoutMs)
          : undefined;
      const onAbort = signal ? () => this.reject(key, new ParleyError('ABORTED', `${this.#what} aborted`, { ...details, ...ids, cause: signal.reason })) : undefined;
      if (signal && onAbort) signal.addEventListener('abort', onAbort, { once: true });
      this.#entries.set(key, { resolve, reject, timer, signal, onAbort, onSettled: options.onSettled });
    });
  }

  resolve(key: string, value: T): boolean {
    const entry = this.#take(key);
    entry?.resolve(value);
    return entry !== undefined;
  }

  reject(key: string, error: unknown): boolean {
    const entry = this.#take(key);
    entry?.reject(error);
    return entry !== undefined;
  }

  rejectAll(error: unknown): void {
    for (const key of [...this.#entries.keys()]) this.reject(key, error);
  }

  #take(key: string): Entry<T> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    clearTimeout(entry.timer);
    if (entry.onAbort) entry.signal?.removeEventListener('abort', entry.onAbort);
    entry.onSettled?.();
    return entry;
  }
}
