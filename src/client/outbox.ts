// Publishes not yet acknowledged, in the order they were made, and the client message
// ids (cids) that make their retries safe: a publish re-sent with the same cid after a
// lost ack or a reconnect is stored once by the node, which answers with the first
// seq. The outbox is bounded by count and by payload bytes. No I/O.

export interface OutboxEntry {
  readonly cid: string;
  readonly channel: string;
  readonly payload: Uint8Array;
  readonly binary: boolean;
  /** Whether the frame may have reached the node (then a re-send says retry: true). */
  sent: boolean;
}

export interface OutboxLimits {
  /** Publishes waiting for an ack at most. Default 10 000. */
  readonly maxMessages?: number;
  /** Payload bytes waiting for an ack at most. Default 16 MiB. */
  readonly maxBytes?: number;
}

export class Outbox {
  readonly #entries = new Map<string, OutboxEntry>();
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(limits: OutboxLimits = {}) {
    this.#maxMessages = limits.maxMessages ?? 10_000;
    this.#maxBytes = limits.maxBytes ?? 16 * 1024 * 1024;
    if (!(this.#maxMessages >= 1) || !(this.#maxBytes >= 1)) throw new RangeError('outbox limits must be at least 1');
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Whether a payload of this size fits now. */
  fits(payloadBytes: number): boolean {
    return this.#entries.size < this.#maxMessages && this.#bytes + payloadBytes <= this.#maxBytes;
  }

  has(cid: string): boolean {
    return this.#entries.has(cid);
  }

  get(cid: string): OutboxEntry | undefined {
    return this.#entries.get(cid);
  }

  /**
   * Adds an entry; the caller checks fits() first and keeps cids unique. `sent` is true
   * for a publish that may have reached the node before this outbox existed.
   */
  add(entry: Omit<OutboxEntry, 'sent'>, sent = false): OutboxEntry {
    if (this.#entries.has(entry.cid)) throw new Error(`cid ${entry.cid} is already in the outbox`);
    const stored: OutboxEntry = { ...entry, sent };
    this.#entries.set(entry.cid, stored);
    this.#bytes += entry.payload.byteLength;
    return stored;
  }

  remove(cid: string): OutboxEntry | undefined {
    const entry = this.#entries.get(cid);
    if (entry === undefined) return undefined;
    this.#entries.delete(cid);
    this.#bytes -= entry.payload.byteLength;
    return entry;
  }

  /** Every entry, oldest first: the order they are re-sent in after a reconnect. */
  entries(): OutboxEntry[] {
    return [...this.#entries.values()];
  }
}

/** The random part of cids: 64 bits, hex; crypto.getRandomValues exists in Node and browsers. */
export function randomId(bytes = 8): string {
  const buffer = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buffer);
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Client message ids `<random>-<counter>`: unique per client instance by the counter, and
 * across instances and restarts (the node keys cids by uid and channel) by the random part.
 */
export class CidGenerator {
  readonly #prefix: string;
  #counter = 0;

  constructor(prefix: string = randomId()) {
    this.#prefix = prefix;
  }

  next(): string {
    this.#counter++;
    return `${this.#prefix}-${this.#counter.toString(36)}`;
  }
}
