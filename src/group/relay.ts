// What the group layer needs from the node, as a small interface: publish with a client
// message id (a retry with the same cid stores nothing twice), read a channel in order
// after a cursor, and be told when a channel has news. ParleyRelay implements it over the
// client SDK; MemoryRelay (memory-relay.testkit.ts) in memory, for tests.

import { ParleyClient } from '../client/index.ts';
import type { Subscription } from '../client/index.ts';

export interface RelayMessage {
  readonly seq: number;
  /** The publisher's uid as the node saw it: a hint, never trusted for authorship. */
  readonly from: string;
  readonly payload: Uint8Array;
}

export interface Relay {
  /** The node id of the node this relay talks to (named as a new group's ordering node). */
  node(): string;
  /** `retry`: this cid may have been published before (after a crash): the node looks further back. */
  publish(channel: string, payload: Uint8Array, cid: string, retry?: boolean): Promise<{ seq: number }>;
  /** Messages with seq > after, oldest first, at most `limit`. */
  read(channel: string, after: number, limit: number): Promise<RelayMessage[]>;
  /**
   * Calls onNews whenever a message after `after` arrives; returns a stop function. A
   * channel already watched may only report what arrives from now on.
   */
  watch(channel: string, after: number, onNews: () => void): () => void;
  close(): Promise<void>;
}

export const READ_PAGE = 1000;

/** Reads everything after a cursor, page by page. */
export async function* readAll(relay: Relay, channel: string, after: number): AsyncGenerator<RelayMessage[]> {
  let cursor = after;
  for (;;) {
    const page = await relay.read(channel, cursor, READ_PAGE);
    if (page.length === 0) return;
    yield page;
    cursor = page[page.length - 1]!.seq;
    if (page.length < READ_PAGE) return;
  }
}

export class ParleyRelay implements Relay {
  readonly #client: ParleyClient;
  /** One subscription per channel, shared by every watch of it (the SDK allows one). */
  readonly #watches = new Map<string, { subscription: Subscription; listeners: Set<() => void> }>();

  constructor(client: ParleyClient) {
    this.#client = client;
  }

  static async connect(url: string, uid: string, key?: string): Promise<ParleyRelay> {
    const client = new ParleyClient({ url, uid, key });
    await client.connect();
    return new ParleyRelay(client);
  }

  node(): string {
    const node = this.#client.node;
    if (node === undefined) throw new Error('not connected to a node yet');
    return node;
  }

  async publish(channel: string, payload: Uint8Array, cid: string, retry?: boolean): Promise<{ seq: number }> {
    const ack = await this.#client.publish(channel, payload, { cid, retry });
    return { seq: ack.seq };
  }

  async read(channel: string, after: number, limit: number): Promise<RelayMessage[]> {
    const page = await this.#client.query(channel, { after, limit });
    return page.messages.map((m) => ({ seq: m.seq, from: m.from, payload: m.payload }));
  }

  watch(channel: string, after: number, onNews: () => void): () => void {
    let watch = this.#watches.get(channel);
    if (watch === undefined) {
      const subscription = this.#client.subscribe(channel, { from: { after } });
      const listeners = new Set<() => void>();
      subscription.on('message', () => {
        for (const listener of [...listeners]) listener();
      });
      this.#watches.set(channel, (watch = { subscription, listeners }));
    }
    // A second watcher gets news from now on; one that needs what came between its
    // cursor and now reads it (the shared subscription is past it).
    const listener = (): void => onNews();
    watch.listeners.add(listener);
    const shared = watch;
    return () => {
      shared.listeners.delete(listener);
      if (shared.listeners.size === 0 && this.#watches.get(channel) === shared) {
        this.#watches.delete(channel);
        shared.subscription.close();
      }
    };
  }

  async close(): Promise<void> {
    for (const { subscription } of this.#watches.values()) subscription.close();
    this.#watches.clear();
    await this.#client.close();
  }
}
