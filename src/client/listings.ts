// Listing channels in the network's directory of public channels (`public` frames, each
// with a request id answered by `listed`). Listing is idempotent, so one lost with its
// connection is simply sent again once the client reconnects.

import { mlesAuth } from '../access/auth.ts';
import { MAX_ABOUT_LENGTH, type ListedFrame, type PublicFrame } from '../native/frames.ts';
import type { Connection } from './connection.ts';
import type { ParleyError } from './errors.ts';
import type { Listed, ListPublicOptions } from './options.ts';
import { PendingTable } from './pending.ts';

export interface ListingsHost {
  connection(): Connection | undefined;
  readonly uid: string;
}

export class Listings {
  readonly #host: ListingsHost;
  readonly #pending = new PendingTable<Listed>('listing', 'qid');
  readonly #frames = new Map<string, PublicFrame>();
  readonly #timeoutMs: number;
  #counter = 0;

  constructor(host: ListingsHost, timeoutMs: number) {
    this.#host = host;
    this.#timeoutMs = timeoutMs;
  }

  list(channel: string, options: ListPublicOptions): Promise<Listed> {
    const about = options.about ?? '';
    if (about.length > MAX_ABOUT_LENGTH) throw new RangeError(`about must be at most ${MAX_ABOUT_LENGTH} characters`);
    // Distinct from query ids (q...): errors name the request by this id alone.
    const qid = `l${(++this.#counter).toString(36)}`;
    const frame: PublicFrame = { t: 'public', qid, ch: channel, about, auth: mlesAuth(this.#host.uid, channel, options.key) };
    this.#frames.set(qid, frame);
    const listed = this.#pending.add(
      qid,
      { timeoutMs: options.timeoutMs ?? this.#timeoutMs, signal: options.signal, onSettled: () => this.#frames.delete(qid) },
      { channel },
    );
    this.#host.connection()?.send(frame);
    return listed;
  }

  /** A connection came up: send every unanswered listing (again). */
  resendAll(): void {
    const connection = this.#host.connection();
    for (const frame of this.#frames.values()) connection?.send(frame);
  }

  answered(frame: ListedFrame): void {
    this.#pending.resolve(frame.qid, { channel: frame.ch, about: frame.about });
  }

  /** An `err` about a qid; false when no listing with that qid is waiting. */
  refused(qid: string, error: ParleyError): boolean {
    return this.#pending.reject(qid, error);
  }

  rejectAll(error: ParleyError): void {
    this.#pending.rejectAll(error);
  }
}
