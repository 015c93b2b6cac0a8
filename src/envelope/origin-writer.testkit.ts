// For tests: plays an origin node that writes messages into channels and seals them in
// envelopes, honestly by default, or with the lies a test asks for.

import type { NodeIdentity } from '../identity/node-identity.ts';
import { messageId, NO_PREV } from '../store/message-id.ts';
import type { Envelope, EnvelopeMessage } from './envelope.ts';
import { Sealer } from './seal.ts';

export class OriginWriter {
  readonly nodeId: string;
  readonly #sealer: Sealer;
  /**
   * What this origin wrote, per channel and seq: writing a seq again after the same
   * message before it gives the same message (a seq written past a hole, with another
   * message before it, is written anew once the chain reaches it).
   */
  readonly #written = new Map<string, Map<number, { readonly message: EnvelopeMessage; readonly id: Uint8Array; readonly prev: Uint8Array }>>();

  constructor(identity: NodeIdentity) {
    this.nodeId = identity.nodeId;
    this.#sealer = new Sealer(identity);
  }

  /** The id this origin gave its message `seq` in the channel, if it wrote one. */
  idOf(channel: string, seq: number): Uint8Array | undefined {
    return this.#written.get(channel)?.get(seq)?.id;
  }

  /**
   * An envelope of the messages `firstSeq`, `firstSeq + 1`... with these texts (a seq
   * written before keeps its first message), chained onto the message before it (or
   * `prev`), sealed unless `seal` is false.
   */
  envelope(channel: string, firstSeq: number, texts: readonly string[], options: { seal?: boolean; prev?: Uint8Array; uid?: string; ts?: number } = {}): Envelope {
    let written = this.#written.get(channel);
    if (written === undefined) this.#written.set(channel, (written = new Map()));
    const start = options.prev ?? (firstSeq === 1 ? NO_PREV : (written.get(firstSeq - 1)?.id ?? NO_PREV));
    let prev = start;
    const messages: EnvelopeMessage[] = [];
    texts.forEach((text, i) => {
      const seq = firstSeq + i;
      let entry = written.get(seq);
      if (entry === undefined || options.prev !== undefined || !Buffer.from(entry.prev).equals(prev)) {
        const message = { ts: options.ts ?? Date.now(), uid: options.uid ?? 'mallory', binary: false, payload: Buffer.from(text) };
        entry = { message, id: messageId({ prev, origin: this.nodeId, channel, originSeq: seq, ...message }), prev };
        written.set(seq, entry);
      }
      messages.push(entry.message);
      prev = entry.id;
    });
    return { origin: this.nodeId, firstSeq, prev: start, messages, seal: options.seal === false ? undefined : this.#sealer.seal(prev) };
  }
}
