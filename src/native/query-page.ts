// One page of a range query, for the native protocol and the HTTP API alike. A query
// reads forward (oldest first, from `after` or from the start) unless it reads back:
// with `desc`, or with `before` and no `after`. Reading back, the page is the newest
// `limit` messages below `before` (or the newest of all, with `desc`), so a client can
// page backwards from what it shows; it comes oldest first unless `desc`. Either way
// `next` says where the next page in the same direction starts (as Matrix's
// /messages does with `dir=b`): an `after` reading forward, a `before` reading back.

import { MAX_PAGE_BYTES } from './frames.ts';
import { readComplete, type Store, type StoredMessage } from '../store/store.ts';

export interface PageQuery {
  readonly after?: number | undefined;
  readonly before?: number | undefined;
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  /** At least 1. */
  readonly limit: number;
  /** Newest first. */
  readonly desc?: boolean;
}

export interface QueryPage {
  /** Oldest first, or newest first with `desc`. */
  readonly messages: StoredMessage[];
  /** True when nothing further matches in the direction the query reads. */
  readonly last: boolean;
  /** Where the next page in the same direction starts, unless `last`. */
  readonly next: number | undefined;
}

/** Whether a query reads back from its `before` rather than forward from its `after`. */
export function readsBack(query: Pick<PageQuery, 'after' | 'before' | 'desc'>): boolean {
  return query.desc === true || (query.before !== undefined && query.after === undefined);
}

export function readPage(store: Store, channel: string, query: PageQuery): QueryPage {
  const back = readsBack(query);
  // One more than asked, and one byte past the budget, tell whether anything matches
  // past this page. The store stops reading there: large messages are not read only
  // to be left out.
  const range = {
    after: query.after,
    before: query.before,
    since: query.since,
    until: query.until,
    limit: query.limit + 1,
    descending: back,
    maxBytes: MAX_PAGE_BYTES + 1,
  };
  const rows = store.read(channel, range);
  // A page also stops at MAX_PAGE_BYTES of payloads (one larger message still comes
  // alone): a thousand large messages would not fit in one frame or JSON string.
  // Reading back, what is left out is the oldest: the page stays next to `before`.
  let taken = 0;
  for (let bytes = 0; taken < Math.min(rows.length, query.limit); taken++) {
    bytes += rows[taken]!.payload.length;
    if (taken > 0 && bytes > MAX_PAGE_BYTES) break;
  }
  const messages = rows.slice(0, taken);
  const last = taken === rows.length && readComplete(range, rows);
  const next = last ? undefined : messages[taken - 1]!.seq;
  if (back && query.desc !== true) messages.reverse();
  return { messages, last, next };
}
