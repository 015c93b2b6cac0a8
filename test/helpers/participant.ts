// A chat participant for multi-node tests: an SDK client with one subscription that
// keeps every message it is handed, and waits on them as events (bounded, no sleeps).

import { ParleyClient } from '../../src/client/index.ts';
import type { CursorStore, Message, Subscription } from '../../src/client/index.ts';

export class Participant {
  readonly uid: string;
  readonly client: ParleyClient;
  readonly sub: Subscription;
  readonly received: Message[] = [];
  #waiters: Array<() => void> = [];

  /** `cursors`: where the subscription's cursor is kept (a file, to resume in a later client). */
  constructor(url: string, uid: string, channel: string, cursors?: CursorStore) {
    this.uid = uid;
    this.client = new ParleyClient({ url, uid, cursors, requestTimeoutMs: 60_000, retryFirstConnect: true, backoff: { initialMs: 50, maxMs: 500 } });
    this.sub = this.client.subscribe(channel, { from: 'stored' });
    this.sub.on('message', (message) => {
      this.received.push(message);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async join(url: string, uid: string, channel: string, cursors?: CursorStore): Promise<Participant> {
    const participant = new Participant(url, uid, channel, cursors);
    await participant.client.connect();
    return participant;
  }

  /** Payloads as text, in the order received. */
  texts(): string[] {
    return this.received.map((m) => new TextDecoder().decode(m.payload));
  }

  async waitUntil(done: (received: readonly Message[]) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.received)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`${this.uid}: timed out waiting for ${what}; has ${this.received.length} messages`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Publishes `count` messages `${prefix}${i}`, at most `window` awaiting their acks. */
  async publishMany(channel: string, prefix: string, count: number, window = 50): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        await this.client.publish(channel, `${prefix}${i}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** Checks that `texts` holds each of `expected` exactly once; returns a description of what is wrong. */
export function exactlyOnce(texts: readonly string[], expected: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const t of texts) counts.set(t, (counts.get(t) ?? 0) + 1);
  const missing = expected.filter((e) => !counts.has(e));
  const doubled = [...counts].filter(([, n]) => n > 1).map(([t]) => t);
  if (missing.length === 0 && doubled.length === 0) return undefined;
  return `missing ${missing.length} (${missing.slice(0, 5).join(', ')}), doubled ${doubled.length} (${doubled.slice(0, 5).join(', ')})`;
}
