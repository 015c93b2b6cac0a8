// History queries: each gets a query id (qid) and waits for its page. Queries are reads,
// so one lost with its connection is simply asked again once the client reconnects.

import { MAX_QUERY_LIMIT } from '../native/frames.ts';
import type { PageFrame, QueryFrame } from '../native/frames.ts';
import type { Connection } from './connection.ts';
import type { ParleyError } from './errors.ts';
import type { Page, QueryOptions } from './options.ts';
import { PendingTable } from './pending.ts';
import { toMessage } from './wire.ts';

export interface QueriesHost {
  connection(): Connection | undefined;
  authFor(channel: string): string | undefined;
}

export class Queries {
  readonly #host: QueriesHost;
  readonly #pending = new PendingTable<Page>('query', 'qid');
  readonly #frames = new Map<string, QueryFrame>();
  readonly #timeoutMs: number;
  #counter = 0;

  constructor(host: QueriesHost, timeoutMs: number) {
    this.#host = host;
    this.#timeoutMs = timeoutMs;
  }

  query(channel: string, options: QueryOptions): Promise<Page> {
    if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0 || options.limit > MAX_QUERY_LIMIT)) {
      throw new RangeError(`limit must be a whole number from 0 to ${MAX_QUERY_LIMIT}`);
    }
    const qid = `q${(++this.#counter).toString(36)}`;
    const frame: QueryFrame = {
      t: 'query',
      qid,
      ch: channel,
      auth: this.#host.authFor(channel),
      after: options.after,
      before: options.before,
      since: options.since,
      until: options.until,
      limit: options.limit,
      desc: options.desc,
      ids: options.ids,
    };
    this.#frames.set(qid, frame);
    const page = this.#pending.add(
      qid,
      { timeoutMs: options.timeoutMs ?? this.#timeoutMs, signal: options.signal, onSettled: () => this.#frames.delete(qid) },
      { channel },
    );
    this.#host.connection()?.send(frame);
    return page;
  }

  /** A connection came up: ask every unanswered query (again). */
  resendAll(): void {
    const connection = this.#host.connection();
    for (const frame of this.#frames.values()) connection?.send(frame);
  }

  answered(frame: PageFrame): void {
    this.#pending.resolve(frame.qid, { channel: frame.ch, messages: frame.msgs.map(toMessage), first: frame.first, last: frame.last, next: frame.next });
  }

  /** An `err` about a qid; false when no query with that qid is waiting. */
  refused(qid: string, error: ParleyError): boolean {
    return this.#pending.reject(qid, error);
  }

  rejectAll(error: ParleyError): void {
    this.#pending.rejectAll(error);
  }
}
