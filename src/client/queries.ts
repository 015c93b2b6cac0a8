// History queries: each gets a query id (qid) and waits for its page. Queries are reads,
// so one lost with its connection is simply asked again once the client reconnects
// (resent-requests.ts).

import { MAX_QUERY_LIMIT } from '../native/frames.ts';
import type { PageFrame, QueryFrame } from '../native/frames.ts';
import type { Connection } from './connection.ts';
import type { ParleyError } from './errors.ts';
import type { Page, QueryOptions } from './options.ts';
import { ResentRequests } from './resent-requests.ts';
import { toMessage } from './wire.ts';

export interface QueriesHost {
  connection(): Connection | undefined;
  authFor(channel: string): string | undefined;
}

export class Queries {
  readonly #host: QueriesHost;
  readonly #requests: ResentRequests<QueryFrame, Page>;

  constructor(host: QueriesHost, timeoutMs: number) {
    this.#host = host;
    this.#requests = new ResentRequests({ what: 'query', prefix: 'q', connection: () => host.connection(), timeoutMs });
  }

  query(channel: string, options: QueryOptions): Promise<Page> {
    if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0 || options.limit > MAX_QUERY_LIMIT)) {
      throw new RangeError(`limit must be a whole number from 0 to ${MAX_QUERY_LIMIT}`);
    }
    const qid = this.#requests.nextId();
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
    return this.#requests.send(frame, options, channel);
  }

  /** A connection came up: ask every unanswered query (again). */
  resendAll(): void {
    this.#requests.resendAll();
  }

  answered(frame: PageFrame): void {
    this.#requests.answered(frame.qid, { channel: frame.ch, messages: frame.msgs.map(toMessage), first: frame.first, last: frame.last, next: frame.next });
  }

  /** An `err` about a qid; false when no query with that qid is waiting. */
  refused(qid: string, error: ParleyError): boolean {
    return this.#requests.refused(qid, error);
  }

  rejectAll(error: ParleyError): void {
    this.#requests.rejectAll(error);
  }
}
